using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(GradientCheckOptions), typeof(GradientCheckResult))]
public class GradientCheckerTests
{
    [Fact]
    public void AcceptsAutodiffGradient()
    {
        using var x = torch.tensor(new[] { 0.3, -1.2, 2.0 });
        var result = GradientChecker.CheckGrad(t => t.sin().sum(), x);
        Assert.True(result.Passed, $"max error {result.MaxAbsoluteError}");
        Assert.True(result.MaxAbsoluteError < 1e-6);
    }

    [Fact]
    public void RejectsWrongGradientAndPointsAtTheWorstEntry()
    {
        using var x = torch.tensor(new[] { 0.3, -1.2, 2.0 });
        var result = GradientChecker.CheckGradient(t => t.exp().sum(), t => t.exp() * 1.01, x);
        Assert.False(result.Passed);
        Assert.Equal(2, result.WorstIndex);
        Assert.Equal(Math.Exp(2.0) * 1.01, result.Analytic, 9);
        Assert.Equal(Math.Exp(2.0), result.Numerical, 5);
    }

    [Fact]
    public void ChecksHvp()
    {
        using var x = torch.tensor(new[] { 0.3, -1.2 });
        using var v = torch.tensor(new[] { 1.0, 0.5 });
        var result = GradientChecker.CheckHvp(t => t.pow(3).sum(), x, v, new GradientCheckOptions { Epsilon = 1e-5 });
        Assert.True(result.Passed, $"max error {result.MaxAbsoluteError}");
    }

    [Fact]
    public void ToleranceDecides()
    {
        using var x = torch.tensor(new[] { 1.0 });
        Func<torch.Tensor, torch.Tensor> f = t => t.exp().sum();
        Func<torch.Tensor, torch.Tensor> slightlyOff = t => t.exp() * (1 + 1e-3);
        Assert.False(GradientChecker.CheckGradient(f, slightlyOff, x).Passed);
        Assert.True(GradientChecker.CheckGradient(f, slightlyOff, x, new GradientCheckOptions { RelativeTolerance = 1e-2 }).Passed);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        Assert.Equal(EnergyFs.GradCheck.defaults, new GradientCheckOptions().ToFSharp());
        Assert.Equal(1e-6, new GradientCheckOptions().Epsilon);
        Assert.Equal("Epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new GradientCheckOptions { Epsilon = 0 }.ToFSharp()).ParamName);
    }
}
