using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class InferenceNetworkTests
{
    [Fact]
    public void CopyPredictsTheSameAndIsIndependent()
    {
        using var rng = new RandomGenerator(2, DeviceContext.Cpu64);
        using var net = new InferenceNetwork(new[] { 3, 5, 2 }, rng, DeviceContext.Cpu64);
        Assert.Equal((3, 2), (net.Inputs, net.Outputs));
        Assert.Equal(4, net.Parameters.Count);
        using var copy = net.Copy();
        using var x = rng.Normal(DeviceContext.Cpu64, 4, 3);
        using var a = net.Predict(x);
        using var b = copy.Predict(x);
        Assert.True(a.allclose(b, 0.0, 0.0));
        Assert.True(a.min().ToDouble() > 0.0 && a.max().ToDouble() < 1.0);
        using (torch.no_grad()) copy.Parameters[1].add_(1.0);
        using var c = copy.Predict(x);
        using var a2 = net.Predict(x);
        Assert.False(c.allclose(a2));
        Assert.True(a2.allclose(a, 0.0, 0.0));
    }

    [Fact]
    public void PredictionIsSigmoidOfTheMlp()
    {
        using var rng = new RandomGenerator(3, DeviceContext.Cpu64);
        using var net = new InferenceNetwork(new[] { 2, 3 }, rng, DeviceContext.Cpu64);
        using var x = rng.Normal(DeviceContext.Cpu64, 5, 2);
        using var expected = torch.sigmoid(x.matmul(net.Parameters[0].t()) + net.Parameters[1]);
        using var p = net.Predict(x);
        Assert.True(p.allclose(expected, 1e-12, 1e-12));
    }

    [Fact]
    public void BadSizesAndInputsAreRefused()
    {
        using var rng = new RandomGenerator(4);
        Assert.ThrowsAny<ArgumentException>(() => new InferenceNetwork(new[] { 3 }, rng));
        Assert.ThrowsAny<ArgumentException>(() => new InferenceNetwork(new[] { 3, 0 }, rng));
        using var net = new InferenceNetwork(new[] { 3, 2 }, rng);
        using var x = torch.zeros(4, 5);
        Assert.Contains("[4, 5]", Assert.Throws<ArgumentException>(() => net.Predict(x)).Message);
    }

    [Fact]
    public void SaveThenLoadPredictsIdenticallyAndNamesDamage()
    {
        var path = ModelFiles.TempPath("network.efs");
        try
        {
            using var rng = new RandomGenerator(6);
            using var net = new InferenceNetwork(new[] { 3, 5, 2 }, rng);
            Assert.Equal(new[] { 3, 5, 2 }, net.LayerSizes);
            net.Save(path);
            using var loaded = InferenceNetwork.Load(path);
            Assert.Equal(net.LayerSizes, loaded.LayerSizes);
            using var x = rng.Normal(DeviceContext.Cpu, 7, 3);
            using var a = net.Predict(x);
            using var b = loaded.Predict(x);
            Assert.True(a.allclose(b, 0.0, 0.0));
            var energyPath = Path.Combine(Path.GetDirectoryName(path)!, "energy.efs");
            using (var energy = new StructuredEnergyModel(2, 3, 2, rng)) energy.Save(energyPath);
            ModelFiles.AssertDamageIsNamed(path, energyPath, p => InferenceNetwork.Load(p).Dispose());
        }
        finally { ModelFiles.Cleanup(path); }
    }

    [Fact]
    public void DisposeFreesTheParameters() =>
        Native.AssertFreesEverything(() =>
        {
            using var rng = new RandomGenerator(5);
            var net = new InferenceNetwork(new[] { 3, 4, 2 }, rng);
            using var x = torch.zeros(1, 3);
            var copy = net.Copy();
            var w = net.Parameters[0];
            net.Dispose();
            copy.Dispose();
            Assert.True(w.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => net.Predict(x));
        });
}
