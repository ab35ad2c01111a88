using System.Text.Json.Nodes;
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

/// <summary>Options of <see cref="ImplicitTrainer"/>; the defaults are those of the F# <c>ImplicitStructured.defaults</c>
/// (20 epochs, batch 32, 5 inner steps, Adam 1e-4 for ψ and 1e-3 for θ, τ = 0, λ = 1e-2, Neumann series with 10 terms
/// and α = 0.1, the SPEN energy), with an inference network of two hidden layers of 150 units (the bibtex experiment's
/// feature network) when <see cref="ImplicitTrainer"/> builds one, on the CPU in float32.</summary>
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
    /// <summary>The energy E_θ(F(x), ȳ) that <see cref="ImplicitTrainer.Fit(StructuredExamples, StructuredExamples?, IProgress{TrainingEpoch}?, CancellationToken)"/>
    /// creates and trains (default <see cref="SpenEnergy"/> with 16 hidden units); any <see cref="IStructuredEnergy"/> of
    /// your own works. When Fit starts from a given <see cref="StructuredEnergyModel"/>, that model's energy is used.</summary>
    public IStructuredEnergy Energy { get; init; } = new SpenEnergy();
    /// <summary>Hidden layer widths of the inference network A_ψ that Fit creates (default [150, 150]; empty: a linear
    /// network followed by the sigmoid).</summary>
    public IReadOnlyList<int> NetworkHidden { get; init; } = new[] { 150, 150 };
    /// <summary>Seed of the initialisation of θ and ψ (when Fit creates them) and of the batch order (default 0).</summary>
    public long Seed { get; init; } = Defaults.Seed;
    /// <summary>Where Fit creates θ and ψ and trains (default <see cref="DeviceContext.Cpu"/>); the examples are moved to
    /// it (or to the given starting models' device and type).</summary>
    public DeviceContext Context { get; init; } = DeviceContext.Cpu;

    internal EnergyFs.Learners.ImplicitTrainingOptions ToFSharp(EnergyFs.Energies.StructuredEnergy energy)
    {
        Positive(Epochs, nameof(Epochs));
        Positive(BatchSize, nameof(BatchSize));
        Positive(InnerSteps, nameof(InnerSteps));
        Positive(InnerLearningRate, nameof(InnerLearningRate));
        Positive(OuterLearningRate, nameof(OuterLearningRate));
        if (!double.IsFinite(EntropyWeight)) throw new ArgumentOutOfRangeException(nameof(EntropyWeight), EntropyWeight, "EntropyWeight must be finite");
        if (!(PullWeight >= 0 && double.IsFinite(PullWeight))) throw new ArgumentOutOfRangeException(nameof(PullWeight), PullWeight, "PullWeight must be finite and ≥ 0");
        var method = UnrolledSteps is int k
            ? HypergradientMethod.NewUnrolled(Positive(k, nameof(UnrolledSteps)), Positive(UnrolledLearningRate, nameof(UnrolledLearningRate)))
            : HypergradientMethod.ImplicitFunction;
        return new EnergyFs.Learners.ImplicitTrainingOptions(Epochs, BatchSize, InnerSteps,
            EnergyFs.Training.OptimizerOptionsModule.adam(InnerLearningRate), EnergyFs.Training.OptimizerOptionsModule.adam(OuterLearningRate),
            EntropyWeight, PullWeight, method, Solver?.Build() ?? Defaults.Solver, Solver?.RequireConvergence ?? Defaults.RequireConvergence, Defaults.RefineSteps, Seed,
            energy, Defaults.Outputs);
    }

    internal EnergyFs.Learners.ImplicitTrainingOptions ToFSharp() => ToFSharp(StructuredEnergyAdapter.ToFSharp(NotNull(Energy, nameof(Energy))));

    /// <summary>The layer widths of the inference network Fit creates: inputs, <see cref="NetworkHidden"/>, labels.</summary>
    internal int[] NetworkLayers(int inputs, int labels)
    {
        NotNull(NetworkHidden, nameof(NetworkHidden));
        foreach (var h in NetworkHidden)
            if (h <= 0) throw new ArgumentOutOfRangeException(nameof(NetworkHidden), h, $"every hidden width must be positive, got [{string.Join(", ", NetworkHidden)}]");
        return new[] { inputs }.Concat(NetworkHidden).Append(labels).ToArray();
    }

    /// <summary>The scalar options as a JSON object (for saved models; the energy and the context are stored apart).</summary>
    internal JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["epochs"] = Epochs, ["batchSize"] = BatchSize, ["innerSteps"] = InnerSteps,
            ["innerLearningRate"] = StructuredFiles.Number(InnerLearningRate), ["outerLearningRate"] = StructuredFiles.Number(OuterLearningRate),
            ["entropyWeight"] = StructuredFiles.Number(EntropyWeight), ["pullWeight"] = StructuredFiles.Number(PullWeight),
            ["unrolledSteps"] = UnrolledSteps, ["unrolledLearningRate"] = StructuredFiles.Number(UnrolledLearningRate),
            ["networkHidden"] = new JsonArray(NetworkHidden.Select(h => (JsonNode?)h).ToArray()), ["seed"] = Seed,
        };
        if (Solver is { } s)
            o["solver"] = new JsonObject
            {
                ["kind"] = s.Kind.ToString(), ["iterations"] = s.Iterations, ["alpha"] = StructuredFiles.Number(s.Alpha),
                ["tolerance"] = StructuredFiles.Number(s.Tolerance), ["damping"] = StructuredFiles.Number(s.Damping),
                ["requireConvergence"] = s.RequireConvergence,
            };
        return o;
    }

    /// <summary>The options written by <see cref="ToJson"/>, with the energy and context of the loaded model.</summary>
    internal static ImplicitTrainingOptions FromJson(string path, JsonObject o, IStructuredEnergy energy, DeviceContext context) =>
        StructuredFiles.Read(path, "options", () =>
        {
            var solver = o["solver"] as JsonObject;
            return new ImplicitTrainingOptions
            {
                Epochs = SavedModels.Int(path, o, "epochs"), BatchSize = SavedModels.Int(path, o, "batchSize"), InnerSteps = SavedModels.Int(path, o, "innerSteps"),
                InnerLearningRate = StructuredFiles.ReadNumber(path, o, "innerLearningRate"), OuterLearningRate = StructuredFiles.ReadNumber(path, o, "outerLearningRate"),
                EntropyWeight = StructuredFiles.ReadNumber(path, o, "entropyWeight"), PullWeight = StructuredFiles.ReadNumber(path, o, "pullWeight"),
                UnrolledSteps = o["unrolledSteps"]?.GetValue<int>(), UnrolledLearningRate = StructuredFiles.ReadNumber(path, o, "unrolledLearningRate"),
                NetworkHidden = StructuredFiles.IntArray(path, o, "networkHidden"), Seed = o["seed"]?.GetValue<long>() ?? 0L,
                Energy = energy, Context = context,
                Solver = solver is null ? null : new LinearSolverOptions
                {
                    Kind = Enum.Parse<LinearSolverKind>(SavedModels.Text(path, solver, "kind")), Iterations = SavedModels.Int(path, solver, "iterations"),
                    Alpha = StructuredFiles.ReadNumber(path, solver, "alpha"), Tolerance = StructuredFiles.ReadNumber(path, solver, "tolerance"),
                    Damping = StructuredFiles.ReadNumber(path, solver, "damping"), RequireConvergence = solver["requireConvergence"]?.GetValue<bool>() ?? false,
                },
            };
        });
}

