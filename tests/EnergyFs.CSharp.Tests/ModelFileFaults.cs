using System.IO;

namespace EnergyFs.CSharp.Tests;

/// <summary>An IProgress that reports on the calling thread at once (System.Progress posts to the thread pool, so a
/// test could not count its reports or cancel from them deterministically).</summary>
public sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>Damaged copies of a saved model file, for the load-error tests of every model kind: a newer format version,
/// a truncated file; and a temporary folder deleted on Dispose.</summary>
public sealed class ModelFileFaults : IDisposable
{
    public ModelFileFaults() => Directory.CreateDirectory(Folder);

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "energyfs-csharp-test-" + Guid.NewGuid().ToString("N"));

    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>A copy of <paramref name="path"/> whose format version (the int32 after the magic string) is 99.</summary>
    public string NewerVersion(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using (var reader = new BinaryReader(new MemoryStream(bytes)))
        {
            Assert.Equal("EnergyFs-model", reader.ReadString());
            var at = (int)reader.BaseStream.Position;
            BitConverter.GetBytes(99).CopyTo(bytes, at);
        }
        var copy = path + ".newer";
        File.WriteAllBytes(copy, bytes);
        return copy;
    }

    /// <summary>A copy of <paramref name="path"/> cut at 60% of its length (inside the tensors).</summary>
    public string Truncated(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var copy = path + ".truncated";
        File.WriteAllBytes(copy, bytes.AsSpan(0, bytes.Length * 3 / 5).ToArray());
        return copy;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }

    /// <summary>Asserts that <paramref name="load"/> rejects, with InvalidDataException naming the file, a truncated copy, a
    /// copy claiming a newer format version, a copy of another kind, and a file that is not a model file, all made beside
    /// the valid file <paramref name="path"/>.</summary>
    public static void AssertRejectsCorruptCopies(string path, Action<string> load, string kind)
    {
        using var faults = new ModelFileFaults();
        var truncated = faults.Truncated(path);
        Assert.Contains(truncated, Assert.Throws<InvalidDataException>(() => load(truncated)).Message);
        var newer = faults.NewerVersion(path);
        var e = Assert.Throws<InvalidDataException>(() => load(newer));
        Assert.Contains("newer", e.Message);
        Assert.Contains(newer, e.Message);
        // Another kind: the kind string replaced in the JSON header (the same length keeps the layout).
        var other = path + ".other";
        var text = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(path));
        var replaced = text.Replace($"\"kind\":\"{kind}\"", $"\"kind\":\"{new string('x', kind.Length)}\"");
        Assert.NotEqual(text, replaced);
        File.WriteAllBytes(other, System.Text.Encoding.Latin1.GetBytes(replaced));
        var e3 = Assert.Throws<InvalidDataException>(() => load(other));
        Assert.Contains(other, e3.Message);
        Assert.Contains(kind, e3.Message);
        var garbage = faults.PathOf("garbage.efs");
        File.WriteAllText(garbage, "hello");
        Assert.Throws<InvalidDataException>(() => load(garbage));
    }
}
