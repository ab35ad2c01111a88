using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(MirrorDescentOptions), typeof(ProjectedGradientOptions), typeof(IStructuredEnergy), typeof(SpenEnergy))]
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
    public void ACustomEnergyComputesItsFormulaItsGradientAndItsInference()
    {
        using var rng = new RandomGenerator(9, DeviceContext.Cpu64);
        using var spen = new StructuredEnergyModel(3, 4, 2, rng, DeviceContext.Cpu64);
        using var rng2 = new RandomGenerator(9, DeviceContext.Cpu64);
        using var custom = new StructuredEnergyModel(new CSharpSpen(2), 3, 4, rng2, DeviceContext.Cpu64);
        Assert.Equal((3, 4, "csharp-spen"), (custom.Labels, custom.FeatureDim, custom.Definition.Name));
        Assert.True(StructuredTestData.Same(spen.Parameters, custom.Parameters), "the same draws as the built-in SPEN");
        using var f = rng.Normal(DeviceContext.Cpu64, 5, 4);
        using var y = rng.Uniform(DeviceContext.Cpu64, 5, 3);
        using var e1 = spen.Energy(f, y);
        using var e2 = custom.Energy(f, y);
        Assert.True(e1.allclose(e2, 0.0, 0.0));
        using var g1 = spen.LabelGradient(f, y);
        using var g2 = custom.LabelGradient(f, y);  // autograd for a custom energy
        Assert.True(g1.allclose(g2, 1e-12, 1e-12));
        using var i1 = spen.Infer(f);
        using var i2 = custom.Infer(f);
        Assert.True(i1.allclose(i2, 0.0, 0.0));
        Assert.Contains("label count mismatch", Assert.Throws<ArgumentException>(() => custom.Energy(f, f)).Message);
    }

    private sealed class BrokenEnergy(bool noParameters) : IStructuredEnergy
    {
        public string Name => "broken";
        public IReadOnlyList<TorchSharp.Modules.Parameter> CreateParameters(int labels, int featureDim, RandomGenerator rng, DeviceContext context) =>
            noParameters ? Array.Empty<TorchSharp.Modules.Parameter>() : new[] { new TorchSharp.Modules.Parameter(torch.zeros(labels, featureDim)) };
        public torch.Tensor Energy(IReadOnlyList<torch.Tensor> theta, torch.Tensor features, torch.Tensor labels) => labels.matmul(theta[0]);
    }

    [Fact]
    public void ACustomEnergyThatBreaksItsContractIsNamed()
    {
        using var rng = new RandomGenerator(1);
        Assert.Contains("'broken'", Assert.Throws<InvalidOperationException>(() => new StructuredEnergyModel(new BrokenEnergy(true), 3, 4, rng)).Message);
        using var model = new StructuredEnergyModel(new BrokenEnergy(false), 3, 4, rng);
        using var f = torch.zeros(2, 4);
        using var y = torch.zeros(2, 3);
        var e = Assert.Throws<InvalidOperationException>(() => model.Energy(f, y));
        Assert.Contains("'broken'", e.Message);
        Assert.Contains("[2, 4]", e.Message);
    }

    [Fact]
    public void SaveThenLoadGivesTheSameEnergyAndNamesDamage()
    {
        var path = ModelFiles.TempPath("spen.efs");
        try
        {
            using var rng = new RandomGenerator(4, DeviceContext.Cpu64);
            using var model = new StructuredEnergyModel(3, 4, 5, rng, DeviceContext.Cpu64);
            model.Save(path);
            using var loaded = StructuredEnergyModel.Load(path);
            Assert.Equal(5, ((SpenEnergy)loaded.Definition).Hidden);
            Assert.Equal(torch.ScalarType.Float64, loaded.Context.DType);
            using var f = rng.Normal(DeviceContext.Cpu64, 6, 4);
            using var y = rng.Uniform(DeviceContext.Cpu64, 6, 3);
            using var a = model.Energy(f, y);
            using var b = loaded.Energy(f, y);
            Assert.True(a.allclose(b, 0.0, 0.0));
            using var copy = model.Copy();
            Assert.True(StructuredTestData.Same(model.Parameters, copy.Parameters));

            var customPath = Path.Combine(Path.GetDirectoryName(path)!, "custom.efs");
            using (var custom = new StructuredEnergyModel(new PairwiseEnergy(), 3, 4, rng, DeviceContext.Cpu64)) custom.Save(customPath);
            Assert.Contains("'pairwise'", Assert.Throws<ArgumentException>(() => StructuredEnergyModel.Load(customPath)).Message);
            using (var back = StructuredEnergyModel.Load(customPath, new PairwiseEnergy())) Assert.Equal(4, back.Parameters.Count);
            var networkPath = Path.Combine(Path.GetDirectoryName(path)!, "network.efs");
            using (var network = new InferenceNetwork(new[] { 4, 3 }, rng)) network.Save(networkPath);
            ModelFiles.AssertDamageIsNamed(path, networkPath, p => StructuredEnergyModel.Load(p).Dispose());
        }
        finally { ModelFiles.Cleanup(path); }
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
