namespace EnergyFs.Learners

open System
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Losses
open EnergyFs.Models
open EnergyFs.Training
open EnergyFs.Data
open EnergyFs.Metrics

/// Which loss trains the multilabel model.
type MultilabelLoss =
    /// Independent labels: the classic FY loss of the regularizer on u(x) (binary logistic with
    /// Fermi-Dirac), the paper's baseline.
    | Independent
    /// The generalized FY loss with the quadratic energy ⟨u(x), p⟩ + ½⟨p, Â p⟩ (solver: `MultilabelOptions.Solver`).
    | QuadraticEnergy

/// Settings of the multilabel experiment; start from `MultilabelOptions.defaults`.
type MultilabelOptions =
    { /// The training loss: the independent-label baseline or the generalized FY loss with the
      /// quadratic energy (default `QuadraticEnergy`).
      Loss: MultilabelLoss
      /// Ω on [0, 1]ᵏ: Fermi-Dirac (sigmoid) or the squared norm (clipping).
      Regularizer: Regularizer
      /// Hidden units of u(x) (0: linear).
      Hidden: int
      /// Maximum epochs (early stopping on validation Hamming accuracy picks the epoch).
      Epochs: int
      /// Early stopping: epochs without an improvement of the validation Hamming accuracy before
      /// training stops; the best epoch is restored (default 20).
      Patience: int
      /// Examples per minibatch, reshuffled each epoch (default 64).
      BatchSize: int
      /// Adam learning rate (default 1e-3); the weight decay comes from `WeightDecays`.
      LearningRate: float
      /// Weight-decay grid searched on the validation split.
      WeightDecays: float list
      /// Fraction of the training set held out for model selection (never the test set).
      ValidationFraction: float
      /// Inner solver options for training and prediction.
      Inner: InnerOptions
      /// The inner solver of the quadratic energy: `ParallelMinorizedAscent` (one matrix product per
      /// iteration; the default) or `ClosedFormCoordinateAscent` (sequential Gauss-Seidel sweeps).
      Solver: SolverKind
      /// After selecting the weight decay and the epoch count on the validation split, retrain on
      /// the whole training set (training plus validation rows) for the selected number of epochs
      /// with the selected weight decay; the test set is still used once, for the final model.
      Refit: bool
      /// Device and dtype of the network and the data tensors (default CPU float32).
      Context: Context }

/// Defaults for MultilabelOptions.
[<RequireQualifiedAccess>]
module MultilabelOptions =
    /// Quadratic energy, Fermi-Dirac, u(x) with one hidden layer of 128 ReLU units, ≤ 200 epochs with patience 20, batch 64, Adam 1e-3,
    /// weight decay in {1e-4, 1e-3, 1e-2, 3e-2} and the epoch count selected on a 20% validation split, then a
    /// refit on all training rows (Refit), parallel minorized ascent to 1e-4 (≤ 100 iterations), CPU float32.
    let defaults =
        { Loss = QuadraticEnergy; Regularizer = FermiDirac.regularizer; Hidden = 128; Epochs = 200; Patience = 20
          BatchSize = 64; LearningRate = 1e-3; WeightDecays = [ 1e-4; 1e-3; 1e-2; 3e-2 ]; ValidationFraction = 0.2
          Inner = { InnerOptions.defaults with Tolerance = 1e-4; MaxIterations = 100 }; Solver = ParallelMinorizedAscent
          Refit = true; Context = Context.cpu }

/// A trained multilabel classifier: the network, the feature standardization learned on its
/// training rows, and the options it was trained with.
type FittedMultilabel =
    { /// The trained network: unary scores u(x) and the learned pairwise matrix A.
      Net: EnergyMultilabelNet
      /// Maps raw feature rows to standardized ones (per-feature mean and standard deviation of the
      /// training rows, excluding the validation split); apply before `Net`.
      Standardize: float[][] -> float[][]
      /// The options the model was trained with; prediction uses its loss, regularizer, solver and
      /// context.
      Options: MultilabelOptions }

