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

    /// <summary>The loader this process was started with, and whether it is the system's (same bytes as the ABI's path).</summary>
    private static bool? RunsOnOwnLoader()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/self/maps")) return null;
        var loader = File.ReadLines("/proc/self/maps").Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..].Trim() : "")
            .FirstOrDefault(p => Path.GetFileName(p).StartsWith("ld-linux", StringComparison.Ordinal));
        const string system = "/lib64/ld-linux-x86-64.so.2";
        if (loader is null || !File.Exists(system)) return null;
        return !File.ReadAllBytes(loader).AsSpan().SequenceEqual(File.ReadAllBytes(system));
    }

    [Fact]
    public void DescribeReportsThePrivateRuntimeFromTheProcessItself()
    {
        var value = RuntimeInfo.Describe()["private runtime"];
        if (RunsOnOwnLoader() is bool own)
        {
            Assert.Equal(own, value.StartsWith("yes", StringComparison.Ordinal));
            if (own) Assert.Matches(@"^yes \(libstdc\+\+\.so\.6\.\d+\.\d+ and its own loader", value);
        }
        // Under build.sh on Debian 12 the test host runs on the private dotnet.
        if (Environment.GetEnvironmentVariable("ENERGYFS_PRIVATE_RUNTIME") == "1" && OperatingSystem.IsLinux())
            Assert.StartsWith("yes", value);
        if (Environment.GetEnvironmentVariable("ENERGYFS_PRIVATE_RUNTIME") == "0") Assert.Equal("no", value);
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
