using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(EnergyRegressorOptions), typeof(RegressionMethod), typeof(ModePredictionOptions), typeof(EnergyRegressionModel),
        typeof(TrainingEpoch), typeof(TrainingHistory))]
public class EnergyRegressorTests
{
    public EnergyRegressorTests() => RuntimeInfo.Threads = 1;

    internal static (torch.Tensor X, torch.Tensor Y) Data(long seed, int n = 200)
    {
        using var rng = new RandomGenerator(seed);
        using var u = rng.Uniform(DeviceContext.Cpu, n, 1);
        using var e = rng.Normal(DeviceContext.Cpu, n, 1);
        var x = u * 2.0;
        var y = x.sin() + e * 0.1;
        return (x, y);
    }

    internal static readonly EnergyRegressorOptions Quick = new() { Samples = 8, Epochs = 1, Hidden = 8 };

    [Fact]
    public void JointModelFitsAndItsNllEstimatesAgree()
    {
        var (x, y) = Data(3, 300);
        using var _x = x;
        using var _y = y;
        using var model = new EnergyRegressor(new EnergyRegressorOptions { Samples = 64, Epochs = 10, Hidden = 16, LearningRate = 3e-3 }).Fit(x, y);
        Assert.Equal(RegressionMethod.Joint, model.Method);
        Assert.True(model.HasEnergy);
        Assert.Equal((1, 1), (model.InputDimension, model.TargetDimension));
        using var rng = new RandomGenerator(2);
        // Quadrature over a range wide enough to hold all of the model's mass, trained or not.
        var quad = model.NllQuadrature(x, y, -12, 12, 2401);
        var isNll = model.NllImportanceSampling(x, y, rng, 1024);
        Assert.True(Math.Abs(quad - isNll) < 0.1, $"quadrature {quad} vs importance sampling {isNll}");
        // The EBM beats its own proposal (the point of the paper), or at least matches it.
        Assert.True(quad < model.ProposalNll(x, y) + 0.05, $"EBM {quad} vs proposal {model.ProposalNll(x, y)}");
        using var mean = model.PredictMean(x, rng, 256);
        Assert.Equal(new long[] { 300, 1 }, mean.shape);
        using var err = (mean - x.sin()).square().mean();
        Assert.True(err.ToDouble() < 0.05, $"mean squared error {err.ToDouble()}");
        using var mode = model.PredictMode(x, rng, new ModePredictionOptions { Samples = 64, Steps = 3 });
        Assert.Equal(new long[] { 300, 1 }, mode.shape);
        using var q = model.Proposal(x);
        Assert.NotNull(q);
        Assert.Equal(new EnergyRegressorOptions().Components, q!.Components);
        using var cand = y.reshape(300, 1, 1);
        using var scores = model.Score(x, cand);
        Assert.Equal(new long[] { 300, 1 }, scores.shape);
        var metrics = model.Evaluate(x, y);
        Assert.True(metrics.Rmse < 0.3 && metrics.Mae <= metrics.Rmse && Math.Abs(metrics.Nll - quad) < 0.15, metrics.ToString());
        Assert.Equal(model.ProposalNll(x, y), metrics.ProposalNll, 6);
    }

    [Fact]
    public void MdnHasNoEnergyAndNceHasNoProposal()
    {
        var (x, y) = Data(5, 60);
        using var _x = x;
        using var _y = y;
        using var mdn = new EnergyRegressor(Quick with { Method = RegressionMethod.Mdn }).Fit(x, y);
        Assert.False(mdn.HasEnergy);
        using var cand = y.reshape(60, 1, 1);
        Assert.Throws<InvalidOperationException>(() => mdn.Score(x, cand));
        var m = mdn.Evaluate(x, y);
        Assert.Equal(m.ProposalNll, m.Nll);
        using var nce = new EnergyRegressor(Quick with { Method = RegressionMethod.Nce }).Fit(x, y);
        Assert.Null(nce.Proposal(x));
        Assert.Equal(RegressionMethod.Nce, nce.Method);
        Assert.Contains("NllQuadrature", Assert.Throws<InvalidOperationException>(() => nce.Evaluate(x, y)).Message);
        Assert.Throws<InvalidOperationException>(() => nce.PredictMean(x));
        Assert.True(double.IsFinite(nce.NllQuadrature(x, y, -6, 6, 201)));
    }

