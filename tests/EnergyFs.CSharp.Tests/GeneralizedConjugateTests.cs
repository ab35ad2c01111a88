using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(InnerSolverKind), typeof(InnerSolverOptions), typeof(InnerSolverResult), typeof(IEnergy), typeof(EnergyFunction), typeof(MultilabelEnergyModule))]
public class GeneralizedConjugateTests
{
    [Fact]
    public void WithZeroInteractionsTheLossIsTheBinaryLogisticLoss()
    {
        using var u = torch.tensor(new[,] { { 0.3, -1.2, 2.0 } });
        using var a = torch.zeros(3, 3, dtype: torch.ScalarType.Float64);
        using var y = torch.tensor(new[,] { { 1.0, 0.0, 1.0 } });
        var conj = new GeneralizedConjugate(FyRegularizer.FermiDirac, InnerSolverKind.CoordinateAscent, new InnerSolverOptions { Tolerance = 1e-12 });
        using var general = conj.Loss(u, a, y);
        using var classic = new FenchelYoungLoss(FyRegularizer.FermiDirac).Loss(u, y);
        Assert.Equal(classic.ToDouble(), general.ToDouble(), 9);
        using var sol = conj.Solve(u, a);
        Assert.True(sol.Converged);
        Assert.Equal(1.0 / (1.0 + Math.Exp(-0.3)), sol.Argmax[0, 0].ToDouble(), 9);
    }

    [Fact]
    public void ACustomBilinearEnergyGivesTheClassicLossAndItsDanskinGradient()
    {
        // Φ(v, p) = ⟨v, p⟩ is concave in p: the generalized FY loss is the classic one, here the binary logistic loss,
        // and its gradient in v is σ(v) − y.
        var bilinear = new EnergyFunction(3, (v, p) => (v * p).sum(1), concaveInP: true);
        using var v = torch.tensor(new[,] { { 0.3, -1.2, 2.0 }, { 1.5, 0.1, -0.4 } }).requires_grad_();
        using var y = torch.tensor(new[,] { { 1.0, 0.0, 1.0 }, { 0.0, 0.0, 1.0 } });
        var conj = new GeneralizedConjugate(FyRegularizer.FermiDirac, InnerSolverKind.MirrorAscent, new InnerSolverOptions { Tolerance = 1e-12, MaxIterations = 5000 });
        using var loss = conj.Loss(bilinear, v, y);
        using var classic = new FenchelYoungLoss(FyRegularizer.FermiDirac).Loss(v.detach(), y);
        Assert.True(loss.allclose(classic, 0.0, 1e-8), $"{loss.ToString(TensorStringStyle.Julia)} vs {classic.ToString(TensorStringStyle.Julia)}");
        using var total = loss.sum();
        total.backward();
        using var expected = torch.sigmoid(v.detach()) - y;
        Assert.True(v.grad!.allclose(expected, 0.0, 1e-6), v.grad!.ToString(TensorStringStyle.Julia));
    }

