namespace EnergyFs.Solvers

open EnergyFs

/// The inner solvers by name, for command lines, the C# facade and benchmarks.
type SolverKind =
    /// Projected gradient ascent with backtracking (`ProjectedGradient.solve`; Beck and Teboulle 2009):
    /// any energy, certified for concave Φ − Ω; slow for entropic Ω. Parsed from "pga".
    | ProjectedGradientAscent
    /// Mirror ascent in the entropic geometry (`MirrorDescent.solve`; softmax updates on the simplex,
    /// sigmoid on the box): the natural solver for Shannon and Fermi-Dirac Ω. Parsed from "mirror".
    | EntropicMirrorAscent
    /// Frank-Wolfe with the adaptive step of Pedregosa et al. 2020 (`FrankWolfe`, arXiv 1806.05123),
    /// stopped on the Frank-Wolfe gap. Parsed from "fw".
    | FrankWolfeMethod
    /// Sequential closed-form (Gauss-Seidel) coordinate ascent for quadratic energies with a
    /// separable Ω on the box (`CoordinateAscent`; Blondel et al. 2022, §4.2): monotone without
    /// concavity. Parsed from "coordinate".
    | ClosedFormCoordinateAscent
    /// Parallel closed-form ascent with a minorization step (quadratic energies; `ParallelAscent`).
    | ParallelMinorizedAscent

/// Picking an inner solver by kind or name.
[<RequireQualifiedAccess>]
module SolverChoice =

    /// The solver of a kind.
    let solver (kind: SolverKind) : InnerSolver<'V> =
        match kind with
        | ProjectedGradientAscent -> ProjectedGradient.solve
        | EntropicMirrorAscent -> MirrorDescent.solve
        | FrankWolfeMethod -> FrankWolfe.solve
        | ClosedFormCoordinateAscent -> CoordinateAscent.solve
        | ParallelMinorizedAscent -> ParallelAscent.solve

    /// Runs the solver of a kind (all arguments at once, for callers outside F#).
    let run (kind: SolverKind) (options: InnerOptions) (energy: Energies.Energy<'V>) (r: Regularizers.Regularizer) (v: 'V) (init: Tensor option) : InnerSolution =
        solver kind options energy r v init

    /// Parses "pga", "mirror", "fw", "coordinate" or "parallel" (and the long names).
    let parse (name: string) =
        match name.Trim().ToLowerInvariant () with
        | "pga" | "projected-gradient" -> ProjectedGradientAscent
        | "mirror" | "mirror-ascent" -> EntropicMirrorAscent
        | "fw" | "frank-wolfe" -> FrankWolfeMethod
        | "coordinate" | "coordinate-ascent" | "cd" -> ClosedFormCoordinateAscent
        | "parallel" | "parallel-ascent" | "jacobi" -> ParallelMinorizedAscent
        | other -> Checks.fail "solver" (sprintf "unknown solver '%s' (expected pga, mirror, fw, coordinate or parallel)" other)

    /// Every kind with its short name.
    let all = [ "pga", ProjectedGradientAscent; "mirror", EntropicMirrorAscent; "fw", FrankWolfeMethod; "coordinate", ClosedFormCoordinateAscent; "parallel", ParallelMinorizedAscent ]