/// <summary>What the linear solves of an implicit training run did (the implicit function theorem assumes an exact inner
/// optimum and an exact solve; these say how far from that the run was).</summary>
/// <param name="Solves">Hypergradients computed by a linear solve (0 for unrolled hypergradients).</param>
/// <param name="NotConverged">How many solves did not reach the solver's tolerance.</param>
/// <param name="MeanRelativeResidual">Mean ‖Hz − b‖/‖b‖ (NaN without solves).</param>
/// <param name="MaxRelativeResidual">Largest ‖Hz − b‖/‖b‖.</param>
/// <param name="HvpCount">Hessian-vector products spent in total.</param>
/// <param name="MeanInnerGradientNorm">Mean inner residual ‖∇_ψ g(θ, ψ)‖ where the hypergradients were taken (0 at an
/// exact inner optimum).</param>
public sealed record HypergradientStatistics(int Solves, int NotConverged, double MeanRelativeResidual, double MaxRelativeResidual,
                                             int HvpCount, double MeanInnerGradientNorm)
{
    internal static HypergradientStatistics Of(EnergyFs.Learners.SolverStatistics s) =>
        new(s.Solves, s.NotConverged, s.MeanRelativeResidual, s.MaxRelativeResidual, s.HvpCount, s.MeanInnerGradientNorm);

    internal JsonObject ToJson() => new()
    {
        ["solves"] = Solves, ["notConverged"] = NotConverged, ["meanRelativeResidual"] = StructuredFiles.Number(MeanRelativeResidual),
        ["maxRelativeResidual"] = StructuredFiles.Number(MaxRelativeResidual), ["hvpCount"] = HvpCount,
        ["meanInnerGradientNorm"] = StructuredFiles.Number(MeanInnerGradientNorm),
    };

    internal static HypergradientStatistics FromJson(string path, JsonObject o) =>
        new(SavedModels.Int(path, o, "solves"), SavedModels.Int(path, o, "notConverged"), StructuredFiles.ReadNumber(path, o, "meanRelativeResidual"),
            StructuredFiles.ReadNumber(path, o, "maxRelativeResidual"), SavedModels.Int(path, o, "hvpCount"), StructuredFiles.ReadNumber(path, o, "meanInnerGradientNorm"));
}

