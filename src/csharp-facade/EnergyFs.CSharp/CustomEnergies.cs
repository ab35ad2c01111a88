using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>An energy Φ(v, p) of your own over inputs v [n, d] (scores or features) and outputs p [n, k], batched over
/// the n rows: the generalized conjugate max_{p ∈ C} Φ(v, p) − Ω(p) and its Fenchel-Young loss accept any Φ (Blondel,
/// Llinares-López, Dadashi, Hussenot, Geist 2022, arXiv 2205.09589, §3). Implement <see cref="Value"/>; override
/// <see cref="GradientP"/> when you have ∇_p Φ in closed form (otherwise autograd computes it) and
/// <see cref="IsConcaveInP"/> when Φ is concave in p (then the solvers that need concavity accept it; otherwise they
/// return a stationary point). See <see cref="EnergyFunction"/> for an energy from delegates and
/// <see cref="MultilabelEnergyModule"/> for a trainable one.</summary>
public interface IEnergy
{
    /// <summary>The output dimension k (the width of p).</summary>
    int Outputs { get; }

    /// <summary>Φ(v, p) per row, [n]: differentiable in v and in any parameters the energy holds.</summary>
    /// <param name="v">Inputs [n, d].</param>
    /// <param name="p">Outputs [n, k].</param>
    torch.Tensor Value(torch.Tensor v, torch.Tensor p);

    /// <summary>∇_p Φ(v, p), [n, k], or null to let autograd compute it (the default).</summary>
    /// <param name="v">Inputs [n, d].</param>
    /// <param name="p">Outputs [n, k].</param>
    torch.Tensor? GradientP(torch.Tensor v, torch.Tensor p) => null;

    /// <summary>Whether Φ(v, ·) is concave for every v (default false: unknown).</summary>
    bool IsConcaveInP => false;
}

/// <summary>An <see cref="IEnergy"/> from delegates: Φ(v, p), optionally ∇_p Φ, and whether Φ is concave in p.
/// Immutable; owns no native memory (what the delegates capture stays yours).</summary>
public sealed class EnergyFunction : IEnergy
{
    private readonly Func<torch.Tensor, torch.Tensor, torch.Tensor> value;
    private readonly Func<torch.Tensor, torch.Tensor, torch.Tensor>? gradient;

    /// <summary>An energy with output dimension <paramref name="outputs"/>.</summary>
    /// <param name="outputs">The width k of p.</param>
    /// <param name="value">(v [n, d], p [n, k]) ↦ Φ(v, p) [n].</param>
    /// <param name="gradientP">(v, p) ↦ ∇_p Φ(v, p) [n, k], or null for autograd.</param>
    /// <param name="concaveInP">Whether Φ is concave in p.</param>
    public EnergyFunction(int outputs, Func<torch.Tensor, torch.Tensor, torch.Tensor> value,
                          Func<torch.Tensor, torch.Tensor, torch.Tensor>? gradientP = null, bool concaveInP = false)
    {
        Outputs = Positive(outputs);
        this.value = NotNull(value);
        gradient = gradientP;
        IsConcaveInP = concaveInP;
    }

    /// <inheritdoc />
    public int Outputs { get; }

    /// <inheritdoc />
    public bool IsConcaveInP { get; }

    /// <inheritdoc />
    public torch.Tensor Value(torch.Tensor v, torch.Tensor p) => value(v, p);

    /// <inheritdoc />
    public torch.Tensor? GradientP(torch.Tensor v, torch.Tensor p) => gradient?.Invoke(v, p);

    internal bool HasGradient => gradient is not null;
}

/// <summary>A trainable multilabel energy Φ_θ(x, p) of your own, a TorchSharp module over standardized features
/// x [n, d] and label marginals p ∈ [0, 1]ᴸ [n, L] whose <c>forward(x, p)</c> returns Φ per row [n]; give a factory of it
/// to <c>EnergyMultilabelOptions.Energy</c> and the classifier trains θ with the generalized Fenchel-Young loss
/// (Blondel et al. 2022, arXiv 2205.09589), predicting argmax_p Φ_θ(x, p) − Ω(p) by projected gradient ascent.
/// Register your layers as fields and call <c>RegisterComponents()</c> in your constructor, as for any TorchSharp
/// module. The classifier re-draws the weights of every Linear layer from its seed (so the same seed gives the same
/// model); other parameters keep the values your constructor gives them (initialize them deterministically).</summary>
public abstract class MultilabelEnergyModule : torch.nn.Module<torch.Tensor, torch.Tensor, torch.Tensor>, IEnergy
{
    /// <summary>A module named <paramref name="name"/> for <paramref name="labels"/> labels.</summary>
    /// <param name="name">The module's name (also the energy's name in reports and saved files).</param>
    /// <param name="labels">The number of labels L.</param>
    protected MultilabelEnergyModule(string name, int labels) : base(NotNull(name)) => Outputs = Positive(labels);

