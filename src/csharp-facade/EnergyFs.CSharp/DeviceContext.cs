using TorchSharp;

namespace EnergyFs.CSharp;

/// <summary>Where tensors live and in which floating-point type; passed to everything that creates tensors.
/// Immutable and owns no native memory.</summary>
public sealed class DeviceContext
{
    internal EnergyFs.Context Inner { get; }

    internal DeviceContext(EnergyFs.Context inner) => Inner = inner;

    /// <summary>CPU, float32: the default for training.</summary>
    public static DeviceContext Cpu { get; } = new(EnergyFs.ContextModule.cpu);

    /// <summary>CPU, float64: for finite-difference checks and reference computations.</summary>
    public static DeviceContext Cpu64 { get; } = new(EnergyFs.ContextModule.cpu64);

    /// <summary>CUDA device <paramref name="index"/>, float32; throws InvalidOperationException when CUDA is not available.</summary>
    /// <param name="index">The CUDA device index (≥ 0).</param>
    public static DeviceContext Cuda(int index = 0)
    {
        FSharpInterop.NonNegative(index);
        if (!CudaAvailable) throw new InvalidOperationException($"CUDA device {index} was requested but CUDA is not available; use DeviceContext.Cpu or DeviceContext.Auto()");
        return new(EnergyFs.ContextModule.cuda(index));
    }

    /// <summary>CUDA device 0 (float32) when available, else the CPU (float32).</summary>
    public static DeviceContext Auto() => new(EnergyFs.ContextModule.auto());

    /// <summary>Parses "cpu", "cuda", "cuda:N" or "auto" (what the CLI's --device takes); anything else throws
    /// ArgumentException listing the accepted forms.</summary>
    /// <param name="text">The device name.</param>
    public static DeviceContext Parse(string text)
    {
        var context = EnergyFs.ContextModule.parse(FSharpInterop.NotNull(text));
        if (context.Device.type == DeviceType.CUDA && !CudaAvailable)
            throw new InvalidOperationException($"device '{text}' was requested but CUDA is not available; use \"cpu\" or \"auto\"");
        return new(context);
    }

    /// <summary>The same device with float64 tensors.</summary>
    public DeviceContext WithFloat64() => new(new EnergyFs.Context(Inner.Device, torch.ScalarType.Float64));

    /// <summary>Whether a CUDA device can be used.</summary>
    public static bool CudaAvailable => EnergyFs.ContextModule.cudaAvailable();

    /// <summary>The device tensors are created on.</summary>
    public torch.Device Device => Inner.Device;

    /// <summary>The floating-point type of created tensors.</summary>
    public torch.ScalarType DType => Inner.DType;

    /// <summary>"device/type", for example "cpu/float32".</summary>
    public override string ToString() => EnergyFs.ContextModule.describe(Inner);
}
