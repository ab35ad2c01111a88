using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(LinearSolverKind), typeof(LinearSolverOptions), typeof(SolverReport), typeof(HypergradientResult), typeof(LinearSolveResult),
        typeof(ImplicitTrainingOptions), typeof(HypergradientStatistics), typeof(StructuredExamples), typeof(StructuredRows))]
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

    [Fact]
    public void FitTrainsKeepsTheBestEpochAndChoosesTheThreshold()
    {
        var (data, owned) = StructuredTestData.Examples(11);
        var (dev, devOwned) = StructuredTestData.Examples(12, 32);
        try
        {
            var trainer = new ImplicitTrainer(StructuredTestData.Quick(4));
            using var model = trainer.Fit(data, dev);
            Assert.Same(trainer.Options.Energy, model.Options.Energy);
            Assert.Equal(4, model.History.EpochsRun);
            Assert.Contains("outer_bce", model.History.Columns);
            var scores = model.History.Column("validation");
            Assert.All(scores, v => Assert.InRange(v, 0.0, 1.0));
            // The kept epoch is the best one, and its dev F1 at the chosen threshold is that score.
            Assert.Equal(scores.ToList().IndexOf(scores.Max()) + 1, model.History.BestEpoch);
            Assert.Equal(scores.Max(), model.Evaluate(dev).ExampleF1, 6);
            Assert.Contains(model.Threshold, Enumerable.Range(1, 19).Select(i => i * 0.05));
            Assert.True(model.Statistics.Solves >= 4 && model.Statistics.HvpCount > model.Statistics.Solves, model.Statistics.ToString());

            using var unrolled = new ImplicitTrainer(StructuredTestData.Quick(1) with { UnrolledSteps = 2 }).Fit(data);
            Assert.Equal(0, unrolled.Statistics.Solves);
            Assert.Null(unrolled.History.BestEpoch);
            Assert.Equal(0.5, unrolled.Threshold);
            Assert.True(double.IsNaN(unrolled.History.Column("validation")[0]));
        }
        finally { foreach (var t in owned.Concat(devOwned)) t.Dispose(); }
    }

    [Fact]
    public void FitFromStartingModelsTrainsCopiesAndLeavesThemAlone()
    {
        var (data, owned) = StructuredTestData.Examples(13);
        try
        {
            using var rng = new RandomGenerator(3);
            using var energy = new StructuredEnergyModel(3, 4, 4, rng);
            using var network = new InferenceNetwork(new[] { 4, 8, 3 }, rng);
            var theta0 = energy.Parameters.Select(p => p.detach().clone()).ToArray();
            var psi0 = network.Parameters.Select(p => p.detach().clone()).ToArray();
            using var model = new ImplicitTrainer(StructuredTestData.Quick(2) with { Energy = new CSharpSpen(9) }).Fit(energy, network, data);
            Assert.True(StructuredTestData.Same(energy.Parameters, theta0) && StructuredTestData.Same(network.Parameters, psi0), "the starting models are untouched");
            Assert.False(StructuredTestData.Same(model.Energy.Parameters, theta0), "the model's θ trained");
            Assert.IsType<SpenEnergy>(model.Energy.Definition);
            Assert.Equal(new[] { 4, 8, 3 }, model.Network.LayerSizes);
            foreach (var t in theta0.Concat(psi0)) t.Dispose();
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }

    [Fact]
    public void ACSharpEnergyWithTheSpenFormulaTrainsExactlyLikeTheBuiltInSpen()
    {
        var (data, owned) = StructuredTestData.Examples(14);
        try
        {
            var options = StructuredTestData.Quick(3);
            using var builtIn = new ImplicitTrainer(options).Fit(data, data);
            using var custom = new ImplicitTrainer(options with { Energy = new CSharpSpen(4) }).Fit(data, data);
            Assert.Equal("csharp-spen", custom.Energy.Definition.Name);
            foreach (var column in new[] { "outer_bce", "grad_norm", "inner_residual", "validation" })
                Assert.Equal(builtIn.History.Column(column), custom.History.Column(column));
            Assert.True(StructuredTestData.Same(builtIn.Energy.Parameters, custom.Energy.Parameters), "same θ");
            Assert.True(StructuredTestData.Same(builtIn.Network.Parameters, custom.Network.Parameters), "same ψ");
            Assert.Equal(builtIn.Statistics, custom.Statistics);
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }

    [Fact]
    public void ADifferentCSharpEnergyTrainsAndPredicts()
    {
        var (data, owned) = StructuredTestData.Examples(15, 96);
        try
        {
            var options = StructuredTestData.Quick(10) with { Energy = new PairwiseEnergy(), EntropyWeight = -1.0, InnerSteps = 2, InnerLearningRate = 3e-2, OuterLearningRate = 0.1 };
            using var model = new ImplicitTrainer(options).Fit(data);
            Assert.Equal(4, model.Energy.Parameters.Count);
            var bce = model.History.Column("outer_bce");
            Assert.True(bce[^1] < bce[0], $"outer BCE {bce[0]} -> {bce[^1]}");
            using var labels = model.Predict(data.Inputs);
            Assert.Equal(data.Labels.shape, labels.shape);
            Assert.True(model.Evaluate(data).HammingAccuracy > 0.7, model.Evaluate(data).ToString());
            // The energy itself works too: inference by mirror descent stays in the box.
            using var inferred = model.Energy.Infer(data.Features);
            Assert.True(inferred.min().ToDouble() >= 0.0 && inferred.max().ToDouble() <= 1.0);
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }

    [Fact]
    public void ProgressReportsEveryEpochAndCancellingStopsAfterIt() =>
        Native.AssertFreesEverything(() =>
        {
            var (data, owned) = StructuredTestData.Examples(16);
            try
            {
                var trainer = new ImplicitTrainer(StructuredTestData.Quick(4));
                var all = new SyncProgress(_ => { });
                using (var model = trainer.Fit(data, null, all))
                {
                    Assert.Equal(new[] { 1, 2, 3, 4 }, all.Reports.Select(r => r.Epoch));
                    Assert.All(all.Reports, r => Assert.Equal(4, r.Epochs));
                    Assert.Equal(model.History.Column("outer_bce"), all.Reports.Select(r => r.Metrics["outer_bce"]));
                }
                using var cts = new CancellationTokenSource();
                var cancelling = new SyncProgress(r => { if (r.Epoch == 2) cts.Cancel(); });
                var e = Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(data, data, cancelling, cts.Token));
                Assert.Equal(new[] { 1, 2 }, cancelling.Reports.Select(r => r.Epoch));
                Assert.Contains("2 epochs completed", e.Message);
                using var cancelled = new CancellationTokenSource();
                cancelled.Cancel();
                Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(StructuredTestData.Rows(data), null, null, cancelled.Token));
            }
            finally { foreach (var t in owned) t.Dispose(); }
        });

    [Fact]
    public void RowsTrainTheSameModelAsTensors()
    {
        var (data, owned) = StructuredTestData.Examples(17, 48);
        try
        {
            var trainer = new ImplicitTrainer(StructuredTestData.Quick(2));
            using var fromTensors = trainer.Fit(data);
            using var fromRows = trainer.Fit(StructuredTestData.Rows(data));
            Assert.Equal(fromTensors.History.Column("outer_bce"), fromRows.History.Column("outer_bce"));
            Assert.True(StructuredTestData.Same(fromTensors.Network.Parameters, fromRows.Network.Parameters));
            var rows = StructuredTestData.ToRows(data.Inputs);
            Assert.Equal(StructuredTestData.ToRows(fromTensors.PredictMarginals(data.Inputs)), fromRows.PredictMarginals(rows));
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }

    [Fact]
    public void FitRefusesMismatchedOrNonFiniteExamples()
    {
        var (data, owned) = StructuredTestData.Examples(18, 16);
        try
        {
            var trainer = new ImplicitTrainer(StructuredTestData.Quick(1));
            using var nan = data.Inputs.clone();
            nan[3, 1] = torch.tensor(float.NaN);
            var e = Assert.Throws<ArgumentException>(() => trainer.Fit(data with { Inputs = nan, Features = nan }));
            Assert.Equal("train.Inputs", e.ParamName);
            Assert.Contains("non-finite", e.Message);
            using var narrow = data.Labels[.., ..2];
            Assert.Equal("validation.Labels", Assert.Throws<ArgumentException>(() => trainer.Fit(data, data with { Labels = narrow })).ParamName);
            using var rng = new RandomGenerator(1);
            using var energy = new StructuredEnergyModel(3, 4, 4, rng);
            using var wide = new InferenceNetwork(new[] { 5, 3 }, rng);
            Assert.Equal("train.Inputs", Assert.Throws<ArgumentException>(() => trainer.Fit(energy, wide, data)).ParamName);
            var rows = StructuredTestData.Rows(data);
            rows.Labels[2][1] = double.PositiveInfinity;
            Assert.Contains("train.Labels[2][1]", Assert.Throws<ArgumentException>(() => trainer.Fit(rows)).Message);
            Assert.Equal("NetworkHidden", Assert.Throws<ArgumentOutOfRangeException>(() => new ImplicitTrainer(StructuredTestData.Quick(1) with { NetworkHidden = new[] { 0 } }).Fit(data)).ParamName);
            Assert.Equal("Epochs", Assert.Throws<ArgumentOutOfRangeException>(() => new ImplicitTrainer(StructuredTestData.Quick(1) with { Epochs = 0 }).Fit(data)).ParamName);
            var strict = StructuredTestData.Quick(1) with { Solver = new LinearSolverOptions { Iterations = 1, Tolerance = 1e-12, RequireConvergence = true } };
            Assert.Contains("did not converge", Assert.Throws<InvalidOperationException>(() => new ImplicitTrainer(strict).Fit(data)).Message);
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
        Assert.Same(d.Energy, f.Energy);
        Assert.Equal(d.Energy.Name, new ImplicitTrainingOptions().Energy.Name);
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
