using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(EnergyRegressorOptions), typeof(RegressionMethod), typeof(ModePredictionOptions))]
public class EnergyRegressorTests
{
    public EnergyRegressorTests() => RuntimeInfo.Threads = 1;

    private static (torch.Tensor X, torch.Tensor Y) Data(long seed, int n = 200)
    {
        using var rng = new RandomGenerator(seed);
        using var u = rng.Uniform(DeviceContext.Cpu, n, 1);
        using var e = rng.Normal(DeviceContext.Cpu, n, 1);
        var x = u * 2.0;
        var y = x.sin() + e * 0.1;
        return (x, y);
    }

    [Fact]
    public void JointModelFitsAndItsNllEstimatesAgree()
    {
        var (x, y) = Data(3, 300);
        using var _x = x;
        using var _y = y;
        using var model = EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Samples = 64, Epochs = 10, Hidden = 16, LearningRate = 3e-3 });
        Assert.Equal(RegressionMethod.Joint, model.Method);
        Assert.True(model.HasEnergy);
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
        Assert.Equal(EnergyRegressorOptions_Defaults.Components, q!.Components);
        using var cand = y.reshape(300, 1, 1);
        using var scores = model.Score(x, cand);
        Assert.Equal(new long[] { 300, 1 }, scores.shape);
    }

    private static readonly EnergyRegressorOptions EnergyRegressorOptions_Defaults = new();

    [Fact]
    public void MdnHasNoEnergyAndNceHasNoProposal()
    {
        var (x, y) = Data(5, 60);
        using var _x = x;
        using var _y = y;
        using var mdn = EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Method = RegressionMethod.Mdn, Epochs = 1, Samples = 8, Hidden = 8 });
        Assert.False(mdn.HasEnergy);
        using var cand = y.reshape(60, 1, 1);
        Assert.Throws<InvalidOperationException>(() => mdn.Score(x, cand));
        using var nce = EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Method = RegressionMethod.Nce, Epochs = 1, Samples = 8, Hidden = 8 });
        Assert.Null(nce.Proposal(x));
        Assert.Equal(RegressionMethod.Nce, nce.Method);
    }

    [Fact]
    public void BadInputGivesClearErrors()
    {
        var (x, y) = Data(4, 50);
        using var _x = x;
        using var _y = y;
        using var shortY = y.narrow(0, 0, 20);
        var e1 = Assert.Throws<ArgumentException>(() => EnergyRegressor.Fit(x, shortY, new EnergyRegressorOptions { Epochs = 1, Samples = 8 }));
        Assert.Contains("same number of rows", e1.Message);
        var e2 = Assert.ThrowsAny<ArgumentException>(() => EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Epochs = 1, Components = 0 }));
        Assert.Contains("omponents", e2.Message);
        using var nanY = y.clone();
        nanY[0, 0] = torch.tensor(double.NaN, dtype: nanY.dtype);
        var e3 = Assert.Throws<ArgumentException>(() => EnergyRegressor.Fit(x, nanY, new EnergyRegressorOptions { Epochs = 1, Samples = 8 }));
        Assert.Contains("non-finite", e3.Message);
        Assert.Equal("Samples", Assert.Throws<ArgumentOutOfRangeException>(() => EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Samples = 0 })).ParamName);
        using var model = EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Epochs = 1, Samples = 8, Hidden = 8 });
        using var flatY = y.reshape(50);
        Assert.Contains("rank 3", Assert.Throws<ArgumentException>(() => model.Score(x, flatY)).Message);
        Assert.Equal("high", Assert.Throws<ArgumentException>(() => model.NllQuadrature(x, y, 1, -1)).ParamName);
    }

    [Fact]
    public void OptionsDefaultsAreTheFSharpDefaults()
    {
        var d = EnergyFs.Learners.RegressionOptionsModule.defaults;
        var f = new EnergyRegressorOptions().ToFSharp();
        Assert.Equal((d.Method, d.Components, d.Hidden, d.Samples, d.NoiseStds, d.Epochs, d.BatchSize, d.LearningRate, d.Seed),
                     (f.Method, f.Components, f.Hidden, f.Samples, f.NoiseStds, f.Epochs, f.BatchSize, f.LearningRate, f.Seed));
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
            var model = EnergyRegressor.Fit(x, y, new EnergyRegressorOptions { Epochs = 1, Samples = 8, Hidden = 8 });
            using (var q = model.Proposal(x)) { }
            model.Dispose();
            model.Dispose();
            Assert.Throws<ObjectDisposedException>(() => model.Method);
        });
    }
}
