namespace EnergyFs.CSharp;

/// <summary>Versions, device, threads and runtime of this build, and libtorch's thread count.</summary>
public static class RuntimeInfo
{
    /// <summary>Name → value pairs: the EnergyFs, TorchSharp and libtorch versions, the device, the threads and the
    /// .NET runtime (what a report prints beside its numbers).</summary>
    /// <param name="context">The context whose device is described (default: <see cref="DeviceContext.Cpu"/>).</param>
    public static IReadOnlyDictionary<string, string> Describe(DeviceContext? context = null) =>
        EnergyFs.About.describe((context ?? DeviceContext.Cpu).Inner).ToDictionary(p => p.Item1, p => p.Item2);

    /// <summary>libtorch's intra-op thread count. Setting a value below 1 throws ArgumentOutOfRangeException.
    /// On a shared machine, 1 thread per process is usually fastest.</summary>
    public static int Threads
    {
        get => EnergyFs.Runtime.threads();
        set => EnergyFs.Runtime.setThreads(FSharpInterop.Positive(value, nameof(Threads)));
    }
}