    [Fact]
    public void ACustomQuadraticEnergyMatchesTheBuiltInOne()
    {
        using var u = torch.tensor(new[,] { { 0.5, -0.2, 0.1 }, { -1.0, 0.3, 0.8 } });
        using var a = torch.tensor(new[,] { { 0.0, 0.4, -0.3 }, { 0.4, 0.0, 0.2 }, { -0.3, 0.2, 0.0 } });
        // The same Φ(u, p) = ⟨u, p⟩ + ½⟨p, A p⟩, once with autograd and once with its closed-form gradient u + A p.
        var autograd = new EnergyFunction(3, (v, p) => (v * p).sum(1) + 0.5 * (p.matmul(a) * p).sum(1));
        var analytic = new EnergyFunction(3, (v, p) => (v * p).sum(1) + 0.5 * (p.matmul(a) * p).sum(1), (v, p) => v + p.matmul(a));
        var options = new InnerSolverOptions { Tolerance = 1e-10, MaxIterations = 2000, AllowNonConcave = true };
        var conj = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.ProjectedGradient, options);
        using var reference = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.CoordinateAscent, options).Solve(u, a);
        foreach (var energy in new IEnergy[] { autograd, analytic })
        {
            using var r = conj.Solve(energy, u);
            Assert.True(r.Argmax.allclose(reference.Argmax, 0.0, 1e-6), r.Argmax.ToString(TensorStringStyle.Julia));
            Assert.True(r.Value.allclose(reference.Value, 0.0, 1e-8));
        }
        // Without AllowNonConcave, an energy not declared concave is refused by a solver that needs concavity.
        var strict = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.ProjectedGradient);
        Assert.Contains("concav", Assert.Throws<ArgumentException>(() => strict.Solve(autograd, u)).Message);
    }

    [Fact]
    public void ACustomEnergyOfTheWrongShapeIsNamed()
    {
        var wrong = new EnergyFunction(2, (v, p) => v * p);  // [n, k], not [n]
        using var v = torch.ones(3, 2);
        var conj = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.ProjectedGradient, new InnerSolverOptions { AllowNonConcave = true });
        Assert.Contains("one value per row", Assert.Throws<InvalidOperationException>(() => conj.Solve(wrong, v)).Message);
        var fine = new EnergyFunction(2, (x, p) => (x * p).sum(1), concaveInP: true);
        using var y = torch.ones(3, 5);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => conj.Loss(fine, v, y)).ParamName);
        using var nan = torch.full(3, 2, double.NaN);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => conj.Solve(fine, nan)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnergyFunction(0, (x, p) => x));
    }

    [Fact]
    public void AllSolversAgreeOnAConcaveProblem()
    {
        using var u = torch.tensor(new[,] { { 0.5, -0.2, 0.1 }, { -1.0, 0.3, 0.8 } });
        using var a = torch.tensor(new[,] { { 0.0, 0.4, -0.3 }, { 0.4, 0.0, 0.2 }, { -0.3, 0.2, 0.0 } });
        var options = new InnerSolverOptions { Tolerance = 1e-9, MaxIterations = 500 };
        using var reference = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.CoordinateAscent, options).Solve(u, a);
        Assert.True(reference.Converged && reference.Gap <= 1e-9);
        // Projected gradient converges linearly; Frank-Wolfe only at O(1/k), hence its looser tolerance.
        foreach (var (kind, atol) in new[] { (InnerSolverKind.ProjectedGradient, 1e-6), (InnerSolverKind.ParallelAscent, 1e-6), (InnerSolverKind.FrankWolfe, 1e-3) })
        {
            using var r = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, kind, options).Solve(u, a);
            Assert.True(r.Value.allclose(reference.Value, 0.0, atol), $"{kind}: {r.Value.ToString(TensorStringStyle.Julia)} vs {reference.Value.ToString(TensorStringStyle.Julia)}");
            Assert.True(r.Iterations >= 1);
        }
    }

    [Fact]
    public void LossIsNonNegativeAndZeroAtTheArgmax()
    {
        using var u = torch.tensor(new[,] { { 0.5, -0.2, 0.1 } });
        using var a = torch.tensor(new[,] { { 0.0, 0.4, -0.3 }, { 0.4, 0.0, 0.2 }, { -0.3, 0.2, 0.0 } });
        var conj = new GeneralizedConjugate(FyRegularizer.FermiDirac, options: new InnerSolverOptions { Tolerance = 1e-12, MaxIterations = 1000 });
        using var sol = conj.Solve(u, a);
        using var atArgmax = conj.Loss(u, a, sol.Argmax);
        Assert.True(Math.Abs(atArgmax.ToDouble()) < 1e-8);
        using var y = torch.tensor(new[,] { { 1.0, 1.0, 0.0 } });
        using var l = conj.Loss(u, a, y);
        Assert.True(l.ToDouble() > 0);
    }

    [Fact]
    public void NonConcaveInteractionsAreRefusedByProjectedGradient()
    {
        using var u = torch.zeros(1, 2, dtype: torch.ScalarType.Float64);
        using var a = torch.tensor(new[,] { { 0.0, 20.0 }, { 20.0, 0.0 } });
        var conj = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.ProjectedGradient);
        var ex = Assert.Throws<ArgumentException>(() => conj.Solve(u, a));
        Assert.Contains("concave", ex.Message);
        using var allowed = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.ProjectedGradient, new InnerSolverOptions { AllowNonConcave = true }).Solve(u, a);
        Assert.Equal(new long[] { 1, 2 }, allowed.Argmax.shape);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaultsAndAreChecked()
    {
        Assert.Equal(EnergyFs.Solvers.InnerOptionsModule.defaults, new InnerSolverOptions().ToFSharp());
        Assert.Equal("MaxIterations", Assert.Throws<ArgumentOutOfRangeException>(() => new InnerSolverOptions { MaxIterations = 0 }.ToFSharp()).ParamName);
    }

    [Fact]
    public void ResultDisposalFreesItsTensors() =>
        Native.AssertFreesEverything(() =>
        {
            using var u = torch.tensor(new[,] { { 0.3, -1.2 } });
            using var a = torch.zeros(2, 2, dtype: torch.ScalarType.Float64);
            var r = new GeneralizedConjugate(FyRegularizer.FermiDirac).Solve(u, a);
            r.Dispose();
            Assert.True(r.Argmax.IsInvalid);
        });
}
