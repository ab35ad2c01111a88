using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;
using EnergyFs.Implicit;
using EnergyFs.Learners;
using static EnergyFs.CSharp.FSharpInterop;

namespace EnergyFs.CSharp;

/// <summary>The linear solver of inverse-Hessian-vector products.</summary>
public enum LinearSolverKind
{
    /// <summary>Conjugate gradient (Hestenes &amp; Stiefel 1952): for symmetric positive-definite H.</summary>
    ConjugateGradient,
    /// <summary>Truncated Neumann series H⁻¹b ≈ α Σ_{k&lt;K} (I − αH)ᵏ b (Lorraine, Vicol &amp; Duvenaud 2020, arXiv 1911.02590).</summary>
    Neumann,
}

/// <summary>Which linear solver computes inverse-Hessian-vector products H⁻¹b, and its settings; the defaults are those
/// of the F# <c>LinearSolvers.cgDefaults</c> (and <c>neumannDefaults</c>' α).</summary>
public sealed record LinearSolverOptions
{
    /// <summary>The solver (default <see cref="LinearSolverKind.ConjugateGradient"/>).</summary>
    public LinearSolverKind Kind { get; init; } = LinearSolverKind.ConjugateGradient;
    /// <summary>K: CG iterations or Neumann terms (default 20).</summary>
    public int Iterations { get; init; } = LinearSolvers.cgDefaults.Iterations;
    /// <summary>Neumann step α; the series converges when 0 &lt; α &lt; 2/λ_max(H) (default 0.1).</summary>
    public double Alpha { get; init; } = LinearSolvers.neumannDefaults.Alpha;
    /// <summary>Relative residual ‖Hz − b‖/‖b‖ under which the solve counts as converged (default 1e-6).</summary>
    public double Tolerance { get; init; } = LinearSolvers.cgDefaults.Tolerance;
    /// <summary>Damping δ ≥ 0: solve (H + δI) z = b (default 0).</summary>
    public double Damping { get; init; }
    /// <summary>Throw InvalidOperationException giving the residual when a solve does not converge (default false:
    /// the <see cref="SolverReport"/> says so).</summary>
    public bool RequireConvergence { get; init; }

    internal FSharpFunc<FSharpFunc<FSharpList<torch.Tensor>, FSharpList<torch.Tensor>>, FSharpFunc<FSharpList<torch.Tensor>, Tuple<FSharpList<torch.Tensor>, SolverDiagnostics>>> Build()
    {
        Positive(Iterations, nameof(Iterations));
        Positive(Tolerance, nameof(Tolerance));
        if (!(Damping >= 0)) throw new ArgumentOutOfRangeException(nameof(Damping), Damping, "Damping must be ≥ 0");
        var solver = Kind switch
        {
            LinearSolverKind.ConjugateGradient => LinearSolvers.conjugateGradient(new LinearSolvers.CgOptions(Iterations, Tolerance)),
            LinearSolverKind.Neumann => LinearSolvers.neumann(new LinearSolvers.NeumannOptions(Iterations, Positive(Alpha, nameof(Alpha)), Tolerance, true)),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown linear solver"),
        };
        return Damping > 0.0 ? LinearSolvers.damped(Damping, solver) : solver;
    }

    internal void Enforce(SolverDiagnostics d)
    {
        if (RequireConvergence && !d.Converged)
            throw new InvalidOperationException(
                $"the {d.Solver} solve did not converge: relative residual {d.RelativeResidual:g3} > Tolerance {Tolerance:g3} after {d.Iterations} iterations" +
                (d.Note.Length > 0 ? $" ({d.Note})" : "") + "; raise Iterations, add Damping, or (Neumann) lower Alpha");
    }
}

/// <summary>What a linear solve reports.</summary>
/// <param name="Solver">The solver's name ("cg", "neumann", …).</param>
/// <param name="Iterations">Iterations (CG steps, Neumann terms) actually run.</param>
/// <param name="HvpCount">Hessian-vector products spent, the residual check included.</param>
/// <param name="Residual">‖Hz − b‖.</param>
/// <param name="RhsNorm">‖b‖.</param>
/// <param name="Converged">Whether Residual ≤ Tolerance·‖b‖.</param>
/// <param name="Note">A remark such as "negative curvature met"; empty when none.</param>
public sealed record SolverReport(string Solver, int Iterations, int HvpCount, double Residual, double RhsNorm, bool Converged, string Note)
{
    /// <summary>Residual / ‖b‖ (0 when b = 0).</summary>
    public double RelativeResidual => RhsNorm > 0.0 ? Residual / RhsNorm : 0.0;

