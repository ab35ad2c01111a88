using System.Runtime.CompilerServices;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;

// The tests compare each options object's F# mapping with the F# `defaults` records.
[assembly: InternalsVisibleTo("EnergyFs.CSharp.Tests")]

namespace EnergyFs.CSharp;

/// <summary>Conversions between the C# surface and the F# library (functions, lists, options) and the argument
/// checks of the facade. Internal: no F# type appears in a public signature.</summary>
internal static class FSharpInterop
{
    /// <summary>A C# function as an F# function.</summary>
    internal static FSharpFunc<torch.Tensor, torch.Tensor> Fn(Func<torch.Tensor, torch.Tensor> f) => FuncConvert.FromFunc(f);

    /// <summary>Runs <paramref name="f"/> in a dispose scope and moves only its result out: every temporary created
    /// during the call (by the F# library, TorchSharp or the caller's own functions) is freed when the call returns.</summary>
    internal static torch.Tensor Scoped(Func<torch.Tensor> f)
    {
        using var scope = torch.NewDisposeScope();
        return f().MoveToOuterDisposeScope();
    }

    /// <summary><see cref="Scoped(Func{torch.Tensor})"/> for two results.</summary>
    internal static (torch.Tensor, torch.Tensor) Scoped2(Func<(torch.Tensor, torch.Tensor)> f)
    {
        using var scope = torch.NewDisposeScope();
        var (a, b) = f();
        return (a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <summary><see cref="Scoped(Func{torch.Tensor})"/> for a result holding tensors: <paramref name="survivors"/> names the
    /// tensors to keep.</summary>
    internal static T ScopedWith<T>(Func<T> f, Func<T, IEnumerable<torch.Tensor>> survivors)
    {
        using var scope = torch.NewDisposeScope();
        var result = f();
        foreach (var t in survivors(result)) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary><see cref="Scoped(Func{torch.Tensor})"/> for a computation whose result holds no tensor.</summary>
    internal static T ScopedValue<T>(Func<T> f)
    {
        using var scope = torch.NewDisposeScope();
        return f();
    }

    /// <summary>A sequence as an F# list.</summary>
    internal static FSharpList<T> List<T>(IEnumerable<T> items) => ListModule.OfSeq(items);

    /// <summary>The value of an F# option, or null.</summary>
    internal static T? ValueOrNull<T>(FSharpOption<T>? option) where T : class =>
        OptionModule.IsSome(option) ? option!.Value : null;

    /// <summary>Throws ArgumentNullException naming <paramref name="name"/> when <paramref name="value"/> is null.</summary>
    internal static T NotNull<T>(T? value, [CallerArgumentExpression(nameof(value))] string? name = null) where T : class =>
        value ?? throw new ArgumentNullException(name);

    /// <summary>Throws ArgumentOutOfRangeException naming <paramref name="name"/> unless <paramref name="value"/> &gt; 0.</summary>
    internal static int Positive(int value, [CallerArgumentExpression(nameof(value))] string? name = null) =>
        value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive, got {value}");

    /// <summary>Throws ArgumentOutOfRangeException naming <paramref name="name"/> unless <paramref name="value"/> ≥ 0.</summary>
    internal static int NonNegative(int value, [CallerArgumentExpression(nameof(value))] string? name = null) =>
        value >= 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be non-negative, got {value}");

    /// <summary>Throws ArgumentOutOfRangeException naming <paramref name="name"/> unless <paramref name="value"/> is finite and &gt; 0.</summary>
    internal static double Positive(double value, [CallerArgumentExpression(nameof(value))] string? name = null) =>
        double.IsFinite(value) && value > 0.0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite positive number, got {value}");

    /// <summary>"[2, 3]": a shape as the error messages write it.</summary>
    internal static string Shape(torch.Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    /// <summary>Throws ArgumentException naming the tensor and its shape unless it has rank <paramref name="rank"/>.</summary>
    internal static torch.Tensor Rank(torch.Tensor t, int rank, string description, [CallerArgumentExpression(nameof(t))] string? name = null)
    {
        NotNull(t, name);
        if (t.IsInvalid) throw new ObjectDisposedException(name, $"{name} has been disposed");
        if (t.dim() != rank) throw new ArgumentException($"{name} must be {description} (rank {rank}), got shape {Shape(t)}", name);
        return t;
    }

    /// <summary>Throws ArgumentException naming both tensors unless they have as many rows.</summary>
    internal static void SameRows(torch.Tensor a, torch.Tensor b, [CallerArgumentExpression(nameof(a))] string? nameA = null,
                                  [CallerArgumentExpression(nameof(b))] string? nameB = null)
    {
        if (a.shape[0] != b.shape[0])
            throw new ArgumentException($"{nameA} {Shape(a)} and {nameB} {Shape(b)} must have the same number of rows", nameB);
    }

    /// <summary>Throws ObjectDisposedException naming the object's type when <paramref name="disposed"/>.</summary>
    internal static void NotDisposed(bool disposed, object owner)
    {
        if (disposed)
            throw new ObjectDisposedException(owner.GetType().Name, $"this {owner.GetType().Name} has been disposed (Dispose was called or a using block ended); create or load a new one");
    }

    /// <summary>The library's monitor of a run: epoch rows to <paramref name="progress"/> (1-based epochs of
    /// <paramref name="epochs"/>) and the cancellation token.</summary>
    internal static EnergyFs.Training.FitMonitor Monitor(IProgress<TrainingEpoch>? progress, CancellationToken cancellationToken, int epochs)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var onEpoch = FuncConvert.FromAction<int, FSharpList<Tuple<string, double>>>((epoch, row) =>
            progress?.Report(new TrainingEpoch(epoch + 1, epochs, row.ToDictionary(t => t.Item1, t => t.Item2), watch.Elapsed)));
        return new EnergyFs.Training.FitMonitor(EnergyFs.Training.FitMonitorModule.none.OnProgress, onEpoch, cancellationToken);
    }

    /// <summary>Runs a library call, turning the library's own exception types into .NET ones: a diverged run into
    /// InvalidOperationException (the message names the epoch, step and tensor), a data-format error into
    /// FormatException; the message is kept, the F# type is not exposed.</summary>
    internal static T Guard<T>(Func<T> f)
    {
        try
        {
            return f();
        }
        catch (EnergyFs.Training.TrainingDivergedException e)
        {
            throw new InvalidOperationException(e.Message + " (check the inputs for extreme values, or lower the learning rate)");
        }
        catch (EnergyFs.DataFormatException e)
        {
            throw new FormatException(e.Message);
        }
    }

    /// <summary>Throws ArgumentException naming the tensor unless every entry is finite.</summary>
    internal static torch.Tensor Finite(torch.Tensor t, [CallerArgumentExpression(nameof(t))] string? name = null)
    {
        NotNull(t, name);
        if (t.IsInvalid) throw new ObjectDisposedException(name, $"{name} has been disposed");
        if (!t.is_floating_point()) return t;
        using var scope = torch.NewDisposeScope();
        var bad = t.isfinite().logical_not().sum().ToInt64();
        if (bad > 0) throw new ArgumentException($"{name} {Shape(t)} has {bad} non-finite (NaN or infinite) entries", name);
        return t;
    }

    /// <summary>Throws ArgumentException naming the row and column of the first non-finite entry.</summary>
    internal static void Finite(double[][] rows, [CallerArgumentExpression(nameof(rows))] string? name = null)
    {
        for (var i = 0; i < rows.Length; i++)
            for (var j = 0; j < rows[i].Length; j++)
                if (!double.IsFinite(rows[i][j]))
                    throw new ArgumentException($"{name}[{i}][{j}] is {rows[i][j]}: every value must be finite", name);
    }
}
