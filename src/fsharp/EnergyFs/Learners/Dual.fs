namespace EnergyFs.Learners

open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Projections
open EnergyFs.Samplers
open EnergyFs.Losses
open EnergyFs.Training

/// Which neuron parameters learn (Domingo-Enrich et al. 2021, arXiv 2107.05134).
type Regime =
    /// Features zᵢ and masses wᵢ learn (the F₁ / mean-field regime).
    | FeatureLearning
    /// Features frozen at their random initialisation; only the output masses learn (F₂ / kernel).
    | Lazy

/// When particles are reset to data samples (arXiv 2107.05134).
type Restart =
    /// Persistent particles.
    | NoRestart
    /// All particles reset to random data samples every N iterations (N = 1: score matching limit).
    | Every of int
    /// Each particle reset to a random data sample with probability p at each iteration.
    | WithProbability of float

/// How the neuron gradient is estimated.
type Estimator =
    /// E_data[∇_θ f] − E_particles[∇_θ f]: the maximum-likelihood gradient with Langevin particles.
    | MaximumLikelihood
    /// The gradient of exact score matching on the sphere (ReLU circle term with this kernel bandwidth).
    | ScoreMatching of bandwidth: float

/// Options of the dual (GDA) trainer.
type DualOptions =
    { /// Langevin step η of the particles.
      ParticleStep: float
      /// Step α_z of the features (projected gradient on the sphere, then renormalisation).
      FeatureStep: float
      /// Step α_w of the masses (multiplicative Fisher–Rao update).
      MassStep: float
      /// Total-variation bound β: masses are rescaled so that mean(w) ≤ β.
      TvBound: float
      /// Feature learning or lazy.
      Regime: Regime
      /// Particle restarts.
      Restart: Restart
      /// Number of particles.
      Particles: int
      /// Langevin steps per neuron update: 1 is GDA, K > 1 persistent contrastive divergence (PCD-K).
      LangevinSteps: int
      /// Antithetic Langevin noise.
      Antithetic: bool
      /// Gradient estimator.
      Estimator: Estimator
      /// Iterations between two reports to the monitor of `Dual.advance` (the last iteration of a
      /// call is always reported). The monitor itself is an argument of `advance`, not a field, so
      /// that options stay plain data (compared and hashed by the paper configurations).
      ReportEvery: int }

/// The state of a dual run: the energy (neurons), the particles and the iteration count. Owns its tensors.
type DualState =
    { /// The current energy f: neurons (features zᵢ [m, d], signs, masses wᵢ) after `Iteration` updates.
      Energy: ShallowSphere
      /// The Langevin particles [DualOptions.Particles, d], unit vectors on S^(d−1) that approximate
      /// samples of the model p ∝ exp(−f); initialised at random data rows.
      Particles: Tensor
      /// Neuron updates done so far (0 for `Dual.init`'s state; restarts with `Every N` count on it).
      Iteration: int }

