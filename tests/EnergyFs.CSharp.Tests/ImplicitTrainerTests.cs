using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(LinearSolverKind), typeof(LinearSolverOptions), typeof(SolverReport), typeof(HypergradientResult), typeof(LinearSolveResult),
        typeof(ImplicitTrainingOptions), typeof(ImplicitTrainingReport), typeof(EpochSummary), typeof(StructuredExamples))]
public class ImplicitTrainerTests
{
    public ImplicitTrainerTests() => RuntimeInfo.Threads = 1;

    // g = ½ a ψ² − ψ θ, L = ½ (ψ − t)²: ψ* = θ/a, dL/dθ = (θ/a − t)/a.
    private const double A = 2.0, T = 0.3, Th = 1.5;
    private static torch.Tensor Inner(IReadOnlyList<torch.Tensor> tt, IReadOnlyList<torch.Tensor> pp) => (pp[0].square() * (0.5 * A) - pp[0] * tt[0]).sum();
    private static torch.Tensor Outer(IReadOnlyList<torch.Tensor> tt, IReadOnlyList<torch.Tensor> pp) => ((pp[0] - T).square() * 0.5).sum();

    [Fact]
    public void ImplicitAndUnrolledHypergradientsMatchTheClosedForm()
    {
        using var theta = torch.tensor(new[] { Th }, dtype: torch.float64);
        using var psi = torch.tensor(new[] { Th / A }, dtype: torch.float64);
        foreach (var kind in Enum.GetValues<LinearSolverKind>())
        {
            var options = new LinearSolverOptions { Kind = kind, Iterations = 200, Alpha = 0.2, Tolerance = 1e-10 };
            using var r = ImplicitTrainer.Hypergradient(Inner, Outer, new[] { theta }, new[] { psi }, options);
            Assert.True(r.Report!.Converged, kind.ToString());
            Assert.True(r.Report.RelativeResidual <= 1e-10);
            Assert.Equal((Th / A - T) / A, r.Gradient[0].ToDouble(), 8);
            Assert.Equal(0.5 * (Th / A - T) * (Th / A - T), r.OuterLoss, 12);
        }
        using var psi0 = torch.zeros(1, dtype: torch.float64);
        using var u = ImplicitTrainer.UnrolledHypergradient(Inner, Outer, new[] { theta }, new[] { psi0 }, 100, 0.3);
        Assert.Null(u.Report);
        Assert.Equal((Th / A - T) / A, u.Gradient[0].ToDouble(), 8);
    }

    [Fact]
    public void SolveInvertsADiagonalAndReportsItsWork()
    {
        using var m = torch.diag(torch.tensor(new[] { 1.0, 2.0, 4.0 }));
        using var b = torch.ones(3, dtype: torch.float64);
        using var r = ImplicitTrainer.Solve(v => new[] { m.matmul(v[0]) }, new[] { b });
        Assert.Equal(new[] { 1.0, 0.5, 0.25 }, r.Solution[0].data<double>().ToArray().Select(x => Math.Round(x, 9)));
        Assert.True(r.Report.Converged && r.Report.HvpCount >= 3 && r.Report.Solver.Length > 0);
        using var damped = ImplicitTrainer.Solve(v => new[] { m.matmul(v[0]) }, new[] { b }, new LinearSolverOptions { Damping = 1.0 });
        Assert.Equal(0.5, damped.Solution[0][0].ToDouble(), 9);
    }

