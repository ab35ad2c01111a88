using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(EnergyMultilabelOptions))]
public class EnergyMultilabelClassifierTests
{
    public EnergyMultilabelClassifierTests() => RuntimeInfo.Threads = 1;

    /// <summary>The toolkit's synthetic correlated-label data (seeded), as host rows.</summary>
    private static (double[][] Features, double[][] Labels) Synthetic(long seed, int n, int d, int labels)
    {
        using var rng = new RandomGenerator(seed);
        using var set = EnergyFs.Data.MultilabelSetModule.synthetic(rng.Inner, EnergyFs.ContextModule.cpu64, n, d, labels);
        return (Rows(set.Features), Rows(set.Labels));
    }

    private static double[][] Rows(torch.Tensor t)
    {
        var (n, m) = ((int)t.shape[0], (int)t.shape[1]);
        var flat = t.contiguous().data<double>().ToArray();
        return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * m, m).ToArray()).ToArray();
    }

    [Fact]
    public void LearnsCorrelatedSyntheticLabels()
    {
        var data = Synthetic(1, 300, 5, 3);
        using var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 30, LearningRate = 1e-2, Hidden = 0 });
        Assert.False(clf.IsFitted);
        clf.Fit(data.Features, data.Labels);
        Assert.True(clf.IsFitted);
        var metrics = clf.Evaluate(data.Features, data.Labels);
        Assert.True(metrics["hamming_accuracy"] > 0.8, $"hamming accuracy {metrics["hamming_accuracy"]}");
        Assert.InRange(metrics["micro_f1"], 0.0, 1.0);
        var predicted = clf.Predict(data.Features);
        Assert.Equal(3, predicted[0].Length);
        Assert.All(predicted.SelectMany(r => r), v => Assert.True(v is 0.0 or 1.0));
    }

    [Fact]
    public void AcceptsTheDatasetsTensors()
    {
        using var data = MultilabelDataset.Load(DataPaths.Find("emotions"), "emotions");
        using var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 3, Hidden = 8, LearningRate = 1e-2 });
        clf.Fit(data.TrainFeatures, data.TrainLabels);
        Assert.True(clf.IsFitted);
        using var predicted = clf.Predict(data.TestFeatures);
        Assert.Equal(new long[] { 202, 6 }, predicted.shape);
        using var nonBinary = (predicted * (1 - predicted)).abs().sum();
        Assert.Equal(0.0, nonBinary.ToDouble());
        var metrics = clf.Evaluate(data.TestFeatures, data.TestLabels);
        Assert.InRange(metrics["hamming_accuracy"], 0.6, 1.0);
        // The tensor and the row overloads agree.
        var rows = clf.Evaluate(Rows(data.TestFeatures.to_type(torch.ScalarType.Float64)), Rows(data.TestLabels.to_type(torch.ScalarType.Float64)));
        Assert.Equal(metrics["hamming_accuracy"], rows["hamming_accuracy"], 12);
        Assert.Equal(metrics["macro_f1"], rows["macro_f1"], 12);
        // The dataset's tensors are not disposed by the classifier.
        Assert.Equal(391, data.TrainFeatures.shape[0]);
    }

    [Fact]
    public void BadTensorsAreNamed()
    {
        using var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 1 });
        using var x = torch.zeros(4, 2);
        using var y3 = torch.zeros(3, 2);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => clf.Fit(x, y3)).ParamName);
        using var half = torch.full(4, 2, 0.5);
        Assert.Contains("must be 0 or 1", Assert.Throws<ArgumentException>(() => clf.Fit(x, half)).Message);
        using var y = torch.zeros(4, 2);
        using var xr = torch.randn(4, 2);
        clf.Fit(xr, y);
        using var wide = torch.zeros(5, 3);
        var e = Assert.Throws<ArgumentException>(() => clf.Predict(wide));
        Assert.Equal("features", e.ParamName);
        Assert.Contains("[5, 3]", e.Message);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 1 });
        Assert.Throws<InvalidOperationException>(() => clf.Predict(new[] { new[] { 1.0 } }));
        var ragged = new[] { new[] { 1.0, 2.0 }, new[] { 1.0 } };
        var labels = new[] { new[] { 1.0 }, new[] { 0.0 } };
        Assert.Contains("features[1]", Assert.Throws<ArgumentException>(() => clf.Fit(ragged, labels)).Message);
        Assert.Contains("other than 0 or 1", Assert.Throws<ArgumentException>(() => clf.Fit(new[] { new[] { 1.0 }, new[] { 2.0 } }, new[] { new[] { 0.5 }, new[] { 1.0 } })).Message);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => clf.Fit(new[] { new[] { 1.0 }, new[] { 2.0 } }, new[] { new[] { 1.0 } })).ParamName);
        var simplex = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Regularizer = FyRegularizer.Shannon });
        Assert.Equal("Regularizer", Assert.Throws<ArgumentException>(() => simplex.Fit(new[] { new[] { 1.0 }, new[] { 2.0 } }, labels)).ParamName);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        var d = EnergyFs.Learners.MultilabelOptionsModule.defaults;
        var f = new EnergyMultilabelOptions().ToFSharp();
        Assert.Equal(d.Loss, f.Loss);
        Assert.Equal(d.Regularizer.Name, f.Regularizer.Name);
        Assert.Equal((d.Hidden, d.Epochs, d.Patience, d.BatchSize, d.LearningRate, d.ValidationFraction), (f.Hidden, f.Epochs, f.Patience, f.BatchSize, f.LearningRate, f.ValidationFraction));
        Assert.Equal(d.Inner, f.Inner);
        Assert.Equal(d.Context, f.Context);
        Assert.Contains(f.WeightDecays.Head, d.WeightDecays);
    }

    [Fact]
    public void DisposeFreesTheNetwork()
    {
        var data = Synthetic(2, 40, 3, 2);
        Native.AssertFreesEverything(() =>
        {
            var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 2, Hidden = 4 }).Fit(data.Features, data.Labels);
            clf.Dispose();
            clf.Dispose();
            Assert.Throws<ObjectDisposedException>(() => clf.Predict(data.Features));
        });
    }
}
