namespace EnergyFs.Losses

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers

/// Classic Fenchel-Young losses (Blondel, Martins, Niculae 2020, JMLR, arXiv 1901.02324, Def. 2):
///
///   L_Ω(θ; y) = Ω*(θ) + Ω(y) − ⟨θ, y⟩ ≥ 0,   with equality iff y = ∇Ω*(θ),
///   ∇_θ L_Ω(θ; y) = ∇Ω*(θ) − y.
///
/// The backward pass never differentiates through the regularized argmax ∇Ω*: the loss is built as
///   value(θ̄) + ⟨θ − θ̄, p̂ − y⟩,   θ̄ = detach θ,   p̂ = detach ∇Ω*(θ̄),
/// whose value is L_Ω(θ; y) (the second term is zero) and whose autograd gradient is exactly
/// p̂ − y (the "detached prediction" construction; a second derivative through it is zero, so use
/// `lossTracked` when a Hessian of the loss is needed and Ω* is smooth).
/// All functions are batched: θ and y have shape [n, k]; losses have shape [n].
[<RequireQualifiedAccess>]
module FenchelYoung =

    /// θ must be a non-empty [n, k] batch of finite scores (NaN or ±Inf would give NaN losses
    /// silently; an empty batch would fail inside libtorch).
    let private checkScores (theta: Tensor) =
        Regularizer.requireBatch "theta" theta
        Checks.nonEmpty "theta" theta
        Checks.finite "theta" theta

    let private checkPair (r: Regularizer) (theta: Tensor) (y: Tensor) =
        checkScores theta
        Regularizer.requireBatch "y" y
        Checks.sameShape "theta" theta "y" y
        Regularizer.requireInDomain "y" r.Domain y

    /// L_Ω(θ; y) per row, with gradient ∇Ω*(θ) − y (detached prediction; see the module doc).
    let loss (r: Regularizer) (theta: Tensor) (y: Tensor) : Tensor =
        checkPair r theta y
        Scope.tensor (fun () ->
            let thetaBar = theta.detach ()
            let value, pHat =
                Diff.noGrad (fun () ->
                    let p = r.Predict thetaBar
                    r.Conjugate thetaBar + r.Value y - Tensor.dot thetaBar y, p)
            if theta.requires_grad && torch.is_grad_enabled () then value + Tensor.dot (theta - thetaBar) (pHat - y)
            else value)

    /// The same loss evaluated with ordinary autograd through Ω* (for checks and double backward;
    /// only meaningful where Ω* is differentiable by autograd, e.g. Shannon and Fermi-Dirac).
    let lossTracked (r: Regularizer) (theta: Tensor) (y: Tensor) : Tensor =
        checkPair r theta y
        Scope.tensor (fun () -> r.Conjugate theta + r.Value y - Tensor.dot theta y)

    /// Mean of `loss` over the batch (a scalar for training).
    let meanLoss (r: Regularizer) (theta: Tensor) (y: Tensor) : Tensor =
        Scope.tensor (fun () -> Tensor.mean (loss r theta y))

    /// The analytic gradient ∇Ω*(θ) − y (what `loss` backpropagates), without autograd.
    let gradient (r: Regularizer) (theta: Tensor) (y: Tensor) : Tensor =
        checkPair r theta y
        Scope.tensor (fun () -> Diff.noGrad (fun () -> r.Predict (theta.detach ()) - y))

    /// Requires class indices: a non-empty 1-D tensor whose entries are integers. Floating-point
    /// labels are accepted only when every entry is integral (3.0, not 0.5: a cast would truncate
    /// 0.5 to class 0 silently, and a label distribution belongs in `loss`, not here).
    let private checkClassIndices (labels: Tensor) =
        Checks.rank "labels" 1 labels
        Checks.nonEmpty "labels" labels
        if labels.is_floating_point () then
            Checks.finite "labels" labels
            Scope.run (fun () ->
                let fractional = labels.frac().ne (torch.zeros_like labels)
                if fractional.any().item<bool> () then
                    let first = fractional.nonzero().cpu().data<int64>().ToArray()[0]
                    Checks.fail "labels"
                        (sprintf "labels must be integer class indices, got %g at position %d (shape %s, dtype %O); pass label distributions [n, k] to `loss` instead"
                            (labels[first].ToDouble ()) first (Checks.shapeText labels.shape) labels.dtype))
        elif labels.is_complex () || labels.dtype = torch.ScalarType.Bool then
            Checks.fail "labels" (sprintf "labels must be integer class indices, got dtype %O (shape %s)" labels.dtype (Checks.shapeText labels.shape))

    /// One-hot targets [n, k] from integer labels [n] in 0 .. k−1 (fails naming a bad label; float
    /// labels must be integral, e.g. 2.0, and are refused otherwise rather than truncated).
    let oneHot (k: int) (labels: Tensor) (like: Tensor) : Tensor =
        Checks.positiveInt "k" k
        checkClassIndices labels
        Scope.tensor (fun () ->
            let lo = (labels.min ()).ToInt64 ()
            let hi = (labels.max ()).ToInt64 ()
            if lo < 0L || hi >= int64 k then
                Checks.fail "labels" (sprintf "labels must lie in 0 .. %d, got values in [%d, %d]" (k - 1) lo hi)
            torch.nn.functional.one_hot(labels.to_type torch.ScalarType.Int64, int64 k).to_type(like.dtype).``to`` like.device)

    /// L_Ω(θ; e_label) per row for integer labels [n] (the domain must be the simplex, or the box
    /// for a single positive label).
    let lossOfLabels (r: Regularizer) (theta: Tensor) (labels: Tensor) : Tensor =
        checkScores theta
        Checks.sameRows "theta" theta "labels" labels
        checkClassIndices labels
        Scope.tensor (fun () -> loss r theta (oneHot (int theta.shape[1]) labels theta))

    /// A loss function θ → y → L_Ω(θ; y) (mean over the batch) for a regularizer, for trainers
    /// that take a loss as an argument.
    let make (r: Regularizer) : Tensor -> Tensor -> Tensor = meanLoss r
