using TorchSharp;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>The inner solvers of the generalized conjugate.</summary>
public enum InnerSolverKind
{
    /// <summary>Projected gradient ascent with backtracking.</summary>
    ProjectedGradient,
    /// <summary>Mirror ascent in the entropic geometry.</summary>
    MirrorAscent,
    /// <summary>Frank-Wolfe with adaptive step sizes.</summary>
    FrankWolfe,
    /// <summary>Closed-form coordinate ascent (quadratic energy on the box).</summary>
    CoordinateAscent,
    /// <summary>Parallel (Jacobi) closed-form ascent for quadratic energies on the box, damped by the minorization step
    /// η = μ/(μ+L) so the objective increases every iteration (one matrix product per iteration; the multilabel default).</summary>
    ParallelAscent,
}

/// <summary>Options of the inner solver; the defaults are those of the F# <c>InnerOptions.defaults</c>.</summary>
public sealed record InnerSolverOptions
{
    private static readonly EnergyFs.Solvers.InnerOptions Defaults = EnergyFs.Solvers.InnerOptionsModule.defaults;

    /// <summary>Stopping tolerance on the solver's optimality measure (default 1e-5).</summary>
    public double Tolerance { get; init; } = Defaults.Tolerance;
    /// <summary>Iteration cap (default 500).</summary>
    public int MaxIterations { get; init; } = Defaults.MaxIterations;
    /// <summary>Initial step size of the gradient-type solvers (default 1).</summary>
    public double StepSize { get; init; } = Defaults.StepSize;
    /// <summary>Let solvers that need concavity run on energies where it is unknown or violated (default false:
    /// ArgumentException saying the energy is not concave).</summary>
    public bool AllowNonConcave { get; init; } = Defaults.AllowNonConcave;

    internal EnergyFs.Solvers.InnerOptions ToFSharp() =>
        new(Positive(Tolerance, nameof(Tolerance)), Positive(MaxIterations, nameof(MaxIterations)), Positive(StepSize, nameof(StepSize)), AllowNonConcave);
}

/// <summary>The result of an inner solve max_{p ∈ C} Φ(v, p) − Ω(p). Owns its tensors: dispose it.</summary>
public sealed class InnerSolverResult : IDisposable
{
    internal InnerSolverResult(EnergyFs.Solvers.InnerSolution s)
    {
        Value = s.Value; Argmax = s.Argmax; Iterations = s.Iterations; Gap = s.Gap; Converged = s.Converged;
    }
    /// <summary>The maximum per row [n].</summary>
    public torch.Tensor Value { get; }
    /// <summary>The maximizer [n, k].</summary>
    public torch.Tensor Argmax { get; }
    /// <summary>Iterations (sweeps) used.</summary>
    public int Iterations { get; }
    /// <summary>The final optimality measure (Frank-Wolfe gap, projected-gradient norm, or coordinate change).</summary>
    public double Gap { get; }
    /// <summary>Whether the tolerance was reached.</summary>
    public bool Converged { get; }
    /// <summary>Frees <see cref="Value"/> and <see cref="Argmax"/>.</summary>
    public void Dispose() { Value.Dispose(); Argmax.Dispose(); }
}

/// <summary>The generalized conjugate Ω^Φ(v) = max_{p ∈ C} Φ(v, p) − Ω(p) of Blondel et al. 2022 for the quadratic
/// energy Φ(v, p) = ⟨u, p⟩ + ½⟨p, A p⟩ (v = (u, A), A symmetrized, zero diagonal), with its generalized Fenchel-Young
/// loss (Blondel, Llinares-López, Dadashi, Hussenot, Geist 2022, "Learning Energy Networks with Generalized
/// Fenchel-Young Losses", NeurIPS, arXiv 2205.09589), and of any energy of your own (<see cref="IEnergy"/>).
/// Immutable; owns no native memory.</summary>
public sealed class GeneralizedConjugate
{
    private readonly FyRegularizer regularizer;
    private readonly InnerSolverKind solver;
    private readonly EnergyFs.Solvers.InnerOptions options;

