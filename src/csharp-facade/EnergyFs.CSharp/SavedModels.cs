using System.Text.Json.Nodes;
using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>The facade's side of the EnergyFs model file (the F# <c>ModelFile</c>: a magic string, the format version,
/// a JSON header with kind, format, EnergyFs version and the model's shapes and options, then the named tensors of the
/// model's TorchSharp state). Every trained model's <c>Save</c>/<c>Load</c> goes through here. Loading a missing file
/// throws FileNotFoundException; a file of another model kind, a newer format version or a truncated file throws
/// InvalidDataException naming the file.</summary>
internal static class SavedModels
{
    /// <summary>Writes <paramref name="tensors"/> with the kind's header <paramref name="model"/> to <paramref name="path"/>.</summary>
    internal static void Save(string path, string kind, JsonObject model, IEnumerable<(string Name, torch.Tensor Tensor)> tensors)
    {
        NotNull(path);
        EnergyFs.Training.ModelFile.save(path, kind, model, List(tensors.Select(t => Tuple.Create(t.Name, t.Tensor))));
    }

    /// <summary>The header and the tensors (on the CPU; the caller disposes them) of a file of <paramref name="kind"/>.</summary>
    internal static (JsonObject Model, IReadOnlyList<(string Name, torch.Tensor Tensor)> Tensors) Load(string path, string kind)
    {
        NotNull(path);
        var loaded = EnergyFs.Training.ModelFile.load(path, kind);
        return (loaded.Item1, loaded.Item2.Select(t => (t.Item1, t.Item2)).ToList());
    }

    /// <summary>Copies the loaded tensors into a module's state (names and shapes must match; InvalidDataException naming
    /// the file and the entry otherwise) and frees them.</summary>
    internal static void LoadInto(string path, torch.nn.Module module, IReadOnlyList<(string Name, torch.Tensor Tensor)> tensors)
    {
        try
        {
            EnergyFs.Training.ModelFile.loadInto(path, module, List(tensors.Select(t => Tuple.Create(t.Name, t.Tensor))));
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
    }

    /// <summary>A header string value, InvalidDataException naming the file when absent.</summary>
    internal static string Text(string path, JsonObject model, string key) => EnergyFs.Training.ModelFile.readText(path, model, key);

    /// <summary>A header integer value, InvalidDataException naming the file when absent.</summary>
    internal static int Int(string path, JsonObject model, string key) => EnergyFs.Training.ModelFile.readInt(path, model, key);

    /// <summary>A header number, InvalidDataException naming the file when absent.</summary>
    internal static double Number(string path, JsonObject model, string key) => EnergyFs.Training.ModelFile.readFloat(path, model, key);
}