    internal static SolverReport Of(SolverDiagnostics d) => new(d.Solver, d.Iterations, d.HvpCount, d.Residual, d.RhsNorm, d.Converged, d.Note);
}

/// <summary>A hypergradient dL/dθ, one tensor per block of θ. Owns the gradient tensors: dispose it.</summary>
public sealed class HypergradientResult : IDisposable
{
    internal HypergradientResult(torch.Tensor[] gradient, SolverReport? report, double outerLoss)
    {
        Gradient = gradient; Report = report; OuterLoss = outerLoss;
    }
    /// <summary>dL/dθ, one tensor per block of θ, each with its block's shape.</summary>
    public IReadOnlyList<torch.Tensor> Gradient { get; }
    /// <summary>The linear solve's report (null for unrolled hypergradients).</summary>
    public SolverReport? Report { get; }
    /// <summary>L(θ, ψ) at the point used.</summary>
    public double OuterLoss { get; }
    /// <summary>Frees the gradient tensors.</summary>
    public void Dispose()
    {
        foreach (var g in Gradient) g.Dispose();
    }
}

/// <summary>The solution of H z = b, one tensor per block. Owns the solution tensors: dispose it.</summary>
public sealed class LinearSolveResult : IDisposable
{
    internal LinearSolveResult(torch.Tensor[] solution, SolverReport report)
    {
        Solution = solution; Report = report;
    }
    /// <summary>z ≈ H⁻¹b, one tensor per block of b.</summary>
    public IReadOnlyList<torch.Tensor> Solution { get; }
    /// <summary>The solve's report.</summary>
    public SolverReport Report { get; }
    /// <summary>Frees the solution tensors.</summary>
    public void Dispose()
    {
        foreach (var z in Solution) z.Dispose();
    }
}

/// <summary>Options of <see cref="ImplicitTrainer.Train"/>; the defaults are those of the F#
/// <c>ImplicitStructured.defaults</c> (20 epochs, batch 32, 5 inner steps, Adam 1e-4 for ψ and 1e-3 for θ, τ = 0,
/// λ = 1e-2, Neumann series with 10 terms and α = 0.1).</summary>
public sealed record ImplicitTrainingOptions
{
    private static readonly EnergyFs.Learners.ImplicitTrainingOptions Defaults = ImplicitStructured.defaults;

    /// <summary>Passes over the training examples (default 20).</summary>
    public int Epochs { get; init; } = Defaults.Epochs;
    /// <summary>Examples per batch, inner and outer (default 32).</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;
    /// <summary>Inner optimizer steps on ψ between two outer steps on θ (default 5).</summary>
    public int InnerSteps { get; init; } = Defaults.InnerSteps;
    /// <summary>Adam learning rate of the inference network ψ (inner problem; default 1e-4).</summary>
    public double InnerLearningRate { get; init; } = Defaults.InnerOptimizer.LearningRate.Invoke(0);
    /// <summary>Adam learning rate of the energy θ (outer problem; default 1e-3).</summary>
    public double OuterLearningRate { get; init; } = Defaults.OuterOptimizer.LearningRate.Invoke(0);
    /// <summary>τ, weight of the entropy term of the inner objective (&gt; 0 penalty, &lt; 0 smoothing; default 0).</summary>
    public double EntropyWeight { get; init; } = Defaults.EntropyWeight;
    /// <summary>λ ≥ 0, weight of ‖ψ − ψ₀‖² in the inner objective; it also conditions the inner Hessian (default 1e-2).</summary>
    public double PullWeight { get; init; } = Defaults.PullWeight;
    /// <summary>When set, hypergradients are unrolled through this many gradient steps (the baseline) instead of the
    /// implicit function theorem (default null: implicit).</summary>
    public int? UnrolledSteps { get; init; }
    /// <summary>Step size of the unrolled inner steps (default 0.1; used with <see cref="UnrolledSteps"/>).</summary>
    public double UnrolledLearningRate { get; init; } = 0.1;
    /// <summary>The linear solver of the implicit hypergradient (default null: the F# default, a Neumann series with 10
    /// terms and α = 0.1). Its <see cref="LinearSolverOptions.RequireConvergence"/> makes a non-converged solve fail.</summary>
    public LinearSolverOptions? Solver { get; init; }
    /// <summary>Seed of the batch order (default 0).</summary>
    public long Seed { get; init; } = Defaults.Seed;

