namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Energies

/// Projected gradient methods over a set C (the simplex, the box or the sphere), maximizing or
/// minimizing a smooth f (Goldstein 1964; Levitin and Polyak 1966; Beck and Teboulle 2009 for the
/// backtracking rule; Parikh and Boyd 2014, §4.2). With s = +1 to maximize and −1 to minimize:
///   backtracking:     p⁺ = proj_C(p + s η ∇f(p)),  η per row halved until
///                     s f(p⁺) ≥ s f(p) + s⟨∇f(p), p⁺ − p⟩ − ‖p⁺ − p‖²/(2η), then grown by 1.25;
///   fixed step:       m⁺ = μ m + s η ∇f(p),  p⁺ = proj_C(p + m⁺)   (heavy ball, Polyak 1964).
/// Optimality measure: max over rows of ‖p − proj_C(p + s ∇f(p))‖, zero exactly at a stationary
/// point. Certified optimum for f concave (maximize) or convex (minimize) on the simplex and the
/// box; on the sphere (not convex) a stationary point, which for a linear f is ±b/‖b‖.
///
/// `solve` is the inner solver of generalized conjugates, max_{p ∈ C} Φ(v, p) − Ω(p). For entropic
/// Ω (unbounded ∇Ω at the boundary) its iterates and stopping measure use C shrunk by 1e-12
/// (float64) or 1e-6 (float32). This works on the box (Fermi-Dirac) but is slow, and with Shannon's
/// entropy on the simplex it can stall on a face where a coordinate sits at the margin (the
/// curvature 1/p is huge there and backtracking shrinks the step to nothing): use mirror descent,
/// the natural geometry for entropies (known limitation; a prox-gradient step with the entropy's
/// own prox would remove it).
///
/// `boxInference` is gradient-based inference for relaxed structured outputs (Belanger and
/// McCallum 2016, arXiv 1511.06350, §5): ȳ* ≈ argmin_{ȳ ∈ [0,1]^{n×L}} Σ_examples f(ȳ).
[<RequireQualifiedAccess>]
module ProjectedGradient =

    /// p + η g (maximize) or p − η g (minimize).
    let private advance (direction: Direction) (p: Tensor) (step: Tensor) =
        match direction with
        | Maximize -> p + step
        | Minimize -> p - step

    /// max over rows of ‖p − proj(p ± g)‖.
    let private measure (direction: Direction) (project: Tensor -> Tensor) (p: Tensor) (g: Tensor) =
        Scope.run (fun () -> (Tensor.normDim 1 (p - project (advance direction p g))).max().ToDouble ())

    /// One backtracking step from the state [p; η].
    let private backtrackingStep (options: FirstOrderOptions) (eta0: float) (project: Tensor -> Tensor) (objective: Objective) (state: Tensor list) =
        let p, eta = state[0], state[1]
        let g = objective.Gradient p
        let m = if options.Tolerance.IsSome then measure options.Direction project p g else nan
        m, fun () ->
            let propose (eta: Tensor) =
                let q = project (advance options.Direction p (eta * g))
                q, Tensor.sumDim 1 (Tensor.square (q - p)) * Pinned.scalar 0.5
            let pNext, etaNext = LineSearch.backtrack options.Direction objective.Value (objective.Value p) p g eta propose
            [ pNext; LineSearch.grow 1.25 eta0 etaNext ]

    /// One heavy-ball step from the state [p; m].
    let private momentumStep (options: FirstOrderOptions) (size: float) (momentum: float) (project: Tensor -> Tensor) (objective: Objective) (state: Tensor list) =
        let p, velocity = state[0], state[1]
        let g = objective.Gradient p
        let m = if options.Tolerance.IsSome then measure options.Direction project p g else nan
        m, fun () ->
            let velocity' =
                match options.Direction with
                | Maximize -> velocity * momentum + g * size
                | Minimize -> velocity * momentum - g * size
            [ project (p + velocity'); velocity'.detach () ]

    /// The method from p0, which it takes over (disposes).
    let private iterateFrom (options: FirstOrderOptions) (project: Tensor -> Tensor) (objective: Objective) (p0: Tensor) =
        match options.Step with
        | Backtracking eta0 ->
            let etas = torch.full ([| p0.shape[0]; 1L |], Pinned.scalar eta0, dtype = p0.dtype, device = p0.device)
            IterationLoop.run options.MaxIterations options.Tolerance [ p0; etas ] (fun _ state ->
                backtrackingStep options eta0 project objective state)
        | FixedStep (size, momentum) ->
            IterationLoop.run options.MaxIterations options.Tolerance [ p0; torch.zeros_like p0 ] (fun _ state ->
                momentumStep options size momentum project objective state)

    /// Runs the method with a given projection from p0 [n, k] (not modified). Returns the final
    /// iterate, the steps taken and the last optimality measure (NaN without a tolerance).
    let runWith (project: Tensor -> Tensor) (options: FirstOrderOptions) (objective: Objective) (p0: Tensor) : Tensor * int * float =
        FirstOrderOptions.check options
        Checks.rank "p0" 2 p0
        iterateFrom options project objective (p0.detach().clone ())

    /// Runs the method on a feasible set from p0 [n, k] (not modified): `runWith (FeasibleSet.project set)`.
    let run (set: FeasibleSet) (options: FirstOrderOptions) (objective: Objective) (p0: Tensor) : Tensor * int * float =
        runWith (FeasibleSet.project set) options objective p0

    /// Solves the inner problem max_{p ∈ C} Φ(v, p) − Ω(p) (see the module doc).
    let solve : InnerSolver<'V> = fun options energy r v init ->
        InnerProblem.checkOptions options
        InnerProblem.requireConcave "projected gradient ascent" options energy r v
        Diff.noGrad (fun () ->
            let v = energy.Detach v
            let p0 = InnerProblem.start energy r v init
            let objective : Objective = { Value = InnerProblem.objective energy r v; Gradient = InnerProblem.gradient energy r v }
            let p, it, gap = iterateFrom (InnerProblem.firstOrderOptions options) (InnerProblem.projectInterior r) objective p0
            InnerProblem.finish energy r v p it gap options.Tolerance)

    /// SPEN inference: 30 descent steps, η = 0.1, momentum μ = 0.5, no tolerance.
    let inferenceDefaults : FirstOrderOptions = { Direction = Minimize; Step = FixedStep (0.1, 0.5); MaxIterations = 30; Tolerance = None }

    /// Optimizes Σ f(ȳ) over the unit box (f returns one value per example) from y0 clipped to the
    /// box; returns ȳ detached. f's parameters are not differentiated; inference differentiates with
    /// respect to ȳ even when called under no_grad (validation).
    let boxInference (options: FirstOrderOptions) (f: Tensor -> Tensor) (y0: Tensor) : Tensor =
        FirstOrderOptions.check options
        use _ = torch.enable_grad ()
        let p, _, _ = iterateFrom options (FeasibleSet.project UnitBox) (Objective.ofBatched f) (FeasibleSet.project UnitBox (y0.detach ()))
        p
