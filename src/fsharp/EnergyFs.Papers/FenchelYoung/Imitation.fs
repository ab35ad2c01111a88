namespace EnergyFs.Papers.FenchelYoung

open System
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Losses
open EnergyFs.Training

/// Settings of the imitation experiment; start from `ImitationOptions.defaults`.
type ImitationOptions =
    { /// Dynamics, horizon, start, goal and obstacle of the reacher (default `Reacher.defaults`).
      Reacher: ReacherSettings
      /// Expert episodes whose visited (state, action) pairs, `Reacher.Horizon` per episode, form the
      /// training set of both policies (default 64).
      Demonstrations: int
      /// Expert modes: true for a fair coin between going above and below the obstacle (two
      /// equally good modes); false for always above.
      Bimodal: bool
      /// Evaluation episodes, from the same random starts for every policy (default 64).
      Evaluations: int
      /// Training epochs over the demonstration (state, action) pairs, for both the MSE and the
      /// energy policy (no early stopping; default 30).
      Epochs: int
      /// (state, action) pairs per minibatch, reshuffled each epoch (default 256).
      BatchSize: int
      /// Adam learning rate of both policies (default 2e-3).
      LearningRate: float
      /// Hidden units per layer of the MSE policy MLP and of the energy network Φ(s, a) (default 64).
      Hidden: int
      /// Random starts of the inner solver during training (plus the target) and at rollout.
      TrainStarts: int
      /// Random starts of the multi-start projected-gradient solver when the energy policy acts
      /// (plus its previous action as a warm start), run for 3 × `Inner.MaxIterations` (default 8).
      RolloutStarts: int
      /// The energy network: 0 for the MLP energy Φ(s, p) = MLP([s, p]); M > 0 for the mixture
      /// energy with M modes (`MixtureEnergyNet`).
      Modes: int
      /// Mode persistence at rollout: from the second step on, the policy keeps the local maximum
      /// reached from its previous action unless the multi-start maximum is better by more than this
      /// margin (in units of Φ − Ω); 0 always takes the multi-start maximum.
      SwitchMargin: float
      /// Weight λ of the regularizer Ω(p) = (λ/2)‖p − c‖² on p = (a + 1)/2 ∈ [0, 1]² (64 by default;
      /// 1 is the plain `SquaredNorm.box`). For a neural Φ the generalized FY loss bounds the argmax
      /// error only through λ (L ≥ (λ/2)‖p̂ − y‖² for Φ concave in p): with λ = 1 the landscape
      /// Φ − Ω is too flat, the actions are imprecise and the bimodal policy stalls before the
      /// via-point (docs/papers/fenchel-young.md, imitation diagnosis).
      RegularizerWeight: float
      /// Centre c (every coordinate) of the regularizer: 0 (default, Ω = ½‖p‖², which pulls the
      /// action toward a = (−1, −1)) or ½ (the box centre, a = 0).
      RegularizerCentre: float
      /// The regularizer's weight at rollout relative to training: 1 (default) predicts with the
      /// training objective Φ − Ω; 0 with the unregularized argmax of Φ.
      RolloutRegularizerScale: float
      /// Projected-gradient options of the inner argmax over actions p ∈ [0, 1]² (non-concave Φ
      /// allowed; defaults: tolerance 1e-3, at most 30 iterations in training).
      Inner: InnerOptions
      /// Seeds the Rng of the demonstrations, evaluation starts and expert modes, both networks'
      /// initialization, the minibatch order and the solver's random starts (default 0).
      Seed: int
      /// Device and dtype of the networks and rollouts (default CPU float32).
      Context: Context }

