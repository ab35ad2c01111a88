using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class FenchelYoungLossTests
{
    [Fact]
    public void ShannonLossIsCrossEntropyAndGradientIsSoftmaxMinusTarget()
    {
        using var theta = torch.tensor(new[,] { { 1.0, 2.0, 0.5 } });
        using var y = torch.tensor(new[,] { { 0.0, 1.0, 0.0 } });
        var loss = new FenchelYoungLoss(FyRegularizer.Shannon);
        Assert.Same(FyRegularizer.Shannon, loss.Regularizer);
        using var l = loss.Loss(theta, y);
        double z = Math.Exp(1.0) + Math.Exp(2.0) + Math.Exp(0.5);
        Assert.Equal(Math.Log(z) - 2.0, l.ToDouble(), 10);
        using var g = Autodiff.Grad(t => loss.Loss(t, y).sum(), theta);
        Assert.Equal(Math.Exp(2.0) / z - 1.0, g[0, 1].ToDouble(), 10);
        using var closed = loss.Gradient(theta, y);
        Assert.True(g.allclose(closed, 1e-10, 1e-12));
    }

    [Fact]
    public void LossIsZeroAtThePredictionAndPositiveElsewhere()
    {
        using var theta = torch.tensor(new[,] { { 0.2, -0.4, 1.0 }, { 2.0, 2.0, -1.0 } });
        foreach (var r in new[] { FyRegularizer.Sparsemax, FyRegularizer.FermiDirac })
        {
            var loss = new FenchelYoungLoss(r);
            using var p = r.Predict(theta);
            using var atP = loss.Loss(theta, p);
            Assert.True(atP.abs().max().ToDouble() < 1e-8, r.Name);
            using var other = torch.tensor(new[,] { { 0.0, 1.0, 0.0 }, { 0.0, 0.0, 1.0 } });
            using var elsewhere = loss.Loss(theta, other);
            Assert.True(elsewhere.min().ToDouble() > 0, r.Name);
        }
    }

    [Fact]
    public void LabelsAndMeanAgreeWithOneHotTargets()
    {
        using var theta = torch.tensor(new[,] { { 1.0, 2.0, 0.5 }, { 0.0, -1.0, 3.0 } });
        using var labels = torch.tensor(new long[] { 1, 2 });
        using var oneHot = torch.tensor(new[,] { { 0.0, 1.0, 0.0 }, { 0.0, 0.0, 1.0 } });
        var loss = new FenchelYoungLoss(FyRegularizer.Shannon);
        using var a = loss.LossOfLabels(theta, labels);
        using var b = loss.Loss(theta, oneHot);
        Assert.True(a.allclose(b, 1e-12, 1e-12));
        using var mean = loss.MeanLoss(theta, oneHot);
        Assert.Equal(b.mean().ToDouble(), mean.ToDouble(), 12);
    }

    [Fact]
    public void TargetOutsideTheSimplexIsRefused()
    {
        using var theta = torch.tensor(new[,] { { 1.0, 2.0 } });
        using var y = torch.tensor(new[,] { { 0.9, 0.9 } });
        var ex = Assert.ThrowsAny<ArgumentException>(() => new FenchelYoungLoss(FyRegularizer.Sparsemax).Loss(theta, y));
        Assert.Contains("simplex", ex.Message);
        Assert.Throws<ArgumentNullException>(() => new FenchelYoungLoss(null!));
    }

    [Fact]
    public void MismatchedShapesAreRefused()
    {
        using var theta = torch.tensor(new[,] { { 1.0, 2.0, 3.0 } });
        using var y = torch.tensor(new[,] { { 0.0, 1.0 } });
        var ex = Assert.ThrowsAny<ArgumentException>(() => new FenchelYoungLoss(FyRegularizer.Shannon).Loss(theta, y));
        Assert.Contains("[1, 2]", ex.Message);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    public void NonFiniteScoresAreRefusedNamingThetaAndTheRow(double bad, string what)
    {
        using var theta = torch.tensor(new[,] { { 0.1, 0.2, 0.3 }, { 0.4, 0.5, 0.6 }, { 0.0, bad, 1.0 }, { 1.0, 0.0, 0.0 } });
        using var y = torch.tensor(new[,] { { 1.0, 0.0, 0.0 }, { 0.0, 1.0, 0.0 }, { 0.0, 0.0, 1.0 }, { 1.0, 0.0, 0.0 } });
        using var labels = torch.tensor(new long[] { 0, 1, 2, 0 });
        foreach (var r in new[] { FyRegularizer.Shannon, FyRegularizer.Sparsemax, FyRegularizer.FermiDirac })
        {
            var loss = new FenchelYoungLoss(r);
            foreach (var call in new Action[] { () => loss.Loss(theta, y), () => loss.MeanLoss(theta, y), () => loss.Gradient(theta, y), () => loss.LossOfLabels(theta, labels) })
            {
                var ex = Assert.ThrowsAny<ArgumentException>(call);
                Assert.Equal("theta", ex.ParamName);
                Assert.Contains("[4, 3]", ex.Message);
                Assert.Contains(what, ex.Message);
                Assert.Contains("row 2, column 1", ex.Message);
            }
        }
    }

    [Fact]
    public void EmptyBatchesAndFractionalLabelsAreRefusedWithArgumentException()
    {
        var loss = new FenchelYoungLoss(FyRegularizer.Shannon);
        using var empty = torch.zeros(0, 3, dtype: torch.float64);
        Assert.Contains("[0, 3]", Assert.ThrowsAny<ArgumentException>(() => loss.Loss(empty, empty)).Message);
        using var noColumns = torch.zeros(2, 0, dtype: torch.float64);
        Assert.Contains("[2, 0]", Assert.ThrowsAny<ArgumentException>(() => loss.MeanLoss(noColumns, noColumns)).Message);
        using var theta = torch.tensor(new[,] { { 1.0, 2.0, 0.5 }, { 0.0, -1.0, 3.0 } });
        using var half = torch.tensor(new[] { 1.0, 0.5 });
        var ex = Assert.ThrowsAny<ArgumentException>(() => loss.LossOfLabels(theta, half));
        Assert.Equal("labels", ex.ParamName);
        Assert.Contains("0.5", ex.Message);
        using var integral = torch.tensor(new[] { 1.0, 2.0 });
        using var asLong = torch.tensor(new long[] { 1, 2 });
        using var a = loss.LossOfLabels(theta, integral);
        using var b = loss.LossOfLabels(theta, asLong);
        Assert.True(a.allclose(b, 0, 0));
    }
}
