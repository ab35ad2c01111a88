using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;
using TorchSharp.Modules;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>A structured energy E_θ(F(x), ȳ) of your own over features F(x) [n, d] and relaxed labels ȳ ∈ [0,1]ᴸ
/// [n, L], batched over the n rows: low energy marks a good labelling (Belanger &amp; McCallum 2016, "Structured
/// Prediction Energy Networks", arXiv 1511.06350, §3). The parameters θ are a list of tensors that the energy creates
/// (<see cref="CreateParameters"/>) and receives back in <see cref="Energy"/>; the structured trainers differentiate E
/// with respect to them (implicit training needs θ as plain tensors: Shankar &amp; Piratla 2022, arXiv 2211.11649), so
/// any differentiable function of (θ, F(x), ȳ) works. Give one to <see cref="StructuredEnergyModel"/> or to
/// <see cref="ImplicitTrainingOptions.Energy"/>; <see cref="SpenEnergy"/> is the built-in one. Implementations hold
/// no tensors themselves (θ lives in the model that created it).</summary>
public interface IStructuredEnergy
{
    /// <summary>The energy's name, written into saved model files and checked when they are loaded (a file saved with
    /// energy "spen" is loaded with the built-in SPEN; any other name needs this energy passed to <c>Load</c>).</summary>
    string Name { get; }

    /// <summary>Fresh parameters θ for <paramref name="labels"/> labels and <paramref name="featureDim"/> features,
    /// drawn from <paramref name="rng"/> on <paramref name="context"/> (the caller owns and disposes them). The same
    /// arguments must always give the same number of blocks with the same shapes (loading relies on it).</summary>
    /// <param name="labels">The number of labels L.</param>
    /// <param name="featureDim">The width d of the features F(x).</param>
    /// <param name="rng">The initialisation generator.</param>
    /// <param name="context">Device and floating-point type of the parameters.</param>
    IReadOnlyList<Parameter> CreateParameters(int labels, int featureDim, RandomGenerator rng, DeviceContext context);

    /// <summary>E_θ(F(x), ȳ) per row, shape [n]: differentiable in θ, the features and the labels.</summary>
    /// <param name="theta">The parameters, as created by <see cref="CreateParameters"/> (or their detached copies).</param>
    /// <param name="features">Features F(x) [n, d].</param>
    /// <param name="labels">Relaxed labels ȳ [n, L] in [0, 1].</param>
    torch.Tensor Energy(IReadOnlyList<torch.Tensor> theta, torch.Tensor features, torch.Tensor labels);
}

/// <summary>The structured prediction energy network (SPEN) of Belanger &amp; McCallum 2016 ("Structured Prediction
/// Energy Networks", ICML, arXiv 1511.06350, §4, eqs. 3–5): E_θ(x, ȳ) = −Σᵢ ȳᵢ bᵢᵀF(x) + c₂ᵀ softplus(C₁ȳ), a local
/// term linear in ȳ plus a global term, a one-hidden-layer network of the labels alone; θ = [B (L × d), C₁ (h × L),
/// c₂ (h)]. The default energy of <see cref="StructuredEnergyModel"/> and <see cref="ImplicitTrainer"/>; computed by
/// the F# library itself (bit-identical to the F# trainers). Immutable; owns no native memory.</summary>
public sealed class SpenEnergy : IStructuredEnergy
{
    /// <summary>A SPEN with <paramref name="hidden"/> global hidden units (the rows of C₁).</summary>
    /// <param name="hidden">Global (label-interaction) hidden units h &gt; 0 (default 16, as in the bibtex experiment).</param>
    public SpenEnergy(int hidden = 16) => Hidden = Positive(hidden);

    /// <summary>The number h of global hidden units.</summary>
    public int Hidden { get; }

    /// <summary>"spen".</summary>
    public string Name => "spen";

    /// <summary>[B, C₁, c₂] drawn as in the F# <c>Spen.create</c> (B and C₁ uniform like Linear layers, c₂ in ±0.1).</summary>
    /// <param name="labels">The number of labels L.</param>
    /// <param name="featureDim">The width d of the features.</param>
    /// <param name="rng">The initialisation generator.</param>
    /// <param name="context">Device and floating-point type.</param>
    public IReadOnlyList<Parameter> CreateParameters(int labels, int featureDim, RandomGenerator rng, DeviceContext context) =>
        ScopedWith(() => EnergyFs.Energies.Spen.create(NotNull(rng).Inner, NotNull(context).Inner, labels, featureDim, Hidden), ps => ps).ToList();

    /// <summary>E_θ(x, ȳ) = −Σᵢ ȳᵢ bᵢᵀF(x) + c₂ᵀ softplus(C₁ȳ) per row, [n].</summary>
    /// <param name="theta">[B, C₁, c₂].</param>
    /// <param name="features">Features F(x) [n, d].</param>
    /// <param name="labels">Relaxed labels ȳ [n, L].</param>
    public torch.Tensor Energy(IReadOnlyList<torch.Tensor> theta, torch.Tensor features, torch.Tensor labels) =>
        EnergyFs.Energies.Spen.energy(List(NotNull(theta)), NotNull(features), NotNull(labels));

    /// <summary>"spen (h = 16)".</summary>
    public override string ToString() => $"spen (h = {Hidden})";
}

/// <summary>Conversions of C# structured energies to the library's <c>StructuredEnergy</c> records.</summary>
internal static class StructuredEnergyAdapter
{
    /// <summary>The library energy of <paramref name="energy"/>: the library's own SPEN for <see cref="SpenEnergy"/>
    /// (so that training is bit-identical to F#), otherwise a wrapper that calls the C# code and checks that it returns
    /// one value per row.</summary>
    internal static EnergyFs.Energies.StructuredEnergy ToFSharp(IStructuredEnergy energy)
    {
        NotNull(energy);
        if (energy is SpenEnergy) return EnergyFs.Energies.StructuredEnergyModule.spen;
        var name = energy.Name;
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("the structured energy's Name is empty", nameof(energy));
        return EnergyFs.Energies.StructuredEnergyModule.ofFunction(name,
            FuncConvert.FromFunc<FSharpList<torch.Tensor>, torch.Tensor, torch.Tensor, torch.Tensor>(
                (theta, features, labels) => energy.Energy(theta.ToList(), features, labels)));
    }

    /// <summary>Parameters from <see cref="IStructuredEnergy.CreateParameters"/>, checked (at least one block, no null),
    /// with every temporary the energy made freed.</summary>
    internal static FSharpList<Parameter> Create(IStructuredEnergy energy, int labels, int featureDim, RandomGenerator rng, DeviceContext context)
    {
        NotNull(energy);
        Positive(labels);
        Positive(featureDim);
        var ps = ScopedWith(() => energy.CreateParameters(labels, featureDim, rng, context)?.ToArray() ?? Array.Empty<Parameter>(),
                            ps => ps.Where(p => p is not null));
        if (ps.Length == 0 || ps.Any(p => p is null))
        {
            foreach (var p in ps) p?.Dispose();
            throw new InvalidOperationException($"structured energy '{energy.Name}' must create at least one parameter and no null ones in CreateParameters");
        }
        return List(ps);
    }
}
