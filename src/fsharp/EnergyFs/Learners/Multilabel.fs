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
    /// The generalized FY loss with an energy Φ_θ(x, p) of the caller's (`CustomMultilabelEnergy`), solved by
    /// projected gradient ascent on the box (its concavity check skipped unless the energy says it is concave in p).
    | CustomEnergy of CustomMultilabelEnergy

/// A trainable multilabel energy Φ_θ(x, p) of the caller's over standardized features x [n, d] and
/// p ∈ [0, 1]ᵏ (Blondel et al. 2022, arXiv 2205.09589: any Φ, with the generalized FY loss and
/// Danskin's gradient). `Create inputs labels` builds the module that holds θ and the energy over
/// it (`Energy.ofFunction`); the weights of its Linear layers are re-drawn from the run's generator
/// (`Init.reinitializeLinear`) so that the same seed gives the same model, and its other
/// parameters keep the values its constructor gave them.
and CustomMultilabelEnergy =
    { /// A short name for reports and saved models.
      Name: string
      /// The module holding θ and the energy Φ_θ over features, for d inputs and k labels.
      Create: int -> int -> torch.nn.Module * Energy<Tensor> }

/// Names of the multilabel losses.
[<RequireQualifiedAccess>]
module MultilabelLoss =
    /// "independent", "quadratic", or the custom energy's name.
    let name = function Independent -> "independent" | QuadraticEnergy -> "quadratic" | CustomEnergy c -> c.Name

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
      Context: Context
      /// Step and epoch callbacks and the cancellation token of each training run (`FitMonitor`).
      Monitor: FitMonitor }

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
          Refit = true; Context = Context.cpu; Monitor = FitMonitor.none }

/// The trainable part of a multilabel model: the paper's network (unary scores u(x) and pairwise
/// matrix A) or a custom energy's module with its energy. Owns the module: dispose it.
type MultilabelNetwork =
    /// The network of the independent and quadratic-energy losses.
    | Builtin of EnergyMultilabelNet
    /// A custom energy's module and energy Φ_θ(x, p).
    | Custom of torch.nn.Module * Energy<Tensor>
    /// The module whose parameters are trained.
    member this.Module : torch.nn.Module =
        match this with
        | Builtin net -> net :> torch.nn.Module
        | Custom (m, _) -> m
    interface IDisposable with
        member this.Dispose() = this.Module.Dispose()

/// A trained multilabel classifier: the network, the feature standardizer fitted on its training
/// rows, the options it was trained with and its training history. Owns the network and the
/// standardizer: dispose it.
type FittedMultilabel =
    { /// The trained network.
      Net: MultilabelNetwork
      /// Number of input features d.
      Inputs: int
      /// Number of labels k.
      Labels: int
      /// The per-epoch history of the training run (train_loss, grad_norm, lr, seconds, val_hamming).
      History: TrainingHistory
      /// The epoch (0-based) whose parameters the model holds (the best validation epoch).
      BestEpoch: int
      /// Why training ended (all epochs, or early stopping).
      Stopped: StopReason
      /// The per-feature mean and standard deviation of the training rows (the validation split
      /// excluded), in float64 on the data's device; features are standardized with it before `Net`.
      Standardizer: Standardizer
      /// The options the model was trained with; prediction uses its loss, regularizer, solver and
      /// context.
      Options: MultilabelOptions }
    interface IDisposable with
        member this.Dispose() =
            (this.Net :> IDisposable).Dispose()
            (this.Standardizer :> IDisposable).Dispose()