    internal EnergyFs.Learners.ImplicitTrainingOptions ToFSharp()
    {
        Positive(BatchSize, nameof(BatchSize));
        Positive(InnerLearningRate, nameof(InnerLearningRate));
        Positive(OuterLearningRate, nameof(OuterLearningRate));
        var method = UnrolledSteps is int k
            ? HypergradientMethod.NewUnrolled(Positive(k, nameof(UnrolledSteps)), Positive(UnrolledLearningRate, nameof(UnrolledLearningRate)))
            : HypergradientMethod.ImplicitFunction;
        return new EnergyFs.Learners.ImplicitTrainingOptions(Epochs, BatchSize, InnerSteps,
            EnergyFs.Training.OptimizerOptionsModule.adam(InnerLearningRate), EnergyFs.Training.OptimizerOptionsModule.adam(OuterLearningRate),
            EntropyWeight, PullWeight, method, Solver?.Build() ?? Defaults.Solver, Solver?.RequireConvergence ?? Defaults.RequireConvergence, Defaults.RefineSteps, Seed);
    }
}

/// <summary>One epoch of a structured trainer.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Mean outer loss (binary cross-entropy of A_ψ(x) against y) of the epoch.</param>
/// <param name="Validation">The validation score after the epoch (NaN without validation).</param>
/// <param name="Seconds">Seconds the epoch took.</param>
public sealed record EpochSummary(int Epoch, double Loss, double Validation, double Seconds);

/// <summary>What <see cref="ImplicitTrainer.Train"/> did.</summary>
/// <param name="Epochs">One summary per epoch.</param>
/// <param name="Solves">Hypergradients computed by a linear solve.</param>
/// <param name="NotConverged">How many solves did not reach the solver's tolerance.</param>
/// <param name="MeanRelativeResidual">Mean ‖Hz − b‖/‖b‖ (NaN without solves).</param>
/// <param name="MaxRelativeResidual">Largest ‖Hz − b‖/‖b‖.</param>
/// <param name="HvpCount">Hessian-vector products spent in total.</param>
public sealed record ImplicitTrainingReport(IReadOnlyList<EpochSummary> Epochs, int Solves, int NotConverged,
                                            double MeanRelativeResidual, double MaxRelativeResidual, int HvpCount);

/// <summary>Implicit training of structured energy models (Shankar &amp; Piratla 2022, "Implicit Training of Energy Model
/// for Structure Prediction", arXiv 2211.11649): the bilevel problem min_θ L(θ, ψ*(θ)), ψ*(θ) = argmin_ψ g(θ, ψ), whose
/// hypergradient by the implicit function theorem is dL/dθ = ∂L/∂θ − ∂²g/∂θ∂ψ [∂²g/∂ψ²]⁻¹ ∇_ψL, with the inverse
/// applied by a linear solver (CG or a Neumann series). The functions here are the building blocks (hypergradients,
/// linear solves) and the full SPEN trainer.</summary>
public static class ImplicitTrainer
{
    private static BilevelProblem Problem(Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor> inner,
                                          Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor> outer)
    {
        NotNull(inner);
        NotNull(outer);
        return new(FuncConvert.FromFunc<FSharpList<torch.Tensor>, FSharpList<torch.Tensor>, torch.Tensor>((t, p) => inner(t.ToList(), p.ToList())),
                   FuncConvert.FromFunc<FSharpList<torch.Tensor>, FSharpList<torch.Tensor>, torch.Tensor>((t, p) => outer(t.ToList(), p.ToList())));
    }

    private static FSharpList<torch.Tensor> Blocks(IReadOnlyList<torch.Tensor> blocks, string name)
    {
        NotNull(blocks, name);
        if (blocks.Count == 0) throw new ArgumentException($"{name} needs at least one tensor", name);
        for (var i = 0; i < blocks.Count; i++)
            if (blocks[i] is null) throw new ArgumentNullException(name, $"{name}[{i}] is null");
        return List(blocks);
    }

    /// <summary>dL/dθ at an (approximate) inner optimum ψ by the implicit function theorem:
    /// ∂L/∂θ − ∂²g/∂θ∂ψ [∂²g/∂ψ²]⁻¹ ∇_ψL. Nothing is written to <c>.grad</c>; θ and ψ are not modified.</summary>
    /// <param name="inner">g(θ, ψ), a scalar.</param>
    /// <param name="outer">L(θ, ψ), a scalar.</param>
    /// <param name="theta">The outer variables θ (blocks).</param>
    /// <param name="psi">The inner optimum ψ*(θ) (blocks).</param>
    /// <param name="options">The linear solver.</param>
    public static HypergradientResult Hypergradient(
        Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor> inner,
        Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor> outer,
        IReadOnlyList<torch.Tensor> theta, IReadOnlyList<torch.Tensor> psi, LinearSolverOptions? options = null)
    {
        var o = options ?? new LinearSolverOptions();
        var solver = o.Build();
        var r = ScopedWith(() => EnergyFs.Implicit.Hypergradient.@implicit(solver, Problem(inner, outer), Blocks(theta, nameof(theta)), Blocks(psi, nameof(psi))), h => h.Gradient);
        var d = r.Diagnostics.Value;
        var result = new HypergradientResult(r.Gradient.ToArray(), SolverReport.Of(d), r.OuterLoss);
        try { o.Enforce(d); }
        catch { result.Dispose(); throw; }
        return result;
    }

