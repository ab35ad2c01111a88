namespace EnergyFs.Regularizers

open TorchSharp
open EnergyFs

/// Fermi-Dirac negentropy on the unit box:
///   Ω(p) = Σᵢ pᵢ log pᵢ + (1 − pᵢ) log(1 − pᵢ)   (p ∈ [0, 1]ᵏ),
///   Ω*(θ) = Σᵢ log(1 + exp θᵢ) = Σᵢ softplus θᵢ,
///   ∇Ω*(θ) = sigmoid(θ).
/// Its Fenchel-Young loss is the sum of binary logistic losses (one-vs-all sigmoid), the multilabel
/// baseline of Blondel et al. 2022 (arXiv 2205.09589, §5). ∇²Ω(p) = diag(1/(p(1 − p))) ⪰ 4I.
[<RequireQualifiedAccess>]
module FermiDirac =

    /// Ω(p) per row.
    let value (p: Tensor) =
        Scope.tensor (fun () -> Tensor.sumDim 1 (Tensor.xlogx p + Tensor.xlogx (1.0 - p)))

    /// ∇Ω(p) = log p − log(1 − p) = logit p (interior of the box).
    let gradient (p: Tensor) =
        Scope.tensor (fun () ->
            let q = p.clamp (Pinned.scalar 1e-30, Pinned.scalar (1.0 - 1e-16))
            q.log () - (1.0 - q).clamp_min(Pinned.scalar 1e-30).log ())

    /// Ω*(θ) = Σᵢ log(1 + e^θᵢ) per row, computed as Σᵢ max(θᵢ, 0) + log1p(e^−|θᵢ|) without a
    /// cut-off (`Tensor.softplusExact`): torch's softplus returns θᵢ for θᵢ > 20, which is off by
    /// log1p(e^−θᵢ) (up to 2.1e-9 per entry); this is exact to rounding for every θ. Its autograd
    /// gradient is sigmoid θ, so `FenchelYoung.lossTracked` has gradient sigmoid(θ) − y.
    let conjugate (theta: Tensor) = Scope.tensor (fun () -> Tensor.sumDim 1 (Tensor.softplusExact theta))

    /// Σ softplus θᵢ per row with torch's softplus, which returns θᵢ itself above 20 (off by up to
    /// 2.1e-9 per entry there, and by rounding elsewhere). Not Ω* for reporting: it is the mirror
    /// map's conjugate in `MirrorDescent` on the box, kept as it was so that the solver's iterates,
    /// and the numbers of the experiments built on it, do not move. `conjugate` is the exact Ω*.
    let conjugateThresholded (theta: Tensor) = Scope.tensor (fun () -> Tensor.sumDim 1 (Tensor.softplus theta))

    /// ∇Ω*(θ) = sigmoid θ.
    let predict (theta: Tensor) = Tensor.sigmoid theta

    /// The regularizer record.
    let regularizer : Regularizer =
        { Name = "fermi-dirac"; Domain = Box; Value = value; Gradient = gradient; Conjugate = conjugate
          Predict = predict; Modulus = 4.0; Barrier = true }
