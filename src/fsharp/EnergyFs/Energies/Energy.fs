namespace EnergyFs.Energies

open TorchSharp
open EnergyFs

/// An energy Φ(v, p) over outputs p ∈ C ⊂ ℝᵏ, batched over examples: v holds n examples' inputs
/// (network outputs, features) and p has shape [n, k]; Φ returns shape [n]. Generalized
/// Fenchel-Young losses maximize Φ(v, ·) − Ω over C (Blondel et al. 2022, arXiv 2205.09589, Eq. 3).
/// 'V is whatever the energy consumes: a tensor of scores, a record of unary and pairwise terms.
type Energy<'V> =
    { /// A short name for reports.
      Name: string
      /// Φ(v, p) per row, differentiable in v (and in any parameters captured by the energy).
      Value: 'V -> Tensor -> Tensor
      /// ∇_p Φ(v, p), shape [n, k], without gradient tracking (used by the inner solvers).
      GradP: 'V -> Tensor -> Tensor
      /// v cut from the autograd graph, for the inner maximization.
      Detach: 'V -> 'V
      /// (n, k): the batch size and the output dimension that v implies (for shape checks).
      Shape: 'V -> int64 * int64
      /// A tensor of v whose dtype and device the outputs p take.
      Like: 'V -> Tensor
      /// An upper bound on the largest eigenvalue of ∇²_p Φ(v, ·) over the batch when one is known
      /// (0 for an energy concave in p; λ_max(A) for the quadratic energy); None when unknown.
      /// Solvers that need a concave objective Φ − Ω compare it with the regularizer's modulus.
      Curvature: 'V -> float option
      /// Linear in v and concave in p: the energies for which Blondel et al. 2022 (Prop. 5, §4.3)
      /// prove calibration of the generalized FY loss.
      Calibrated: bool
      /// For quadratic energies Φ = ⟨u, p⟩ + ½⟨p, A p⟩: (u [n, k], A [k, k] or [n, k, k], symmetric
      /// with zero diagonal), enabling closed-form coordinate ascent.
      Quadratic: ('V -> Tensor * Tensor) option }

/// Inputs of the quadratic energy: unary scores u [n, k] and pairwise interactions A, either one
/// [k, k] matrix shared by the batch (a learned parameter) or one per example [n, k, k] (produced by
/// the network).
type QuadraticInput =
    { /// Unary scores u [n, k]: the linear term ⟨u, p⟩ of Φ, one row per example.
      Unary: Tensor
      /// Pairwise interactions A, [k, k] (shared by the batch) or [n, k, k] (one per example); only
      /// its symmetrized off-diagonal part Â = ½(A + Aᵀ) with zero diagonal enters Φ, in the term
      /// ½⟨p, Â p⟩.
      Pairwise: Tensor }

/// Helpers shared by energies.
[<RequireQualifiedAccess>]
module Energy =

    /// ∇_p of a batched scalar function by autograd on a fresh leaf copy of p, with gradient
    /// tracking switched on even inside torch.no_grad; the result is detached (`Diff.gradOfSum`).
    let gradByAutograd (f: Tensor -> Tensor) (p: Tensor) : Tensor =
        Scope.tensor (fun () -> Diff.gradOfSum f p)

    /// An energy over inputs v [n, d] (scores or features) and outputs p [n, k] given by its value
    /// Φ(v, p) per row (differentiable in v and in any parameters it captures): ∇_p by autograd
    /// unless `gradP` gives it (detached); concave in p when `concaveInP` (curvature 0, which the
    /// solvers that need concavity accept), unknown otherwise. Not calibrated in the sense of
    /// Blondel et al. 2022, Prop. 5 (that needs linearity in v), nor quadratic.
    let ofFunction (name: string) (outputs: int) (value: Tensor -> Tensor -> Tensor) (gradP: (Tensor -> Tensor -> Tensor) option) (concaveInP: bool) : Energy<Tensor> =
        Checks.positiveInt "outputs" outputs
        { Name = name
          Value = value
          GradP =
            (match gradP with
             | Some g -> fun v p -> Scope.tensor (fun () -> Diff.noGrad (fun () -> (g v p).detach ()))
             | None -> fun v p -> gradByAutograd (value v) p)
          Detach = fun v -> v.detach ()
          Shape = fun v -> (Regularizers.Regularizer.requireBatch "v" v; v.shape[0], int64 outputs)
          Like = id
          Curvature = fun _ -> if concaveInP then Some 0.0 else None
          Calibrated = false
          Quadratic = None }

    /// Fails naming p unless it has shape [n, k] matching the energy's input.
    let checkOutput (energy: Energy<'V>) (argument: string) (v: 'V) (p: Tensor) =
        let n, k = energy.Shape v
        if p.dim () <> 2L || p.shape[0] <> n || p.shape[1] <> k then
            Checks.fail argument
                (sprintf "%s must have shape [%d, %d] to match the energy's input (%s), got shape %s" argument n k energy.Name (Checks.shapeText p.shape))

/// The bilinear energy Φ(θ, p) = ⟨θ, p⟩: the generalized FY loss reduces to the classic one
/// (Blondel et al. 2022, §3). Linear in θ, concave in p.
[<RequireQualifiedAccess>]
module Bilinear =

    /// The energy over scores θ [n, k].
    let energy : Energy<Tensor> =
        { Name = "bilinear"
          Value = fun theta p -> Tensor.dot theta p
          GradP = fun theta _ -> theta.detach().clone ()
          Detach = fun theta -> theta.detach ()
          Shape = fun theta -> (Regularizers.Regularizer.requireBatch "theta" theta; theta.shape[0], theta.shape[1])
          Like = id
          Curvature = fun _ -> Some 0.0
          Calibrated = true
          Quadratic = None }

/// The quadratic (unary plus pairwise) energy over label vectors:
///   Φ(v, p) = ⟨u, p⟩ + ½⟨p, Â p⟩,   Â = sym(A) with its diagonal set to 0,
/// with v = (u, A) (Blondel et al. 2022, §5 multilabel experiment). On binary labels pⱼ² = pⱼ, so
/// a diagonal would duplicate u; dropping it keeps each coordinate subproblem concave and
/// closed-form. Linear in v; concave in p only when Â ⪯ 0, so it carries the calibration guarantee
/// only then (`Calibrated` = false).
[<RequireQualifiedAccess>]
module Quadratic =

    /// Â = (A + Aᵀ)/2 with zero diagonal, for A of shape [k, k] or [n, k, k].
    let interactions (a: Tensor) : Tensor =
        Scope.tensor (fun () ->
            let s = (a + a.transpose (-1L, -2L)) * 0.5
            let k = a.shape[a.shape.Length - 1]
            let eye = torch.eye (k, dtype = a.dtype, device = a.device)
            s * (1.0 - eye))

    /// Â p for a batch p [n, k].
    let apply (ahat: Tensor) (p: Tensor) : Tensor =
        if ahat.dim () = 2L then p.matmul ahat
        else Scope.tensor (fun () -> ahat.bmm(p.unsqueeze 2L).squeeze (2L))

    let private checkInput (v: QuadraticInput) =
        Regularizers.Regularizer.requireBatch "Unary" v.Unary
        let n, k = v.Unary.shape[0], v.Unary.shape[1]
        let ok =
            (v.Pairwise.dim () = 2L && v.Pairwise.shape = [| k; k |])
            || (v.Pairwise.dim () = 3L && v.Pairwise.shape = [| n; k; k |])
        if not ok then
            Checks.fail "Pairwise"
                (sprintf "Pairwise must have shape [%d, %d] or [%d, %d, %d] to match Unary %s, got shape %s" k k n k k
                    (Checks.shapeText v.Unary.shape) (Checks.shapeText v.Pairwise.shape))
        n, k

    /// Φ(v, p) per row.
    let value (v: QuadraticInput) (p: Tensor) : Tensor =
        Scope.tensor (fun () ->
            let ahat = interactions v.Pairwise
            Tensor.dot v.Unary p + Tensor.dot p (apply ahat p) * 0.5)

    /// ∇_p Φ(v, p) = u + Â p (detached).
    let gradP (v: QuadraticInput) (p: Tensor) : Tensor =
        Scope.tensor (fun () -> Diff.noGrad (fun () -> v.Unary.detach () + apply (interactions (v.Pairwise.detach ())) p))

    /// λ_max(Â) over the batch (eigvalsh), the curvature of Φ in p.
    let curvature (v: QuadraticInput) : float =
        Scope.run (fun () ->
            Diff.noGrad (fun () ->
                let ahat = interactions (v.Pairwise.detach ())
                (torch.linalg.eigvalsh ahat).max().ToDouble ()))

    /// The energy record.
    let energy : Energy<QuadraticInput> =
        { Name = "quadratic"
          Value = value
          GradP = gradP
          Detach = fun v -> { Unary = v.Unary.detach (); Pairwise = v.Pairwise.detach () }
          Shape = checkInput
          Like = fun v -> v.Unary
          Curvature = fun v -> Some (curvature v)
          Calibrated = false
          Quadratic = Some (fun v -> v.Unary.detach (), interactions (v.Pairwise.detach ())) }
