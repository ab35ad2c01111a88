namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Projections

/// Gradient-based inference for relaxed label sequences (Belanger & McCallum 2016, arXiv
/// 1511.06350, §5; Tu & Gimpel 2019, "Benchmarking approximate inference methods for neural
/// structured prediction", arXiv 1904.01138, §3): ȳ* ≈ argmin_{ȳ ∈ Δ_L^T} Σ_sentences f(ȳ) over
/// per-position simplices, for f mapping ȳ [B, T, L] to one energy per sentence [B]. The positions
/// are the rows of the library's first-order solvers ([B·T, L]): projected gradient with the
/// row-wise simplex projection (`ProjectedGradient.runWith Simplex.project`) or entropic mirror
/// descent (`MirrorDescent.run MirrorMap.shannon`, the exponentiated-gradient method). A masked f
/// has zero gradient at padded positions, so they stay at their start. Both have the signature of
/// the structured trainers' `Inference` option (f ↦ ȳ₀ ↦ ȳ); `tags` rounds by argmax per position.
[<RequireQualifiedAccess>]
module SequenceInference =

    let private checkStart (y0: Tensor) =
        Checks.rank "y0" 3 y0
        if y0.shape[2] < 1L then invalidArg "y0" (sprintf "y0 must have at least one label, got shape %s" (Checks.shapeText y0.shape))

    let private fixedStepOnly (options: FirstOrderOptions) =
        FirstOrderOptions.check options
        match options.Step with
        | FixedStep _ -> ()
        | Backtracking _ ->
            invalidArg "options" "sequence inference needs a fixed step (FixedStep): the backtracking line search works per row, and f gives one value per sentence, not per position"

    /// f over flattened positions [B·T, L] (reshaped to ȳ's shape), and the flattened start.
    let private flatten (f: Tensor -> Tensor) (y0: Tensor) =
        let shape = y0.shape
        let rows = y0.detach().reshape ([| -1L; shape[2] |])
        (fun (z: Tensor) -> f (z.reshape shape)), rows, shape

    /// Uniform distributions at every position, ȳ_t = 1/L, shape [B, T, L] of the given dtype and device.
    let uniformStart (batch: int64) (steps: int64) (labels: int64) (like: Tensor) : Tensor =
        torch.full ([| batch; steps; labels |], Pinned.scalar (1.0 / float labels), dtype = like.dtype, device = like.device)

    /// Projected gradient descent on Σ f(ȳ) over Δ_L^T from y0 [B, T, L] (projected first), with
    /// the options' fixed step and momentum and exactly MaxIterations steps (or until Tolerance);
    /// returns ȳ detached. f's parameters are not differentiated.
    let projectedGradient (options: FirstOrderOptions) (f: Tensor -> Tensor) (y0: Tensor) : Tensor =
        checkStart y0
        fixedStepOnly options
        use _ = torch.enable_grad ()
        let g, rows, shape = flatten f y0
        let start = Scope.tensor (fun () -> Simplex.project rows)
        let p, _, _ = ProjectedGradient.runWith Simplex.project { options with Direction = Minimize } (Objective.ofBatched g) start
        start.Dispose ()
        p.reshape shape

    /// Entropic mirror descent on Σ f(ȳ) − τ Σ_t H(ȳ_t) over Δ_L^T (H the Shannon entropy of each
    /// position; τ = `entropy` ≥ 0, 0 for the plain energy) from y0 [B, T, L] (clamped to ≥ 1e-6
    /// and renormalised); returns ȳ detached, strictly positive. The smoothing also pulls padded
    /// positions toward uniform, which a masked f ignores.
    let entropic (entropy: float) (options: FirstOrderOptions) (f: Tensor -> Tensor) (y0: Tensor) : Tensor =
        checkStart y0
        fixedStepOnly options
        Checks.nonNegative "entropy" entropy
        use _ = torch.enable_grad ()
        let g, rows, shape = flatten f y0
        let start = Scope.tensor (fun () -> let q = Tensor.clampMin 1e-6 rows in q / Tensor.sumDimKeep 1 q)
        let energy = Objective.ofBatched g
        let objective : Objective =
            if entropy = 0.0 then energy
            else
                { Value = fun p -> g p + Tensor.sum (Tensor.xlogx p) * entropy
                  Gradient = fun p -> energy.Gradient p + (Tensor.log (Tensor.clampMin 1e-30 p) + 1.0) * entropy }
        let p, _, _ = MirrorDescent.run MirrorMap.shannon { options with Direction = Minimize } objective start
        start.Dispose ()
        p.reshape shape

    /// Projected gradient defaults for sequences: 50 steps, η = 0.5, momentum 0.5, no tolerance.
    let projectedDefaults : FirstOrderOptions = { Direction = Minimize; Step = FixedStep (0.5, 0.5); MaxIterations = 50; Tolerance = None }

    /// Entropic mirror descent defaults for sequences: 50 steps, η = 0.5, no momentum, no tolerance.
    let entropicDefaults : FirstOrderOptions = { Direction = Minimize; Step = FixedStep (0.5, 0.0); MaxIterations = 50; Tolerance = None }

    /// Rounding: the argmax label per position, int64 [B, T] (padded positions included; a masked
    /// consumer ignores them).
    let tags (y: Tensor) : Tensor =
        Checks.rank "y" 3 y
        y.argmax (-1L)

    /// One-hot labels of tags [B, T] over L labels, zero at padded positions: [B, T, L] of like's dtype.
    let oneHot (labels: int64) (mask: Tensor) (tags: Tensor) (like: Tensor) : Tensor =
        Checks.rank "tags" 2 tags
        Checks.sameShape "mask" mask "tags" tags
        Scope.tensor (fun () ->
            torch.nn.functional.one_hot(tags, labels).to_type(like.dtype).``to``(like.device) * mask.to_type(like.dtype).unsqueeze -1L)
