using TorchSharp;

namespace EnergyFs.CSharp.Tests;

/// <summary>Model files of the structured family: a temporary folder, and the three kinds of damage loading must name.</summary>
internal static class ModelFiles
{
    internal static string TempPath(string name) =>
        Path.Combine(Path.GetTempPath(), "energyfs-structured-" + Guid.NewGuid().ToString("N"), name);

    internal static void Cleanup(string path) => Directory.Delete(Path.GetDirectoryName(path)!, true);

    /// <summary>Loading a file of another kind, of a newer format version, and truncated, each throws
    /// InvalidDataException naming the file (what it says is checked too).</summary>
    internal static void AssertDamageIsNamed(string saved, string otherKind, Action<string> load)
    {
        var e = Assert.Throws<InvalidDataException>(() => load(otherKind));
        Assert.Contains(otherKind, e.Message);
        Assert.Contains("not a", e.Message);
        var bytes = File.ReadAllBytes(saved);
        // The magic string is a BinaryWriter string (1 length byte + 14 bytes), then the int32 version.
        var newer = Path.Combine(Path.GetDirectoryName(saved)!, "newer.bin");
        var patched = (byte[])bytes.Clone();
        BitConverter.GetBytes(99).CopyTo(patched, 15);
        File.WriteAllBytes(newer, patched);
        e = Assert.Throws<InvalidDataException>(() => load(newer));
        Assert.Contains(newer, e.Message);
        Assert.Contains("newer", e.Message);
        var truncated = Path.Combine(Path.GetDirectoryName(saved)!, "truncated.bin");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length - 40)]);
        e = Assert.Throws<InvalidDataException>(() => load(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Throws<FileNotFoundException>(() => load(saved + ".missing"));
    }
}

[Covers(typeof(StructuredMetrics))]
public class StructuredModelTests
{
    public StructuredModelTests() => RuntimeInfo.Threads = 1;

    [Fact]
    public void SaveThenLoadPredictsIdenticallyAndKeepsEverything()
    {
        var (data, owned) = StructuredTestData.Examples(21, 48);
        var path = ModelFiles.TempPath("model.efs");
        try
        {
            using var model = new ImplicitTrainer(StructuredTestData.Quick(2) with { EntropyWeight = -0.5 }).Fit(data, data);
            model.Save(path);
            using var loaded = StructuredModel.Load(path);
            using var a = model.PredictMarginals(data.Inputs);
            using var b = loaded.PredictMarginals(data.Inputs);
            Assert.True(a.allclose(b, 0.0, 0.0), "identical marginals");
            using var la = model.Predict(data.Inputs);
            using var lb = loaded.Predict(data.Inputs);
            Assert.True(la.allclose(lb, 0.0, 0.0), "identical labels");
            Assert.Equal(model.Threshold, loaded.Threshold);
            Assert.Equal(model.Statistics, loaded.Statistics);
            Assert.Equal(model.Options, loaded.Options with { Energy = model.Options.Energy, NetworkHidden = model.Options.NetworkHidden });
            Assert.Equal(model.Options.NetworkHidden, loaded.Options.NetworkHidden);
            Assert.Equal(model.History.Columns, loaded.History.Columns);
            Assert.Equal(model.History.BestEpoch, loaded.History.BestEpoch);
            foreach (var c in model.History.Columns) Assert.Equal(model.History.Column(c), loaded.History.Column(c));
            Assert.Equal(((SpenEnergy)model.Energy.Definition).Hidden, ((SpenEnergy)loaded.Energy.Definition).Hidden);
            Assert.True(StructuredTestData.Same(model.Energy.Parameters, loaded.Energy.Parameters));
            using var wide = StructuredModel.Load(path, DeviceContext.Cpu64);
            Assert.Equal(torch.ScalarType.Float64, wide.Energy.Parameters[0].dtype);

            using var other = new RandomGenerator(1);
            using var network = new InferenceNetwork(new[] { 4, 3 }, other);
            var networkFile = Path.Combine(Path.GetDirectoryName(path)!, "network.efs");
            network.Save(networkFile);
            ModelFiles.AssertDamageIsNamed(path, networkFile, p => StructuredModel.Load(p).Dispose());
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
            ModelFiles.Cleanup(path);
        }
    }

    [Fact]
    public void ACustomEnergyModelLoadsOnlyWithItsEnergy()
    {
        var (data, owned) = StructuredTestData.Examples(22, 48);
        var path = ModelFiles.TempPath("pairwise.efs");
        try
        {
            using var model = new ImplicitTrainer(StructuredTestData.Quick(1) with { Energy = new PairwiseEnergy() }).Fit(data);
            model.Save(path);
            Assert.Contains("'pairwise'", Assert.Throws<ArgumentException>(() => StructuredModel.Load(path)).Message);
            Assert.Contains("'csharp-spen'", Assert.Throws<ArgumentException>(() => StructuredModel.Load(path, new CSharpSpen(4))).Message);
            using var loaded = StructuredModel.Load(path, new PairwiseEnergy());
            Assert.Equal(model.Predict(StructuredTestData.ToRows(data.Inputs)), loaded.Predict(StructuredTestData.ToRows(data.Inputs)));
            using var e1 = model.Energy.Energy(data.Features, data.Labels);
            using var e2 = loaded.Energy.Energy(data.Features, data.Labels);
            Assert.True(e1.allclose(e2, 0.0, 0.0));
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
            ModelFiles.Cleanup(path);
        }
    }

    [Fact]
    public void PredictAndEvaluateAgreeAcrossOverloadsAndRefuseBadInputs()
    {
        var (data, owned) = StructuredTestData.Examples(23, 32);
        try
        {
            var model = new ImplicitTrainer(StructuredTestData.Quick(1)).Fit(data);
            var rows = StructuredTestData.ToRows(data.Inputs);
            var labelRows = StructuredTestData.ToRows(data.Labels);
            var m = model.Evaluate(data.Inputs, data.Labels);
            Assert.Equal(m, model.Evaluate(rows, labelRows));
            Assert.Equal(m, model.Evaluate(data));
            Assert.InRange(m.ExampleF1, 0.0, 1.0);
            Assert.InRange(m.HammingAccuracy, 0.0, 1.0);
            var marginals = model.PredictMarginals(rows);
            var labels = model.Predict(rows);
            for (var i = 0; i < rows.Length; i++)
                for (var j = 0; j < 3; j++)
                    Assert.Equal(marginals[i][j] >= model.Threshold ? 1.0 : 0.0, labels[i][j]);
            using var f64 = data.Inputs.to_type(torch.float64);
            using var p64 = model.PredictMarginals(f64);
            Assert.Equal(torch.float32, p64.dtype);

            using var narrow = data.Inputs[.., ..2].contiguous();
            Assert.Contains("4 columns", Assert.Throws<ArgumentException>(() => model.Predict(narrow)).Message);
            rows[5][2] = double.NaN;
            Assert.Contains("inputs[5][2]", Assert.Throws<ArgumentException>(() => model.Predict(rows)).Message);
            Assert.Contains("expects 3", Assert.Throws<ArgumentException>(() => model.Evaluate(StructuredTestData.ToRows(data.Inputs), new[] { new[] { 1.0 } })).Message);
            model.Dispose();
            Assert.Contains("StructuredModel", Assert.Throws<ObjectDisposedException>(() => model.Predict(data.Inputs)).Message);
        }
        finally { foreach (var t in owned) t.Dispose(); }
    }
}