/// <summary>Implicit training of structured energy models (Shankar &amp; Piratla 2022, "Implicit Training of Energy Model
/// for Structure Prediction", arXiv 2211.11649): the bilevel problem min_θ L(θ, ψ*(θ)), ψ*(θ) = argmin_ψ g(θ, ψ), whose
/// hypergradient by the implicit function theorem is dL/dθ = ∂L/∂θ − ∂²g/∂θ∂ψ [∂²g/∂ψ²]⁻¹ ∇_ψL, with the inverse
/// applied by a linear solver (CG or a Neumann series). An estimator: <c>new ImplicitTrainer(options).Fit(train,
/// validation)</c> trains an energy θ (the SPEN or your own <see cref="IStructuredEnergy"/>) and an inference network ψ
/// and returns them as a <see cref="StructuredModel"/>; the static functions are the building blocks (hypergradients,
/// linear solves). Holds only its options (no native memory).</summary>
public sealed class ImplicitTrainer
{
    /// <summary>A trainer with <paramref name="options"/> (default: <see cref="ImplicitTrainingOptions"/>'s defaults).</summary>
    /// <param name="options">Epochs, batch size, steps, learning rates, weights, solver, energy, network, seed and device.</param>
    public ImplicitTrainer(ImplicitTrainingOptions? options = null) => Options = options ?? new ImplicitTrainingOptions();

    /// <summary>The training settings.</summary>
    public ImplicitTrainingOptions Options { get; }

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

    /// <summary>Trains a new energy (<see cref="ImplicitTrainingOptions.Energy"/>, θ drawn from the seed) and a new
    /// inference network (<see cref="ImplicitTrainingOptions.NetworkHidden"/>) by implicit training (arXiv 2211.11649):
    /// InnerSteps Adam steps of ψ on g = mean E_θ(x, A_ψ(x)) + τH(A_ψ(x)) + λ‖ψ − ψ₀‖², then one Adam step of θ along the
    /// implicit hypergradient of the binary cross-entropy of A_ψ(x) on a batch the inner steps did not see. With
    /// <paramref name="validation"/>, each epoch is scored by the example F1 of A_ψ on it (at its best threshold, the
    /// "validation" column of the history), the best epoch's parameters are kept and the model's threshold is chosen on
    /// it; otherwise the last epoch is kept and the threshold is 0.5. Mismatched or non-finite examples throw
    /// ArgumentException; cancelling throws OperationCanceledException at the next step (nothing is returned and what
    /// the fit built is freed); a diverged run, or a linear solve that does not converge under
    /// <see cref="LinearSolverOptions.RequireConvergence"/>, throws InvalidOperationException.</summary>
    /// <param name="train">The training examples (inputs, features, 0/1 labels).</param>
    /// <param name="validation">Development examples for model selection, or null.</param>
    /// <param name="progress">Receives one <see cref="TrainingEpoch"/> per epoch (its metrics: outer_bce, grad_norm,
    /// inner_residual, lr, seconds, validation), or null.</param>
    /// <param name="cancellationToken">Cancels the fit.</param>
    public StructuredModel Fit(StructuredExamples train, StructuredExamples? validation = null,
                               IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        NotNull(train);
        train.CheckShapes(nameof(train));
        var o = Options;
        var labels = (int)train.Labels.shape[1];
        var layers = o.NetworkLayers((int)train.Inputs.shape[1], labels);
        var context = NotNull(o.Context, nameof(o.Context));
        using var rng = new RandomGenerator(o.Seed, context);
        var energy = new StructuredEnergyModel(NotNull(o.Energy, nameof(o.Energy)), labels, (int)train.Features.shape[1], rng, context);
        InferenceNetwork network;
        try { network = new InferenceNetwork(layers, rng, context); }
        catch { energy.Dispose(); throw; }
        return Train(energy, network, train, validation, progress, cancellationToken);
    }