    [Fact]
    public void BadInputGivesClearErrors()
    {
        var (x, y) = Data(4, 50);
        using var _x = x;
        using var _y = y;
        using var shortY = y.narrow(0, 0, 20);
        var regressor = new EnergyRegressor(Quick);
        var e1 = Assert.Throws<ArgumentException>(() => regressor.Fit(x, shortY));
        Assert.Contains("same number of rows", e1.Message);
        var e2 = Assert.ThrowsAny<ArgumentException>(() => new EnergyRegressor(Quick with { Components = 0 }).Fit(x, y));
        Assert.Contains("omponents", e2.Message);
        using var nanY = y.clone();
        nanY[0, 0] = torch.tensor(double.NaN, dtype: nanY.dtype);
        var e3 = Assert.Throws<ArgumentException>(() => regressor.Fit(x, nanY));
        Assert.Contains("non-finite", e3.Message);
        Assert.Equal("y", e3.ParamName);
        Assert.Equal("Samples", Assert.Throws<ArgumentOutOfRangeException>(() => new EnergyRegressor(Quick with { Samples = 0 }).Fit(x, y)).ParamName);
        var rows = new[] { new[] { 0.5 }, new[] { double.NaN } };
        var e4 = Assert.Throws<ArgumentException>(() => regressor.Fit(rows, new[] { new[] { 1.0 }, new[] { 2.0 } }));
        Assert.Contains("x[1][0] is NaN", e4.Message);
        var e5 = Assert.Throws<ArgumentException>(() => regressor.Fit(new[] { new[] { 0.5 }, new[] { 0.1, 0.2 } }, new[] { new[] { 1.0 }, new[] { 2.0 } }));
        Assert.Contains("x[1] has 2 columns", e5.Message);
        using var model = regressor.Fit(x, y);
        using var flatY = y.reshape(50);
        Assert.Contains("rank 3", Assert.Throws<ArgumentException>(() => model.Score(x, flatY)).Message);
        Assert.Equal("high", Assert.Throws<ArgumentException>(() => model.NllQuadrature(x, y, 1, -1)).ParamName);
        using var wide = torch.zeros(5, 3);
        Assert.Contains("1 columns", Assert.Throws<ArgumentException>(() => model.PredictMean(wide)).Message);
        using var nanX = x.clone();
        nanX[1, 0] = torch.tensor(float.NaN);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => model.PredictMean(nanX)).Message);
        Assert.Contains("the model expects 1", Assert.Throws<ArgumentException>(() => model.PredictMean(new[] { new[] { 1.0, 2.0 } })).Message);
        Assert.Contains("Energy", Assert.Throws<ArgumentException>(() =>
            new EnergyRegressor(Quick with { Method = RegressionMethod.Mdn, Energy = (dx, dy) => throw new InvalidOperationException() }).Fit(x, y)).Message);
    }

    [Fact]
    public void ArrayAndTensorFitsGiveTheSameModel()
    {
        var (x, y) = Data(8, 40);
        using var _x = x;
        using var _y = y;
        double[][] Rows(torch.Tensor t) => Enumerable.Range(0, (int)t.shape[0]).Select(i => new[] { (double)t[i, 0].ToSingle() }).ToArray();
        var regressor = new EnergyRegressor(Quick with { Epochs = 2, Seed = 5 });
        using var fromTensors = regressor.Fit(x, y);
        using var fromRows = regressor.Fit(Rows(x), Rows(y));
        using var fromFloats = regressor.Fit(Rows(x).Select(r => r.Select(v => (float)v).ToArray()).ToArray(), Rows(y).Select(r => r.Select(v => (float)v).ToArray()).ToArray());
        using var a = fromTensors.PredictMean(x);
        var b = fromRows.PredictMean(Rows(x));
        var c = fromFloats.PredictMean(Rows(x).Select(r => r.Select(v => (float)v).ToArray()).ToArray());
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(a[i, 0].ToSingle(), (float)b[i][0]);
            Assert.Equal(a[i, 0].ToSingle(), c[i][0]);
        }
        // Without a generator, predictions use one seeded with Options.Seed: repeated calls agree.
        Assert.Equal(b, fromRows.PredictMean(Rows(x)));
        Assert.Equal(fromRows.Evaluate(Rows(x), Rows(y)), fromRows.Evaluate(Rows(x), Rows(y)));
        Assert.Equal(fromRows.PredictMode(Rows(x)), fromRows.PredictMode(Rows(x)));
    }

    [Fact]
    public void ProgressReportsEveryEpochIntoTheHistory()
    {
        var (x, y) = Data(9, 64);
        using var _x = x;
        using var _y = y;
        var reports = new List<TrainingEpoch>();
        using var model = new EnergyRegressor(Quick with { Epochs = 3, BatchSize = 16 }).Fit(x, y, new ImmediateProgress<TrainingEpoch>(reports.Add));
        Assert.Equal(new[] { 1, 2, 3 }, reports.Select(r => r.Epoch));
        Assert.All(reports, r => Assert.Equal(3, r.Epochs));
        Assert.Equal(3, model.History.EpochsRun);
        Assert.Null(model.History.BestEpoch);
        Assert.False(model.History.StoppedEarly);
        Assert.Equal(reports.Select(r => r.Metrics["train_loss"]), model.History.Column("train_loss"));
    }

    [Fact]
    public void CancellingFromTheProgressStopsAfterThatEpochAndFreesTheModel()
    {
        var (x, y) = Data(10, 64);
        using var _x = x;
        using var _y = y;
        var epochs = new List<int>();
        Native.AssertFreesEverything(() =>
        {
            using var cts = new CancellationTokenSource();
            var progress = new ImmediateProgress<TrainingEpoch>(e => { epochs.Add(e.Epoch); if (e.Epoch == 2) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => new EnergyRegressor(Quick with { Epochs = 6, BatchSize = 16 }).Fit(x, y, progress, cts.Token));
        });
        Assert.Equal(new[] { 1, 2 }, epochs);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => new EnergyRegressor(Quick).Fit(x, y, cancellationToken: cancelled.Token));
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        var d = EnergyFs.Learners.RegressionOptionsModule.defaults;
        var f = new EnergyRegressorOptions().ToFSharp();
        Assert.Equal((d.Method, d.Components, d.Hidden, d.Samples, d.NoiseStds, d.Epochs, d.BatchSize, d.LearningRate, d.Seed),
                     (f.Method, f.Components, f.Hidden, f.Samples, f.NoiseStds, f.Epochs, f.BatchSize, f.LearningRate, f.Seed));
        Assert.Null(f.Energy);
        Assert.Same(DeviceContext.Cpu, new EnergyRegressorOptions().Context);
        foreach (var m in Enum.GetValues<RegressionMethod>())
            Assert.Equal(m, EnergyRegressorOptions.FromFSharp(EnergyRegressorOptions.ToFSharp(m)));
    }

    [Fact]
    public void DisposeFreesTheNetworks()
    {
        var (x, y) = Data(6, 40);
        using var _x = x;
        using var _y = y;
        Native.AssertFreesEverything(() =>
        {
            var model = new EnergyRegressor(Quick).Fit(x, y);
            using (var q = model.Proposal(x)) { }
            model.Dispose();
            model.Dispose();
            Assert.Contains(nameof(EnergyRegressionModel), Assert.Throws<ObjectDisposedException>(() => model.Method).Message);
        });
    }
}
