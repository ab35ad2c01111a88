namespace EnergyFs.CSharp.Tests;

[Covers(typeof(EnergyMultilabelOptions))]
public class EnergyMultilabelClassifierTests
{
    public EnergyMultilabelClassifierTests() => RuntimeInfo.Threads = 1;

    [Fact]
    public void LearnsCorrelatedSyntheticLabels()
    {
        var data = EnergyFs.Data.MulanData.synthetic(1, 300, 5, 3);
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
        var data = EnergyFs.Data.MulanData.synthetic(2, 40, 3, 2);
        Native.AssertFreesEverything(() =>
        {
            var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 2, Hidden = 4 }).Fit(data.Features, data.Labels);
            clf.Dispose();
            clf.Dispose();
            Assert.Throws<ObjectDisposedException>(() => clf.Predict(data.Features));
        });
    }
}
