namespace EnergyFs.Losses

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Conjugates

/// Generalized Fenchel-Young losses (Blondel, Llinares-López, Dadashi, Hussenot, Geist 2022,
/// "Learning Energy Networks with Generalized Fenchel-Young Losses", arXiv 2205.09589, Eq. 4):
///
///   L_Φ,Ω(v; y) = Ω^Φ(v) + Ω(y) − Φ(v, y) ≥ 0,   Ω^Φ(v) = max_{p ∈ C} Φ(v, p) − Ω(p),
///
/// zero iff y is the maximizer. The maximizer p̂ is computed without gradient tracking and the loss
/// is evaluated as Φ(v, p̂) − Ω(p̂) + Ω(y) − Φ(v, y) with p̂ constant, so its gradient is
///   ∇_v L = ∇_v Φ(v, p̂) − ∇_v Φ(v, y)   (Danskin; Prop. 2),
/// and the same holds for any parameters captured by Φ. With Φ(v, p) = ⟨v, p⟩ it is the classic
/// Fenchel-Young loss. Non-negativity holds up to the inner solver's tolerance.
[<RequireQualifiedAccess>]
module GeneralizedFenchelYoung =

    /// The inputs must be finite and the batch non-empty: NaN or ±Inf in v would give NaN losses
    /// silently, and an empty batch (n = 0 or k = 0) would fail inside libtorch. One reduction per
    /// tensor of v (the scores of a tensor input, both terms of a quadratic input, else energy.Like v).
    let private checkInputs (energy: Energy<'V>) (v: 'V) (y: Tensor) =
        Energy.checkOutput energy "y" v y
        Checks.nonEmpty "y" y
        match box v with
        | :? Tensor as theta -> Checks.finite "v" theta
        | :? QuadraticInput as q ->
            Checks.finite "v.Unary" q.Unary
            Checks.finite "v.Pairwise" q.Pairwise
        | _ -> Checks.finite "v" (energy.Like v)

    /// Per-row losses [n] and the inner solution (for diagnostics and warm starts; dispose it).
    let lossAndSolution (solver: InnerSolver<'V>) (options: InnerOptions) (energy: Energy<'V>) (r: Regularizer)
                        (v: 'V) (init: Tensor option) (y: Tensor) : Tensor * InnerSolution =
        checkInputs energy v y
        Regularizer.requireInDomain "y" r.Domain y
        let conj, sol = Generalized.valueAndSolution solver options energy r v init
        let loss =
            Scope.tensor (fun () ->
                use conj = conj
                let omegaY = Diff.noGrad (fun () -> r.Value y)
                conj + omegaY - energy.Value v y)
        loss, sol

    /// Per-row losses [n].
    let loss (solver: InnerSolver<'V>) (options: InnerOptions) (energy: Energy<'V>) (r: Regularizer) (v: 'V) (y: Tensor) : Tensor =
        let l, sol = lossAndSolution solver options energy r v None y
        sol.Dispose ()
        l

    /// Mean loss over the batch (a scalar for training).
    let meanLoss (solver: InnerSolver<'V>) (options: InnerOptions) (energy: Energy<'V>) (r: Regularizer) (v: 'V) (y: Tensor) : Tensor =
        Scope.tensor (fun () -> Tensor.mean (loss solver options energy r v y))

    /// A loss function v → y → mean loss, built from a solver, its options, an energy and a regularizer.
    let make (solver: InnerSolver<'V>) (options: InnerOptions) (energy: Energy<'V>) (r: Regularizer) : 'V -> Tensor -> Tensor =
        meanLoss solver options energy r
