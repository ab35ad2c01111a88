using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(InnerSolverKind), typeof(InnerSolverOptions), typeof(InnerSolverResult))]
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
    public void AllSolversAgreeOnAConcaveProblem()
    {
        using var u = torch.tensor(new[,] { { 0.5, -0.2, 0.1 }, { -1.0, 0.3, 0.8 } });
        using var a = torch.tensor(new[,] { { 0.0, 0.4, -0.3 }, { 0.4, 0.0, 0.2 }, { -0.3, 0.2, 0.0 } });
        var options = new InnerSolverOptions { Tolerance = 1e-9, MaxIterations = 500 };
        using var reference = new GeneralizedConjugate(FyRegularizer.SquaredNormBox, InnerSolverKind.CoordinateAscent, options).Solve(u, a);
        Assert.True(reference.Converged && reference.Gap <= 1e-9);
        // Projected gradient converges linearly; Frank-Wolfe only at O(1/k), hence its looser tolerance.
        foreach (var (kind, atol) in new[] { (InnerSolverKind.ProjectedGradient, 1e-6), (InnerSolverKind.FrankWolfe, 1e-3) })
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