    [Fact]
    public void SolverThatDoesNotConvergeThrowsWithResidualAndAdvice()
    {
        using var m = torch.diag(torch.tensor(new[] { 1.0, 10.0, 100.0, 1000.0 }));
        using var b = torch.ones(4, dtype: torch.float64);
        var options = new LinearSolverOptions { Kind = LinearSolverKind.ConjugateGradient, Iterations = 1, Tolerance = 1e-12 };
        using (var r = ImplicitTrainer.Solve(v => new[] { m.matmul(v[0]) }, new[] { b }, options))
            Assert.False(r.Report.Converged);
        var e = Assert.Throws<InvalidOperationException>(() => ImplicitTrainer.Solve(v => new[] { m.matmul(v[0]) }, new[] { b }, options with { RequireConvergence = true }));
        Assert.Contains("residual", e.Message);
        Assert.Contains("Iterations", e.Message);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        using var theta = torch.tensor(new[] { Th }, dtype: torch.float64);
        Assert.Equal("psi", Assert.Throws<ArgumentException>(() => ImplicitTrainer.Hypergradient(Inner, Outer, new[] { theta }, Array.Empty<torch.Tensor>())).ParamName);
        Assert.Equal("inner", Assert.Throws<ArgumentNullException>(() => ImplicitTrainer.Hypergradient(null!, Outer, new[] { theta }, new[] { theta })).ParamName);
        Assert.Equal("Iterations", Assert.Throws<ArgumentOutOfRangeException>(() => ImplicitTrainer.Solve(v => v, new[] { theta }, new LinearSolverOptions { Iterations = 0 })).ParamName);
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => ImplicitTrainer.UnrolledHypergradient(Inner, Outer, new[] { theta }, new[] { theta }, 0, 0.1)).ParamName);
    }

    private static (StructuredExamples Data, torch.Tensor[] Owned) Examples(RandomGenerator rng, int n = 64)
    {
        var x = rng.Normal(DeviceContext.Cpu, n, 4);
        using var w = torch.tensor(new float[,] { { 1, -1, 0 }, { 0, 1, 1 }, { -1, 0, 1 }, { 1, 1, -1 } });
        var y = (x.matmul(w) > 0).to_type(torch.float32);
        return (new StructuredExamples(x, x, y), new[] { x, y });
    }

    [Fact]
    public void TrainRunsImplicitStepsAndRestoresTheBestEpoch()
    {
        using var rng = new RandomGenerator(11);
        var (data, owned) = Examples(rng);
        try
        {
            using var energy = new StructuredEnergyModel(3, 4, 4, rng);
            using var network = new InferenceNetwork(new[] { 4, 8, 3 }, rng);
            using var before = energy.Parameters[0].clone();
            double Validate()
            {
                using var p = network.Predict(data.Inputs);
                return MultilabelMetrics.ExampleF1(p, data.Labels, 0.5);
            }
            var options = new ImplicitTrainingOptions { Epochs = 4, BatchSize = 16, InnerSteps = 1, InnerLearningRate = 1e-2, OuterLearningRate = 1e-2 };
            var report = ImplicitTrainer.Train(energy, network, data, options, Validate);
            Assert.Equal(new[] { 1, 2, 3, 4 }, report.Epochs.Select(e => e.Epoch));
            Assert.True(report.Solves >= 4 && report.HvpCount > report.Solves, $"{report.Solves} solves, {report.HvpCount} hvps");
            Assert.All(report.Epochs, e => Assert.True(double.IsFinite(e.Loss) && e.Seconds >= 0));
            Assert.Equal(report.Epochs.Max(e => e.Validation), Validate(), 6);
            Assert.False(energy.Parameters[0].allclose(before));

            var unrolled = ImplicitTrainer.Train(energy, network, data, options with { Epochs = 1, UnrolledSteps = 2 });
            Assert.Equal(0, unrolled.Solves);
            Assert.True(double.IsNaN(unrolled.Epochs[0].Validation));
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }

    [Fact]
    public void TrainRefusesMismatchedExamples()
    {
        using var rng = new RandomGenerator(12);
        var (data, owned) = Examples(rng, 8);
        try
        {
            using var energy = new StructuredEnergyModel(2, 4, 4, rng);
            using var network = new InferenceNetwork(new[] { 4, 3 }, rng);
            Assert.Equal("Labels", Assert.Throws<ArgumentException>(() => ImplicitTrainer.Train(energy, network, data)).ParamName);
            using var energy3 = new StructuredEnergyModel(3, 4, 4, rng);
            using var narrow = new InferenceNetwork(new[] { 5, 3 }, rng);
            Assert.Equal("Inputs", Assert.Throws<ArgumentException>(() => ImplicitTrainer.Train(energy3, narrow, data)).ParamName);
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        var d = EnergyFs.Learners.ImplicitStructured.defaults;
        var f = new ImplicitTrainingOptions().ToFSharp();
        Assert.Equal((d.Epochs, d.BatchSize, d.InnerSteps, d.EntropyWeight, d.PullWeight, d.Hypergradient, d.RequireConvergence, d.Seed),
                     (f.Epochs, f.BatchSize, f.InnerSteps, f.EntropyWeight, f.PullWeight, f.Hypergradient, f.RequireConvergence, f.Seed));
        Assert.Same(d.Solver, f.Solver);
        Assert.Equal(d.InnerOptimizer.LearningRate.Invoke(10), f.InnerOptimizer.LearningRate.Invoke(10));
        Assert.Equal(d.OuterOptimizer.LearningRate.Invoke(10), f.OuterOptimizer.LearningRate.Invoke(10));
        Assert.Equal(d.InnerOptimizer.Algorithm, f.InnerOptimizer.Algorithm);
        var cg = EnergyFs.Implicit.LinearSolvers.cgDefaults;
        Assert.Equal((cg.Iterations, cg.Tolerance), (new LinearSolverOptions().Iterations, new LinearSolverOptions().Tolerance));
    }

    [Fact]
    public void ResultsFreeTheirTensors() =>
        Native.AssertFreesEverything(() =>
        {
            using var theta = torch.tensor(new[] { Th }, dtype: torch.float64);
            using var psi = torch.tensor(new[] { Th / A }, dtype: torch.float64);
            var r = ImplicitTrainer.Hypergradient(Inner, Outer, new[] { theta }, new[] { psi });
            var g = r.Gradient[0];
            r.Dispose();
            Assert.True(g.IsInvalid);
            using var s = ImplicitTrainer.Solve(v => new[] { v[0] * 2.0 }, new[] { theta });
        });
}
