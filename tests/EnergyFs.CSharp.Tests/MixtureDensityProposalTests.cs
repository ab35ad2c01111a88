using TorchSharp;

namespace EnergyFs.CSharp.Tests;

public class MixtureDensityProposalTests
{
    private static double Pdf(double m, double s, double v) => Math.Exp(-0.5 * Math.Pow((v - m) / s, 2)) / (s * Math.Sqrt(2 * Math.PI));

    [Fact]
    public void LogDensityMomentsAndSamplesMatchTheClosedForm()
    {
        using var w = torch.tensor(new[] { 0.3, 0.7 }).reshape(1, 2);
        using var mu = torch.tensor(new[] { -1.0, 2.0 }).reshape(1, 2, 1);
        using var sd = torch.tensor(new[] { 0.5, 1.5 }).reshape(1, 2, 1);
        using var q = MixtureDensityProposal.FromMoments(w, mu, sd);
        Assert.Equal((1, 2, 1), (q.BatchSize, q.Components, q.Dimension));
        using var y = torch.tensor(new[] { 0.4 }).reshape(1, 1, 1);
        Assert.Equal(Math.Log(0.3 * Pdf(-1, 0.5, 0.4) + 0.7 * Pdf(2, 1.5, 0.4)), q.LogDensity(y).ToDouble(), 10);
        double mean = 0.3 * -1 + 0.7 * 2, second = 0.3 * (0.25 + 1) + 0.7 * (2.25 + 4);
        using var m = q.Mean();
        using var v = q.Variance();
        Assert.Equal(mean, m.ToDouble(), 12);
        Assert.Equal(second - mean * mean, v.ToDouble(), 12);
        using var rng = new RandomGenerator(1);
        using var s = q.Sample(rng, 50_000);
        Assert.Equal(new long[] { 1, 50_000, 1 }, s.shape);
        Assert.Equal(mean, s.mean().ToDouble(), 1);
        Assert.Equal(second - mean * mean, s.var().ToDouble(), 1);
    }

    [Fact]
    public void InvalidMomentsAreNamedWithTheirShapes()
    {
        using var w = torch.tensor(new[] { 0.3, 0.7 }).reshape(1, 2);
        using var mu = torch.zeros(1, 2, 1, dtype: torch.float64);
        using var sd = torch.ones(1, 2, 1, dtype: torch.float64);
        using var badW = torch.tensor(new[] { 0.3, 0.3 }).reshape(1, 2);
        using var negSd = -sd;
        using var flat = torch.zeros(2, dtype: torch.float64);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => MixtureDensityProposal.FromMoments(badW, mu, sd)).ParamName);
        Assert.Equal("stds", Assert.Throws<ArgumentException>(() => MixtureDensityProposal.FromMoments(w, mu, negSd)).ParamName);
        Assert.Contains("shape [2]", Assert.Throws<ArgumentException>(() => MixtureDensityProposal.FromMoments(flat, mu, sd)).Message);
        using var q = MixtureDensityProposal.FromMoments(w, mu, sd);
        using var wrongD = torch.zeros(1, 3, 2, dtype: torch.float64);
        Assert.Contains("[1, 3, 2]", Assert.Throws<ArgumentException>(() => q.LogDensity(wrongD)).Message);
    }

    [Fact]
    public void DisposeFreesTheParametersButNotTheCallersTensors() =>
        Native.AssertFreesEverything(() =>
        {
            using var w = torch.full(new long[] { 1, 2 }, 0.5, dtype: torch.float64);
            using var mu = torch.zeros(1, 2, 1, dtype: torch.float64);
            using var sd = torch.ones(1, 2, 1, dtype: torch.float64);
            var q = MixtureDensityProposal.FromMoments(w, mu, sd);
            q.Dispose();
            q.Dispose();
            Assert.False(mu.IsInvalid);
            Assert.Throws<ObjectDisposedException>(() => q.Mean());
        });
}
