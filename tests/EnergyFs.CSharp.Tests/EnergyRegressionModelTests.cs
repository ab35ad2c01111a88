using System.IO;
using TorchSharp;

namespace EnergyFs.CSharp.Tests;

[Covers(typeof(RegressionMetrics), typeof(RegressionArchitecture))]
public class EnergyRegressionModelTests
{
    public EnergyRegressionModelTests() => RuntimeInfo.Threads = 1;

    [Theory]
    [InlineData(RegressionMethod.Joint, RegressionArchitecture.Compact)]
    [InlineData(RegressionMethod.Mdn, RegressionArchitecture.Compact)]
    [InlineData(RegressionMethod.Teacher, RegressionArchitecture.Compact)]
    [InlineData(RegressionMethod.Joint, RegressionArchitecture.Paper)]
    [InlineData(RegressionMethod.Mdn, RegressionArchitecture.Paper)]
    public void SaveThenLoadPredictsIdentically(RegressionMethod method, RegressionArchitecture architecture)
    {
        var (x, y) = EnergyRegressorTests.Data(11, 48);
        using var _x = x;
        using var _y = y;
        using var files = new ModelFileFaults();
        using var model = new EnergyRegressor(EnergyRegressorTests.Quick with { Method = method, Architecture = architecture, Epochs = 2, Seed = 3, Context = DeviceContext.Cpu64 }).Fit(x, y);
        var path = files.PathOf("sub/regressor.model");
        model.Save(path);
        using var loaded = EnergyRegressionModel.Load(path);
        Assert.Equal(model.Options with { Context = loaded.Options.Context }, loaded.Options);
        Assert.Equal(architecture, loaded.Options.Architecture);
        Assert.Equal(torch.ScalarType.Float64, loaded.Options.Context.DType);
        Assert.Equal(model.History.Column("train_loss"), loaded.History.Column("train_loss"));
        Assert.Equal((model.Method, model.HasEnergy, model.InputDimension), (loaded.Method, loaded.HasEnergy, loaded.InputDimension));
        using (var rngA = new RandomGenerator(7))
        using (var rngB = new RandomGenerator(7))
        using (var a = model.PredictMean(x, rngA, 64))
        using (var b = loaded.PredictMean(x, rngB, 64))
            Assert.True(a.allclose(b, 0, 0), "mean predictions differ after the round trip");
        Assert.Equal(model.Evaluate(x, y, samples: 64), loaded.Evaluate(x, y, samples: 64));
        if (model.HasEnergy)
        {
            using var cand = y.reshape(48, 1, 1);
            using var sa = model.Score(x, cand);
            using var sb = loaded.Score(x, cand);
            Assert.True(sa.allclose(sb, 0, 0));
            using var ma = model.PredictMode(x);
            using var mb = loaded.PredictMode(x);
            Assert.True(ma.allclose(mb, 0, 0), "mode predictions differ after the round trip");
        }
    }

    [Fact]
    public void LoadingAnotherKindANewerVersionOrATruncatedFileNamesTheFile()
    {
        var (x, y) = EnergyRegressorTests.Data(12, 32);
        using var _x = x;
        using var _y = y;
        using var files = new ModelFileFaults();
        using var model = new EnergyRegressor(EnergyRegressorTests.Quick).Fit(x, y);
        var path = files.PathOf("regressor.model");
        model.Save(path);
        using var rng = new RandomGenerator(1);
        using var energy = ShallowSphereEnergy.Random(rng, DeviceContext.Cpu, 3, 3);
        var other = files.PathOf("energy.model");
        energy.Save(other);
        var kind = Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(other));
        Assert.Contains(other, kind.Message);
        Assert.Contains("shallow-sphere-energy", kind.Message);
        var newer = files.NewerVersion(path);
        var version = Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(newer));
        Assert.Contains(newer, version.Message);
        Assert.Contains("version 99", version.Message);
        var truncated = files.Truncated(path);
        var cut = Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(truncated));
        Assert.Contains(truncated, cut.Message);
        Assert.Contains("truncated", cut.Message);
        var missing = files.PathOf("nothing.model");
        Assert.Equal(missing, Assert.Throws<FileNotFoundException>(() => EnergyRegressionModel.Load(missing)).FileName);
        Assert.Throws<InvalidDataException>(() => ShallowSphereEnergy.Load(path));
    }

    [Fact]
    public void LoadFreesWhatItReadAndDisposeNamesTheType()
    {
        var (x, y) = EnergyRegressorTests.Data(13, 32);
        using var _x = x;
        using var _y = y;
        using var files = new ModelFileFaults();
        var path = files.PathOf("regressor.model");
        using (var model = new EnergyRegressor(EnergyRegressorTests.Quick).Fit(x, y)) model.Save(path);
        Native.AssertFreesEverything(() =>
        {
            var loaded = EnergyRegressionModel.Load(path);
            loaded.Dispose();
            Assert.Throws<InvalidDataException>(() => EnergyRegressionModel.Load(files.Truncated(path)));
        });
    }
}
