using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Row tables (double[][] / float[][]) to and from tensors, with checks that name the argument, the row and
/// the column: the one conversion of every estimator's array overloads.</summary>
internal static class RowTables
{
    /// <summary>Non-null, non-empty, rectangular rows (of <paramref name="width"/> columns when given).</summary>
    internal static void Check<T>(T[][] rows, string name, int? width)
    {
        NotNull(rows, name);
        if (rows.Length == 0) throw new ArgumentException($"{name} has no rows", name);
        var w = width ?? rows[0]?.Length ?? 0;
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i] is null) throw new ArgumentException($"{name}[{i}] is null", name);
            if (rows[i].Length != w)
                throw new ArgumentException($"{name}[{i}] has {rows[i].Length} columns but {(width is null ? $"{name}[0] has" : "the model expects")} {w}", name);
        }
        if (w == 0) throw new ArgumentException($"{name} has rows without columns", name);
    }

    /// <summary>A float64 CPU tensor [n, width] of finite rows.</summary>
    internal static torch.Tensor Matrix(double[][] rows, int? width = null, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(rows))] string? name = null)
    {
        Check(rows, name!, width);
        for (var i = 0; i < rows.Length; i++)
            for (var j = 0; j < rows[i].Length; j++)
                if (!double.IsFinite(rows[i][j]))
                    throw new ArgumentException($"{name}[{i}][{j}] is {rows[i][j]}: every value must be finite", name);
        var w = rows[0].Length;
        var flat = new double[rows.Length * w];
        for (var i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * w);
        return torch.tensor(flat, new long[] { rows.Length, w }, torch.ScalarType.Float64);
    }

    /// <summary>A float32 CPU tensor [n, width] of finite rows.</summary>
    internal static torch.Tensor Matrix(float[][] rows, int? width = null, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(rows))] string? name = null)
    {
        Check(rows, name!, width);
        for (var i = 0; i < rows.Length; i++)
            for (var j = 0; j < rows[i].Length; j++)
                if (!float.IsFinite(rows[i][j]))
                    throw new ArgumentException($"{name}[{i}][{j}] is {rows[i][j]}: every value must be finite", name);
        var w = rows[0].Length;
        var flat = new float[rows.Length * w];
        for (var i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * w);
        return torch.tensor(flat, new long[] { rows.Length, w }, torch.ScalarType.Float32);
    }

    /// <summary>The rows of a rank-2 tensor as double[][].</summary>
    internal static double[][] Rows(torch.Tensor t)
    {
        using var c = t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous();
        var flat = c.data<double>().ToArray();
        var (n, w) = ((int)t.shape[0], (int)t.shape[1]);
        return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * w, w).ToArray()).ToArray();
    }

    /// <summary>The rows of a rank-2 tensor as float[][].</summary>
    internal static float[][] FloatRows(torch.Tensor t)
    {
        using var c = t.detach().cpu().to_type(torch.ScalarType.Float32).contiguous();
        var flat = c.data<float>().ToArray();
        var (n, w) = ((int)t.shape[0], (int)t.shape[1]);
        return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * w, w).ToArray()).ToArray();
    }

    /// <summary>Float rows as double rows.</summary>
    internal static double[][] ToDoubles(float[][] rows, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(rows))] string? name = null)
    {
        NotNull(rows, name);
        return rows.Select(r => r?.Select(v => (double)v).ToArray()!).ToArray();
    }

    /// <summary><see cref="Matrix(double[][], int?, string?)"/> moved to the context's device and type (added to
    /// <paramref name="owned"/>, outside any dispose scope, when given; otherwise in the current dispose scope).</summary>
    internal static torch.Tensor OnContext(double[][] rows, string name, DeviceContext context, List<torch.Tensor>? owned, int? width = null)
    {
        using var cpu = Matrix(rows, width, name);
        var t = cpu.to(context.DType, context.Device, copy: true);
        owned?.Add(t);
        if (owned is not null) t.DetachFromDisposeScope();
        return t;
    }
}
