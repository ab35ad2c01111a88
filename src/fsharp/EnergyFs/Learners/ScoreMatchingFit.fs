namespace EnergyFs.Learners

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Losses
open EnergyFs.Training

/// Which score-matching objective trains a shallow energy on ℝᵈ.
type ScoreObjective =
    /// Exact (Hyvärinen 2005) with the closed-form Laplacian of the shallow energy.
    | Exact
    /// Sliced (Song et al. 2019, arXiv 1905.07088) with this many projections per point.
    | Sliced of projections: int
    /// Denoising (Vincent 2011) with this noise standard deviation.
    | Denoising of sigma: float

/// Options of `ScoreMatchingFit.run`.
type ScoreMatchingFitOptions =
    { /// The score-matching objective minimised: exact, sliced or denoising (default `Exact`).
      Objective: ScoreObjective
      /// Optimizer of the neurons' weights, biases and output weights, with its learning rate,
      /// schedule and clipping (default Adam, learning rate 1e-2).
      Optimizer: OptimizerOptions
      /// Number of optimizer steps, one mini-batch each (default 500).
      Steps: int
      /// Mini-batch size (rows of the data per step).
      BatchSize: int }

/// Score-matching training of a shallow energy on ℝᵈ (the score-matching baseline of Domingo-Enrich
/// et al. 2021, arXiv 2107.05134, on ordinary data): mini-batch gradient steps on the chosen
/// objective with an EnergyFs `Optimizer`; NaN/Inf stops with `TrainingDivergedException`.
[<RequireQualifiedAccess>]
module ScoreMatchingFit =

    /// Exact score matching, Adam(1e-2), 500 steps, batches of 256.
    let defaults = { Objective = Exact; Optimizer = OptimizerOptions.adam 1e-2; Steps = 500; BatchSize = 256 }

    /// The objective's value on `data` for `energy` (differentiable in its parameters).
    let objective (rng: Rng) (objective: ScoreObjective) (energy: ShallowEuclidean) (data: Tensor) =
        match objective with
        | Exact -> ScoreMatching.euclideanShallow energy data
        | Sliced k -> ScoreMatching.sliced rng k (ShallowEuclidean.energy energy) data
        | Denoising sigma -> ScoreMatching.denoising rng sigma (ShallowEuclidean.energy energy) data

    /// Trains a copy of `initial` on `data` [n, d]; returns the trained energy (its tensors are
    /// Parameters the caller owns) and the loss per step.
    let run (rng: Rng) (options: ScoreMatchingFitOptions) (data: Tensor) (initial: ShallowEuclidean) =
        Checks.rank "data" 2 data
        Checks.finite "data" data
        if data.shape[1] <> int64 initial.Dim then
            Checks.fail "data" (sprintf "data must have %d columns (the energy's dimension), got shape %s" initial.Dim (Checks.shapeText data.shape))
        Checks.positiveInt "Steps" options.Steps
        Checks.positiveInt "BatchSize" options.BatchSize
        let param (t: Tensor) = new Parameter(Scope.tensor (fun () -> Tensor.copy t), true)
        let w, b, a = param initial.Weights, param initial.Biases, param initial.Outputs
        let energy = { initial with Weights = w; Biases = b; Outputs = a }
        let named = [ "weights", w; "biases", b; "outputs", a ]
        use optimizer = Optimizer.ofParameters options.Optimizer [ w; b; a ]
        let n = data.shape[0]
        let batch = min (int64 options.BatchSize) n
        let losses =
            [| for step in 0 .. options.Steps - 1 ->
                Scope.run (fun () ->
                    let idx = (Tensor.rand rng { Device = data.device; DType = torch.ScalarType.Float32 } [ batch ] * float n).floor().to_type(torch.ScalarType.Int64).clamp_max (Pinned.intScalar (n - 1L))
                    let x = Tensor.selectRows idx data
                    optimizer.ZeroGrad ()
                    let loss = objective rng options.Objective energy x
                    Divergence.checkLoss 0 step loss
                    loss.backward ()
                    Divergence.checkGradients 0 step named (optimizer.Step ())
                    Tensor.toScalar loss) |]
        energy, losses
