using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>The Fenchel-Young loss L_Ω(θ; y) = Ω*(θ) + Ω(y) − ⟨θ, y⟩ ≥ 0, zero exactly when y = ∇Ω*(θ), whose gradient
/// in θ is ∇Ω*(θ) − y (Blondel, Martins &amp; Niculae 2020, arXiv 1901.02324); the backward pass
/// uses that closed form, never differentiating through the argmax. Immutable; owns no native memory.</summary>
public sealed class FenchelYoungLoss
{
    private readonly FyRegularizer regularizer;

    /// <summary>The loss of <paramref name="regularizer"/> (for example Shannon: the logistic loss).</summary>
    /// <param name="regularizer">Ω with its domain.</param>
    public FenchelYoungLoss(FyRegularizer regularizer) => this.regularizer = NotNull(regularizer);

    /// <summary>The regularizer Ω.</summary>
    public FyRegularizer Regularizer => regularizer;

    /// <summary>Per-row losses [n] for scores θ [n, k] and targets y [n, k] in Ω's domain (else ArgumentException).</summary>
    /// <param name="theta">Scores [n, k].</param>
    /// <param name="y">Targets [n, k] in the domain (one-hot rows, or label proportions).</param>
    public torch.Tensor Loss(torch.Tensor theta, torch.Tensor y) => Scoped(() => EnergyFs.Losses.FenchelYoung.loss(regularizer.Inner, NotNull(theta), NotNull(y)));

    /// <summary>The mean of <see cref="Loss"/> over the batch (a scalar).</summary>
    /// <param name="theta">Scores [n, k].</param>
    /// <param name="y">Targets [n, k] in the domain.</param>
    public torch.Tensor MeanLoss(torch.Tensor theta, torch.Tensor y) => Scoped(() => EnergyFs.Losses.FenchelYoung.meanLoss(regularizer.Inner, NotNull(theta), NotNull(y)));

    /// <summary>Per-row losses [n] for integer class labels [n] (one-hot targets eᵧ; simplex regularizers).</summary>
    /// <param name="theta">Scores [n, k].</param>
    /// <param name="labels">Class indices [n] in 0 … k − 1 (int64).</param>
    public torch.Tensor LossOfLabels(torch.Tensor theta, torch.Tensor labels) => Scoped(() => EnergyFs.Losses.FenchelYoung.lossOfLabels(regularizer.Inner, NotNull(theta), NotNull(labels)));

    /// <summary>The gradient ∇_θ L = ∇Ω*(θ) − y, [n, k].</summary>
    /// <param name="theta">Scores [n, k].</param>
    /// <param name="y">Targets [n, k] in the domain.</param>
    public torch.Tensor Gradient(torch.Tensor theta, torch.Tensor y) => Scoped(() => EnergyFs.Losses.FenchelYoung.gradient(regularizer.Inner, NotNull(theta), NotNull(y)));
}
