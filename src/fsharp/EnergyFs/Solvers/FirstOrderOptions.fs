namespace EnergyFs.Solvers

open TorchSharp
open EnergyFs
open EnergyFs.Projections

/// Whether a first-order method maximizes or minimizes its objective. Maximizing f runs the same
/// update as minimizing −f with the signs folded into the step (x + η∇f instead of x − η∇(−f)), so
/// the rounding of the maximizing solvers does not depend on a negation.
type Direction =
    /// Ascent: steps along +∇f, the line search asks for sufficient increase.
    | Maximize
    /// Descent: steps along −∇f, the line search asks for sufficient decrease.
    | Minimize

/// How a first-order method picks its step η.
type StepRule =
    /// Backtracking line search per row (Armijo 1966; Beck and Teboulle 2009, §1.5): start from
    /// the given η₀, halve η until the sufficient-ascent (or -descent) condition of `LineSearch`
    /// holds, then grow it by 1.25 for the next step (capped at 10⁶ η₀).
    | Backtracking of initialStep: float
    /// A fixed step η with heavy-ball momentum μ ∈ [0, 1) (Polyak 1964): the velocity
    /// m⁺ = μ m ± η ∇f is added to the iterate (projected gradient) or to the dual variable
    /// (mirror descent). μ = 0 is the plain fixed-step method.
    | FixedStep of size: float * momentum: float

/// The feasible sets of the first-order solvers, with rows of [n, k] as points.
type FeasibleSet =
    /// The probability simplex Δᵏ = {p ≥ 0, Σ p = 1}.
    | ProbabilitySimplex
    /// The unit box [0, 1]ᵏ.
    | UnitBox
    /// The unit sphere Sᵏ⁻¹ = {x : ‖x‖ = 1} (not convex: projected gradient finds stationary points).
    | UnitSphere

/// Projections onto the feasible sets.
[<RequireQualifiedAccess>]
module FeasibleSet =

    /// The Euclidean projection of every row: sorting-based on the simplex (`Simplex.project`),
    /// clipping on the box (`Box.project`), renormalisation on the sphere (`Sphere.retract`;
    /// the projection of z ≠ 0 is z/‖z‖).
    let project (set: FeasibleSet) (z: Tensor) : Tensor =
        match set with
        | ProbabilitySimplex -> Simplex.project z
        | UnitBox -> Box.project z
        | UnitSphere -> Sphere.retract z

    /// Whether every row of p lies in the set up to `tolerance`.
    let contains (tolerance: float) (set: FeasibleSet) (p: Tensor) : bool =
        match set with
        | ProbabilitySimplex -> Simplex.contains tolerance p
        | UnitBox -> Box.contains tolerance p
        | UnitSphere -> p.shape[0] = 0L || Sphere.deviation p <= tolerance

/// A smooth objective over rows: f(p) per row [n] and its gradient [n, k].
type Objective =
    { /// f(p) per row, shape [n] (needed by the line search only).
      Value: Tensor -> Tensor
      /// ∇f(p), shape [n, k], without gradient tracking.
      Gradient: Tensor -> Tensor }

/// Building objectives.
[<RequireQualifiedAccess>]
module Objective =

    /// A batched function f (one value per row) with its gradient by autograd: ∇ of Σ_rows f at p
    /// through `Diff.grad` (a detached leaf copy of p, so f's own parameters are not differentiated).
    let ofBatched (f: Tensor -> Tensor) : Objective =
        { Value = f; Gradient = fun p -> Diff.grad (fun t -> Tensor.sum (f t)) p }

/// Options shared by the first-order solvers (`ProjectedGradient.run`, `MirrorDescent.run`), in
/// the style of jaxopt's solver fields.
type FirstOrderOptions =
    { /// Maximize or minimize.
      Direction: Direction
      /// Backtracking line search, or fixed step with momentum.
      Step: StepRule
      /// Iteration cap: exactly this many steps when `Tolerance` is None.
      MaxIterations: int
      /// Stop once the optimality measure ‖p − proj_C(p ± ∇f(p))‖ (max over rows) is ≤ this;
      /// None runs every iteration and skips the measure.
      Tolerance: float option }

/// Defaults and checks of FirstOrderOptions.
[<RequireQualifiedAccess>]
module FirstOrderOptions =

    /// Maximize, backtracking from η₀ = 1, 500 iterations, tolerance 1e-5 (the inner solvers' defaults).
    let defaults = { Direction = Maximize; Step = Backtracking 1.0; MaxIterations = 500; Tolerance = Some 1e-5 }

    /// Fails naming the offending field: MaxIterations ≥ 1, steps > 0, momentum in [0, 1), tolerance ≥ 0.
    let check (options: FirstOrderOptions) =
        Checks.positiveInt "MaxIterations" options.MaxIterations
        match options.Step with
        | Backtracking eta0 -> Checks.positive "StepSize" eta0
        | FixedStep (size, momentum) ->
            Checks.positive "StepSize" size
            if not (momentum >= 0.0 && momentum < 1.0) then
                Checks.fail "Momentum" (sprintf "Momentum must be in [0, 1), got %g" momentum)
        options.Tolerance |> Option.iter (Checks.nonNegative "Tolerance")

