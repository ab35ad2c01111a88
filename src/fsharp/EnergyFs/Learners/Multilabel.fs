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

/// A trained multilabel classifier: the network, the feature standardizer fitted on its training
/// rows, and the options it was trained with. Owns the network and the standardizer: dispose it.
type FittedMultilabel =
    { /// The trained network: unary scores u(x) and the learned pairwise matrix A.
      Net: EnergyMultilabelNet
      /// The per-feature mean and standard deviation of the training rows (the validation split
      /// excluded), in float64 on the data's device; features are standardized with it before `Net`.
      Standardizer: Standardizer
      /// The options the model was trained with; prediction uses its loss, regularizer, solver and
      /// context.
      Options: MultilabelOptions }
    interface IDisposable with
        member this.Dispose() =
            this.Net.Dispose()
            (this.Standardizer :> IDisposable).Dispose()

/// Multilabel classification with energy networks (Blondel et al. 2022, arXiv 2205.09589, §5.1):
/// the independent sigmoid baseline or the generalized FY loss with a quadratic energy, trained with
/// `Fit.run` (early stopping on the validation Hamming accuracy); predictions p̂ thresholded at 0.5.
[<RequireQualifiedAccess>]
module Multilabel =

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

    /// The 0/1 prediction 1[p̂ > 0.5] of a network on standardized features x (as float64).
    let predictBinary (options: MultilabelOptions) (net: EnergyMultilabelNet) (x: Tensor) : Tensor =
        Scope.tensor (fun () -> (predict options net x).gt(Pinned.scalar 0.5).to_type(torch.ScalarType.Float64))

    /// Metrics of the model on a set whose features are already standardized (hamming_accuracy,
    /// example_f1, micro_f1, macro_f1; see `MultilabelMetrics.all`).
    let evaluate (options: MultilabelOptions) (net: EnergyMultilabelNet) (set: MultilabelSet) =
        net.eval ()
        use pred = predictBinary options net set.Features
        MultilabelMetrics.all pred set.Labels

    let private fitOptions (options: MultilabelOptions) (seed: int) (decay: float) epochs onProgress =
        { FitOptions.defaults with
            Epochs = epochs; Seed = int64 seed
            Optimizer = OptimizerOptions.adam options.LearningRate |> OptimizerOptions.withWeightDecay decay
            OnProgress = onProgress }

    let private task (options: MultilabelOptions) (net: EnergyMultilabelNet) (train: MultilabelSet) validate : TrainingTask<Tensor> =
        let n = train.Features.shape[0]
        { Model = net
          Batches = fun rng _ -> Batches.shuffled rng options.Context.Device options.BatchSize n
          BatchesPerEpoch = Batches.count options.BatchSize n
          Loss = fun idx -> loss options net (train.Features.index_select (0L, idx)) (train.Labels.index_select (0L, idx))
          Validate = validate }

    /// Checks that a training and a validation set fit one network (same feature and label counts).
    let private checkPair (train: MultilabelSet) (validation: MultilabelSet) =
        Checks.dimSize "validation.Features" 1 train.Features.shape[1] validation.Features
        Checks.dimSize "validation.Labels" 1 train.Labels.shape[1] validation.Labels

    /// Trains one model with a given weight decay on `train` (standardized features, in the options'
    /// context), early-stopped on the Hamming accuracy of `validation` (the best epoch restored);
    /// returns it with the epochs run and the number of epochs that gave the best validation
    /// accuracy.
    let trainSelected (options: MultilabelOptions) (seed: int) (decay: float) (train: MultilabelSet) (validation: MultilabelSet) (onProgress: Progress -> unit) =
        checkPair train validation
        use rng = new Rng(int64 seed, options.Context.Device)
        let net = EnergyMultilabelNet.create rng options.Context train.FeatureCount train.LabelCount options.Hidden
        let fit =
            { fitOptions options seed decay options.Epochs onProgress with
                EarlyStopping = Some { Metric = "val_hamming"; Goal = Maximize; Patience = options.Patience }
                RestoreBest = true }
        let validate =
            Some (fun () ->
                use pred = predictBinary options net validation.Features
                [ "val_hamming", MultilabelMetrics.hammingAccuracy pred validation.Labels ])
        let result = Fit.run fit (task options net train validate)
        net, result.State.Epoch, max 1 (result.State.BestEpoch + 1)

    /// Trains one model with a given weight decay on `train`, early-stopped on the validation Hamming
    /// accuracy; returns it with the epochs run.
    let trainOne (options: MultilabelOptions) (seed: int) (decay: float) (train: MultilabelSet) (validation: MultilabelSet) (onProgress: Progress -> unit) =
        let net, epochs, _ = trainSelected options seed decay train validation onProgress
        net, epochs

    /// Trains one model for a fixed number of epochs with a given weight decay, without validation
    /// (the refit of `MultilabelOptions.Refit`).
    let trainFixed (options: MultilabelOptions) (seed: int) (decay: float) (epochs: int) (train: MultilabelSet) (onProgress: Progress -> unit) =
        Checks.positiveInt "epochs" epochs
        use rng = new Rng(int64 seed, options.Context.Device)
        let net = EnergyMultilabelNet.create rng options.Context train.FeatureCount train.LabelCount options.Hidden
        Fit.run (fitOptions options seed decay epochs onProgress) (task options net train None) |> ignore
        net

    /// Trains a classifier on raw (unstandardized) examples with one weight decay (the facade's Fit):
    /// a validation split of `options.ValidationFraction` drawn with `Rng(seed)`
    /// (`MultilabelSet.split`), a Standardizer fitted in float64 on the remaining training rows only,
    /// then `trainOne` early-stopped on the validation rows.
    let fit (options: MultilabelOptions) (seed: int) (decay: float) (data: MultilabelSet) : FittedMultilabel =
        MultilabelSet.check data.Features data.Labels
        if data.Count < 2 then Checks.fail "data" (sprintf "need at least 2 examples, got %d" data.Count)
        let host = { options.Context with Device = data.Features.device; DType = torch.ScalarType.Float64 }
        use data64 = MultilabelSet.toContext host data
        use rng = new Rng(int64 seed, data.Features.device)
        let train, validation = MultilabelSet.split rng options.ValidationFraction data64
        use train = train
        use validation = validation
        let standardizer = Standardizer.fit train.Features
        let prepared (set: MultilabelSet) =
            use scaled = MultilabelSet.standardize standardizer set
            MultilabelSet.toContext options.Context scaled
        use trainSet = prepared train
        use validationSet = prepared validation
        let net, _ = trainOne options seed decay trainSet validationSet ignore
        { Net = net; Standardizer = standardizer; Options = options }

    /// 0/1 predictions [n, L] (float64, on the model's device) of a fitted classifier for raw
    /// feature rows [n, d] of any dtype; fails naming `features` and its shape when d differs.
    let predictLabels (model: FittedMultilabel) (features: Tensor) : Tensor =
        Checks.rank "features" 2 features
        Checks.require "features" (features.shape[0] >= 1L) "no rows to predict"
        Checks.dimSize "features" 1 (int64 model.Net.Inputs) features
        Checks.finite "features" features
        Scope.tensor (fun () ->
            let raw = features.detach().``to``(model.Standardizer.Mean.dtype, model.Standardizer.Mean.device)
            let x = Tensor.toContext model.Options.Context (Standardizer.apply model.Standardizer raw)
            model.Net.eval ()
            predictBinary model.Options model.Net x)
