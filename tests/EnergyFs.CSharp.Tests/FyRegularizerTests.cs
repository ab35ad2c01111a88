using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class FyRegularizerTests
{
    [Fact]
    public void ShannonPredictsSoftmaxAndItsConjugateIsLogSumExp()
    {
        using var theta = torch.tensor(new[,] { { 1.0, 2.0, 0.5 } });
        using var p = FyRegularizer.Shannon.Predict(theta);
        using var softmax = theta.softmax(1);
        Assert.True(p.allclose(softmax, 1e-12, 1e-12));
        using var c = FyRegularizer.Shannon.Conjugate(theta);
        Assert.Equal(Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(0.5)), c.ToDouble(), 10);
        Assert.True(FyRegularizer.Shannon.OnSimplex);
    }

    [Fact]
    public void FenchelYoungEqualityHoldsAtThePrediction()
    {
        // Ω*(θ) = ⟨θ, p̂⟩ − Ω(p̂) at p̂ = ∇Ω*(θ), for every regularizer.
        using var theta = torch.tensor(new[,] { { 0.3, -1.0, 2.0, 0.1 }, { 1.5, 1.4, -0.2, 0.0 } });
        foreach (var r in new[] { FyRegularizer.Shannon, FyRegularizer.Sparsemax, FyRegularizer.Tsallis(1.5), FyRegularizer.FermiDirac, FyRegularizer.SquaredNormBox })
        {
            using var p = r.Predict(theta);
            using var lhs = r.Conjugate(theta);
            using var rhs = (theta * p).sum(1) - r.Value(p);
            Assert.True(lhs.allclose(rhs, 1e-6, 1e-8), r.Name);
        }
    }

    [Fact]
    public void TsallisInterpolatesBetweenSoftmaxAndSparsemax()
    {
        using var theta = torch.tensor(new[,] { { 1.0, 0.8, -0.5 } });
        using var soft = FyRegularizer.Shannon.Predict(theta);
        using var near1 = FyRegularizer.Tsallis(1.0001).Predict(theta);
        using var sparse = FyRegularizer.Sparsemax.Predict(theta);
        using var at2 = FyRegularizer.Tsallis(2.0).Predict(theta);
        Assert.True(near1.allclose(soft, 0.0, 1e-3));
        Assert.True(at2.allclose(sparse, 0.0, 1e-6));
    }

    [Fact]
    public void SparsemaxIsSparseAndBoxRegularizersStayInTheBox()
    {
        using var theta = torch.tensor(new[,] { { 3.0, 0.0, -2.0 } });
        using var sparse = FyRegularizer.Sparsemax.Predict(theta);
        Assert.Equal(new[] { 1.0, 0.0, 0.0 }, sparse.data<double>().ToArray());
        using var clipped = FyRegularizer.SquaredNormBox.Predict(theta);
        Assert.Equal(new[] { 1.0, 0.0, 0.0 }, clipped.data<double>().ToArray());
        Assert.False(FyRegularizer.FermiDirac.OnSimplex);
        Assert.Equal(FyRegularizer.FermiDirac.Name, FyRegularizer.FermiDirac.ToString());
    }

    [Fact]
    public void ValueOutsideTheDomainIsRefused()
    {
        using var p = torch.tensor(new[,] { { 0.9, 0.9 } });
        var e = Assert.ThrowsAny<ArgumentException>(() => FyRegularizer.Shannon.Value(p));
        Assert.Contains("simplex", e.Message);
        Assert.Equal("p", e.ParamName);
        using var outsideBox = torch.tensor(new[,] { { 1.5, 0.2 } });
        Assert.Contains("[0, 1]", Assert.ThrowsAny<ArgumentException>(() => FyRegularizer.FermiDirac.Value(outsideBox)).Message);
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => FyRegularizer.Tsallis(0.5)).ParamName);
    }
}