/// Multilabel classification with energy networks (Blondel et al. 2022, arXiv 2205.09589, §5.1):
/// the independent sigmoid baseline or the generalized FY loss with a quadratic energy, trained with
/// `Fit.run` (early stopping on the validation Hamming accuracy); predictions p̂ thresholded at 0.5.
[<RequireQualifiedAccess>]
module Multilabel =

    /// The inner options of a custom energy: projected gradient ascent accepts a stationary point
    /// unless the energy is concave in p.
    let private customInner (options: MultilabelOptions) (energy: Energy<Tensor>) (x: Tensor) =
        { options.Inner with AllowNonConcave = options.Inner.AllowNonConcave || (energy.Curvature x).IsNone }

    /// A fresh network for `options` with d inputs and k labels, drawn from `rng` in the options' context.
    let create (options: MultilabelOptions) (rng: Rng) (inputs: int) (labels: int) : MultilabelNetwork =
        match options.Loss with
        | CustomEnergy custom ->
            let m, energy = custom.Create inputs labels
            m.``to`` (options.Context.Device, options.Context.DType) |> ignore
            Init.reinitializeLinear rng m
            Custom (m, energy)
        | _ -> Builtin (EnergyMultilabelNet.create rng options.Context inputs labels options.Hidden)

    /// The prediction p̂ ∈ [0,1]ᵏ of a batch: the regularizer's prediction of the unary scores
    /// (independent loss) or argmax_p Φ(x, p) − Ω(p) (quadratic and custom energies).
    let predict (options: MultilabelOptions) (net: MultilabelNetwork) (x: Tensor) : Tensor =
        Scope.tensor (fun () ->
            Diff.noGrad (fun () ->
                match net, options.Loss with
                | Custom (_, energy), _ ->
                    (ProjectedGradient.solve (customInner options energy x) energy options.Regularizer x None).Argmax
                | Builtin net, Independent -> options.Regularizer.Predict (net.forward x)
                | Builtin net, _ ->
                    let sol = SolverChoice.solver options.Solver options.Inner Quadratic.energy options.Regularizer (net.Input x) None
                    sol.Argmax))

    /// The mean training loss of a batch.
    let loss (options: MultilabelOptions) (net: MultilabelNetwork) (x: Tensor) (y: Tensor) : Tensor =
        match net, options.Loss with
        | Custom (_, energy), _ ->
            GeneralizedFenchelYoung.meanLoss ProjectedGradient.solve (customInner options energy x) energy options.Regularizer x y
        | Builtin net, Independent -> FenchelYoung.meanLoss options.Regularizer (net.forward x) y
        | Builtin net, _ -> GeneralizedFenchelYoung.meanLoss (SolverChoice.solver options.Solver) options.Inner Quadratic.energy options.Regularizer (net.Input x) y

    /// The 0/1 prediction 1[p̂ > 0.5] of a network on standardized features x (as float64).
    let predictBinary (options: MultilabelOptions) (net: MultilabelNetwork) (x: Tensor) : Tensor =
        Scope.tensor (fun () -> (predict options net x).gt(Pinned.scalar 0.5).to_type(torch.ScalarType.Float64))

    /// Metrics of the model on a set whose features are already standardized (hamming_accuracy,
    /// example_f1, micro_f1, macro_f1; see `MultilabelMetrics.all`).
    let evaluate (options: MultilabelOptions) (net: MultilabelNetwork) (set: MultilabelSet) =
        net.Module.eval ()
        use pred = predictBinary options net set.Features
        MultilabelMetrics.all pred set.Labels

    let private fitOptions (options: MultilabelOptions) (seed: int64) (decay: float) epochs onProgress =
        { FitOptions.defaults with
            Epochs = epochs; Seed = seed
            Optimizer = OptimizerOptions.adam options.LearningRate |> OptimizerOptions.withWeightDecay decay
            Monitor = { options.Monitor with OnProgress = fun p -> options.Monitor.OnProgress p; onProgress p } }

    let private task (options: MultilabelOptions) (net: MultilabelNetwork) (train: MultilabelSet) validate : TrainingTask<Tensor> =
        let n = train.Features.shape[0]
        { Model = net.Module
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
    /// returns it with the run (history, best epoch, why it stopped).
    let trainRun (options: MultilabelOptions) (seed: int64) (decay: float) (train: MultilabelSet) (validation: MultilabelSet) (onProgress: Progress -> unit) =
        checkPair train validation
        use rng = new Rng(seed, options.Context.Device)
        let net = create options rng train.FeatureCount train.LabelCount
        let fit =
            { fitOptions options seed decay options.Epochs onProgress with
                EarlyStopping = Some { Metric = "val_hamming"; Goal = Maximize; Patience = options.Patience }
                RestoreBest = true }
        let validate =
            Some (fun () ->
                use pred = predictBinary options net validation.Features
                [ "val_hamming", MultilabelMetrics.hammingAccuracy pred validation.Labels ])
        let result =
            try Fit.run fit (task options net train validate)
            with _ -> (net :> IDisposable).Dispose(); reraise ()
        net, result

    /// `trainRun`, returning the model with the epochs run and the number of epochs that gave the
    /// best validation accuracy.
    let trainSelected (options: MultilabelOptions) (seed: int64) (decay: float) (train: MultilabelSet) (validation: MultilabelSet) (onProgress: Progress -> unit) =
        let net, result = trainRun options seed decay train validation onProgress
        net, result.State.Epoch, max 1 (result.State.BestEpoch + 1)

    /// Trains one model with a given weight decay on `train`, early-stopped on the validation Hamming
    /// accuracy; returns it with the epochs run.
    let trainOne (options: MultilabelOptions) (seed: int64) (decay: float) (train: MultilabelSet) (validation: MultilabelSet) (onProgress: Progress -> unit) =
        let net, epochs, _ = trainSelected options seed decay train validation onProgress
        net, epochs

    /// Trains one model for a fixed number of epochs with a given weight decay, without validation
    /// (the refit of `MultilabelOptions.Refit`).
    let trainFixed (options: MultilabelOptions) (seed: int64) (decay: float) (epochs: int) (train: MultilabelSet) (onProgress: Progress -> unit) =
        Checks.positiveInt "epochs" epochs
        use rng = new Rng(seed, options.Context.Device)
        let net = create options rng train.FeatureCount train.LabelCount
        try Fit.run (fitOptions options seed decay epochs onProgress) (task options net train None) |> ignore
        with _ -> (net :> IDisposable).Dispose(); reraise ()
        net

    /// Trains a classifier on raw (unstandardized) examples with one weight decay (the facade's Fit):
    /// a validation split of `options.ValidationFraction` drawn with `Rng(seed)`
    /// (`MultilabelSet.split`), a Standardizer fitted in float64 on the remaining training rows only,
    /// then `trainOne` early-stopped on the validation rows.
    let fit (options: MultilabelOptions) (seed: int64) (decay: float) (data: MultilabelSet) : FittedMultilabel =
        MultilabelSet.check data.Features data.Labels
        if data.Count < 2 then Checks.fail "data" (sprintf "need at least 2 examples, got %d" data.Count)
        let host = { options.Context with Device = data.Features.device; DType = torch.ScalarType.Float64 }
        use data64 = MultilabelSet.toContext host data
        use rng = new Rng(seed, data.Features.device)
        let train, validation = MultilabelSet.split rng options.ValidationFraction data64
        use train = train
        use validation = validation
        let standardizer = Standardizer.fit train.Features
        let prepared (set: MultilabelSet) =
            use scaled = MultilabelSet.standardize standardizer set
            MultilabelSet.toContext options.Context scaled
        use trainSet = prepared train
        use validationSet = prepared validation
        let net, result =
            try trainRun options seed decay trainSet validationSet ignore
            with _ -> (standardizer :> IDisposable).Dispose(); reraise ()
        { Net = net; Inputs = trainSet.FeatureCount; Labels = trainSet.LabelCount; History = result.History
          BestEpoch = result.State.BestEpoch; Stopped = result.Stopped; Standardizer = standardizer; Options = options }

    /// Probabilities p̂ ∈ [0,1]ᴸ, [n, L] (float64, on the model's device), of a fitted classifier for
    /// raw feature rows [n, d] of any dtype (the argmax of Φ(x, p) − Ω(p); the sigmoid of the scores
    /// for the independent loss with Fermi-Dirac); fails naming `features` and its shape when d differs.
    let predictProbabilities (model: FittedMultilabel) (features: Tensor) : Tensor =
        Checks.rank "features" 2 features
        Checks.require "features" (features.shape[0] >= 1L) "no rows to predict"
        Checks.dimSize "features" 1 (int64 model.Inputs) features
        Checks.finite "features" features
        Scope.tensor (fun () ->
            let raw = features.detach().``to``(model.Standardizer.Mean.dtype, model.Standardizer.Mean.device)
            let x = Tensor.toContext model.Options.Context (Standardizer.apply model.Standardizer raw)
            model.Net.Module.eval ()
            (predict model.Options model.Net x).to_type(torch.ScalarType.Float64))

    /// 0/1 predictions 1[p̂ > threshold], [n, L] (float64), of a fitted classifier for raw feature rows.
    let predictLabelsAt (threshold: float) (model: FittedMultilabel) (features: Tensor) : Tensor =
        Checks.require "threshold" (threshold >= 0.0 && threshold <= 1.0) (sprintf "threshold must be in [0, 1], got %g" threshold)
        Scope.tensor (fun () -> Pinned.using threshold (fun t -> (predictProbabilities model features).gt(t).to_type(torch.ScalarType.Float64)))

    /// 0/1 predictions [n, L] (float64, on the model's device) of a fitted classifier for raw
    /// feature rows [n, d] of any dtype, thresholded at 0.5; fails naming `features` and its shape
    /// when d differs.
    let predictLabels (model: FittedMultilabel) (features: Tensor) : Tensor = predictLabelsAt 0.5 model features