/// Defaults for ImitationOptions.
[<RequireQualifiedAccess>]
module ImitationOptions =
    /// 64 bimodal demonstrations, 64 evaluations, 30 epochs, batch 256, Adam 2e-3, 64 hidden units,
    /// 4 training starts and 8 rollout starts of projected gradient (≤ 30 steps, tolerance 1e-3),
    /// regularizer weight 64 centred at p = 0.
    let defaults =
        { Reacher = Reacher.defaults; Demonstrations = 64; Bimodal = true; Evaluations = 64; Epochs = 30; BatchSize = 256
          LearningRate = 2e-3; Hidden = 64; TrainStarts = 4; RolloutStarts = 8; Modes = 0; SwitchMargin = 0.0
          RegularizerWeight = 64.0; RegularizerCentre = 0.0; RolloutRegularizerScale = 1.0
          Inner = { InnerOptions.defaults with Tolerance = 1e-3; MaxIterations = 30; AllowNonConcave = true }
          Seed = 0; Context = Context.cpu }

/// Returns of one policy over the evaluation episodes.
type PolicyScore =
    { /// The policy's name: "expert", "mse" (behavioural cloning by regression) or "energy" (the
      /// generalized-FY energy policy).
      Policy: string
      /// Mean undiscounted return over the evaluation episodes: Σₜ −‖xₜ − goal‖·dt (≤ 0; higher is
      /// better).
      MeanReturn: float
      /// (R − R_idle) / (R_expert − R_idle): 1 = expert, 0 = doing nothing.
      NormalizedReturn: float
      /// Episodes that end within 0.3 of the goal without touching the obstacle.
      SuccessRate: float
      /// Fraction of evaluation episodes that entered the obstacle disk (and stayed stuck there).
      CollisionRate: float }

