namespace EnergyFs.Learners

open System
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Training
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Implicit

/// How the outer step differentiates through the inner problem.
type HypergradientMethod =
    /// The implicit function theorem with the options' linear solver.
    | ImplicitFunction
    /// Unrolled differentiation through this many gradient steps of this size on ψ (the baseline).
    | Unrolled of steps: int * learningRate: float

/// Options of implicit training of a structured energy.
type ImplicitTrainingOptions =
    { /// Passes over the training examples (counted in inner batches).
      Epochs: int
      /// Examples per batch (inner and outer).
      BatchSize: int
      /// Inner steps on ψ between two outer steps on θ.
      InnerSteps: int
      /// Optimizer of the inference network ψ (inner problem).
      InnerOptimizer: OptimizerOptions
      /// Optimizer of the energy θ (outer problem).
      OuterOptimizer: OptimizerOptions
      /// τ, weight of the entropy term in the inner objective (> 0: penalty; < 0: smoothing).
      EntropyWeight: float
      /// λ, weight of ‖ψ − ψ₀‖² in the inner objective (it also conditions the inner Hessian).
      PullWeight: float
      /// Implicit (default) or unrolled hypergradients.
      Hypergradient: HypergradientMethod
      /// The linear solver of the implicit hypergradient.
      Solver: LinearSolver
      /// Fail with SolverNotConvergedException when a solve does not converge (otherwise count it
      /// and report the residuals).
      RequireConvergence: bool
      /// Extra optimizer steps of ψ on the last inner batch (the batch whose g the implicit
      /// function theorem differentiates) right before the hypergradient, so that ψ is closer to a
      /// stationary point of that g (0: none, the original warm-started schedule).
      RefineSteps: int
      /// Seed of the batch order.
      Seed: int64
      /// The energy E_θ(F(x), ȳ) whose parameters θ are trained (default `StructuredEnergy.spen`).
      Energy: StructuredEnergy
      /// The output structure: the inference network (an MLP with sigmoid outputs, or a BiLSTM
      /// tagger with per-position softmax outputs), its entropy and the outer loss (binary
      /// cross-entropy, or cross-entropy per real token); default `StructuredOutputs.multilabel`.
      Outputs: StructuredOutputs }

/// Linear-solver statistics over a run of implicit training.
type SolverStatistics =
    { /// Number of hypergradients computed.
      Solves: int
      /// How many of them did not reach the solver's tolerance.
      NotConverged: int
      /// Mean relative residual ‖Hz − b‖/‖b‖.
      MeanRelativeResidual: float
      /// Largest relative residual.
      MaxRelativeResidual: float
      /// Hessian-vector products spent in total.
      HvpCount: int
      /// Mean inner residual ‖∇_ψ g(θ, ψ)‖ at the points where hypergradients were taken (the
      /// implicit function theorem assumes 0).
      MeanInnerGradientNorm: float
      /// Largest inner residual ‖∇_ψ g(θ, ψ)‖.
      MaxInnerGradientNorm: float
      /// Mean of ‖∇_ψ g‖ at the hypergradient over ‖∇_ψ g‖ at the first inner step of the same
      /// outer step (how much the inner steps reduced the inner residual; < 1 is progress).
      MeanInnerGradientRatio: float }

