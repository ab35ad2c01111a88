using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(MirrorDescentOptions), typeof(ProjectedGradientOptions))]
public class StructuredEnergyModelTests
{
    [Fact]
    public void LabelGradientMatchesAutodiff()
    {
        using var rng = new RandomGenerator(7, DeviceContext.Cpu64);
        using var model = new StructuredEnergyModel(4, 3, 2, rng, DeviceContext.Cpu64);
        Assert.Equal((4, 3), (model.Labels, model.FeatureDim));
        Assert.Equal(3, model.Parameters.Count);
        using var f = rng.Normal(DeviceContext.Cpu64, 2, 3);
        using var y = rng.Uniform(DeviceContext.Cpu64, 2, 4);
        using var closed = model.LabelGradient(f, y);
        using var auto = Autodiff.Grad(t => model.Energy(f, t).sum(), y);
        Assert.True(closed.allclose(auto, 1e-10, 1e-12));
    }

    [Fact]
    public void BothInferenceMethodsStayInTheBoxAndLowerTheEnergy()
    {
        using var rng = new RandomGenerator(8, DeviceContext.Cpu64);
        using var model = new StructuredEnergyModel(4, 3, 2, rng, DeviceContext.Cpu64);
        using var f = rng.Normal(DeviceContext.Cpu64, 5, 3);
        using var y0 = torch.full(new long[] { 5, 4 }, 0.5, dtype: torch.float64);
        using var e0 = model.Energy(f, y0).sum();
        using var projected = model.InferProjected(f, new ProjectedGradientOptions { Steps = 20, StepSize = 0.05, Momentum = 0.0 });
        using var mirror = model.Infer(f, new MirrorDescentOptions { Entropy = 0.01 });
        foreach (var yHat in new[] { projected, mirror })
        {
            Assert.True(yHat.min().ToDouble() >= 0.0 && yHat.max().ToDouble() <= 1.0);
            Assert.True(model.Energy(f, yHat).sum().ToDouble() <= e0.ToDouble());
            Assert.False(yHat.requires_grad);
        }
    }

    [Fact]
    public void MismatchedShapesAreRefused()
    {
        using var rng = new RandomGenerator(1, DeviceContext.Cpu64);
        using var model = new StructuredEnergyModel(4, 3, 2, rng, DeviceContext.Cpu64);
        using var f = rng.Normal(DeviceContext.Cpu64, 2, 3);
        using var y = rng.Uniform(DeviceContext.Cpu64, 2, 5);
        Assert.Contains("label count mismatch", Assert.ThrowsAny<ArgumentException>(() => model.Energy(f, y)).Message);
        using var wide = rng.Normal(DeviceContext.Cpu64, 2, 7);
        Assert.Contains("[2, 7]", Assert.Throws<ArgumentException>(() => model.Infer(wide)).Message);
        Assert.Equal("Momentum", Assert.Throws<ArgumentOutOfRangeException>(() => model.InferProjected(f, new ProjectedGradientOptions { Momentum = 1.0 })).ParamName);
        Assert.ThrowsAny<ArgumentException>(() => new StructuredEnergyModel(0, 3, 2, rng));
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        Assert.Equal(EnergyFs.Solvers.MirrorDescent.inferenceDefaults, new MirrorDescentOptions().ToFSharp());
        Assert.Equal(1.0, new MirrorDescentOptions().Entropy);
        Assert.Equal(EnergyFs.Solvers.ProjectedGradient.inferenceDefaults, new ProjectedGradientOptions().ToFSharp());
    }

    [Fact]
    public void InferenceAndDisposalFreeEverything() =>
        Native.AssertFreesEverything(() =>
        {
            using var rng = new RandomGenerator(2);
            var model = new StructuredEnergyModel(3, 2, 2, rng);
            using (var f = rng.Normal(DeviceContext.Cpu, 4, 2))
            using (var y = model.Infer(f))
            using (var z = model.InferProjected(f)) { }
            var b = model.Parameters[0];
            model.Dispose();
            Assert.True(b.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => model.Labels);
        });
}