/// Multilabel classification with energy networks (Blondel et al. 2022, arXiv 2205.09589, §5.1):
/// the independent sigmoid baseline or the generalized FY loss with a quadratic energy, trained with
/// `Fit.run` (early stopping on the validation Hamming accuracy); predictions p̂ thresholded at 0.5.
[<RequireQualifiedAccess>]
module Multilabel =

    /// Feature standardization with statistics of the rows used for training.
    let standardize (train: float[][]) =
        let d = train[0].Length
        let mean = Array.init d (fun j -> train |> Array.averageBy (fun r -> r[j]))
        let std = Array.init d (fun j -> let s = sqrt (train |> Array.averageBy (fun r -> (r[j] - mean[j]) ** 2.0)) in if s < 1e-12 then 1.0 else s)
        fun (rows: float[][]) -> rows |> Array.map (fun r -> Array.init d (fun j -> (r[j] - mean[j]) / std[j]))

    /// The unary scores and, for the quadratic energy, the prediction p̂ ∈ [0,1]ᵏ of a batch.
    let predict (options: MultilabelOptions) (net: EnergyMultilabelNet) (x: Tensor) : Tensor =
        Scope.tensor (fun () ->
            Diff.noGrad (fun () ->
                match options.Loss with
                | Independent -> options.Regularizer.Predict (net.forward x)
                | QuadraticEnergy ->
                    let sol = SolverChoice.solver options.Solver options.Inner Quadratic.energy options.Regularizer (net.Input x) None
                    sol.Argmax))

    /// The mean training loss of a batch.
    let loss (options: MultilabelOptions) (net: EnergyMultilabelNet) (x: Tensor) (y: Tensor) : Tensor =
        match options.Loss with
        | Independent -> FenchelYoung.meanLoss options.Regularizer (net.forward x) y
        | QuadraticEnergy -> GeneralizedFenchelYoung.meanLoss (SolverChoice.solver options.Solver) options.Inner Quadratic.energy options.Regularizer (net.Input x) y

    let private binary (p: Tensor) =
        let a = Tensor.toArray2D p
        Array.init (Array2D.length1 a) (fun i -> Array.init (Array2D.length2 a) (fun j -> if a[i, j] > 0.5 then 1.0 else 0.0))

    /// Metrics of the model on a data set (features already standardized).
    let evaluate (options: MultilabelOptions) (net: EnergyMultilabelNet) (x: Tensor) (truth: float[][]) =
        net.eval ()
        let p = predict options net x
        let pred = binary p
        p.Dispose ()
        MultilabelMetrics.all pred truth

    let private fitOptions (options: MultilabelOptions) (seed: int) (decay: float) epochs onProgress =
        { FitOptions.defaults with
            Epochs = epochs; Seed = int64 seed
            Optimizer = OptimizerOptions.adam options.LearningRate |> OptimizerOptions.withWeightDecay decay
            OnProgress = onProgress }

    let private task (options: MultilabelOptions) (net: EnergyMultilabelNet) (trainX: Tensor) (trainY: Tensor) validate : TrainingTask<Tensor> =
        let n = trainX.shape[0]
        { Model = net
          Batches = fun rng _ -> Batches.shuffled rng options.Context.Device options.BatchSize n
          BatchesPerEpoch = Batches.count options.BatchSize n
          Loss = fun idx -> loss options net (trainX.index_select (0L, idx)) (trainY.index_select (0L, idx))
          Validate = validate }

    /// Trains one model with a given weight decay on (trainX, trainY), early-stopped on the
    /// validation Hamming accuracy (the best epoch restored); returns it with the epochs run and
    /// the number of epochs that gave the best validation accuracy.
    let trainSelected (options: MultilabelOptions) (seed: int) (decay: float) (trainX: Tensor) (trainY: Tensor) (valX: Tensor) (valTruth: float[][]) (onProgress: Progress -> unit) =
        use rng = new Rng(int64 seed, options.Context.Device)
        let net = EnergyMultilabelNet.create rng options.Context (int trainX.shape[1]) (int trainY.shape[1]) options.Hidden
        let fit =
            { fitOptions options seed decay options.Epochs onProgress with
                EarlyStopping = Some { Metric = "val_hamming"; Goal = Maximize; Patience = options.Patience }
                RestoreBest = true }
        let validate = Some (fun () -> [ "val_hamming", MultilabelMetrics.hammingAccuracy (binary (predict options net valX)) valTruth ])
        let result = Fit.run fit (task options net trainX trainY validate)
        net, result.State.Epoch, max 1 (result.State.BestEpoch + 1)

    /// Trains one model with a given weight decay on (trainX, trainY), early-stopped on the
    /// validation Hamming accuracy; returns it with the epochs run.
    let trainOne (options: MultilabelOptions) (seed: int) (decay: float) (trainX: Tensor) (trainY: Tensor) (valX: Tensor) (valTruth: float[][]) (onProgress: Progress -> unit) =
        let net, epochs, _ = trainSelected options seed decay trainX trainY valX valTruth onProgress
        net, epochs

    /// Trains one model for a fixed number of epochs with a given weight decay, without validation
    /// (the refit of `MultilabelOptions.Refit`).
    let trainFixed (options: MultilabelOptions) (seed: int) (decay: float) (epochs: int) (trainX: Tensor) (trainY: Tensor) (onProgress: Progress -> unit) =
        Checks.positiveInt "epochs" epochs
        use rng = new Rng(int64 seed, options.Context.Device)
        let net = EnergyMultilabelNet.create rng options.Context (int trainX.shape[1]) (int trainY.shape[1]) options.Hidden
        Fit.run (fitOptions options seed decay epochs onProgress) (task options net trainX trainY None) |> ignore
        net

    /// One seed: carve a validation split from train (seeded), select the weight decay on it,
    /// validation split carved from it (the facade's Fit).
    let fit (options: MultilabelOptions) (seed: int) (decay: float) (data: MultilabelData) : FittedMultilabel =
        if data.Count < 2 then Checks.fail "data" (sprintf "need at least 2 examples, got %d" data.Count)
        let order = Array.init data.Count id
        (Random seed).Shuffle order
        let nVal = max 1 (int (options.ValidationFraction * float data.Count))
        let valIdx, trIdx = order[.. nVal - 1], order[nVal ..]
        let pick (idx: int[]) (a: 'T[]) = idx |> Array.map (fun i -> a[i])
        let scale = standardize (pick trIdx data.Features)
        let tensor (rows: float[][]) = Tensor.toContext options.Context (Tensor.ofRows Context.cpu64 rows)
        use trX = tensor (scale (pick trIdx data.Features))
        use trY = tensor (pick trIdx data.Labels)
        use vaX = tensor (scale (pick valIdx data.Features))
        let net, _ = trainOne options seed decay trX trY vaX (pick valIdx data.Labels) ignore
        { Net = net; Standardize = scale; Options = options }

    /// 0/1 predictions of a fitted classifier for raw feature rows.
    let predictLabels (model: FittedMultilabel) (features: float[][]) : float[][] =
        if features.Length = 0 then Checks.fail "features" "no rows to predict"
        let d = model.Net.Inputs
        features |> Array.iteri (fun i r -> if r.Length <> d then Checks.fail "features" (sprintf "row %d has %d features but the model expects %d" i r.Length d))
        use x = Tensor.toContext model.Options.Context (Tensor.ofRows Context.cpu64 (model.Standardize features))
        model.Net.eval ()
        use p = predict model.Options model.Net x
        binary p