    /// <summary>dL/dθ by differentiating through <paramref name="steps"/> gradient steps ψ ← ψ − η∇_ψ g from ψ₀ (the
    /// baseline of implicit differentiation; memory grows with the steps).</summary>
    /// <param name="inner">g(θ, ψ), a scalar.</param>
    /// <param name="outer">L(θ, ψ), a scalar.</param>
    /// <param name="theta">The outer variables θ (blocks).</param>
    /// <param name="psi0">The starting point ψ₀ (blocks).</param>
    /// <param name="steps">Unrolled steps (&gt; 0).</param>
    /// <param name="learningRate">Step size η (&gt; 0).</param>
    public static HypergradientResult UnrolledHypergradient(
        Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor> inner,
        Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>, torch.Tensor> outer,
        IReadOnlyList<torch.Tensor> theta, IReadOnlyList<torch.Tensor> psi0, int steps, double learningRate)
    {
        var r = ScopedWith(() => EnergyFs.Implicit.Hypergradient.unrolled(Positive(steps), Positive(learningRate), Problem(inner, outer),
            Blocks(theta, nameof(theta)), Blocks(psi0, nameof(psi0))).Item1, h => h.Gradient);
        return new HypergradientResult(r.Gradient.ToArray(), null, r.OuterLoss);
    }

    /// <summary>Solves H z = b given only v ↦ H v (H symmetric; positive definite for CG).</summary>
    /// <param name="hvp">The Hessian-vector product, block by block.</param>
    /// <param name="rhs">b (blocks).</param>
    /// <param name="options">The linear solver.</param>
    public static LinearSolveResult Solve(
        Func<IReadOnlyList<torch.Tensor>, IReadOnlyList<torch.Tensor>> hvp, IReadOnlyList<torch.Tensor> rhs, LinearSolverOptions? options = null)
    {
        NotNull(hvp);
        var o = options ?? new LinearSolverOptions();
        var h = FuncConvert.FromFunc<FSharpList<torch.Tensor>, FSharpList<torch.Tensor>>(v => List(hvp(v.ToList())));
        var solver = o.Build();
        var (z, d) = ScopedWith(() => solver.Invoke(h).Invoke(Blocks(rhs, nameof(rhs))).ToValueTuple(), r => r.Item1);
        var result = new LinearSolveResult(z.ToArray(), SolverReport.Of(d));
        try { o.Enforce(d); }
        catch { result.Dispose(); throw; }
        return result;
    }

    /// <summary>Trains a SPEN <paramref name="energy"/> (θ) and an inference network <paramref name="network"/> (ψ) in
    /// place by implicit training (arXiv 2211.11649): InnerSteps Adam steps of ψ on
    /// g = mean E_θ(x, A_ψ(x)) + τH(A_ψ(x)) + λ‖ψ − ψ₀‖², then one Adam step of θ along the implicit hypergradient of the
    /// binary cross-entropy of A_ψ(x) on a batch the inner steps did not see. With <paramref name="validate"/>, the best
    /// epoch's parameters are restored at the end.</summary>
    /// <param name="energy">The energy E_θ, trained in place.</param>
    /// <param name="network">The inference network A_ψ, trained in place (its input is <paramref name="data"/>.Inputs).</param>
    /// <param name="data">The training examples.</param>
    /// <param name="options">Epochs, batch size, steps, learning rates, weights and solver.</param>
    /// <param name="validate">A score to maximize after each epoch (for example dev example F1), or null.</param>
    public static ImplicitTrainingReport Train(StructuredEnergyModel energy, InferenceNetwork network, StructuredExamples data,
                                               ImplicitTrainingOptions? options = null, Func<double>? validate = null)
    {
        NotNull(energy);
        NotNull(network);
        NotNull(data);
        var o = (options ?? new ImplicitTrainingOptions()).ToFSharp();
        data.Check(energy, network);
        var examples = new MultilabelExamples(data.Inputs, data.Features, data.Labels);
        var score = FuncConvert.FromFunc<Unit, double>(_ => validate is null ? double.NaN : validate());
        var progress = FuncConvert.FromAction<Tuple<double, string>>(_ => { });
        var (epochs, stats) = ScopedValue(() => ImplicitStructured.train(o, score, progress, energy.Inner, network.Inner, examples).ToValueTuple());
        return new ImplicitTrainingReport(epochs.Select(e => new EpochSummary(e.Epoch, e.Loss, e.Validation, e.Seconds)).ToArray(),
            stats.Solves, stats.NotConverged, stats.MeanRelativeResidual, stats.MaxRelativeResidual, stats.HvpCount);
    }
}