    /// <summary>Trains copies of a starting energy and inference network (for example a SPEN whose local term comes from
    /// a pretrained classifier and a network initialised from that classifier, as in the paper); the given models are
    /// not modified, and the energy's own <see cref="StructuredEnergyModel.Definition"/> is trained (not
    /// <see cref="ImplicitTrainingOptions.Energy"/>). The rest is as
    /// <see cref="Fit(StructuredExamples, StructuredExamples?, IProgress{TrainingEpoch}?, CancellationToken)"/>.</summary>
    /// <param name="energy">The starting energy θ₀.</param>
    /// <param name="network">The starting inference network ψ₀ (also the target of the pull λ‖ψ − ψ₀‖²).</param>
    /// <param name="train">The training examples.</param>
    /// <param name="validation">Development examples for model selection, or null.</param>
    /// <param name="progress">Receives one <see cref="TrainingEpoch"/> per epoch, or null.</param>
    /// <param name="cancellationToken">Cancels the fit.</param>
    public StructuredModel Fit(StructuredEnergyModel energy, InferenceNetwork network, StructuredExamples train, StructuredExamples? validation = null,
                               IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        NotNull(energy);
        NotNull(network);
        NotNull(train);
        var e = energy.Copy();
        InferenceNetwork n;
        try { n = network.Copy(); }
        catch { e.Dispose(); throw; }
        return Train(e, n, train, validation, progress, cancellationToken);
    }

