namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies

/// Options of an inner solver for max_{p ∈ C} Φ(v, p) − Ω(p); start from `InnerOptions.defaults`.
type InnerOptions =
    { /// Stop when the solver's optimality measure (its `Gap`) falls below this, for every row.
      Tolerance: float
      /// Iteration cap (sweeps for coordinate ascent).
      MaxIterations: int
      /// Initial step size (projected gradient, mirror ascent); backtracking halves it per row.
      StepSize: float
      /// Let solvers that need a concave objective run on energies whose concavity is unknown or
      /// violated (they then return a stationary point, not a certified maximum).
      AllowNonConcave: bool }

/// Defaults for InnerOptions.
[<RequireQualifiedAccess>]
module InnerOptions =
    /// Tolerance 1e-5, 500 iterations, step 1, concavity required.
    let defaults = { Tolerance = 1e-5; MaxIterations = 500; StepSize = 1.0; AllowNonConcave = false }

/// What an inner solver returns. Tensors are detached.
type InnerSolution =
    { /// max_{p ∈ C} Φ(v, p) − Ω(p) per row (the value at the returned maximizer), shape [n].
      Value: Tensor
      /// The maximizer p̂, shape [n, k].
      Argmax: Tensor
      /// Iterations (or sweeps) used.
      Iterations: int
      /// The final optimality measure, max over rows: the Frank-Wolfe gap for Frank-Wolfe, the norm
      /// of the projected-gradient mapping ‖p − proj_C(p + ∇F(p))‖ for the gradient methods, the
      /// largest coordinate change of the last sweep for coordinate ascent.
      Gap: float
      /// Whether Gap ≤ Tolerance was reached before the iteration cap.
      Converged: bool }
    /// Frees the tensors.
    member s.Dispose () = s.Value.Dispose (); s.Argmax.Dispose ()

/// A solver: options → energy → regularizer → v → optional warm start p₀ → solution.
type InnerSolver<'V> = InnerOptions -> Energy<'V> -> Regularizer -> 'V -> Tensor option -> InnerSolution

/// The inner objective F(p) = Φ(v, p) − Ω(p) and pieces shared by the solvers.
[<RequireQualifiedAccess>]
module InnerProblem =

    /// F(p) per row.
    let objective (energy: Energy<'V>) (r: Regularizer) (v: 'V) (p: Tensor) : Tensor =
        Scope.tensor (fun () -> energy.Value v p - r.Value p)

    /// ∇F(p) = ∇_pΦ(v, p) − ∇Ω(p).
    let gradient (energy: Energy<'V>) (r: Regularizer) (v: 'V) (p: Tensor) : Tensor =
        Scope.tensor (fun () -> energy.GradP v p - r.Gradient p)

    /// max over rows of ‖p − proj_C(p + g)‖₂: zero exactly at a stationary point of F on C.
    let stationarity (domain: Domain) (p: Tensor) (g: Tensor) : float =
        Scope.run (fun () -> (Tensor.normDim 1 (p - Regularizer.project domain (p + g))).max().ToDouble ())

    /// How far inside C the iterates of barrier regularizers are kept: 1e-12 in float64, 1e-6 in float32.
    let interiorMargin (p: Tensor) = if p.dtype = torch.ScalarType.Float64 then 1e-12 else 1e-6

    /// The Euclidean projection onto C shrunk by `interiorMargin` for barrier regularizers (the
    /// box [ε, 1 − ε]ᵏ; the simplex entries clamped at ε and renormalized), plain otherwise.
    let projectInterior (r: Regularizer) (z: Tensor) : Tensor =
        if not r.Barrier then Regularizer.project r.Domain z
        else
            Scope.tensor (fun () ->
                let eps = interiorMargin z
                let p = Regularizer.project r.Domain z
                match r.Domain with
                | Box -> p.clamp (Pinned.scalar eps, Pinned.scalar (1.0 - eps))
                | Simplex ->
                    let q = p.clamp_min (Pinned.scalar eps)
                    q / q.sum (1L, true))

    /// Fails unless the inner problem is known to be concave (or options allow otherwise): with
    /// curvature bound c of Φ in p and modulus μ of Ω, F = Φ − Ω is concave when c ≤ μ.
    let requireConcave (solverName: string) (options: InnerOptions) (energy: Energy<'V>) (r: Regularizer) (v: 'V) =
        if not options.AllowNonConcave then
            match energy.Curvature v with
            | Some c when c > r.Modulus + 1e-6 ->
                Checks.fail "energy"
                    (sprintf "%s needs a concave objective Φ − Ω, but the energy '%s' has curvature %g in p (largest eigenvalue of its Hessian) above the modulus %g of the regularizer '%s'; use coordinate ascent (quadratic energies on the box), shrink the interactions, or set AllowNonConcave"
                        solverName energy.Name c r.Modulus r.Name)
            | None ->
                Checks.fail "energy"
                    (sprintf "%s needs a concave objective Φ − Ω, but the concavity in p of the energy '%s' is unknown; set AllowNonConcave to accept a stationary point" solverName energy.Name)
            | _ -> ()

    /// Validates the options.
    let checkOptions (options: InnerOptions) =
        Checks.nonNegative "Tolerance" options.Tolerance
        Checks.positiveInt "MaxIterations" options.MaxIterations
        Checks.positive "StepSize" options.StepSize

    /// The starting point: the warm start (checked against the domain and the shape) or the center of C.
    /// Barrier regularizers start strictly inside C.
    let start (energy: Energy<'V>) (r: Regularizer) (v: 'V) (init: Tensor option) : Tensor =
        let n, k = energy.Shape v
        match init with
        | Some p0 ->
            Energy.checkOutput energy "init" v p0
            Regularizer.requireInDomain "init" r.Domain p0
            Scope.tensor (fun () ->
                let p = p0.detach().clone ()
                if r.Barrier then
                    match r.Domain with
                    | Box -> p.clamp (Pinned.scalar (interiorMargin p), Pinned.scalar (1.0 - interiorMargin p))
                    | Simplex ->
                        let q = p.clamp_min (Pinned.scalar (interiorMargin p))
                        q / q.sum (1L, true)
                else p)
        | None ->
            let like = energy.Like v
            let dtype, device = like.dtype, like.device
            match r.Domain with
            | Simplex -> torch.full ([| n; k |], Pinned.scalar (1.0 / float k), dtype = dtype, device = device)
            | Box -> torch.full ([| n; k |], Pinned.scalar 0.5, dtype = dtype, device = device)

    /// Packs a solution (value recomputed at the final point).
    let finish (energy: Energy<'V>) (r: Regularizer) (v: 'V) (p: Tensor) (iterations: int) (gap: float) (tolerance: float) =
        let value = objective energy r v p
        { Value = value; Argmax = p; Iterations = iterations; Gap = gap; Converged = gap <= tolerance }

    /// The feasible set of a regularizer's domain.
    let feasibleSet (domain: Domain) =
        match domain with
        | Simplex -> ProbabilitySimplex
        | Box -> UnitBox

    /// The first-order options of an inner solver: maximize, backtracking from `StepSize`,
    /// `MaxIterations`, stopping at `Tolerance`.
    let firstOrderOptions (options: InnerOptions) : FirstOrderOptions =
        { Direction = Maximize; Step = Backtracking options.StepSize; MaxIterations = options.MaxIterations; Tolerance = Some options.Tolerance }
