using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class UciRegressionDatasetTests
{
    [Fact]
    public void LoadsConcreteSplitStandardizedOnTrain()
    {
        using var data = UciRegressionDataset.Load(DataPaths.Find("uci_concrete"), 0);
        Assert.Equal("uci_concrete", data.Name);
        Assert.Equal(0, data.Split);
        Assert.Equal(new long[] { 927, 8 }, data.TrainX.shape);
        Assert.Equal(new long[] { 927, 1 }, data.TrainY.shape);
        Assert.Equal(new long[] { 103, 8 }, data.TestX.shape);
        Assert.Equal(new long[] { 103, 1 }, data.TestY.shape);
        Assert.Equal(20, data.SplitCount);
        Assert.InRange(data.YMean, 30.0, 40.0);
        Assert.InRange(data.YStd, 10.0, 20.0);
        Assert.Equal(0.0, data.TrainY.mean().ToDouble(), 4);
        using var raw = UciRegressionDataset.Load(DataPaths.Find("uci_concrete"), 0, DeviceContext.Cpu, standardize: false);
        using var back = data.ToOriginalUnits(data.TestY);
        Assert.True((back - raw.TestY).abs().max().item<float>() < 1e-3);
        Assert.Equal(data.YMean, raw.TrainY.mean().ToDouble(), 3);
    }

    [Fact]
    public void MissingSplitSaysHowManyExist()
    {
        var e = Assert.Throws<FileNotFoundException>(() => UciRegressionDataset.Load(DataPaths.Find("uci_yacht"), 20));
        Assert.Contains("index_train_20.txt", e.Message);
        Assert.Contains("20 splits", e.Message);
        Assert.Equal("split", Assert.Throws<ArgumentOutOfRangeException>(() => UciRegressionDataset.Load(DataPaths.Find("uci_yacht"), -1)).ParamName);
    }

    [Fact]
    public void DisposeFreesEveryTensor() =>
        Native.AssertFreesEverything(() =>
        {
            var data = UciRegressionDataset.Load(DataPaths.Find("uci_yacht"), 1);
            var x = data.TrainX;
            data.Dispose();
            Assert.True(x.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => data.TestY);
        });
}