    /// <summary>The same as <see cref="Fit(StructuredExamples, StructuredExamples?, IProgress{TrainingEpoch}?, CancellationToken)"/>
    /// on rows of doubles (converted to <see cref="ImplicitTrainingOptions.Context"/>'s device and type). Ragged,
    /// mismatched or non-finite rows throw ArgumentException naming the argument, row and column.</summary>
    /// <param name="train">The training rows.</param>
    /// <param name="validation">Development rows for model selection, or null.</param>
    /// <param name="progress">Receives one <see cref="TrainingEpoch"/> per epoch, or null.</param>
    /// <param name="cancellationToken">Cancels the fit.</param>
    public StructuredModel Fit(StructuredRows train, StructuredRows? validation = null,
                               IProgress<TrainingEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        NotNull(train);
        var context = NotNull(Options.Context, nameof(Options.Context));
        // The tensors made from the rows are this call's: freed on return (the model holds copies of nothing of them).
        var owned = new List<torch.Tensor>();
        try
        {
            var t = train.ToExamples(context, nameof(train), owned);
            var v = validation?.ToExamples(context, nameof(validation), owned);
            return Fit(t, v, progress, cancellationToken);
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    // Trains θ and ψ (owned by the call until the model is returned; freed when anything fails or is cancelled).
    private StructuredModel Train(StructuredEnergyModel energy, InferenceNetwork network, StructuredExamples train, StructuredExamples? validation,
                                  IProgress<TrainingEpoch>? progress, CancellationToken cancellationToken)
    {
        try
        {
            train.Check(energy, network, nameof(train));
            validation?.Check(energy, network, nameof(validation));
            var o = Options;
            var fsOptions = o.ToFSharp(energy.Library);
            var context = energy.Context;
            var (result, stats, threshold) = ScopedValue(() =>
            {
                var data = train.On(context);
                var dev = validation?.On(context);
                var psi = network.Inner;
                double Score() => StructuredModel.SelectThreshold(psi, dev!).F1;
                var validate = FuncConvert.FromFunc<Unit, double>(_ => dev is null ? double.NaN : Score());
                var fit = Structured.withMonitor(Monitor(progress, cancellationToken, o.Epochs),
                                                 Structured.fitOptions(o.Epochs, o.Seed, dev is not null));
                var noText = FuncConvert.FromAction<Tuple<double, string>>(_ => { });
                var examples = Structured.multilabel(data.Inputs, data.Features, data.Labels);
                var (r, s) = Guard(() =>
                {
                    try { return ImplicitStructured.fit(fit, fsOptions, validate, noText, energy.Inner, psi, examples).ToValueTuple(); }
                    catch (SolverNotConvergedException e) { throw new InvalidOperationException(e.Message + " (LinearSolverOptions.RequireConvergence is set)"); }
                });
                var chosen = dev is null ? 0.5 : StructuredModel.SelectThreshold(psi, dev).Threshold;
                return (r, s, chosen);
            });
            var best = validation is null ? (int?)null : result.State.BestEpoch + 1;
            var history = new TrainingHistory(result.History.Columns.ToArray(), result.History.Rows.Select(r => r.ToArray()).ToArray(),
                                              best, result.Stopped.IsEarlyStopped);
            return new StructuredModel(energy, network, o with { Energy = energy.Definition, Context = context }, history, threshold,
                                       HypergradientStatistics.Of(stats));
        }
        catch
        {
            energy.Dispose();
            network.Dispose();
            throw;
        }
    }
}

/// <summary>Multilabel examples for structured training: raw inputs x (read by inference networks), features F(x) (read by
/// the energy's local term) and gold labels y ∈ {0,1}ᴸ, row-aligned. The tensors stay the caller's (not disposed here).</summary>
/// <param name="Inputs">Raw inputs x [n, d].</param>
/// <param name="Features">Features F(x) [n, featureDim] (the inputs themselves when there is no feature network).</param>
/// <param name="Labels">Gold labels [n, L] of 0/1 values.</param>
public sealed record StructuredExamples(torch.Tensor Inputs, torch.Tensor Features, torch.Tensor Labels)
{
    /// <summary>Ranks, row counts and finiteness, the names prefixed by <paramref name="name"/>.</summary>
    internal void CheckShapes(string name)
    {
        Rank(Inputs, 2, "inputs [n, d]", $"{name}.{nameof(Inputs)}");
        Rank(Features, 2, "features [n, featureDim]", $"{name}.{nameof(Features)}");
        Rank(Labels, 2, "labels [n, L]", $"{name}.{nameof(Labels)}");
        SameRows(Inputs, Labels, $"{name}.{nameof(Inputs)}", $"{name}.{nameof(Labels)}");
        SameRows(Features, Labels, $"{name}.{nameof(Features)}", $"{name}.{nameof(Labels)}");
        if (Labels.shape[0] == 0) throw new ArgumentException($"{name} has no examples", $"{name}.{nameof(Labels)}");
        Finite(Inputs, $"{name}.{nameof(Inputs)}");
        Finite(Features, $"{name}.{nameof(Features)}");
        Finite(Labels, $"{name}.{nameof(Labels)}");
    }

    /// <summary><see cref="CheckShapes"/> and the widths the energy and the network expect.</summary>
    internal void Check(StructuredEnergyModel energy, InferenceNetwork network, string name)
    {
        CheckShapes(name);
        if (Labels.shape[1] != energy.Labels)
            throw new ArgumentException($"{name}.Labels {Shape(Labels)} must have {energy.Labels} columns, the energy's label count", $"{name}.{nameof(Labels)}");
        if (Features.shape[1] != energy.FeatureDim)
            throw new ArgumentException($"{name}.Features {Shape(Features)} must have {energy.FeatureDim} columns, the energy's feature dimension", $"{name}.{nameof(Features)}");
        if (Inputs.shape[1] != network.Inputs)
            throw new ArgumentException($"{name}.Inputs {Shape(Inputs)} must have {network.Inputs} columns, the inference network's input width", $"{name}.{nameof(Inputs)}");
        if (network.Outputs != energy.Labels)
            throw new ArgumentException($"the inference network has {network.Outputs} outputs but the energy has {energy.Labels} labels", nameof(network));
    }

    /// <summary>The examples in the context's device and type (the same tensors when they already are; new ones in the
    /// current dispose scope otherwise).</summary>
    internal StructuredExamples On(DeviceContext context) =>
        new(Inputs.to(context.DType, context.Device), Features.to(context.DType, context.Device), Labels.to(context.DType, context.Device));
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
