using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class RandomGeneratorTests
{
    private static double[] Draw(long seed)
    {
        using var rng = new RandomGenerator(seed);
        using var t = rng.Normal(DeviceContext.Cpu64, 5);
        return t.data<double>().ToArray();
    }

    [Fact]
    public void SameSeedSameSamplesOtherSeedOtherSamples()
    {
        Assert.Equal(Draw(42), Draw(42));
        Assert.NotEqual(Draw(42), Draw(43));
    }

    [Fact]
    public void DrawsDoNotTouchTheGlobalGenerator()
    {
        torch.manual_seed(7);
        using var a = torch.rand(3);
        torch.manual_seed(7);
        using (var rng = new RandomGenerator(1)) using (rng.Uniform(DeviceContext.Cpu, 100)) { }
        using var b = torch.rand(3);
        Assert.True(a.allclose(b, 0.0, 0.0));
    }

    [Fact]
    public void MomentsMatchTheDistributions()
    {
        using var rng = new RandomGenerator(3, DeviceContext.Cpu64);
        Assert.Equal(3, rng.Seed);
        using var n = rng.Normal(DeviceContext.Cpu64, 200_000);
        using var u = rng.Uniform(DeviceContext.Cpu64, 200_000);
        Assert.Equal(0.0, n.mean().ToDouble(), 2);
        Assert.Equal(1.0, n.var().ToDouble(), 1);
        Assert.Equal(0.5, u.mean().ToDouble(), 2);
        Assert.True(u.min().ToDouble() >= 0.0 && u.max().ToDouble() < 1.0);
        Assert.Equal(torch.ScalarType.Float64, n.dtype);
    }

    [Fact]
    public void NegativeShapeIsRefusedAndDisposedGeneratorThrows()
    {
        var rng = new RandomGenerator(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => rng.Normal(DeviceContext.Cpu, 2, -1));
        Assert.Contains("dimension 1", e.Message);
        rng.Dispose();
        rng.Dispose();
        Assert.True(rng.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => rng.Uniform(DeviceContext.Cpu, 2));
    }
}