    /// <summary>A conjugate for a regularizer, a solver and its options.</summary>
    /// <param name="regularizer">Ω and its domain C.</param>
    /// <param name="solver">The inner solver (default: closed-form coordinate ascent, for box regularizers).</param>
    /// <param name="options">Tolerance and iteration cap of the solver.</param>
    public GeneralizedConjugate(FyRegularizer regularizer, InnerSolverKind solver = InnerSolverKind.CoordinateAscent, InnerSolverOptions? options = null)
    {
        this.regularizer = regularizer ?? throw new ArgumentNullException(nameof(regularizer));
        this.solver = solver;
        this.options = (options ?? new InnerSolverOptions()).ToFSharp();
    }

    private EnergyFs.Solvers.SolverKind Kind => solver switch
    {
        InnerSolverKind.ProjectedGradient => EnergyFs.Solvers.SolverKind.ProjectedGradientAscent,
        InnerSolverKind.MirrorAscent => EnergyFs.Solvers.SolverKind.EntropicMirrorAscent,
        InnerSolverKind.FrankWolfe => EnergyFs.Solvers.SolverKind.FrankWolfeMethod,
        InnerSolverKind.ParallelAscent => EnergyFs.Solvers.SolverKind.ParallelMinorizedAscent,
        _ => EnergyFs.Solvers.SolverKind.ClosedFormCoordinateAscent,
    };

    // Shapes: u [n, k]; A [k, k] or [n, k, k]; p₀ and y [n, k]. ArgumentException naming the tensor otherwise.
    private static EnergyFs.Energies.QuadraticInput Input(torch.Tensor unary, torch.Tensor pairwise, torch.Tensor? rows = null, string rowsName = "y")
    {
        Rank(unary, 2, "unary scores u [n, k]");
        NotNull(pairwise);
        long n = unary.shape[0], k = unary.shape[1];
        var okPairwise = (pairwise.dim() == 2 && pairwise.shape[0] == k && pairwise.shape[1] == k)
                         || (pairwise.dim() == 3 && pairwise.shape[0] == n && pairwise.shape[1] == k && pairwise.shape[2] == k);
        if (!okPairwise)
            throw new ArgumentException($"pairwise must have shape [{k}, {k}] or [{n}, {k}, {k}] for unary {Shape(unary)}, got {Shape(pairwise)}", nameof(pairwise));
        if (rows is not null && !(rows.dim() == 2 && rows.shape[0] == n && rows.shape[1] == k))
            throw new ArgumentException($"{rowsName} must have shape [{n}, {k}] like unary, got {Shape(rows)}", rowsName);
        return new EnergyFs.Energies.QuadraticInput(unary, pairwise);
    }

    private EnergyFs.Solvers.InnerSolution Run(EnergyFs.Energies.QuadraticInput v, torch.Tensor? init) =>
        EnergyFs.Solvers.SolverChoice.run(Kind, options, EnergyFs.Energies.Quadratic.energy, regularizer.Inner, v,
            init is null ? null : Microsoft.FSharp.Core.FSharpOption<torch.Tensor>.Some(init));

    /// <summary>Solves max_{p ∈ C} ⟨u, p⟩ + ½⟨p, A p⟩ − Ω(p) row by row.</summary>
    /// <param name="unary">u [n, k].</param>
    /// <param name="pairwise">A [k, k] (shared) or [n, k, k] (per row).</param>
    /// <param name="init">Optional warm start p₀ [n, k].</param>
    public InnerSolverResult Solve(torch.Tensor unary, torch.Tensor pairwise, torch.Tensor? init = null) =>
        new(ScopedWith(() => Run(Input(unary, pairwise, init, nameof(init)), init), s => new[] { s.Value, s.Argmax }));

