using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class MultilabelMetricsTests
{
    [Fact]
    public void ExampleF1AndThresholdOnAHandMadeCase()
    {
        using var scores = torch.tensor(new[,] { { 0.9, 0.4, 0.1 }, { 0.3, 0.6, 0.7 } });
        using var gold = torch.tensor(new[,] { { 1.0, 1.0, 0.0 }, { 0.0, 0.0, 1.0 } });
        // Row 1: ŷ = {0} vs {0, 1} → 2/3; row 2: ŷ = {1, 2} vs {2} → 2/3.
        Assert.Equal(2.0 / 3.0, MultilabelMetrics.ExampleF1(scores, gold, 0.5), 12);
        var (threshold, f1) = MultilabelMetrics.SelectThreshold(scores, gold, new[] { 0.2, 0.35, 0.5 });
        Assert.Equal(0.35, threshold);
        Assert.Equal(5.0 / 6.0, f1, 12);
        var (t2, best) = MultilabelMetrics.SelectThreshold(scores, gold);
        Assert.True(best >= 5.0 / 6.0 - 1e-12 && t2 is > 0 and < 1);
    }

    [Fact]
    public void PerfectScoresGiveOne()
    {
        using var gold = torch.tensor(new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } });
        Assert.Equal(1.0, MultilabelMetrics.ExampleF1(gold, gold, 0.5), 12);
    }
}
