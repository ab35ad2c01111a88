namespace EnergyFs.Learners

open System
open System.Diagnostics
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
      Seed: int64 }

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
/// with ℓ the binary cross-entropy. The inner problem is approximately solved by `InnerSteps`
/// optimizer steps on ψ (warm-started across outer steps); θ then follows the implicit hypergradient
/// −∂²g/∂θ∂ψ [∂²g/∂ψ²]⁻¹ ∇_ψ L (Hypergradient.implicit) computed on the last inner batch for g and
/// on a different batch for L.
[<RequireQualifiedAccess>]
module ImplicitStructured =

    /// 20 epochs, batch 32, 5 inner steps, Adam 1e-4 (ψ) and 1e-3 (θ), τ = 0, λ = 1e-2,
    /// Neumann series with 10 terms and α = 0.1, failures counted, no refinement steps.
    let defaults =
        { Epochs = 20; BatchSize = 32; InnerSteps = 5; InnerOptimizer = OptimizerOptions.adam 1e-4; OuterOptimizer = OptimizerOptions.adam 1e-3
          EntropyWeight = 0.0; PullWeight = 1e-2; Hypergradient = ImplicitFunction
          Solver = LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = 10; Alpha = 0.1 }
          RequireConvergence = false; RefineSteps = 0; Seed = 0L }

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
    let innerObjective (options: ImplicitTrainingOptions) (psi0: Tensor list) (b: MultilabelExamples) (theta: Tensor list) (psi: Tensor list) =
        InferenceNetwork.objective options.EntropyWeight options.PullWeight psi0 (Spen.energy theta b.Features) psi b.Inputs

    /// The outer loss L(ψ) on a batch: mean binary cross-entropy of A_ψ(x) against y.
    let outerLoss (b: MultilabelExamples) (_theta: Tensor list) (psi: Tensor list) =
        torch.nn.functional.binary_cross_entropy_with_logits (Models.FunctionalMlp.forward psi b.Inputs, b.Labels)

    /// The bilevel problem of one outer step: g on the inner batch, L on the outer batch.
    let problem (options: ImplicitTrainingOptions) (psi0: Tensor list) (inner: MultilabelExamples) (outer: MultilabelExamples) : BilevelProblem =
        { Inner = innerObjective options psi0 inner; Outer = outerLoss outer }

    /// Trains θ (energy) and ψ (inference network) in place; `validate` scores (θ, ψ) after each
    /// epoch and the best pair is restored. Returns the epochs and the solver statistics.
    let train (options: ImplicitTrainingOptions) (validate: unit -> float) (progress: float * string -> unit)
              (theta: Parameter list) (psi: Parameter list) (data: MultilabelExamples) : EpochRecord list * SolverStatistics =
        Checks.positiveInt "Epochs" options.Epochs
        Checks.positiveInt "InnerSteps" options.InnerSteps
        Checks.nonNegative "PullWeight" options.PullWeight
        if options.RefineSteps < 0 then invalidArg "RefineSteps" (sprintf "RefineSteps must be ≥ 0, got %d" options.RefineSteps)
        Structured.check "data" data
        use rng = new Rng(options.Seed, data.Labels.device)
        use innerOptimizer = Optimizer.ofParameters options.InnerOptimizer psi
        use outerOptimizer = Optimizer.ofParameters options.OuterOptimizer theta
        use keeper = new BestKeeper(theta @ psi)
        let psi0 = Snapshot.take psi
        let namedPsi, namedTheta = Structured.named "psi" psi, Structured.named "theta" theta
        let th, ps = Structured.tensors theta, Structured.tensors psi
        let n = Structured.count data
        let mutable solves, notConverged, hvps = 0, 0, 0
        let mutable sumResidual, maxResidual = 0.0, 0.0
        let mutable sumInner, maxInner, sumRatio, innerCount = 0.0, 0.0, 0.0, 0
        let records =
            [ for epoch in 1 .. options.Epochs do
                let watch = Stopwatch.StartNew ()
                let batches = Batches.shuffled rng data.Labels.device options.BatchSize n |> Array.ofSeq
                let losses = ResizeArray()
                let solvesBefore, failuresBefore = solves, notConverged
                let mutable epochMaxResidual, epochMaxInner = 0.0, 0.0
                let mutable i = 0
                while i < batches.Length do
                    Scope.run (fun () ->
                        // Inner: InnerSteps steps of ψ on the energy (warm start).
                        let mutable last = Structured.select batches[i] data
                        let startNorm = innerGradientNorm (innerObjective options psi0 last) th ps
                        for k in 0 .. options.InnerSteps - 1 do
                            if i + k < batches.Length then
                                last <- Structured.select batches[i + k] data
                                Structured.step innerOptimizer namedPsi (epoch - 1) (innerObjective options psi0 last th ps) |> ignore
                        for _ in 1 .. options.RefineSteps do
                            Structured.step innerOptimizer namedPsi (epoch - 1) (innerObjective options psi0 last th ps) |> ignore
                        let endNorm = innerGradientNorm (innerObjective options psi0 last) th ps
                        sumInner <- sumInner + endNorm
                        maxInner <- max maxInner endNorm
                        epochMaxInner <- max epochMaxInner endNorm
                        if startNorm > 0.0 then sumRatio <- sumRatio + endNorm / startNorm
                        innerCount <- innerCount + 1
                        // Outer: a batch the inner steps did not see.
                        let j = i + options.InnerSteps
                        let outer = Structured.select batches[if j < batches.Length then j else (i + batches.Length / 2) % batches.Length] data
                        let r =
                            match options.Hypergradient with
                            | ImplicitFunction -> Hypergradient.implicit options.Solver (problem options psi0 last outer) th ps
                            | Unrolled (steps, lr) ->
                                let r, psiT = Hypergradient.unrolled steps lr (problem options psi0 last outer) th ps
                                Scope.disposeAll psiT
                                r
                        match r.Diagnostics with
                        | Some d ->
                            solves <- solves + 1
                            hvps <- hvps + d.HvpCount
                            if not d.Converged then
                                notConverged <- notConverged + 1
                                if options.RequireConvergence then LinearSolvers.requireConverged d
                            if Double.IsFinite d.RelativeResidual then
                                sumResidual <- sumResidual + d.RelativeResidual
                                maxResidual <- max maxResidual d.RelativeResidual
                                epochMaxResidual <- max epochMaxResidual d.RelativeResidual
                        | None -> ()
                        outerOptimizer.ZeroGrad ()
                        Hypergradient.accumulateInto th r.Gradient
                        let norm = outerOptimizer.Step ()
                        Divergence.checkGradients (epoch - 1) outerOptimizer.Steps namedTheta norm
                        losses.Add r.OuterLoss)
                    i <- i + options.InnerSteps + 1
                let score = Scope.run validate
                keeper.Offer score
                let mean = if losses.Count = 0 then nan else Seq.average losses
                progress (float epoch / float options.Epochs, sprintf "epoch %d  outer BCE %.4f  dev %.4f" epoch mean score)
                if notConverged > failuresBefore then
                    progress (float epoch / float options.Epochs,
                              sprintf "warning: epoch %d: %d of %d linear solves did not converge (largest relative residual %.3e; largest inner residual ‖∇ψ g‖ %.3e): the implicit hypergradient is approximate"
                                  epoch (notConverged - failuresBefore) (solves - solvesBefore) epochMaxResidual epochMaxInner)
                yield { Epoch = epoch; Loss = mean; Validation = score; Seconds = watch.Elapsed.TotalSeconds } ]
        keeper.RestoreBest ()
        Scope.disposeAll psi0
        records,
        { Solves = solves; NotConverged = notConverged; HvpCount = hvps
          MeanRelativeResidual = (if solves > 0 then sumResidual / float solves else nan); MaxRelativeResidual = maxResidual
          MeanInnerGradientNorm = (if innerCount > 0 then sumInner / float innerCount else nan); MaxInnerGradientNorm = maxInner
          MeanInnerGradientRatio = (if innerCount > 0 then sumRatio / float innerCount else nan) }