/// Implicit training of an energy model for structured prediction (Shankar & Piratla 2022, arXiv
/// 2211.11649, §3): the bilevel problem
///   min_θ  mean_{(x,y) ∈ held-out batch} ℓ(A_{ψ*(θ)}(x), y)
///   s.t.   ψ*(θ) = argmin_ψ mean_x E_θ(x, A_ψ(x)) + τ H(A_ψ(x)) + λ‖ψ − ψ₀‖²,
/// with ℓ the binary cross-entropy (for label sequences the cross-entropy per real token, still
/// reported as "outer_bce"). The inner problem is approximately solved by `InnerSteps`
/// optimizer steps on ψ (warm-started across outer steps); θ then follows the implicit hypergradient
/// −∂²g/∂θ∂ψ [∂²g/∂ψ²]⁻¹ ∇_ψ L (Hypergradient.implicit) computed on the last inner batch for g and
/// on a different batch for L.
[<RequireQualifiedAccess>]
module ImplicitStructured =

    /// 20 epochs, batch 32, 5 inner steps, Adam 1e-4 (ψ) and 1e-3 (θ), τ = 0, λ = 1e-2,
    /// Neumann series with 10 terms and α = 0.1, failures counted, no refinement steps, the SPEN
    /// energy.
    let defaults =
        { Epochs = 20; BatchSize = 32; InnerSteps = 5; InnerOptimizer = OptimizerOptions.adam 1e-4; OuterOptimizer = OptimizerOptions.adam 1e-3
          EntropyWeight = 0.0; PullWeight = 1e-2; Hypergradient = ImplicitFunction
          Solver = LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = 10; Alpha = 0.1 }
          RequireConvergence = false; RefineSteps = 0; Seed = 0L; Energy = StructuredEnergy.spen; Outputs = StructuredOutputs.multilabel }

    /// Label-sequence training: a BiLSTM tagger as the inference network A_ψ
    /// (`StructuredOutputs.sequence`), the cross-entropy per real token as the outer loss, and the
    /// given energy (for example `SequenceEnergy.structured`).
    let sequence (energy: StructuredEnergy) = { defaults with Energy = energy; Outputs = StructuredOutputs.sequence }

    /// A well-posed inner problem for the implicit function theorem: the pull λ‖ψ − ψ₀‖² toward
    /// the pretrained weights with λ = `pull` adds 2λI to the inner Hessian (Shankar & Piratla's
    /// regularised inner problem allows it), `refine` extra inner steps on the differentiated batch,
    /// and conjugate gradient (K = `iterations`, relative tolerance 1e-2) on H + δI with δ = 2λ as a
    /// guard against the remaining negative curvature of the energy term.
    let wellPosed (pull: float) (refine: int) (iterations: int) (options: ImplicitTrainingOptions) =
        Checks.nonNegative "pull" pull
        { options with
            PullWeight = pull; RefineSteps = refine
            Solver = LinearSolvers.damped (2.0 * pull) (LinearSolvers.conjugateGradient { LinearSolvers.cgDefaults with Iterations = iterations; Tolerance = 1e-2 }) }

    /// ‖∇_ψ g(θ, ψ)‖ over all blocks of ψ: the inner residual.
    let innerGradientNorm (g: Tensor list -> Tensor list -> Tensor) (theta: Tensor list) (psi: Tensor list) : float =
        Scope.run (fun () ->
            let ps = psi |> List.map (fun p -> p.detach().requires_grad_ true)
            let th = theta |> List.map Tensor.detach
            let gs = Diff.gradients { GradientOptions.defaults with Unused = ZerosForUnused } (g th ps) ps
            gs |> Seq.sumBy (fun t -> Tensor.toScalar (Tensor.sum (Tensor.square t))) |> sqrt)

    /// The inner objective g(θ, ψ) on a batch.
    let innerObjective (options: ImplicitTrainingOptions) (psi0: Tensor list) (b: LabelledExamples) (theta: Tensor list) (psi: Tensor list) =
        StructuredOutputs.networkObjective options.Outputs options.EntropyWeight options.PullWeight psi0 b.Mask
            (options.Energy.Energy theta b.Features b.Mask) psi b.Inputs

    /// The outer loss L(ψ) on a batch for the given output structure: the supervised loss of the
    /// network's scores against y (mean binary cross-entropy for multilabel outputs, cross-entropy
    /// per real token for sequences).
    let outerLossOf (outputs: StructuredOutputs) (b: LabelledExamples) (_theta: Tensor list) (psi: Tensor list) =
        outputs.LogitLoss b.Mask (outputs.Network psi b.Mask b.Inputs) b.Labels

    /// The multilabel outer loss L(ψ) on a batch: mean binary cross-entropy of A_ψ(x) against y.
    let outerLoss (b: LabelledExamples) (theta: Tensor list) (psi: Tensor list) =
        outerLossOf StructuredOutputs.multilabel b theta psi

    /// The bilevel problem of one outer step: g on the inner batch, L on the outer batch.
    let problem (options: ImplicitTrainingOptions) (psi0: Tensor list) (inner: LabelledExamples) (outer: LabelledExamples) : BilevelProblem =
        { Inner = innerObjective options psi0 inner; Outer = outerLossOf options.Outputs outer }

    /// One outer step's batches: the inner batches (InnerSteps of them, fewer at the end of an
    /// epoch) and the outer batch, as row indices.
    type OuterStepBatches =
        { /// Index batches of the inner steps on ψ (the last one is the g that is differentiated).
          Inner: Tensor list
          /// Index batch of the outer loss L (one the inner steps did not see).
          Outer: Tensor }

    /// The outer steps of an epoch from its shuffled index batches b₀ … b_{m−1}: step s takes the
    /// inner batches b_i … b_{i+K−1} (those that exist), i = s(K + 1), and the outer batch b_{i+K}
    /// (b_{(i + m/2) mod m} past the end).
    let outerSteps (innerSteps: int) (batches: Tensor[]) : seq<OuterStepBatches> =
        seq {
            let mutable i = 0
            while i < batches.Length do
                let inner = [ for k in 0 .. innerSteps - 1 do if i + k < batches.Length then batches[i + k] ]
                let j = i + innerSteps
                yield { Inner = inner; Outer = batches[if j < batches.Length then j else (i + batches.Length / 2) % batches.Length] }
                i <- i + innerSteps + 1
        }

    /// Running solver statistics of a run, updated by the steps.
    type private Tally =
        { mutable Solves: int; mutable NotConverged: int; mutable Hvps: int
          mutable SumResidual: float; mutable MaxResidual: float
          mutable SumInner: float; mutable MaxInner: float; mutable SumRatio: float; mutable InnerCount: int
          mutable EpochMaxResidual: float; mutable EpochMaxInner: float }

    let private statistics (t: Tally) : SolverStatistics =
        { Solves = t.Solves; NotConverged = t.NotConverged; HvpCount = t.Hvps
          MeanRelativeResidual = (if t.Solves > 0 then t.SumResidual / float t.Solves else nan); MaxRelativeResidual = t.MaxResidual
          MeanInnerGradientNorm = (if t.InnerCount > 0 then t.SumInner / float t.InnerCount else nan); MaxInnerGradientNorm = t.MaxInner
          MeanInnerGradientRatio = (if t.InnerCount > 0 then t.SumRatio / float t.InnerCount else nan) }

    /// One outer step: InnerSteps (+ RefineSteps) optimizer steps of ψ on g (warm start), then the
    /// hypergradient of L on θ and one optimizer step of θ. Returns the step's metrics.
    let private outerStep (options: ImplicitTrainingOptions) (psi0: Tensor list) (data: LabelledExamples) (tally: Tally)
                          (th: Tensor list) (ps: Tensor list) (ctx: StepContext) (b: OuterStepBatches) =
        // Inner: InnerSteps steps of ψ on the energy (warm start).
        let mutable last = Structured.select b.Inner.Head data
        let startNorm = innerGradientNorm (innerObjective options psi0 last) th ps
        for idx in b.Inner do
            last <- Structured.select idx data
            Step.descend ctx "psi" (innerObjective options psi0 last th ps) |> ignore
        for _ in 1 .. options.RefineSteps do
            Step.descend ctx "psi" (innerObjective options psi0 last th ps) |> ignore
        let endNorm = innerGradientNorm (innerObjective options psi0 last) th ps
        tally.SumInner <- tally.SumInner + endNorm
        tally.MaxInner <- max tally.MaxInner endNorm
        tally.EpochMaxInner <- max tally.EpochMaxInner endNorm
        if startNorm > 0.0 then tally.SumRatio <- tally.SumRatio + endNorm / startNorm
        tally.InnerCount <- tally.InnerCount + 1
        // Outer: a batch the inner steps did not see.
        let outer = Structured.select b.Outer data
        let r =
            match options.Hypergradient with
            | ImplicitFunction -> Hypergradient.implicit options.Solver (problem options psi0 last outer) th ps
            | Unrolled (steps, lr) ->
                let r, psiT = Hypergradient.unrolled steps lr (problem options psi0 last outer) th ps
                Scope.disposeAll psiT
                r
        match r.Diagnostics with
        | Some d ->
            tally.Solves <- tally.Solves + 1
            tally.Hvps <- tally.Hvps + d.HvpCount
            if not d.Converged then
                tally.NotConverged <- tally.NotConverged + 1
                if options.RequireConvergence then LinearSolvers.requireConverged d
            if Double.IsFinite d.RelativeResidual then
                tally.SumResidual <- tally.SumResidual + d.RelativeResidual
                tally.MaxResidual <- max tally.MaxResidual d.RelativeResidual
                tally.EpochMaxResidual <- max tally.EpochMaxResidual d.RelativeResidual
        | None -> ()
        Step.zeroGrad ctx "theta"
        Hypergradient.accumulateInto th r.Gradient
        let norm = Step.update ctx "theta"
        [ "outer_bce", r.OuterLoss; "grad_norm", norm; "inner_residual", endNorm ]

    let private stepTask (options: ImplicitTrainingOptions) (validate: unit -> float) (psi0: Tensor list) (tally: Tally)
                         (theta: Parameter list) (psi: Parameter list) (data: LabelledExamples) : StepTask<OuterStepBatches> =
        let th, ps = Structured.tensors theta, Structured.tensors psi
        let n = Structured.count data
        let perEpoch = Batches.count options.BatchSize n
        { Groups = [ ParameterGroup.ofParameters "theta" options.OuterOptimizer theta; ParameterGroup.ofParameters "psi" options.InnerOptimizer psi ]
          Batches =
            fun rng _ ->
                seq {
                    let batches = Batches.shuffled rng data.Labels.device options.BatchSize n |> Array.ofSeq
                    yield! outerSteps options.InnerSteps batches
                }
          BatchesPerEpoch = (perEpoch + options.InnerSteps) / (options.InnerSteps + 1)
          Step = outerStep options psi0 data tally th ps
          Validate = Structured.validation validate
          ValidateStart = false }

    /// Trains θ (energy) and ψ (inference network) in place under explicit fit options (one fit
    /// step is one outer step; checkpoints hold θ, ψ and both optimizers, but not the solver
    /// statistics, which count from the call); `progress` receives (fraction done, description)
    /// after each epoch, and a warning when linear solves did not converge. Returns the run and
    /// the solver statistics.
    let fit (fit: FitOptions) (options: ImplicitTrainingOptions) (validate: unit -> float) (progress: float * string -> unit)
            (theta: Parameter list) (psi: Parameter list) (data: LabelledExamples) : FitResult * SolverStatistics =
        Checks.positiveInt "Epochs" fit.Epochs
        Checks.positiveInt "InnerSteps" options.InnerSteps
        Checks.nonNegative "PullWeight" options.PullWeight
        if options.RefineSteps < 0 then invalidArg "RefineSteps" (sprintf "RefineSteps must be ≥ 0, got %d" options.RefineSteps)
        Structured.check "data" data
        let tally =
            { Solves = 0; NotConverged = 0; Hvps = 0; SumResidual = 0.0; MaxResidual = 0.0
              SumInner = 0.0; MaxInner = 0.0; SumRatio = 0.0; InnerCount = 0; EpochMaxResidual = 0.0; EpochMaxInner = 0.0 }
        let mutable solvesBefore, failuresBefore = 0, 0
        let warn epoch _ =
            if tally.NotConverged > failuresBefore then
                progress (float (epoch + 1) / float fit.Epochs,
                          sprintf "warning: epoch %d: %d of %d linear solves did not converge (largest relative residual %.3e; largest inner residual ‖∇ψ g‖ %.3e): the implicit hypergradient is approximate"
                              (epoch + 1) (tally.NotConverged - failuresBefore) (tally.Solves - solvesBefore) tally.EpochMaxResidual tally.EpochMaxInner)
            solvesBefore <- tally.Solves
            failuresBefore <- tally.NotConverged
            tally.EpochMaxResidual <- 0.0
            tally.EpochMaxInner <- 0.0
        let describe epoch row =
            sprintf "epoch %d  outer BCE %.4f  dev %.4f" epoch (Structured.value "outer_bce" row) (Structured.value "validation" row)
        let withText = Structured.withEpochText progress describe fit
        let options' = { withText with Monitor = { withText.Monitor with OnEpoch = fun epoch row -> withText.Monitor.OnEpoch epoch row; warn epoch row } }
        let psi0 = Snapshot.take psi
        try
            let result = Fit.runSteps options' (stepTask options validate psi0 tally theta psi data)
            result, statistics tally
        finally
            Scope.disposeAll psi0

    /// Trains θ (energy) and ψ (inference network) in place; `validate` scores (θ, ψ) after each
    /// epoch and the best pair is restored. Returns the epochs and the solver statistics.
    let train (options: ImplicitTrainingOptions) (validate: unit -> float) (progress: float * string -> unit)
              (theta: Parameter list) (psi: Parameter list) (data: LabelledExamples) : EpochRecord list * SolverStatistics =
        Checks.positiveInt "Epochs" options.Epochs
        let result, stats = fit (Structured.fitOptions options.Epochs options.Seed true) options validate progress theta psi data
        Structured.records "outer_bce" result, stats
