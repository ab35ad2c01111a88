using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>An explicit, seeded random-number generator: every random draw of EnergyFs takes one, never libtorch's
/// global generator, so the same seed gives bit-identical results on the CPU. Owns a native generator: dispose it;
/// any use after <see cref="Dispose"/> throws ObjectDisposedException.</summary>
public sealed class RandomGenerator : IDisposable
{
    private readonly EnergyFs.Rng inner;
    private bool disposed;

    internal EnergyFs.Rng Inner
    {
        get { NotDisposed(disposed, this); return inner; }
    }

    /// <summary>A generator seeded with <paramref name="seed"/> on the context's device.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="context">Where the generator lives (default: <see cref="DeviceContext.Cpu"/>).</param>
    public RandomGenerator(long seed, DeviceContext? context = null) =>
        inner = new EnergyFs.Rng(seed, (context ?? DeviceContext.Cpu).Device);

    /// <summary>The seed the generator was created with.</summary>
    public long Seed => inner.Seed;

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => disposed;

    private static long[] CheckShape(long[] shape)
    {
        NotNull(shape);
        for (var i = 0; i < shape.Length; i++)
            if (shape[i] < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"shape [{string.Join(", ", shape)}] has a negative size at dimension {i}");
        return shape;
    }

    /// <summary>Samples of the standard normal N(0, 1) with the given shape, in the context's device and type.</summary>
    /// <param name="context">Device and type of the result.</param>
    /// <param name="shape">The shape (sizes ≥ 0).</param>
    public torch.Tensor Normal(DeviceContext context, params long[] shape) =>
        Scoped(() => EnergyFs.TensorModule.randn(Inner, NotNull(context).Inner, List(CheckShape(shape))));

    /// <summary>Samples of the uniform distribution on [0, 1) with the given shape, in the context's device and type.</summary>
    /// <param name="context">Device and type of the result.</param>
    /// <param name="shape">The shape (sizes ≥ 0).</param>
    public torch.Tensor Uniform(DeviceContext context, params long[] shape) =>
        Scoped(() => EnergyFs.TensorModule.rand(Inner, NotNull(context).Inner, List(CheckShape(shape))));

    /// <summary>Frees the native generator.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ((IDisposable)inner).Dispose();
    }
}
