using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>A regularizer Ω on the simplex or the unit box with its conjugate Ω*(θ) = max_{p ∈ dom Ω} ⟨θ, p⟩ − Ω(p)
/// and prediction map ∇Ω*(θ) = argmax_p ⟨θ, p⟩ − Ω(p) (Blondel, Martins &amp; Niculae 2020, "Learning with
/// Fenchel-Young losses", JMLR, arXiv 1901.02324). Batched: rows of [n, k] tensors. Immutable; owns no
/// native memory.</summary>
public sealed class FyRegularizer
{
    internal EnergyFs.Regularizers.Regularizer Inner { get; }

    internal FyRegularizer(EnergyFs.Regularizers.Regularizer inner) => Inner = inner;

    /// <summary>Shannon negentropy Ω(p) = Σ pᵢ log pᵢ on the simplex: ∇Ω* is softmax, the FY loss the logistic loss.</summary>
    public static FyRegularizer Shannon { get; } = new(EnergyFs.Regularizers.Shannon.regularizer);

    /// <summary>Squared norm Ω(p) = ½‖p‖² on the simplex: ∇Ω* is sparsemax (Euclidean projection onto the simplex).</summary>
    public static FyRegularizer Sparsemax { get; } = new(EnergyFs.Regularizers.SquaredNorm.simplex);

    /// <summary>Tsallis α-negentropy Ω(p) = (Σ pᵢ^α − 1)/(α(α − 1)) on the simplex: ∇Ω* is α-entmax (computed by bisection);
    /// α = 1 is Shannon, α = 2 sparsemax.</summary>
    /// <param name="alpha">α ≥ 1.</param>
    public static FyRegularizer Tsallis(double alpha) =>
        double.IsFinite(alpha) && alpha >= 1.0
            ? new(EnergyFs.Regularizers.Tsallis.regularizer(alpha))
            : throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"the Tsallis α must be a finite number ≥ 1, got {alpha}");

    /// <summary>Fermi-Dirac negentropy Ω(p) = Σ pᵢ log pᵢ + (1 − pᵢ) log(1 − pᵢ) on the unit box: ∇Ω* is the sigmoid,
    /// the FY loss the binary logistic loss.</summary>
    public static FyRegularizer FermiDirac { get; } = new(EnergyFs.Regularizers.FermiDirac.regularizer);

    /// <summary>Squared norm Ω(p) = ½‖p‖² on the unit box: ∇Ω* clips θ to [0, 1].</summary>
    public static FyRegularizer SquaredNormBox { get; } = new(EnergyFs.Regularizers.SquaredNorm.box);

    /// <summary>The regularizer's name.</summary>
    public string Name => Inner.Name;

    /// <summary>Whether the domain is the simplex (otherwise the unit box [0, 1]ᵏ).</summary>
    public bool OnSimplex => Inner.Domain.IsSimplex;

    /// <summary>Ω(p) per row, [n]; points outside the domain throw ArgumentException.</summary>
    /// <param name="p">Points [n, k] in the domain.</param>
    public torch.Tensor Value(torch.Tensor p)
    {
        NotNull(p);
        using (torch.NewDisposeScope())
        {
            var outside = OnSimplex
                ? (p < -1e-6).any().item<bool>() || (p.sum(-1) - 1.0).abs().max().ToDouble() > 1e-5
                : (p < -1e-6).any().item<bool>() || (p > 1.0 + 1e-6).any().item<bool>();
            if (outside)
                throw new ArgumentException($"p {Shape(p)} has rows outside the domain of {Name} ({(OnSimplex ? "the simplex: entries ≥ 0 summing to 1" : "the unit box [0, 1]")})", nameof(p));
        }
        return Scoped(() => EnergyFs.Regularizers.RegularizerModule.value(Inner, p));
    }

    /// <summary>Ω*(θ) = max_{p ∈ dom Ω} ⟨θ, p⟩ − Ω(p) per row, [n].</summary>
    /// <param name="theta">Scores [n, k].</param>
    public torch.Tensor Conjugate(torch.Tensor theta) => Scoped(() => EnergyFs.Regularizers.RegularizerModule.conjugate(Inner, NotNull(theta)));

    /// <summary>∇Ω*(θ) = argmax_{p ∈ dom Ω} ⟨θ, p⟩ − Ω(p), the regularized prediction, [n, k].</summary>
    /// <param name="theta">Scores [n, k].</param>
    public torch.Tensor Predict(torch.Tensor theta) => Scoped(() => EnergyFs.Regularizers.RegularizerModule.predict(Inner, NotNull(theta)));

    /// <summary>The regularizer's name.</summary>
    public override string ToString() => Name;
}
