using TorchSharp;
using EnergyFs.Samplers;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>Options of the Langevin samplers; the defaults are those of the F# <c>Langevin.defaults</c>.</summary>
public sealed record LangevinSamplerOptions
{
    /// <summary>Step size η &gt; 0 of x ← x − η∇f(x) + √(2η) ξ (default 0.01).</summary>
    public double Step { get; init; } = Langevin.defaults.Step;
    /// <summary>Antithetic noise: the second half of the particles gets the negated noise of the first (default false).</summary>
    public bool Antithetic { get; init; } = Langevin.defaults.Antithetic;

    internal LangevinOptions ToFSharp() => new(Step, Antithetic);
}

/// <summary>Samplers of densities p(x) ∝ exp(−f(x)): Langevin dynamics on the sphere (with retraction), unadjusted
/// Langevin (ULA) and Metropolis-adjusted Langevin (MALA, Roberts &amp; Tweedie 1996) on ℝᵈ, and exact uniform and
/// rejection sampling on the sphere (Domingo-Enrich et al. 2021, arXiv 2107.05134). The input particles are never
/// modified; returned tensors are new and owned by the caller.</summary>
public static class LangevinSampler
{
    /// <summary><paramref name="steps"/> Langevin steps on the sphere x ← retract(x − η∇_T f(x) + √(2η) P_T ξ) of the
    /// particles x [n, d] (rows on the unit sphere, else ArgumentException) for the energy's density.</summary>
    /// <param name="rng">The noise generator.</param>
    /// <param name="energy">The energy f.</param>
    /// <param name="steps">Number of steps (≥ 0).</param>
    /// <param name="x">Particles [n, d] on the unit sphere.</param>
    /// <param name="options">Step size and antithetic noise.</param>
    public static torch.Tensor SphereChain(RandomGenerator rng, ShallowSphereEnergy energy, int steps, torch.Tensor x, LangevinSamplerOptions? options = null)
    {
        NotNull(energy);
        return Scoped(() => Langevin.sphereChain(NotNull(rng).Inner, (options ?? new()).ToFSharp(), Fn(energy.Gradient), NonNegative(steps), NotNull(x)));
    }

    /// <summary><paramref name="steps"/> unadjusted Langevin steps x ← x − η∇f(x) + √(2η) ξ on ℝᵈ (biased by O(η)).</summary>
    /// <param name="rng">The noise generator.</param>
    /// <param name="gradient">∇f, row by row: [n, d] → [n, d].</param>
    /// <param name="steps">Number of steps (≥ 0).</param>
    /// <param name="x">Particles [n, d].</param>
    /// <param name="options">Step size and antithetic noise.</param>
    public static torch.Tensor Ula(RandomGenerator rng, Func<torch.Tensor, torch.Tensor> gradient, int steps, torch.Tensor x, LangevinSamplerOptions? options = null) =>
        Scoped(() => Langevin.ula(NotNull(rng).Inner, (options ?? new()).ToFSharp(), Fn(NotNull(gradient)), NonNegative(steps), NotNull(x)));

    /// <summary><paramref name="steps"/> MALA steps on ℝᵈ: the ULA proposal accepted with probability
    /// min(1, exp(f(x) − f(y) + log q(x|y) − log q(y|x))), which makes p ∝ exp(−f) exactly invariant.
    /// Returns the samples (owned by the caller) and the mean acceptance rate.</summary>
    /// <param name="rng">The noise and acceptance generator.</param>
    /// <param name="energy">f, row by row: [n, d] → [n].</param>
    /// <param name="gradient">∇f, row by row: [n, d] → [n, d].</param>
    /// <param name="steps">Number of steps (≥ 0).</param>
    /// <param name="x">Particles [n, d].</param>
    /// <param name="options">Step size and antithetic noise.</param>
    public static (torch.Tensor Samples, double AcceptanceRate) Mala(RandomGenerator rng, Func<torch.Tensor, torch.Tensor> energy, Func<torch.Tensor, torch.Tensor> gradient, int steps, torch.Tensor x, LangevinSamplerOptions? options = null) =>
        ScopedWith(() => Langevin.mala(NotNull(rng).Inner, (options ?? new()).ToFSharp(), Fn(NotNull(energy)), Fn(NotNull(gradient)), NonNegative(steps), NotNull(x)).ToValueTuple(),
                   r => new[] { r.Item1 });

    /// <summary><paramref name="n"/> points uniform on S^(d−1) (normalized Gaussians), shape [n, dim].</summary>
    /// <param name="rng">The generator.</param>
    /// <param name="context">Device and type of the result.</param>
    /// <param name="n">Number of points (&gt; 0).</param>
    /// <param name="dim">Ambient dimension d (≥ 2).</param>
    public static torch.Tensor UniformSphere(RandomGenerator rng, DeviceContext context, int n, int dim) =>
        Scoped(() => SphereSampling.uniform(NotNull(rng).Inner, NotNull(context).Inner, n, dim));

    /// <summary><paramref name="n"/> exact samples of the energy's density on the sphere by rejection from uniform
    /// proposals (accept with probability exp(lowerBound − f(x))); throws InvalidOperationException after
    /// <paramref name="maxProposals"/> proposals.</summary>
    /// <param name="rng">The generator.</param>
    /// <param name="context">Device and type of the result.</param>
    /// <param name="energy">The energy f.</param>
    /// <param name="n">Number of samples (&gt; 0).</param>
    /// <param name="maxProposals">Budget of proposals.</param>
    public static torch.Tensor Rejection(RandomGenerator rng, DeviceContext context, ShallowSphereEnergy energy, int n, long maxProposals = 1_000_000_000)
    {
        NotNull(energy);
        return Scoped(() => SphereSampling.rejection(NotNull(rng).Inner, NotNull(context).Inner, Fn(energy.Energy), energy.LowerBound, n, energy.Dim, 100_000, maxProposals));
    }

    /// <summary>Effective sample size of a scalar chain by Geyer's initial positive sequence estimator
    /// n / (1 + 2 Σ_k ρ_k) (Geyer 1992).</summary>
    /// <param name="chain">The chain's values in order.</param>
    public static double EffectiveSampleSize(double[] chain) => ScopedValue(() => Diagnostics.effectiveSampleSize(NotNull(chain)));
}