    /// <summary>The number of labels L.</summary>
    public int Outputs { get; }

    /// <summary>Φ_θ(x, p) = <c>forward(x, p)</c>.</summary>
    /// <param name="v">Standardized features x [n, d].</param>
    /// <param name="p">Label marginals [n, L].</param>
    public torch.Tensor Value(torch.Tensor v, torch.Tensor p) => forward(v, p);

    /// <summary>∇_p Φ_θ(x, p), or null for autograd (the default).</summary>
    /// <param name="v">Standardized features x [n, d].</param>
    /// <param name="p">Label marginals [n, L].</param>
    public virtual torch.Tensor? GradientP(torch.Tensor v, torch.Tensor p) => null;

    /// <summary>Whether Φ_θ(x, ·) is concave (default false).</summary>
    public virtual bool IsConcaveInP => false;
}

/// <summary>Conversions of C# energies to the library's energy records.</summary>
internal static class EnergyAdapter
{
    /// <summary>The library energy of an <see cref="IEnergy"/>; checks the shape of what the C# code returns.</summary>
    internal static EnergyFs.Energies.Energy<torch.Tensor> ToFSharp(IEnergy energy, string name)
    {
        NotNull(energy);
        var k = energy.Outputs;
        torch.Tensor Value(torch.Tensor v, torch.Tensor p)
        {
            var value = energy.Value(v, p) ?? throw new InvalidOperationException($"energy '{name}' returned null from Value");
            if (value.dim() != 1 || value.shape[0] != v.shape[0])
                throw new InvalidOperationException($"energy '{name}' must return one value per row, shape [{v.shape[0]}], but Value returned shape {Shape(value)} for v {Shape(v)} and p {Shape(p)}");
            return value;
        }
        torch.Tensor Gradient(torch.Tensor v, torch.Tensor p)
        {
            var g = energy.GradientP(v, p) ?? throw new InvalidOperationException($"energy '{name}' returned null from GradientP");
            if (g.dim() != 2 || g.shape[0] != p.shape[0] || g.shape[1] != p.shape[1])
                throw new InvalidOperationException($"energy '{name}' must return ∇_p Φ with p's shape {Shape(p)}, but GradientP returned shape {Shape(g)}");
            return g;
        }
        // Probe once whether the energy has a closed-form gradient (null means autograd).
        var hasGradient = HasOwnGradient(energy);
        return EnergyFs.Energies.Energy.ofFunction(name, k, FuncConvert2(Value),
            hasGradient ? Microsoft.FSharp.Core.FSharpOption<Microsoft.FSharp.Core.FSharpFunc<torch.Tensor, Microsoft.FSharp.Core.FSharpFunc<torch.Tensor, torch.Tensor>>>.Some(FuncConvert2(Gradient)) : null,
            energy.IsConcaveInP);
    }

    /// <summary>Whether the energy overrides <see cref="IEnergy.GradientP"/>.</summary>
    private static bool HasOwnGradient(IEnergy energy) => energy switch
    {
        EnergyFunction f => f.HasGradient,
        MultilabelEnergyModule m => m.GetType().GetMethod(nameof(MultilabelEnergyModule.GradientP), new[] { typeof(torch.Tensor), typeof(torch.Tensor) })!.DeclaringType != typeof(MultilabelEnergyModule),
        _ => energy.GetType().GetInterfaceMap(typeof(IEnergy)).TargetMethods.Any(t => t.Name.EndsWith(nameof(IEnergy.GradientP)) && t.DeclaringType != typeof(IEnergy)),
    };

    private static Microsoft.FSharp.Core.FSharpFunc<torch.Tensor, Microsoft.FSharp.Core.FSharpFunc<torch.Tensor, torch.Tensor>> FuncConvert2(Func<torch.Tensor, torch.Tensor, torch.Tensor> f) =>
        Microsoft.FSharp.Core.FuncConvert.FromFunc(f);
}
