using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(EnergyMultilabelOptions), typeof(MultilabelClassifierModel), typeof(MultilabelEvaluation))]
public class EnergyMultilabelClassifierTests
{
    public EnergyMultilabelClassifierTests() => RuntimeInfo.Threads = 1;

    /// <summary>The toolkit's synthetic correlated-label data (seeded), as host rows.</summary>
    internal static (double[][] Features, double[][] Labels) Synthetic(long seed, int n, int d, int labels)
    {
        using var rng = new RandomGenerator(seed);
        using var set = EnergyFs.Data.MultilabelSetModule.synthetic(rng.Inner, EnergyFs.ContextModule.cpu64, n, d, labels);
        return (Rows(set.Features), Rows(set.Labels));
    }

    internal static double[][] Rows(torch.Tensor t)
    {
        var (n, m) = ((int)t.shape[0], (int)t.shape[1]);
        using var c = t.to_type(torch.ScalarType.Float64).contiguous();
        var flat = c.data<double>().ToArray();
        return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * m, m).ToArray()).ToArray();
    }

    [Fact]
    public void LearnsCorrelatedSyntheticLabels()
    {
        var data = Synthetic(1, 300, 5, 3);
        using var model = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 30, LearningRate = 1e-2, Hidden = 0 })
            .Fit(data.Features, data.Labels);
        var metrics = model.Evaluate(data.Features, data.Labels);
        Assert.True(metrics.HammingAccuracy > 0.8, $"hamming accuracy {metrics.HammingAccuracy}");
        Assert.InRange(metrics.MicroF1, 0.0, 1.0);
        var predicted = model.Predict(data.Features);
        Assert.Equal(3, predicted[0].Length);
        Assert.All(predicted.SelectMany(r => r), v => Assert.True(v is 0.0 or 1.0));
        // Probabilities are in [0, 1] and thresholding them at 0.5 gives Predict.
        var p = model.PredictProbabilities(data.Features);
        Assert.All(p.SelectMany(r => r), v => Assert.InRange(v, 0.0, 1.0));
        Assert.Equal(predicted, p.Select(r => r.Select(v => v > 0.5 ? 1.0 : 0.0).ToArray()).ToArray());
        // A threshold of 1 predicts no label; 0 predicts those with p̂ > 0.
        Assert.All(model.Predict(data.Features, threshold: 1.0).SelectMany(r => r), v => Assert.Equal(0.0, v));
        Assert.Equal(30, model.History.EpochsRun + (model.History.StoppedEarly ? 30 - model.History.EpochsRun : 0));
        Assert.Contains("train_loss", model.History.Columns);
        Assert.InRange(model.History.BestEpoch ?? 0, 1, model.History.EpochsRun);
    }

    [Fact]
    public void AcceptsTheDatasetsTensors()
    {
        using var data = MultilabelDataset.Load(DataPaths.Find("emotions"), "emotions");
        using var model = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 3, Hidden = 8, LearningRate = 1e-2 }).Fit(data);
        using var predicted = model.Predict(data.TestFeatures);
        Assert.Equal(new long[] { 202, 6 }, predicted.shape);
        using var nonBinary = (predicted * (1 - predicted)).abs().sum();
        Assert.Equal(0.0, nonBinary.ToDouble());
        var metrics = model.Evaluate(data);
        Assert.InRange(metrics.HammingAccuracy, 0.6, 1.0);
        // The tensor and the row overloads agree.
        var rows = model.Evaluate(Rows(data.TestFeatures), Rows(data.TestLabels));
        Assert.Equal(metrics, rows);
        // The dataset's tensors are not disposed by the classifier.
        Assert.Equal(391, data.TrainFeatures.shape[0]);
    }

    [Fact]
    public void ProgressReportsEveryEpochAndCancellationStopsTheFit()
    {
        var data = Synthetic(3, 120, 4, 3);
        var estimator = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 6, Patience = 100, Hidden = 4 });
        var epochs = new List<TrainingEpoch>();
        using (var model = estimator.Fit(data.Features, data.Labels, new ImmediateProgress<TrainingEpoch>(epochs.Add)))
        {
            Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, epochs.Select(e => e.Epoch));
            Assert.All(epochs, e => Assert.True(e.Metrics.ContainsKey("train_loss") && e.Metrics.ContainsKey("val_hamming") && e.Epochs == 6));
            Assert.Equal(6, model.History.EpochsRun);
            Assert.Equal(epochs.Select(e => e.Metrics["train_loss"]), model.History.Column("train_loss"));
        }
        // Cancel from the callback after the second epoch: the fit stops at the next step and frees what it built.
        using var cts = new CancellationTokenSource();
        var seen = new List<int>();
        var before = Native.LiveTensors;
        var e = Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(data.Features, data.Labels,
            new ImmediateProgress<TrainingEpoch>(p => { seen.Add(p.Epoch); if (p.Epoch == 2) cts.Cancel(); }), cts.Token));
        Assert.Equal(new[] { 1, 2 }, seen);
        Assert.Contains("2 epochs completed", e.Message);
        Assert.Equal(cts.Token, e.CancellationToken);
        GC.Collect();
        Assert.Equal(before, Native.LiveTensors);
        // An already-cancelled token stops before the first step.
        Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(data.Features, data.Labels, null, cts.Token));
    }

    [Fact]
    public void SaveAndLoadGiveIdenticalPredictions()
    {
        var data = Synthetic(4, 100, 5, 3);
        var dir = Directory.CreateTempSubdirectory("energyfs-ml-").FullName;
        try
        {
            var path = Path.Combine(dir, "sub", "model.efs");
            using var model = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 4, Hidden = 6 }).Fit(data.Features, data.Labels);
            model.Save(path);
            using var loaded = MultilabelClassifierModel.Load(path);
            Assert.Equal(model.PredictProbabilities(data.Features), loaded.PredictProbabilities(data.Features));
            Assert.Equal((model.Features, model.Labels, model.Options.Hidden), (loaded.Features, loaded.Labels, loaded.Options.Hidden));
            Assert.Equal(model.History.Column("train_loss"), loaded.History.Column("train_loss"));
            Assert.Equal(model.History.BestEpoch, loaded.History.BestEpoch);
            ModelFileFaults.AssertRejectsCorruptCopies(path, p => MultilabelClassifierModel.Load(p).Dispose(), "multilabel-classifier");
            Assert.Throws<FileNotFoundException>(() => MultilabelClassifierModel.Load(Path.Combine(dir, "absent.efs")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A small neural energy Φ(x, p) = ⟨u(x), p⟩ + ⟨p, W p⟩ − ½‖p − σ(g(x))‖² written in C#.</summary>
    private sealed class TinyEnergy : MultilabelEnergyModule
    {
        private readonly TorchSharp.Modules.Linear unary, gate;
        private readonly TorchSharp.Modules.Parameter pairwise;

        public TinyEnergy(int features, int labels) : base("tiny-energy", labels)
        {
            unary = torch.nn.Linear(features, labels);
            gate = torch.nn.Linear(features, labels);
            pairwise = new TorchSharp.Modules.Parameter(torch.zeros(labels, labels));
            RegisterComponents();
        }

        public override torch.Tensor forward(torch.Tensor x, torch.Tensor p) =>
            (unary.forward(x) * p).sum(1) + (p.matmul(pairwise) * p).sum(1) - 0.5 * (p - torch.sigmoid(gate.forward(x))).square().sum(1);
    }

    [Fact]
    public void ACustomEnergyTrainsSavesAndLoads()
    {
        var data = Synthetic(5, 200, 4, 3);
        var options = new EnergyMultilabelOptions { Epochs = 15, LearningRate = 1e-2, Energy = (d, l) => new TinyEnergy(d, l) };
        using var model = new EnergyMultilabelClassifier(options).Fit(data.Features, data.Labels);
        var metrics = model.Evaluate(data.Features, data.Labels);
        Assert.True(metrics.HammingAccuracy > 0.75, $"hamming accuracy {metrics.HammingAccuracy}");
        // Same seed, same model.
        using var again = new EnergyMultilabelClassifier(options).Fit(data.Features, data.Labels);
        Assert.Equal(model.PredictProbabilities(data.Features), again.PredictProbabilities(data.Features));
        var path = Path.Combine(Path.GetTempPath(), $"energyfs-custom-{Guid.NewGuid():N}.efs");
        try
        {
            model.Save(path);
            var noEnergy = Assert.Throws<InvalidDataException>(() => MultilabelClassifierModel.Load(path));
            Assert.Contains("tiny-energy", noEnergy.Message);
            Assert.Contains(path, noEnergy.Message);
            using var loaded = MultilabelClassifierModel.Load(path, energy: (d, l) => new TinyEnergy(d, l));
            Assert.Equal(model.Predict(data.Features), loaded.Predict(data.Features));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BadTensorsAreNamed()
    {
        var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 1 });
        using var x = torch.zeros(4, 2);
        using var y3 = torch.zeros(3, 2);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => clf.Fit(x, y3)).ParamName);
        using var half = torch.full(4, 2, 0.5);
        Assert.Contains("must be 0 or 1", Assert.Throws<ArgumentException>(() => clf.Fit(x, half)).Message);
        using var y = torch.zeros(4, 2);
        using var xr = torch.randn(4, 2);
        using var model = clf.Fit(xr, y);
        using var wide = torch.zeros(5, 3);
        var e = Assert.Throws<ArgumentException>(() => model.Predict(wide));
        Assert.Equal("features", e.ParamName);
        Assert.Contains("[5, 3]", e.Message);
        using var nan = torch.full(4, 2, double.NaN);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => clf.Fit(nan, y)).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => model.Predict(nan)).Message);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var clf = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 1 });
        var ragged = new[] { new[] { 1.0, 2.0 }, new[] { 1.0 } };
        var labels = new[] { new[] { 1.0 }, new[] { 0.0 } };
        Assert.Contains("features[1]", Assert.Throws<ArgumentException>(() => clf.Fit(ragged, labels)).Message);
        Assert.Contains("other than 0 or 1", Assert.Throws<ArgumentException>(() => clf.Fit(new[] { new[] { 1.0 }, new[] { 2.0 } }, new[] { new[] { 0.5 }, new[] { 1.0 } })).Message);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => clf.Fit(new[] { new[] { 1.0 }, new[] { 2.0 } }, new[] { new[] { 1.0 } })).ParamName);
        var nan = Assert.Throws<ArgumentException>(() => clf.Fit(new[] { new[] { 1.0 }, new[] { double.NaN } }, labels));
        Assert.Contains("features[1][0]", nan.Message);
        var simplex = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Regularizer = FyRegularizer.Shannon });
        Assert.Equal("Regularizer", Assert.Throws<ArgumentException>(() => simplex.Fit(new[] { new[] { 1.0 }, new[] { 2.0 } }, labels)).ParamName);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        var d = EnergyFs.Learners.MultilabelOptionsModule.defaults;
        var f = new EnergyMultilabelOptions().ToFSharp();
        Assert.True(f.Loss.IsQuadraticEnergy && d.Loss.IsQuadraticEnergy);
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
            var model = new EnergyMultilabelClassifier(new EnergyMultilabelOptions { Epochs = 2, Hidden = 4 }).Fit(data.Features, data.Labels);
            model.Dispose();
            model.Dispose();
            var e = Assert.Throws<ObjectDisposedException>(() => model.Predict(data.Features));
            Assert.Contains(nameof(MultilabelClassifierModel), e.Message);
        });
    }
}
