namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies

/// Mirror descent (and ascent) in an entropic geometry (Nemirovski and Yudin 1983; Beck and
/// Teboulle 2003, "Mirror descent and nonlinear projected subgradient methods for convex
/// optimization"): with a mirror map ψ (`MirrorMap`: the Shannon negentropy on the simplex, the
/// Fermi-Dirac negentropy on the box) the iteration runs on dual variables θ = ∇ψ(p). With s = +1
/// to maximize and −1 to minimize:
///   backtracking:  θ⁺ = θ + s η ∇f(p),  p⁺ = ∇ψ*(θ⁺)   (softmax on the simplex, sigmoid on the box),
///                  η halved per row until s f(p⁺) ≥ s f(p) + s⟨∇f(p), p⁺ − p⟩ − D_ψ(p⁺, p)/η, where
///                  D_ψ(p⁺, p) = ⟨θ⁺ − θ, p⁺⟩ − ψ*(θ⁺) + ψ*(θ) is computed stably from the duals;
///   fixed step:    m⁺ = μ m + s η ∇f(p),  θ⁺ = θ + m⁺  (θ⁺ = θ + s η ∇f(p) when μ = 0).
/// On the simplex this is the exponentiated-gradient method. Optimality measure: max over rows of
/// ‖p − proj_C(p + s ∇f(p))‖. The sphere has no entropic mirror map (use projected gradient).
///
/// `solve` is the inner solver of generalized conjugates, max_{p ∈ C} Φ(v, p) − Ω(p). With Ω = ψ
/// and η = 1 one step is the fixed-point (mean-field) update p⁺ = ∇ψ*(∇_pΦ(v, p)).
///
/// `entropicBoxInference` is entropy-smoothed SPEN inference (Belanger and McCallum 2016, arXiv
/// 1511.06350, §5, entropic mirror descent on the simplex; here the binary-entropy mirror map on
/// the box): ȳ* ≈ argmin_{ȳ ∈ (0,1)^L} f(ȳ) − τ H(ȳ), H(ȳ) = −Σᵢ ȳᵢ log ȳᵢ + (1 − ȳᵢ) log(1 − ȳᵢ),
/// by descent in the logits u = logit ȳ = ∇(−H)(ȳ): u ← u − η (∇f(ȳ) + τ u), ȳ = σ(u). Its fixed
/// point is ȳ = σ(−∇f(ȳ)/τ): for the SPEN local term alone, the classifier's sigmoid.
[<RequireQualifiedAccess>]
module MirrorDescent =

    /// θ + step (maximize) or θ − step (minimize).
    let private advance (direction: Direction) (theta: Tensor) (step: Tensor) =
        match direction with
        | Maximize -> theta + step
        | Minimize -> theta - step

    /// max over rows of ‖p − proj_C(p ± g)‖.
    let private measure (direction: Direction) (set: FeasibleSet) (p: Tensor) (g: Tensor) =
        Scope.run (fun () -> (Tensor.normDim 1 (p - FeasibleSet.project set (advance direction p g))).max().ToDouble ())

    /// The method from (p0, θ0), which it takes over (disposes). `gradientAt p θ` is ∇f(p) given
    /// the dual coordinates θ = ∇ψ(p) (an objective that contains ψ itself can use θ for ∇ψ(p)
    /// instead of recomputing it from a rounded p, which in float32 loses all precision for
    /// saturated entries).
    let private iterateFrom (options: FirstOrderOptions) (mirror: MirrorMap) (value: Tensor -> Tensor)
                            (gradientAt: Tensor -> Tensor -> Tensor) (p0: Tensor) (theta0: Tensor) =
        let gauge (p: Tensor) (g: Tensor) = if options.Tolerance.IsSome then measure options.Direction mirror.Set p g else nan
        match options.Step with
        | Backtracking eta0 ->
            let etas = torch.full ([| p0.shape[0]; 1L |], Pinned.scalar eta0, dtype = p0.dtype, device = p0.device)
            IterationLoop.run options.MaxIterations options.Tolerance [ p0; theta0; etas ] (fun _ state ->
                let p, theta, eta = state[0], state[1], state[2]
                let g = gradientAt p theta
                gauge p g, fun () ->
                    let psiTheta = mirror.Conjugate theta
                    let propose (eta: Tensor) =
                        let thetaNext = advance options.Direction theta (eta * g)
                        let q = mirror.ToPrimal thetaNext
                        q, (Tensor.dot (thetaNext - theta) q - mirror.Conjugate thetaNext + psiTheta).clamp_min (Pinned.scalar 0.0)
                    let pNext, etaNext = LineSearch.backtrack options.Direction value (value p) p g eta propose
                    [ pNext; advance options.Direction theta (etaNext * g); LineSearch.grow 1.25 eta0 etaNext ])
        | FixedStep (size, 0.0) ->
            IterationLoop.run options.MaxIterations options.Tolerance [ p0; theta0 ] (fun _ state ->
                let p, theta = state[0], state[1]
                let g = gradientAt p theta
                gauge p g, fun () ->
                    let thetaNext = (advance options.Direction theta (g * size)).detach ()
                    [ mirror.ToPrimal thetaNext; thetaNext ])
        | FixedStep (size, momentum) ->
            IterationLoop.run options.MaxIterations options.Tolerance [ p0; theta0; torch.zeros_like theta0 ] (fun _ state ->
                let p, theta, velocity = state[0], state[1], state[2]
                let g = gradientAt p theta
                gauge p g, fun () ->
                    let velocity' = advance options.Direction (velocity * momentum) (g * size)
                    let thetaNext = theta + velocity'
                    [ mirror.ToPrimal thetaNext; thetaNext; velocity' ])

    /// Runs mirror descent with `mirror` from p0 [n, k] in its set (not modified; θ0 = ∇ψ(p0)).
    /// Returns the final iterate, the steps taken and the last optimality measure (NaN without a tolerance).
    let run (mirror: MirrorMap) (options: FirstOrderOptions) (objective: Objective) (p0: Tensor) : Tensor * int * float =
        FirstOrderOptions.check options
        Checks.rank "p0" 2 p0
        let p = p0.detach().clone ()
        iterateFrom options mirror objective.Value (fun p _ -> objective.Gradient p) p (mirror.ToDual p)

    /// Solves the inner problem max_{p ∈ C} Φ(v, p) − Ω(p) with ψ the entropy of C (see the module doc).
    let solve : InnerSolver<'V> = fun options energy r v init ->
        InnerProblem.checkOptions options
        InnerProblem.requireConcave "mirror ascent" options energy r v
        Diff.noGrad (fun () ->
            let v = energy.Detach v
            let mirror = MirrorMap.ofSet (InnerProblem.feasibleSet r.Domain)
            let selfMirror =
                (r.Domain = Box && r.Name = FermiDirac.regularizer.Name) || (r.Domain = Simplex && r.Name = Shannon.regularizer.Name)
            let p0 = InnerProblem.start energy r v init
            let theta0 =
                Scope.tensor (fun () ->
                    let q =
                        match r.Domain with
                        | Box -> p0.clamp (Pinned.scalar (InnerProblem.interiorMargin p0), Pinned.scalar (1.0 - InnerProblem.interiorMargin p0))
                        | Simplex -> p0.clamp_min (Pinned.scalar (InnerProblem.interiorMargin p0))
                    mirror.ToDual q)
            // When Ω is the mirror map itself, ∇Ω(p) is the dual variable θ (up to a constant that
            // the simplex projection ignores).
            let gradientAt (p: Tensor) (theta: Tensor) =
                if selfMirror then energy.GradP v p - theta else InnerProblem.gradient energy r v p
            let p, it, gap =
                iterateFrom (InnerProblem.firstOrderOptions options) mirror (InnerProblem.objective energy r v) gradientAt p0 theta0
            InnerProblem.finish energy r v p it gap options.Tolerance)

    /// SPEN inference: 30 descent steps, η = 0.5, no momentum, no tolerance (use with τ = 1).
    let inferenceDefaults : FirstOrderOptions = { Direction = Minimize; Step = FixedStep (0.5, 0.0); MaxIterations = 30; Tolerance = None }

    /// Optimizes Σ f(ȳ) ∓ τ Σ H(ȳ) over the open box (f returns one value per example; −τH when
    /// minimizing, +τH when maximizing, so the entropy always pulls toward ½) from y0 ∈ (0,1)^{n×L}
    /// (clipped to [1e-6, 1 − 1e-6]); returns ȳ detached, strictly inside the box. η·τ ≤ 1 keeps
    /// the iteration a contraction for a linear f.
    let entropicBoxInference (entropy: float) (options: FirstOrderOptions) (f: Tensor -> Tensor) (y0: Tensor) : Tensor =
        FirstOrderOptions.check options
        Checks.positive "Entropy" entropy
        use _ = torch.enable_grad ()
        let u0 = Scope.tensor (fun () -> let p = Tensor.clamp 1e-6 (1.0 - 1e-6) (y0.detach ()) in (torch.log p - torch.log (1.0 - p)))
        let objective = Objective.ofBatched f
        // ∇(f ∓ τH)(ȳ) = ∇f(ȳ) ± τu: the logits u are the dual variables.
        let gradientAt (p: Tensor) (u: Tensor) =
            match options.Direction with
            | Minimize -> objective.Gradient p + u * entropy
            | Maximize -> objective.Gradient p - u * entropy
        let value (p: Tensor) =
            let h = Scope.tensor (fun () -> -(Tensor.sumDim 1 (Tensor.xlogx p + Tensor.xlogx (1.0 - p))))
            match options.Direction with
            | Minimize -> f p - h * entropy
            | Maximize -> f p + h * entropy
        let p, _, _ = iterateFrom options MirrorMap.fermiDirac value gradientAt (FermiDirac.predict u0) u0
        p
