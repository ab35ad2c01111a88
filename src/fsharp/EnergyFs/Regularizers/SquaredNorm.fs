namespace EnergyFs.Regularizers

open System
open TorchSharp
open EnergyFs
open EnergyFs.Projections

/// The squared Euclidean norm Ω(p) = ½‖p‖² restricted to a domain C, whose prediction map is the
/// Euclidean projection:
///   ∇Ω*(θ) = argmax_{p ∈ C} ⟨θ, p⟩ − ½‖p‖² = proj_C(θ),
///   Ω*(θ) = ⟨θ, p̂⟩ − ½‖p̂‖².
/// On the simplex this is sparsemax (Martins and Astudillo 2016) and its Fenchel-Young loss the
/// sparsemax loss; on the unit box, clipping to [0, 1] (Blondel et al. 2020, Table 1). 1-strongly convex.
[<RequireQualifiedAccess>]
module SquaredNorm =

    /// Ω(p) = ½‖p‖² per row.
    let value (p: Tensor) = Scope.tensor (fun () -> Tensor.sumDim 1 (Tensor.square p) * 0.5)

    /// ∇Ω(p) = p.
    let gradient (p: Tensor) = p.alias ()

    /// The regularizer on the simplex (sparsemax).
    let simplex : Regularizer =
        { Name = "sqnorm-simplex"; Domain = Domain.Simplex; Value = value; Gradient = gradient
          Conjugate = Regularizer.conjugateFromPrediction value Simplex.project
          Predict = Simplex.project; Modulus = 1.0; Barrier = false }

    /// The regularizer on the unit box (clipping).
    let box : Regularizer =
        { Name = "sqnorm-box"; Domain = Domain.Box; Value = value; Gradient = gradient
          Conjugate = Regularizer.conjugateFromPrediction value Box.project
          Predict = Box.project; Modulus = 1.0; Barrier = false }

    /// The weighted, centred squared norm on the unit box, Ω(p) = (λ/2)‖p − c·1‖² (c the same in
    /// every coordinate); λ = 1, c = 0 is `box`. Prediction map
    ///   ∇Ω*(θ) = argmax_{p ∈ [0,1]ᵏ} ⟨θ, p⟩ − Ω(p) = clip(c + θ/λ, 0, 1)   (λ > 0);
    /// λ = 0 gives Ω = 0, usable by the gradient-based inner solvers only. λ-strongly convex: the
    /// modulus through which a generalized FY loss bounds the argmax error (Blondel et al. 2022,
    /// arXiv 2205.09589, §3), which the imitation experiment raises to λ = 64.
    let weightedBox (weight: float) (centre: float) : Regularizer =
        if weight < 0.0 || Double.IsNaN weight then Checks.fail "weight" (sprintf "the regularizer weight must be ≥ 0, got %g" weight)
        if Double.IsNaN centre || Double.IsInfinity centre then Checks.fail "centre" (sprintf "the centre must be finite, got %g" centre)
        if weight = 1.0 && centre = 0.0 then box
        else
            let value (p: Tensor) = Scope.tensor (fun () -> Tensor.sumDim 1 (Tensor.square (p - centre)) * (0.5 * weight))
            let predict (theta: Tensor) =
                if weight = 0.0 then Checks.fail "weight" "the unregularized argmax has no closed-form prediction map"
                Scope.tensor (fun () -> (theta / weight + centre).clamp (Pinned.scalar 0.0, Pinned.scalar 1.0))
            { Name = sprintf "sqnorm-box(%g, centre %g)" weight centre; Domain = Domain.Box; Value = value
              Gradient = fun p -> Scope.tensor (fun () -> (p - centre) * weight)
              Conjugate = Regularizer.conjugateFromPrediction value predict
              Predict = predict; Modulus = weight; Barrier = false }
