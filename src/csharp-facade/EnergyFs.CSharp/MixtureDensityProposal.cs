using TorchSharp;
using EnergyFs.Models;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>A batch of B mixtures of K Gaussians with diagonal covariance over y ∈ ℝᴰ,
/// q(y) = Σₖ πₖ N(y; μₖ, diag σₖ²): the learned proposal q(y | x) of Gustafsson, Danelljan &amp; Schön, "Learning
/// Proposals for Practical Energy-Based Regression" (AISTATS 2022, arXiv 2110.11948). Owns its parameter tensors
/// (log-weights, means, log-stds): dispose it.</summary>
public sealed class MixtureDensityProposal : IDisposable
{
    private readonly Mixture inner;
    private bool disposed;

    internal Mixture Inner
    {
        get { NotDisposed(disposed, this); return inner; }
    }

    internal MixtureDensityProposal(Mixture inner) => this.inner = inner;

    /// <summary>A mixture from its moments; the tensors are not taken over (the caller keeps and disposes its own).
    /// Wrong ranks or shapes, negative weights or non-positive standard deviations throw ArgumentException naming the
    /// tensor and its shape.</summary>
    /// <param name="weights">Mixture weights π [B, K], rows summing to 1.</param>
    /// <param name="means">Means μ [B, K, D].</param>
    /// <param name="stds">Standard deviations σ [B, K, D], all &gt; 0.</param>
    public static MixtureDensityProposal FromMoments(torch.Tensor weights, torch.Tensor means, torch.Tensor stds)
    {
        Rank(weights, 2, "mixture weights [B, K]");
        Rank(means, 3, "means [B, K, D]");
        Rank(stds, 3, "standard deviations [B, K, D]");
        using (var scope = torch.NewDisposeScope())
        {
            if ((weights < 0.0).any().item<bool>())
                throw new ArgumentException($"weights {Shape(weights)} has negative entries", nameof(weights));
            if ((weights.sum(1) - 1.0).abs().max().ToDouble() > 1e-4)
                throw new ArgumentException($"the rows of weights {Shape(weights)} must sum to 1", nameof(weights));
            if (!(stds > 0.0).all().item<bool>())
                throw new ArgumentException($"stds {Shape(stds)} must be > 0 everywhere", nameof(stds));
        }
        return new(ScopedWith(() => Mdn.ofMoments(weights, means, stds), m => new[] { m.LogWeights, m.Means, m.LogStds }));
    }

    /// <summary>Number of mixtures B.</summary>
    public int BatchSize => (int)Inner.Means.shape[0];

    /// <summary>Number of components K.</summary>
    public int Components => Mdn.components(Inner);

    /// <summary>Dimension D of y.</summary>
    public int Dimension => Mdn.dimension(Inner);

    /// <summary>log q(y_m) = logsumexp_k (log πₖ + log N(y_m; μₖ, σₖ²)) for candidates y [B, M, D] → [B, M].</summary>
    /// <param name="y">Candidates [B, M, D].</param>
    public torch.Tensor LogDensity(torch.Tensor y)
    {
        Rank(y, 3, "candidates [B, M, D]");
        if (y.shape[0] != BatchSize || y.shape[2] != Dimension)
            throw new ArgumentException($"y must have shape [{BatchSize}, M, {Dimension}], got {Shape(y)}", nameof(y));
        return Scoped(() => Mdn.logDensity(Inner, y));
    }

    /// <summary><paramref name="count"/> samples per mixture, [B, count, D], drawn from <paramref name="rng"/>
    /// (component by its weight, then the Gaussian).</summary>
    /// <param name="rng">The generator.</param>
    /// <param name="count">Samples per mixture (&gt; 0).</param>
    public torch.Tensor Sample(RandomGenerator rng, int count) => Scoped(() => Mdn.sample(NotNull(rng).Inner, Positive(count), Inner));

    /// <summary>The mixture mean Σₖ πₖ μₖ, [B, D].</summary>
    public torch.Tensor Mean() => Scoped(() => Mdn.mean(Inner));

    /// <summary>The per-dimension mixture variance Σₖ πₖ (σₖ² + μₖ²) − (Σₖ πₖ μₖ)², [B, D].</summary>
    public torch.Tensor Variance() => Scoped(() => Mdn.variance(Inner));

    /// <summary>Frees the parameter tensors; later use throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        inner.LogWeights.Dispose();
        inner.Means.Dispose();
        inner.LogStds.Dispose();
    }
}