/// Dual training of shallow energies on the sphere by two-time-scale gradient descent–ascent
/// (Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden 2021, arXiv 2107.05134):
/// particles follow Langevin dynamics on the current energy (ascent on the dual), and neurons follow
/// the maximum-likelihood gradient E_data[∇_θ f] − E_particles[∇_θ f] (descent), each with its own
/// step size (the two time scales), optionally with restarts of the particles at data samples.
[<RequireQualifiedAccess>]
module Dual =

    /// η = 1e-2, α_z = 1e-2, α_w = 1e-2, β = 10, feature learning, no restarts, 1000 particles, GDA,
    /// a report every 100 iterations.
    let defaults =
        { ParticleStep = 1e-2; FeatureStep = 1e-2; MassStep = 1e-2; TvBound = 10.0; Regime = FeatureLearning
          Restart = NoRestart; Particles = 1000; LangevinSteps = 1; Antithetic = false; Estimator = MaximumLikelihood
          ReportEvery = 100 }

    /// Validates the options, naming the offending field.
    let validate (options: DualOptions) =
        Checks.positive "ParticleStep" options.ParticleStep
        Checks.nonNegative "FeatureStep" options.FeatureStep
        Checks.nonNegative "MassStep" options.MassStep
        Checks.positive "TvBound" options.TvBound
        Checks.positiveInt "Particles" options.Particles
        Checks.positiveInt "LangevinSteps" options.LangevinSteps
        Checks.positiveInt "ReportEvery" options.ReportEvery
        match options.Restart with
        | Every n -> Checks.positiveInt "Restart" n
        | WithProbability p -> Checks.require "Restart" (p >= 0.0 && p <= 1.0) (sprintf "restart probability must be in [0, 1], got %g" p)
        | NoRestart -> ()
        match options.Estimator with
        | ScoreMatching h -> Checks.positive "bandwidth" h
        | MaximumLikelihood -> ()

    /// The maximum-likelihood neuron gradients (first variations, scaled by m):
    ///   g_θ = E_data[∇_θ f] − E_particles[∇_θ f],
    /// the gradient of the negative log-likelihood E_data f + log Z for p ∝ e^{−f} with the model
    /// expectation replaced by the particle average (arXiv 2107.05134).
    let mlGradient (e: ShallowSphere) (data: Tensor) (particles: Tensor) : Tensor * Tensor =
        Scope.tensor2 (fun () ->
            let dz, dw = Shallow.neuronGradients e data
            let pz, pw = Shallow.neuronGradients e particles
            dz - pz, dw - pw)

    /// The score-matching neuron gradients (scaled by m like `mlGradient`): autograd of
    /// `ScoreMatching.sphereShallow` with respect to features and masses.
    let smGradient (bandwidth: float) (e: ShallowSphere) (data: Tensor) : Tensor * Tensor =
        Scope.tensor2 (fun () ->
            let z = e.Features.detach().requires_grad_ true
            let w = e.Masses.detach().requires_grad_ true
            let e' = { e with Features = z; Masses = w }
            let loss = ScoreMatching.sphereShallow bandwidth e' data
            match Diff.gradParams false loss [ z; w ] with
            | [ gz; gw ] -> gz * float e.Neurons, gw * float e.Neurons
            | _ -> failwith "unreachable")

    /// One neuron update (arXiv 2107.05134, Wasserstein–Fisher–Rao discretisation):
    ///   zᵢ ← normalize(zᵢ − α_z (I − zᵢzᵢᵀ) g_{zᵢ})   (feature learning only),
    ///   wᵢ ← wᵢ exp(−α_w g_{wᵢ}),  then w ← w · min(1, β / mean(w)).
    /// Returns a new energy (signs shared with `e`'s copy).
    let updateNeurons (options: DualOptions) (e: ShallowSphere) (gz: Tensor, gw: Tensor) =
        let z, w =
            Scope.tensor2 (fun () ->
                let z =
                    match options.Regime with
                    | FeatureLearning -> Sphere.retract (e.Features - Sphere.tangent e.Features gz * options.FeatureStep)
                    | Lazy -> Scope.tensor (fun () -> Tensor.copy e.Features)
                let w = e.Masses * Tensor.exp (gw * -options.MassStep)
                let mean = Tensor.toScalar (Tensor.mean w)
                let w = if mean > options.TvBound then w * (options.TvBound / mean) else w
                z, w)
        { e with Features = z; Masses = w; Signs = Scope.tensor (fun () -> Tensor.copy e.Signs) }

    /// `count` rows of `data` drawn uniformly with replacement.
    let sampleRows (rng: Rng) (count: int) (data: Tensor) =
        Scope.tensor (fun () ->
            let ctx = { Device = data.device; DType = torch.ScalarType.Float32 }
            let u = Tensor.rand rng ctx [ int64 count ]
            let idx = (u * float data.shape[0]).floor().to_type(torch.ScalarType.Int64).clamp_max (Pinned.intScalar (data.shape[0] - 1L))
            Tensor.selectRows idx data)

    /// Applies the restart rule at iteration k (0-based): all particles when k is a multiple of N,
    /// or each with probability p. Returns new particles.
    let restart (rng: Rng) (options: DualOptions) (data: Tensor) (iteration: int) (particles: Tensor) =
        match options.Restart with
        | NoRestart -> Scope.tensor (fun () -> Tensor.copy particles)
        | Every n -> if iteration % n = 0 then sampleRows rng (int particles.shape[0]) data else Scope.tensor (fun () -> Tensor.copy particles)
        | WithProbability p ->
            Scope.tensor (fun () ->
                let fresh = sampleRows rng (int particles.shape[0]) data
                let ctx = { Device = data.device; DType = data.dtype }
                let mask = (Tensor.rand rng ctx [ particles.shape[0] ]).lt (Pinned.scalar p)
                torch.where (Tensor.unsqueeze 1 mask, fresh, particles))

    /// The initial state: a copy of `energy` and particles drawn from the data.
    let init (rng: Rng) (options: DualOptions) (data: Tensor) (energy: ShallowSphere) =
        validate options
        Checks.rank "data" 2 data
        Checks.finite "data" data
        Sphere.requireOn "data" 1e-3 data
        if data.shape[1] <> int64 energy.Dim then
            Checks.fail "data" (sprintf "data must have %d columns (the energy's dimension), got shape %s" energy.Dim (Checks.shapeText data.shape))
        { Energy = Shallow.copy energy; Particles = sampleRows rng options.Particles data; Iteration = 0 }

    /// Frees the state's tensors.
    let dispose (state: DualState) =
        Shallow.dispose state.Energy
        state.Particles.Dispose ()

    /// One iteration: restart, K Langevin steps of the particles on the current energy, then one
    /// neuron update with the estimated gradient. Returns a new state; `state` is left intact.
    let step (rng: Rng) (options: DualOptions) (data: Tensor) (state: DualState) =
        let langevin = { Step = options.ParticleStep; Antithetic = options.Antithetic }
        let mutable particles = restart rng options data state.Iteration state.Particles
        for _ in 1 .. options.LangevinSteps do
            let next = Langevin.sphereStep rng langevin (Shallow.gradient state.Energy) particles
            particles.Dispose ()
            particles <- next
        let gz, gw =
            match options.Estimator with
            | MaximumLikelihood -> mlGradient state.Energy data particles
            | ScoreMatching h -> smGradient h state.Energy data
        if not (Tensor.isFinite gz && Tensor.isFinite gw) then
            Scope.disposeAll [ gz; gw; particles ]
            raise (Training.TrainingDivergedException(0, state.Iteration, "neuron gradient", "non-finite feature or mass gradient"))
        let energy = updateNeurons options state.Energy (gz, gw)
        Scope.disposeAll [ gz; gw ]
        { Energy = energy; Particles = particles; Iteration = state.Iteration + 1 }

    /// The report row of a state: iteration, total variation mean(w), and the mean energies
    /// E_data f and E_particles f (their difference is the maximum-likelihood signal of the masses).
    let report (data: Tensor) (state: DualState) : (string * float) list =
        Scope.run (fun () ->
            [ "iteration", float state.Iteration
              "total_variation", Shallow.totalVariation state.Energy
              "data_energy", Tensor.toScalar (Tensor.mean (Shallow.energy state.Energy data))
              "particle_energy", Tensor.toScalar (Tensor.mean (Shallow.energy state.Energy state.Particles)) ])

    /// Runs `iterations` steps from `init`, calling `observe` after each (the state passed to it is
    /// disposed afterwards unless it is the last). Returns the final state; `initial` is left intact.
    let run (rng: Rng) (options: DualOptions) (data: Tensor) (iterations: int) (observe: DualState -> unit) (initial: DualState) =
        validate options
        let mutable state = { initial with Energy = Shallow.copy initial.Energy; Particles = Scope.tensor (fun () -> Tensor.copy initial.Particles) }
        for _ in 1 .. iterations do
            let next = step rng options data state
            dispose state
            state <- next
            observe state
        state

    /// `run` watched and cancellable (what the facade's `DualEbmTrainer.Run` calls): up to
    /// `iterations` steps from a copy of `initial` (left intact), the monitor's token checked
    /// before every step, and `monitor.OnEpoch (iteration − 1) (report data state)` every
    /// `options.ReportEvery` iterations and after the last (`OnProgress` is not called). Returns the
    /// state reached and whether all iterations ran: false when the token was cancelled, the state
    /// then being that of the last completed iteration (a copy of `initial` when none completed).
    /// A failing step (divergence) frees the working state and re-raises.
    let advance (monitor: FitMonitor) (rng: Rng) (options: DualOptions) (data: Tensor) (iterations: int) (initial: DualState) =
        validate options
        Checks.require "iterations" (iterations >= 0) (sprintf "iterations must be ≥ 0, got %d" iterations)
        let mutable state = { initial with Energy = Shallow.copy initial.Energy; Particles = Scope.tensor (fun () -> Tensor.copy initial.Particles) }
        let mutable k = 0
        try
            while k < iterations && not monitor.Cancellation.IsCancellationRequested do
                let next = step rng options data state
                dispose state
                state <- next
                k <- k + 1
                if k % options.ReportEvery = 0 || k = iterations then
                    monitor.OnEpoch (state.Iteration - 1) (report data state)
        with _ ->
            dispose state
            reraise ()
        state, k = iterations
