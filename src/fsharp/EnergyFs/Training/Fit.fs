namespace EnergyFs.Training

open System
open System.Diagnostics
open System.Threading
open TorchSharp
open EnergyFs

/// Whether a monitored metric should go down or up.
type Goal =
    /// Smaller is better (losses, errors).
    | Minimize
    /// Larger is better (accuracies, F1, log-likelihoods).
    | Maximize

/// Stop when a validation metric has not improved for `Patience` epochs.
type EarlyStopping =
    { /// The validation metric to monitor (a name returned by the task's Validate).
      Metric: string
      /// Whether smaller or larger is better.
      Goal: Goal
      /// Epochs without improvement before stopping.
      Patience: int }

/// Where a run stands, reported after every optimizer step.
type Progress =
    { /// Current epoch (0-based).
      Epoch: int
      /// Total epochs planned.
      Epochs: int
      /// Optimizer steps taken so far over the run.
      Step: int
      /// Batches done in this epoch.
      BatchInEpoch: int
      /// Batches per epoch when known (0 otherwise).
      BatchesPerEpoch: int
      /// The last step's loss (its first metric).
      Loss: float
      /// All the metrics the last step returned.
      Metrics: (string * float) list
      /// Wall time since the run (or its resumption) started.
      Elapsed: TimeSpan
      /// Fraction of the run done, in [0, 1].
      Fraction: float }

/// What a caller watches and controls while a run trains: a callback after every optimizer step, a
/// callback after every epoch with its history row, and a cancellation token. A cancelled run stops
/// before its next step, puts the parameters back to the end of the last completed epoch (the
/// start of the run when none completed), and raises OperationCanceledException. The same record
/// rides in the learners' options (`MultilabelOptions.Monitor`, `RegressionOptions.Monitor`), so
/// F# and the C# facade's IProgress/CancellationToken share one mechanism.
type FitMonitor =
    { /// Called after every optimizer step.
      OnProgress: Progress -> unit
      /// Called after every epoch with the epoch (0-based) and its history row (column, value).
      OnEpoch: int -> (string * float) list -> unit
      /// Checked before every step; see the type's summary for what cancelling does.
      Cancellation: CancellationToken }

/// Monitors of a run.
[<RequireQualifiedAccess>]
module FitMonitor =
    /// No callbacks, no cancellation.
    let none = { OnProgress = ignore; OnEpoch = (fun _ _ -> ()); Cancellation = CancellationToken.None }
    /// `none` with a step callback.
    let ofProgress (onProgress: Progress -> unit) = { none with OnProgress = onProgress }

/// Options of the fit loop; start from `FitOptions.defaults`.
type FitOptions =
    { /// Epochs to train.
      Epochs: int
      /// Optimizer, learning-rate schedule and clipping.
      Optimizer: OptimizerOptions
      /// Seed of the run's random generator (batch order and anything the task draws); libtorch's
      /// global generator (torch.nn.Dropout's) is seeded with it too when the run starts.
      Seed: int64
      /// Early stopping on a validation metric.
      EarlyStopping: EarlyStopping option
      /// Keep a copy of the parameters at the best monitored epoch and restore them at the end.
      RestoreBest: bool
      /// Checkpoint file written every CheckpointEvery epochs (None: no checkpoints).
      Checkpoint: string option
      /// Epochs between checkpoints.
      CheckpointEvery: int
      /// Resume from Checkpoint when the file exists.
      Resume: bool
      /// Check loss and gradients for NaN/Inf every step (and parameters every epoch).
      CheckFinite: bool
      /// Progress and epoch callbacks, and the cancellation token.
      Monitor: FitMonitor }

/// Defaults for FitOptions.
[<RequireQualifiedAccess>]
module FitOptions =
    /// 10 epochs, Adam 1e-3, seed 0, no early stopping, no checkpoints, finite checks on, no monitor.
    let defaults =
        { Epochs = 10; Optimizer = OptimizerOptions.defaults; Seed = 0L; EarlyStopping = None; RestoreBest = false
          Checkpoint = None; CheckpointEvery = 1; Resume = true; CheckFinite = true; Monitor = FitMonitor.none }