/// <summary>Multilabel examples for structured training: raw inputs x (read by inference networks), features F(x) (read by
/// the SPEN's local term) and gold labels y ∈ {0,1}ᴸ, row-aligned. The tensors stay the caller's (not disposed here).</summary>
/// <param name="Inputs">Raw inputs x [n, d].</param>
/// <param name="Features">Features F(x) [n, featureDim].</param>
/// <param name="Labels">Gold labels [n, L] of 0/1 values.</param>
public sealed record StructuredExamples(torch.Tensor Inputs, torch.Tensor Features, torch.Tensor Labels)
{
    internal void Check(StructuredEnergyModel energy, InferenceNetwork network)
    {
        Rank(Inputs, 2, "inputs [n, d]", nameof(Inputs));
        Rank(Features, 2, "features [n, featureDim]", nameof(Features));
        Rank(Labels, 2, "labels [n, L]", nameof(Labels));
        SameRows(Inputs, Labels, nameof(Inputs), nameof(Labels));
        SameRows(Features, Labels, nameof(Features), nameof(Labels));
        if (Labels.shape[0] == 0) throw new ArgumentException("no examples", nameof(Labels));
        if (Labels.shape[1] != energy.Labels)
            throw new ArgumentException($"Labels {Shape(Labels)} must have {energy.Labels} columns, the energy's label count", nameof(Labels));
        if (Features.shape[1] != energy.FeatureDim)
            throw new ArgumentException($"Features {Shape(Features)} must have {energy.FeatureDim} columns, the energy's feature dimension", nameof(Features));
        if (Inputs.shape[1] != network.Inputs)
            throw new ArgumentException($"Inputs {Shape(Inputs)} must have {network.Inputs} columns, the inference network's input width", nameof(Inputs));
        if (network.Outputs != energy.Labels)
            throw new ArgumentException($"the inference network has {network.Outputs} outputs but the energy has {energy.Labels} labels", nameof(network));
    }
}

/// <summary>Multilabel metrics of the SPEN papers: example-averaged F1 and a threshold chosen on development data.</summary>
public static class MultilabelMetrics
{
    private static void Check(torch.Tensor scores, torch.Tensor gold)
    {
        Rank(scores, 2, "scores [n, L]");
        Rank(gold, 2, "gold labels [n, L]");
        if (!scores.shape.SequenceEqual(gold.shape))
            throw new ArgumentException($"scores {Shape(scores)} and gold {Shape(gold)} must have the same shape", nameof(gold));
    }

    /// <summary>Mean example F1, mean over rows of 2|ŷ ∩ y| / (|ŷ| + |y|) (1 when both are empty), of scores [n, L]
    /// thresholded at <paramref name="threshold"/> against 0/1 labels.</summary>
    /// <param name="scores">Scores or probabilities [n, L].</param>
    /// <param name="gold">Gold labels [n, L] of 0/1 values.</param>
    /// <param name="threshold">ŷ = 1 where score ≥ threshold.</param>
    public static double ExampleF1(torch.Tensor scores, torch.Tensor gold, double threshold) =>
        ScopedValue(() => { Check(scores, gold); return EnergyFs.Metrics.MultilabelMetrics.exampleF1At(threshold, scores, gold); });

    /// <summary>The threshold of 0.05, 0.10, …, 0.95 (or of <paramref name="grid"/>) with the best example F1, and that F1.</summary>
    /// <param name="scores">Scores [n, L] on development data.</param>
    /// <param name="gold">Gold labels [n, L].</param>
    /// <param name="grid">Candidate thresholds (default 0.05 … 0.95).</param>
    public static (double Threshold, double F1) SelectThreshold(torch.Tensor scores, torch.Tensor gold, IEnumerable<double>? grid = null) =>
        ScopedValue(() =>
        {
            Check(scores, gold);
            return EnergyFs.Metrics.MultilabelMetrics.selectThreshold(grid is null ? EnergyFs.Metrics.MultilabelMetrics.defaultGrid : List(grid), scores, gold).ToValueTuple();
        });
}
