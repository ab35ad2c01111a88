using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.FSharp.Collections;
using TorchSharp;
using TorchSharp.Modules;

namespace EnergyFs.CSharp;

/// <summary>Helpers of the structured family's model files (<see cref="StructuredEnergyModel"/>,
/// <see cref="InferenceNetwork"/>, <see cref="StructuredModel"/>): parameter blocks stored as "prefix.0", "prefix.1", …,
/// the saved floating-point type, and JSON numbers that may be NaN.</summary>
internal static class StructuredFiles
{
    /// <summary>An InvalidDataException naming the file.</summary>
    internal static InvalidDataException Corrupt(string path, string reason) => new($"{path}: {reason}");

    /// <summary>Frees the tensors read from a file.</summary>
    internal static void Free(IReadOnlyList<(string Name, torch.Tensor Tensor)> tensors)
    {
        foreach (var (_, t) in tensors) t.Dispose();
    }

    /// <summary>Copies the file's tensors "prefix.i" into <paramref name="targets"/> (count and shapes must match:
    /// InvalidDataException naming the file and the block otherwise), converting type and device.</summary>
    internal static void CopyInto(string path, IReadOnlyList<(string Name, torch.Tensor Tensor)> tensors, string prefix, FSharpList<Parameter> targets)
    {
        var mine = tensors.Where(t => t.Name.StartsWith(prefix + ".", StringComparison.Ordinal)).ToDictionary(t => t.Name, t => t.Tensor);
        if (mine.Count != targets.Length)
            throw Corrupt(path, $"the file has {mine.Count} '{prefix}' blocks but the model has {targets.Length}");
        using var noGrad = torch.no_grad();
        var i = 0;
        foreach (var target in targets)
        {
            var name = $"{prefix}.{i++}";
            if (!mine.TryGetValue(name, out var t)) throw Corrupt(path, $"the file has no tensor '{name}'");
            if (!t.shape.SequenceEqual(target.shape))
                throw Corrupt(path, $"tensor '{name}' has shape [{string.Join(", ", t.shape)}] but the model expects [{string.Join(", ", target.shape)}]");
            target.copy_(t);
        }
    }

    /// <summary>The context to load into: the given one, or the CPU in the saved type.</summary>
    internal static DeviceContext ContextFor(string path, JsonObject header, DeviceContext? context)
    {
        if (context is not null) return context;
        var text = SavedModels.Text(path, header, "dtype");
        if (!Enum.TryParse<torch.ScalarType>(text, out var dtype) || dtype is not (torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Float32 or torch.ScalarType.Float64))
            throw Corrupt(path, $"unknown floating-point type '{text}'");
        return dtype switch
        {
            torch.ScalarType.Float64 => DeviceContext.Cpu64,
            torch.ScalarType.Float32 => DeviceContext.Cpu,
            _ => new DeviceContext(new EnergyFs.Context(torch.CPU, dtype)),
        };
    }

    /// <summary>A positive integer of the header.</summary>
    internal static int PositiveInt(string path, JsonObject header, string key)
    {
        var v = SavedModels.Int(path, header, key);
        return v > 0 ? v : throw Corrupt(path, $"'{key}' must be positive, got {v}");
    }

    /// <summary>An integer array of the header.</summary>
    internal static int[] IntArray(string path, JsonObject header, string key) =>
        Read(path, key, () => header[key]?.AsArray().Select(n => n?.GetValue<int>() ?? throw Corrupt(path, $"'{key}' holds a null")).ToArray())
            ?? throw Corrupt(path, $"the header has no '{key}'");

    /// <summary>A double as JSON: a number, or "NaN" / "Infinity" / "-Infinity" (JSON has no such numbers).</summary>
    internal static JsonNode Number(double v) =>
        double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));

    /// <summary>The double written by <see cref="Number"/>.</summary>
    internal static double ReadNumber(string path, JsonNode? node, string what) =>
        Read(path, what, () => node switch
        {
            null => throw Corrupt(path, $"the header has no '{what}'"),
            _ when node.GetValueKind() == JsonValueKind.String => double.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture),
            _ => node.GetValue<double>(),
        });

    /// <summary>A number of the header object by key.</summary>
    internal static double ReadNumber(string path, JsonObject o, string key) => ReadNumber(path, o[key], key);

    /// <summary>Runs a header read, turning JSON type errors into InvalidDataException naming the file.</summary>
    internal static T Read<T>(string path, string what, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
        {
            throw Corrupt(path, $"the header's '{what}' is malformed ({e.Message})");
        }
    }
}