/// What to train: a module, how to draw the batches of an epoch, the loss of a batch, and an
/// optional validation that returns named metrics. The plain case of `StepTask` (`Fit.steps`).
type TrainingTask<'Batch> =
    { /// The module whose parameters are trained and checkpointed.
      Model: torch.nn.Module
      /// The batches of epoch `e`, drawn with the run's generator.
      Batches: Rng -> int -> seq<'Batch>
      /// Number of batches per epoch, for progress (0 if unknown).
      BatchesPerEpoch: int
      /// The scalar loss of a batch (graph attached to the model's parameters).
      Loss: 'Batch -> Tensor
      /// Validation metrics, computed after each epoch with gradients off and the model in eval mode.
      Validate: (unit -> (string * float) list) option }

/// Why a run ended.
type StopReason =
    /// All planned epochs ran.
    | Completed
    /// Early stopping ended the run after this epoch (0-based, like Progress.Epoch; the history's
    /// row key is epoch + 1): the monitored metric had not improved for `Patience` epochs.
    | EarlyStopped of epoch: int

/// The per-epoch history of a run: one row per epoch (row i is epoch i + 1), one column per metric
/// (the epoch means of the step metrics — train_loss, grad_norm for a plain loss task — then lr,
/// seconds, then the validation metrics). A NaN marks a metric that was
/// not computed in that epoch. A plain record: the papers' reports turn it into a Deedle frame.
type TrainingHistory =
    { /// The metric names, in column order.
      Columns: string[]
      /// The rows, one per epoch, each with one value per column.
      Rows: float[][] }
    /// Number of epochs recorded.
    member h.Epochs = h.Rows.Length
    /// The values of one metric over the epochs; fails with an ArgumentException naming the metric
    /// and the available columns when it is absent.
    member h.Column (name: string) : float[] =
        match Array.tryFindIndex ((=) name) h.Columns with
        | Some j -> h.Rows |> Array.map (fun r -> r[j])
        | None -> invalidArg "name" (sprintf "no metric '%s' in the history (columns: %s)" name (String.Join(", ", h.Columns)))
    /// The value of one metric at the last epoch (NaN when no epoch ran).
    member h.Last (name: string) : float =
        let c = h.Column name
        if c.Length = 0 then nan else c[c.Length - 1]

/// The outcome of a run: the per-epoch history (rows: epoch 1..n; columns: the step metrics, lr,
/// seconds and the validation metrics), the final state, why it stopped.
type FitResult =
    { /// Per-epoch history: rows keyed by epoch (1-based), columns the step metrics' epoch means
      /// (train_loss, grad_norm for a plain loss task), lr, seconds and the validation metrics.
      History: TrainingHistory
      /// The final training state (parameters restored to the best epoch when RestoreBest is on).
      State: TrainingState
      /// Why the run ended.
      Stopped: StopReason
      /// Wall time of this call (a resumed run counts only the time since resumption).
      Elapsed: TimeSpan }

