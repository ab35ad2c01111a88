using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class DeviceContextTests
{
    [Fact]
    public void ContextsParseAndDescribe()
    {
        Assert.Equal("cpu/float32", DeviceContext.Parse("cpu").ToString());
        Assert.Equal(torch.ScalarType.Float64, DeviceContext.Cpu64.DType);
        Assert.Equal(torch.ScalarType.Float32, DeviceContext.Cpu.DType);
        Assert.Equal(DeviceType.CPU, DeviceContext.Cpu.Device.type);
        Assert.Equal(torch.ScalarType.Float64, DeviceContext.Cpu.WithFloat64().DType);
    }

    [Fact]
    public void TensorsAreCreatedWhereTheContextSays()
    {
        using var rng = new RandomGenerator(1);
        using var t = rng.Normal(DeviceContext.Cpu64, 2, 3);
        Assert.Equal(torch.ScalarType.Float64, t.dtype);
        Assert.Equal(new long[] { 2, 3 }, t.shape);
    }

    [Fact]
    public void BadDeviceNamesAndUnavailableCudaAreClearErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceContext.Parse("tpu"));
        Assert.Contains("cpu", e.Message);
        Assert.Throws<ArgumentNullException>(() => DeviceContext.Parse(null!));
        if (!DeviceContext.CudaAvailable)
        {
            Assert.Contains("CUDA is not available", Assert.Throws<InvalidOperationException>(() => DeviceContext.Cuda()).Message);
            Assert.Throws<InvalidOperationException>(() => DeviceContext.Parse("cuda:0"));
            Assert.Equal(DeviceType.CPU, DeviceContext.Auto().Device.type);
        }
        else
        {
            Assert.Equal(DeviceType.CUDA, DeviceContext.Auto().Device.type);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => DeviceContext.Cuda(-1));
    }
}