    // A custom energy's input v [n, d] and, when given, a p-shaped tensor [n, k].
    private static EnergyFs.Energies.Energy<torch.Tensor> Custom(IEnergy energy, torch.Tensor v, torch.Tensor? rows, string rowsName)
    {
        NotNull(energy);
        Rank(v, 2, "inputs v [n, d]");
        if (rows is not null && !(rows.dim() == 2 && rows.shape[0] == v.shape[0] && rows.shape[1] == energy.Outputs))
            throw new ArgumentException($"{rowsName} must have shape [{v.shape[0]}, {energy.Outputs}] (rows of v, the energy's Outputs), got {Shape(rows)}", rowsName);
        return EnergyAdapter.ToFSharp(energy, energy.GetType().Name);
    }

    /// <summary>Solves max_{p ∈ C} Φ(v, p) − Ω(p) row by row for an energy of your own (see <see cref="IEnergy"/>): the
    /// solvers need Φ only through its value and ∇_p Φ (autograd unless the energy gives it). Solvers that need a
    /// concave objective (projected gradient, mirror ascent, Frank-Wolfe) accept an energy that is not declared concave
    /// in p only when <see cref="InnerSolverOptions.AllowNonConcave"/> is set, and then return a stationary point;
    /// the closed-form solvers need the quadratic energy (ArgumentException otherwise).</summary>
    /// <param name="energy">Φ.</param>
    /// <param name="v">Inputs [n, d].</param>
    /// <param name="init">Optional warm start p₀ [n, k].</param>
    public InnerSolverResult Solve(IEnergy energy, torch.Tensor v, torch.Tensor? init = null)
    {
        var phi = Custom(energy, Finite(v), init, nameof(init));
        return new(ScopedWith(() => Guard(() => EnergyFs.Solvers.SolverChoice.run(Kind, options, phi, regularizer.Inner, v,
            init is null ? null : Microsoft.FSharp.Core.FSharpOption<torch.Tensor>.Some(init))), s => new[] { s.Value, s.Argmax }));
    }

    /// <summary>The generalized FY loss per row for an energy of your own, L = Ω^Φ(v) + Ω(y) − Φ(v, y) ≥ 0 (for an exact
    /// inner solve), differentiable in v and in any parameters Φ holds, with the gradient ∇Φ(v, p̂) − ∇Φ(v, y) of
    /// Danskin's theorem (no differentiation through the solver).</summary>
    /// <param name="energy">Φ.</param>
    /// <param name="v">Inputs [n, d].</param>
    /// <param name="y">Targets [n, k] in C.</param>
    public torch.Tensor Loss(IEnergy energy, torch.Tensor v, torch.Tensor y)
    {
        var phi = Custom(energy, Finite(v), NotNull(y), nameof(y));
        return Scoped(() => Guard(() => EnergyFs.Losses.GeneralizedFenchelYoung.loss(EnergyFs.Solvers.SolverChoice.solver<torch.Tensor>(Kind), options,
            phi, regularizer.Inner, v, y)));
    }

    /// <summary>The generalized FY loss per row, L = Ω^Φ(v) + Ω(y) − Φ(v, y); its gradient in u and A is
    /// ∇Φ(v, p̂) − ∇Φ(v, y) (Danskin's theorem).</summary>
    /// <param name="unary">u [n, k].</param>
    /// <param name="pairwise">A [k, k] or [n, k, k].</param>
    /// <param name="y">Targets [n, k] in C.</param>
    public torch.Tensor Loss(torch.Tensor unary, torch.Tensor pairwise, torch.Tensor y) =>
        Scoped(() => EnergyFs.Losses.GeneralizedFenchelYoung.loss(EnergyFs.Solvers.SolverChoice.solver<EnergyFs.Energies.QuadraticInput>(Kind), options,
            EnergyFs.Energies.Quadratic.energy, regularizer.Inner, Input(unary, pairwise, NotNull(y)), y));
}