/// The training loop shared by every trainer of EnergyFs: `runSteps` runs a step task (parameter
/// groups with their own optimizers, steps that return metrics: min–max games, hypergradient
/// steps), `run` a plain loss task.
[<RequireQualifiedAccess>]
module Fit =

    /// The history of a TrainingState (one row per epoch run).
    let history (state: TrainingState) : TrainingHistory =
        { Columns = state.HistoryColumns; Rows = state.HistoryRows }

    let private improved goal best value =
        Double.IsNaN best || (match goal with Minimize -> value < best | Maximize -> value > best)

    let private parametersOf (groups: ParameterGroup list) = groups |> List.collect ParameterGroup.parameters

    /// The step task of a plain loss task: one group "model" (all the module's parameters, updated
    /// by `FitOptions.Optimizer`) and a step that descends the batch's loss, with metrics
    /// train_loss and grad_norm; validation runs with gradients off.
    let steps (task: TrainingTask<'Batch>) : StepTask<'Batch> =
        { Groups = [ ParameterGroup.ofModule "model" task.Model ]
          Batches = task.Batches
          BatchesPerEpoch = task.BatchesPerEpoch
          Step =
            fun ctx batch ->
                let loss, norm = Step.descend ctx "model" (task.Loss batch)
                [ "train_loss", loss; "grad_norm", norm ]
          Validate = task.Validate |> Option.map (fun validate () -> Diff.noGrad validate)
          ValidateStart = false }

    let private checkMetrics (epoch: int) (step: int) (metrics: (string * float) list) =
        match List.tryFind (snd >> Double.IsFinite >> not) metrics with
        | Some (name, v) -> raise (TrainingDivergedException(epoch, step, sprintf "step metric %s" name, sprintf "value %g" v))
        | None -> ()

    /// Running sums of the step metrics of an epoch, in first-seen order over the run.
    type private MetricSums(initial: string list) =
        let names = ResizeArray<string>(initial)
        let sums = Collections.Generic.Dictionary<string, float * int>()
        member _.Add(metrics: (string * float) list) =
            for name, v in metrics do
                if not (names.Contains name) then names.Add name
                let s, c = match sums.TryGetValue name with | true, sc -> sc | _ -> 0.0, 0
                sums[name] <- (s + v, c + 1)
        member _.Means() =
            [ for name in names ->
                match sums.TryGetValue name with
                | true, (s, c) when c > 0 -> name, s / float c
                | _ -> name, nan ]
        member _.Names = List.ofSeq names

    /// Trains a step task under `options`. Every step runs in its own dispose scope and every epoch
    /// in another, so native memory stays flat. One optimizer per group (the group's options, or
    /// FitOptions.Optimizer); checkpoints hold every group's module and optimizer; the history has
    /// the epoch means of the step metrics, then lr (the first group's), seconds and the validation
    /// metrics. Raises TrainingDivergedException when CheckFinite is on and a loss, gradient, step
    /// metric or parameter goes non-finite.
    let runSteps (options: FitOptions) (task: StepTask<'Batch>) : FitResult =
        Checks.positiveInt "Epochs" options.Epochs
        Checks.positiveInt "CheckpointEvery" options.CheckpointEvery
        if task.Groups.IsEmpty then Checks.fail "Groups" "the task has no parameter group"
        let groupNames = task.Groups |> List.map (fun g -> g.Name)
        if List.length (List.distinct groupNames) <> groupNames.Length then
            Checks.fail "Groups" (sprintf "parameter group names must be distinct, got %s" (String.Join(", ", groupNames)))
        let modules = task.Groups |> List.map (fun g -> g.Module)
        let allParameters = parametersOf task.Groups
        if allParameters.IsEmpty then Checks.fail "Groups" "the task's groups hold no parameter"
        let device = allParameters.Head.device
        use rng = new Rng(options.Seed, device)
        // libtorch's global generator too: modules that draw from it (torch.nn.Dropout) would otherwise
        // differ between processes (it starts from a different state in each) — same seed, same result.
        Runtime.seedGlobal options.Seed
        let optimizers =
            task.Groups |> List.map (fun g -> g.Name, Optimizer.ofParameters (defaultArg g.Optimizer options.Optimizer) (ParameterGroup.parameters g))
        use _optimizers = { new IDisposable with member _.Dispose() = for _, o in optimizers do (o :> IDisposable).Dispose() }
        let namedOf (g: ParameterGroup) =
            g.Module.named_parameters ()
            |> Seq.map (fun struct (n, p) -> (if task.Groups.Length = 1 then n else g.Name + "." + n), p)
            |> List.ofSeq
        let namedGroups = task.Groups |> List.map (fun g -> g.Name, namedOf g)
        let named = namedGroups |> List.collect snd
        let firstOptimizer = snd optimizers.Head
        let mutable state = TrainingState.initial
        let mutable best : Tensor list option = None
        match options.Checkpoint with
        | Some path when options.Resume && IO.File.Exists path ->
            let s, b = Checkpoint.loadAll path modules (List.map snd optimizers) rng
            state <- s
            best <- b
        | _ -> ()
        let validate () =
            match task.Validate with
            | Some validate ->
                for m in modules do m.eval ()
                let metrics = Scope.run validate
                for m in modules do m.train ()
                metrics
            | None -> []
        let monitored (es: EarlyStopping) (metrics: (string * float) list) =
            match List.tryFind (fst >> (=) es.Metric) metrics with
            | Some (_, v) -> v
            | None -> invalidArg "EarlyStopping" (sprintf "early stopping monitors '%s' but Validate returned %A" es.Metric (List.map fst metrics))
        if task.ValidateStart && state.Epoch = 0 && task.Validate.IsSome then
            let metrics = validate ()
            match options.EarlyStopping with
            | Some es ->
                let value = monitored es metrics
                if improved es.Goal state.BestValue value then
                    state <- { state with BestEpoch = -1; BestValue = value }
                    if options.RestoreBest then
                        best |> Option.iter Scope.disposeAll
                        best <- Some (Snapshot.take allParameters)
            | None -> ()
        let watch = Stopwatch.StartNew()
        let mutable stopped = None
        let mutable steps = state.Step
        let stepColumns = state.HistoryColumns |> Array.takeWhile ((<>) "lr") |> List.ofArray
        let totalBatches = max 1 (options.Epochs * max 1 task.BatchesPerEpoch)
        let token = options.Monitor.Cancellation
        while state.Epoch < options.Epochs && stopped.IsNone do
            let epoch = state.Epoch
            let epochWatch = Stopwatch.StartNew()
            for m in modules do m.train ()
            let sums = MetricSums(stepColumns)
            let mutable batches = 0
            let lr = firstOptimizer.CurrentLearningRate
            // A cancellable run keeps the parameters of the epoch's start, to put back when cancelled.
            let epochStart = if token.CanBeCanceled then Some (Snapshot.take allParameters) else None
            let cancel () =
                epochStart |> Option.iter (fun s -> Snapshot.restore allParameters s; Scope.disposeAll s)
                best |> Option.iter Scope.disposeAll
                let kept = if epoch = 0 then "at the start of the run" else sprintf "at the end of epoch %d (0-based)" (epoch - 1)
                raise (OperationCanceledException(
                        sprintf "training was cancelled in epoch %d (0-based) after %d optimizer steps; %d epochs completed and the parameters are those %s" epoch steps epoch kept,
                        token))
            do
                use _epochScope = torch.NewDisposeScope()
                for batch in task.Batches rng epoch do
                    if token.IsCancellationRequested then cancel ()
                    let ctx = { Epoch = epoch; Step = steps; Optimizers = optimizers; Named = namedGroups; CheckFinite = options.CheckFinite }
                    let metrics = Scope.run (fun () -> task.Step ctx batch)
                    if options.CheckFinite then checkMetrics epoch steps metrics
                    sums.Add metrics
                    steps <- steps + 1
                    batches <- batches + 1
                    let done' = epoch * max 1 task.BatchesPerEpoch + batches
                    options.Monitor.OnProgress
                        { Epoch = epoch; Epochs = options.Epochs; Step = steps; BatchInEpoch = batches
                          BatchesPerEpoch = task.BatchesPerEpoch; Loss = (match metrics with (_, v) :: _ -> v | [] -> nan)
                          Metrics = metrics; Elapsed = watch.Elapsed; Fraction = min 1.0 (float done' / float totalBatches) }
            if options.CheckFinite then Divergence.checkParameters epoch steps named
            epochStart |> Option.iter Scope.disposeAll
            let metrics = validate ()
            let row = sums.Means() @ [ "lr", lr; "seconds", epochWatch.Elapsed.TotalSeconds ] @ metrics
            let columns = row |> List.map fst |> Array.ofList
            let mutable next =
                { state with
                    Epoch = epoch + 1
                    Step = steps
                    HistoryColumns = columns
                    HistoryRows = Array.append state.HistoryRows [| row |> List.map snd |> Array.ofList |] }
            match options.EarlyStopping with
            | Some es ->
                let value = monitored es metrics
                if improved es.Goal state.BestValue value then
                    next <- { next with BestEpoch = epoch; BestValue = value; EpochsWithoutImprovement = 0 }
                    if options.RestoreBest then
                        best |> Option.iter Scope.disposeAll
                        best <- Some (Snapshot.take allParameters)
                else
                    next <- { next with EpochsWithoutImprovement = state.EpochsWithoutImprovement + 1 }
                    if next.EpochsWithoutImprovement >= es.Patience then stopped <- Some (EarlyStopped epoch)
            | None -> ()
            state <- next
            options.Monitor.OnEpoch epoch row
            match options.Checkpoint with
            | Some path when state.Epoch % options.CheckpointEvery = 0 || state.Epoch = options.Epochs || stopped.IsSome ->
                Checkpoint.saveAll path modules (List.map snd optimizers) rng state best
            | _ -> ()
        if options.RestoreBest then best |> Option.iter (Snapshot.restore allParameters)
        best |> Option.iter Scope.disposeAll
        { History = history state
          State = state
          Stopped = defaultArg stopped Completed
          Elapsed = watch.Elapsed }

    /// Trains `task` under `options` (`runSteps` on `steps task`). Raises TrainingDivergedException
    /// (parameters left at their last good values) when CheckFinite is on and something goes
    /// non-finite.
    let run (options: FitOptions) (task: TrainingTask<'Batch>) : FitResult = runSteps options (steps task)