/// Imitation learning (Blondel et al. 2022, arXiv 2205.09589, §5.2, there on MuJoCo tasks; here a
/// 2-D reacher with known dynamics): behavioural cloning of an expert by MSE regression of the
/// action versus an energy policy a = argmax_{a ∈ [−1,1]²} Φ(s, a) − Ω(a) trained with the
/// generalized FY loss (Φ a neural network of (s, a), Ω(p) = (λ/2)‖p − c‖² on the box with
/// actions mapped to p = (a + 1)/2 ∈ [0, 1]²; λ = 64 by default, since with λ = 1 the landscape
/// is too flat for precise actions). With bimodal demonstrations MSE averages the two ways
/// around the obstacle and drives into it; the energy policy picks one mode.
[<RequireQualifiedAccess>]
module Imitation =

    /// The imitation policy's regularizer Ω(p) = (λ/2)‖p − c‖² on the unit box
    /// (`SquaredNorm.weightedBox`).
    let regularizer (weight: float) (centre: float) : Regularizer = SquaredNorm.weightedBox weight centre

    /// Demonstrations: states [N, 4] and actions [N, 2] from expert rollouts.
    let demonstrations (options: ImitationOptions) (rng: Rng) : Tensor * Tensor =
        let ctx = options.Context
        use start = Reacher.reset options.Reacher rng ctx options.Demonstrations
        use mode =
            Scope.tensor (fun () ->
                if options.Bimodal then (Tensor.rand rng ctx [ int64 options.Demonstrations ]).gt(Tensor.full ctx [ int64 options.Demonstrations ] 0.5).to_type ctx.DType * 2.0 - 1.0
                else Tensor.ones ctx [ int64 options.Demonstrations ])
        let _, _, _, states, actions = Reacher.rollout options.Reacher (Reacher.expert options.Reacher mode) start
        let s = torch.cat (states, 0L)
        let a = torch.cat (actions, 0L)
        Scope.disposeAll states
        Scope.disposeAll actions
        s, a

    let private mlpPolicy (hidden: int) =
        torch.nn.Sequential (torch.nn.Linear (4L, int64 hidden), torch.nn.SiLU (), torch.nn.Linear (int64 hidden, int64 hidden), torch.nn.SiLU (), torch.nn.Linear (int64 hidden, 2L), torch.nn.Tanh ())

    let private fitWith (options: ImitationOptions) (model: torch.nn.Module) (n: int64) (loss: Tensor -> Tensor) (onProgress: float -> unit) =
        let fit =
            { FitOptions.defaults with
                Epochs = options.Epochs; Seed = int64 options.Seed; Optimizer = OptimizerOptions.adam options.LearningRate
                Monitor = FitMonitor.ofProgress (fun p -> onProgress p.Fraction) }
        Fit.run fit { Model = model; Batches = (fun rng _ -> Batches.shuffled rng options.Context.Device options.BatchSize n)
                      BatchesPerEpoch = Batches.count options.BatchSize n; Loss = loss; Validate = None } |> ignore

    /// Behavioural cloning by MSE regression; returns the policy.
    let trainMse (options: ImitationOptions) (states: Tensor) (actions: Tensor) (onProgress: float -> unit) : Tensor -> Tensor =
        use rng = new Rng(int64 options.Seed, options.Context.Device)
        let net = mlpPolicy options.Hidden
        net.``to`` (options.Context.DType) |> ignore
        Init.reinitialize rng net
        fitWith options net states.shape[0] (fun idx ->
            let pred = net.forward (states.index_select (0L, idx))
            (pred - actions.index_select (0L, idx)).square().sum(1L, false).mean ()) onProgress
        net.eval ()
        fun s -> Diff.noGrad (fun () -> net.forward s)

    /// The energy policy trained with the generalized FY loss; returns a maker of policies (one per
    /// rollout: each warm-starts its inner solves from its previous action) and the network.
    let trainEnergy (options: ImitationOptions) (states: Tensor) (actions: Tensor) (onProgress: float -> unit) : (unit -> Tensor -> Tensor) * torch.nn.Module<Tensor, Tensor, Tensor> =
        use rng = new Rng(int64 options.Seed, options.Context.Device)
        if options.Modes < 0 then Checks.fail "Modes" (sprintf "Modes must be ≥ 0 (0: MLP energy), got %d" options.Modes)
        let net : torch.nn.Module<Tensor, Tensor, Tensor> =
            if options.Modes = 0 then new NeuralEnergyNet (4, 2, options.Hidden)
            else new MixtureEnergyNet (4, 2, options.Hidden, options.Modes)
        net.``to`` (options.Context.DType) |> ignore
        Init.reinitialize rng net
        let energy = Neural.energy net 2
        let rolloutRegularizer = regularizer (options.RegularizerWeight * options.RolloutRegularizerScale) options.RegularizerCentre
        let regularizer = regularizer options.RegularizerWeight options.RegularizerCentre
        use targets = Scope.tensor (fun () -> (actions + 1.0) * 0.5)
        let solverRng = rng.Split ()
        let trainSolver = MultiStart.solve options.TrainStarts solverRng ProjectedGradient.solve
        fitWith options net states.shape[0] (fun idx ->
            let s = states.index_select (0L, idx)
            let y = targets.index_select (0L, idx)
            let l, sol = GeneralizedFenchelYoung.lossAndSolution trainSolver options.Inner energy regularizer s (Some y) y
            sol.Dispose ()
            l.mean ()) onProgress
        net.eval ()
        let rolloutSolver = MultiStart.solve options.RolloutStarts solverRng ProjectedGradient.solve
        let rolloutOptions = { options.Inner with MaxIterations = 3 * options.Inner.MaxIterations }
        // A fresh policy per rollout: the previous action warm-starts the inner solver (one of the
        // starts), which keeps the chosen mode from step to step.
        let makePolicy () =
            let mutable last : Tensor option = None
            fun (s: Tensor) ->
                let p =
                    Scope.tensor (fun () ->
                        let init = last |> Option.filter (fun l -> l.shape[0] = s.shape[0])
                        let sol = rolloutSolver rolloutOptions energy rolloutRegularizer s init
                        match init with
                        | Some previous when options.SwitchMargin > 0.0 ->
                            // Hysteresis between the modes: follow the local maximum of the previous action.
                            let local = ProjectedGradient.solve { rolloutOptions with AllowNonConcave = true } energy rolloutRegularizer s (Some previous)
                            let switch = (sol.Value - local.Value).gt(Pinned.scalar options.SwitchMargin).unsqueeze 1L
                            torch.where (switch, sol.Argmax, local.Argmax)
                        | _ -> sol.Argmax)
                last |> Option.iter (fun l -> l.Dispose ())
                last <- Some (p.clone ())
                use p = p
                p * 2.0 - 1.0
        makePolicy, net

    /// Scores a policy on evaluation episodes against the expert's and the idle policy's returns.
    let score (options: ImitationOptions) (name: string) (policy: Tensor -> Tensor) (expertReturn: float) (idleReturn: float) (start: Tensor) =
        let returns, stuck, distance, states, actions = Reacher.rollout options.Reacher policy start
        Scope.disposeAll states
        Scope.disposeAll actions
        let r = Array.average returns
        { Policy = name; MeanReturn = r; NormalizedReturn = (r - idleReturn) / (expertReturn - idleReturn)
          SuccessRate = Array.map2 (fun s d -> if not s && d < 0.3 then 1.0 else 0.0) stuck distance |> Array.average
          CollisionRate = stuck |> Array.averageBy (fun s -> if s then 1.0 else 0.0) }

    /// The whole experiment: demonstrations, both policies, and the scores of the expert, MSE and
    /// energy policies, in that order (the idle policy, a = 0, is rolled out only to normalise the
    /// returns).
    let run (options: ImitationOptions) (onProgress: float -> unit) : PolicyScore list =
        use rng = new Rng(int64 options.Seed, options.Context.Device)
        let states, actions = demonstrations options rng
        use states = states
        use actions = actions
        use start = Reacher.reset options.Reacher rng options.Context options.Evaluations
        use evalMode = Scope.tensor (fun () -> (Tensor.rand rng options.Context [ int64 options.Evaluations ]).gt(Tensor.full options.Context [ int64 options.Evaluations ] 0.5).to_type options.Context.DType * 2.0 - 1.0)
        let expertPolicy = Reacher.expert options.Reacher (if options.Bimodal then evalMode else Tensor.ones options.Context [ int64 options.Evaluations ])
        let expertReturns, _, _, es, ea = Reacher.rollout options.Reacher expertPolicy start
        Scope.disposeAll es; Scope.disposeAll ea
        let idleReturns, _, _, is, ia = Reacher.rollout options.Reacher (fun s -> torch.zeros ([| s.shape[0]; 2L |], dtype = s.dtype, device = s.device)) start
        Scope.disposeAll is; Scope.disposeAll ia
        let expertR, idleR = Array.average expertReturns, Array.average idleReturns
        let mse = trainMse options states actions (fun f -> onProgress (0.3 * f))
        let energyPolicy, net = trainEnergy options states actions (fun f -> onProgress (0.3 + 0.6 * f))
        let scores =
            [ score options "expert" expertPolicy expertR idleR start
              score options "mse" mse expertR idleR start
              score options "energy" (energyPolicy ()) expertR idleR start ]
        net.Dispose ()
        onProgress 1.0
        scores

    /// The metrics of the scores, as the reproduction cache stores them and `energyfs fy imitation
    /// --json` prints them: `<policy>_return`, `<policy>_normalized`, `<policy>_success` and
    /// `<policy>_collision` for each policy (expert, mse, energy).
    let metrics (scores: PolicyScore list) : (string * float) list =
        scores |> List.collect (fun s ->
            [ s.Policy + "_return", s.MeanReturn; s.Policy + "_normalized", s.NormalizedReturn
              s.Policy + "_success", s.SuccessRate; s.Policy + "_collision", s.CollisionRate ])
