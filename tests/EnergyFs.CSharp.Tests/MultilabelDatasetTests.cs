using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class MultilabelDatasetTests
{
    [Fact]
    public void LoadsEmotions()
    {
        using var data = MultilabelDataset.Load(DataPaths.Find("emotions"), "emotions");
        Assert.Equal("emotions", data.Name);
        Assert.Equal(new long[] { 391, 72 }, data.TrainFeatures.shape);
        Assert.Equal(new long[] { 391, 6 }, data.TrainLabels.shape);
        Assert.Equal(new long[] { 202, 72 }, data.TestFeatures.shape);
        Assert.Equal(new long[] { 202, 6 }, data.TestLabels.shape);
        Assert.Equal("amazed-suprised", data.LabelNames[0]);
        Assert.Equal(6, data.LabelNames.Count);
        Assert.Equal(72, data.FeatureNames.Count);
        Assert.Null(data.ValidationFeatures);
        Assert.Null(data.ValidationLabels);
        using var nonBinary = (data.TrainLabels * (1 - data.TrainLabels)).abs().sum();
        Assert.Equal(0.0, nonBinary.ToDouble());
    }

    [Fact]
    public void ValidationComesFromTrainAndStandardizesOnTrain()
    {
        using var data = MultilabelDataset.Load(DataPaths.Find("emotions"), "emotions", DeviceContext.Cpu64);
        using var rng = new RandomGenerator(3);
        using var split = data.WithValidationSplit(rng, 0.2);
        using var scaled = split.Standardize();
        Assert.Equal(78, scaled.ValidationFeatures!.shape[0]);
        Assert.Equal(78, scaled.ValidationLabels!.shape[0]);
        Assert.Equal(313, scaled.TrainFeatures.shape[0]);
        Assert.Equal(202, scaled.TestFeatures.shape[0]);
        using var mean = scaled.TrainFeatures.mean(new long[] { 0 });
        Assert.True(mean.abs().max().item<double>() < 1e-9);
        // The originals are untouched.
        Assert.Equal(391, data.TrainFeatures.shape[0]);
    }

    [Fact]
    public void MalformedFileIsAFormatExceptionNamingFileAndLine()
    {
        var dir = Directory.CreateTempSubdirectory("energyfs-arff");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "bad.xml"), "<labels xmlns=\"http://mulan.sourceforge.net/labels\"><label name=\"a\"></label></labels>");
            File.WriteAllText(Path.Combine(dir.FullName, "bad-train.arff"), "@relation bad\n@attribute x numeric\n@attribute a {0,1}\n@data\n1.0,0\nnot-a-number,1\n");
            File.WriteAllText(Path.Combine(dir.FullName, "bad-test.arff"), "@relation bad\n@attribute x numeric\n@attribute a {0,1}\n@data\n1.0,0\n");
            var e = Assert.Throws<FormatException>(() => MultilabelDataset.Load(dir.FullName, "bad"));
            Assert.Contains("bad-train.arff", e.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void DisposeFreesEveryTensor() =>
        Native.AssertFreesEverything(() =>
        {
            var data = MultilabelDataset.Load(DataPaths.Find("emotions"), "emotions");
            using var rng = new RandomGenerator(1);
            var split = data.WithValidationSplit(rng, 0.1);
            var features = split.ValidationFeatures!;
            split.Dispose();
            data.Dispose();
            Assert.True(features.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => data.TrainFeatures);
        });
}
