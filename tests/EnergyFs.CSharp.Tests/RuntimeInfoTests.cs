using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class RuntimeInfoTests
{
    [Fact]
    public void DescribeNamesVersionsAndDevice()
    {
        var info = RuntimeInfo.Describe();
        Assert.Equal("0.107.0", info["TorchSharp"]);
        Assert.StartsWith("2.10", info["libtorch"]);
        Assert.Contains(info.Keys, k => k.Contains("device", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void ThreadsRoundTripAndRefuseZero()
    {
        var before = RuntimeInfo.Threads;
        Assert.True(before >= 1);
        RuntimeInfo.Threads = 1;
        Assert.Equal(1, RuntimeInfo.Threads);
        Assert.Equal("Threads", Assert.Throws<ArgumentOutOfRangeException>(() => RuntimeInfo.Threads = 0).ParamName);
        RuntimeInfo.Threads = before;
    }
}
