namespace EnergyFs.Papers.LearnedProposals

open System
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Metrics
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Learners

/// One train/test split of a regression data set with standardised x and y.
type RegressionSplit =
    { /// Training inputs [n_train, d], standardised with the training split's statistics.
      XTrain: Tensor
      /// Training targets [n_train, 1], standardised (zero mean, unit std on the training split).
      YTrain: Tensor
      /// Test inputs [n_test, d], standardised with the training split's statistics.
      XTest: Tensor
      /// Test targets [n_test, 1], standardised with the training split's mean and std.
      YTest: Tensor
      /// The standard deviation of y in original units (NLL and RMSE are reported in them).
      YStd: float }

/// Metrics of one split: test NLL and RMSE in the target's original units.
type SplitMetrics =
    { /// Mean test negative log-likelihood per point in nats, in the target's original units (the
      /// standardised NLL plus log `YStd`); for EBMs the normaliser is computed by quadrature on a grid.
      Nll: float
      /// Test root-mean-square error of the predicted mean, in the target's original units.
      Rmse: float
      /// The NLL of the model's proposal / MDN when it has one alongside an EBM (else NaN).
      ProposalNll: float
      /// Wall-clock training seconds of this split (evaluation excluded).
      Seconds: float
      /// The optimizer step whose parameters were kept: the one with the lowest NLL on the validation
      /// rows carved from the training split (`UciProtocol.ValidationFraction`); NaN without validation.
      SelectedStep: float
      /// The step budget of the split (epochs × batches per epoch).
      Steps: int
      /// Whether the targets were dequantized (`UciProtocol.Dequantize` on a quantized target).
      Dequantized: bool
      /// Distinct values of the split's training targets (`TargetQuantization.analyze`).
      TargetDistinct: int
      /// Whether the training targets count as quantized (`TargetQuantization.analyze`).
      TargetQuantized: bool }

/// How the UCI splits are used around training (issue #16): a validation split carved from the
/// training rows selects every method's number of steps (the MDN alone included; never the test
/// rows), and quantized targets can be dequantized.
type UciProtocol =
    { /// Fraction of the training rows held out to select the step (0: train on all of them and keep
      /// the last step).
      ValidationFraction: float
      /// Add uniform noise of the quantization width (`TargetQuantization.dequantize`) to the train,
      /// validation and test targets when they are quantized (`TargetQuantization.analyze`).
      Dequantize: bool }

/// The standard protocol.
[<RequireQualifiedAccess>]
module UciProtocol =
    /// 10% of the training rows for validation, no dequantization.
    let defaults = { ValidationFraction = 0.1; Dequantize = false }

/// One method's metrics summarised over splits (mean ± sample std, `Statistics.meanStd`).
type UciSummary =
    { /// The method summarised.
      Method: RegressionMethod
      /// Number of splits run.
      Splits: int
      /// Mean over splits of the test NLL (original units).
      NllMean: float
      /// Sample std over splits of the test NLL (n − 1; 0 for one split).
      NllStd: float
      /// Mean over splits of the test RMSE (original units).
      RmseMean: float
      /// Sample std over splits of the test RMSE.
      RmseStd: float
      /// The second model's NLL (the joint EBM's proposal, the teacher-trained MDN's teacher EBM); NaN if none.
      SecondNllMean: float
      /// Sample std over splits of the second model's NLL; NaN if none.
      SecondNllStd: float
      /// Total training seconds over the splits.
      Seconds: float
      /// Mean over splits of the selected step (NaN without validation).
      SelectedStepMean: float
      /// Fewest and most selected steps over the splits.
      SelectedStepRange: float * float
      /// Mean step budget per split.
      StepsMean: float
      /// Fewest distinct training-target values over the splits.
      TargetDistinct: int
      /// Whether any split's training targets count as quantized.
      TargetQuantized: bool
      /// Whether the targets were dequantized.
      Dequantized: bool }

/// The UCI regression benchmark (concrete, energy, yacht, power-plant; 20 standard train/test splits
/// of Hernández-Lobato & Adams 2015) for the methods of Gustafsson, Danelljan & Schön 2022
/// (arXiv 2110.11948). The paper's real-data experiments are four computer-vision tasks; the UCI
/// sets are this project's stand-in for real data at CPU scale.
[<RequireQualifiedAccess>]
module UciExperiment =

    /// A synthetic stand-in split (used until the UCI loader is available, and by tests): 8
    /// standard-normal features, y = sin 2x₁ + ½x₂² ± (0.3 + 0.2|x₃|) ε with a random sign flip on
    /// x₄ > 1 (bimodal there); `n` rows, 90% train; y standardised with the training statistics.
    let syntheticSplit (ctx: Context) (seed: int64) (n: int) : RegressionSplit =
        use rng = new Rng(seed, ctx.Device)
        let x = Tensor.randn rng ctx [ int64 n; 8L ]
        let y =
            Scope.tensor (fun () ->
                let col i = x.narrow (1L, int64 i, 1L)
                let base' = (col 0 * 2.0).sin () + Tensor.square (col 1) * 0.5
                let flip = torch.where ((col 3).gt (Pinned.scalar 1.0), -base', base')
                flip + (Tensor.abs (col 2) * 0.2 + 0.3) * Tensor.randn rng ctx [ int64 n; 1L ])
        let nTrain = int64 (0.9 * float n)
        let yTr = y.narrow (0L, 0L, nTrain)
        let mean, std = Tensor.toScalar (Tensor.mean yTr), Tensor.toScalar (yTr.std ())
        let ys = (y - mean) / std
        let split =
            { XTrain = x.narrow(0L, 0L, nTrain).clone (); YTrain = ys.narrow(0L, 0L, nTrain).clone ()
              XTest = x.narrow(0L, nTrain, int64 n - nTrain).clone (); YTest = ys.narrow(0L, nTrain, int64 n - nTrain).clone ()
              YStd = std }
        Scope.disposeAll [ x; y; ys ]
        split

    /// Split `split` of a UCI folder in the standard layout (data.txt, index_*.txt), read by
    /// `EnergyFs.Data.UciRegression.load` (x and y standardised with training statistics).
    let loadSplit (ctx: Context) (dir: string) (split: int) : RegressionSplit =
        use s = EnergyFs.Data.UciRegression.load ctx dir split
        { XTrain = s.Train.X.clone (); YTrain = s.Train.Y.clone (); XTest = s.Test.X.clone (); YTest = s.Test.Y.clone (); YStd = s.YStd }

    /// Number of splits of a UCI folder (n_splits.txt).
    let splitCount (dir: string) = EnergyFs.Data.UciRegression.splitCount dir

    /// The training options of the UCI runs: M = 256 proposal samples, 40 epochs (raised to reach
    /// `minSteps` on small sets), Adam 1e-3; the other settings `RegressionOptions.defaults`'.
    let defaults = { RegressionOptions.defaults with Samples = 256; Epochs = 40; LearningRate = 1e-3 }

    /// The paper's scale: M = 1024 proposal samples, 75 epochs.
    let paperScale (options: RegressionOptions) = { options with Samples = 1024; Epochs = 75 }

    /// The fewest optimizer steps per split of a default run (small sets get more epochs): 2000.
    let minSteps = 2000

    /// Quadrature for standardised 1-D targets: [−8, 8] with 4096 points.
    let quadrature = (-8.0, 8.0, 4096)

    /// The NLL (standardised units) a method is judged by on (x, y): the MDN's exact NLL for mdn and
    /// teacher, the EBM's by quadrature on `points` points of [−8, 8] for joint and nce.
    let judgedNll (ctx: Context) (points: int) (model: RegressionModel) (x: Tensor) (y: Tensor) : float =
        let lo, hi, _ = quadrature
        match model.Method with
        | MdnAlone | Teacher -> Regression.proposalNll model x y
        | Joint | NceFixedNoise -> Regression.ebmNllQuadrature ctx lo hi points model x y

    /// Quadrature points of the per-epoch validation NLL of EBMs (1024 on [−8, 8]).
    let validationPoints = 1024

    /// Trains one method on a split under `protocol` and evaluates it: the EBM's NLL by quadrature
    /// and RMSE of the importance-weighted mean (joint), the student MDN's exact NLL and mixture-mean
    /// RMSE (mdn, teacher), the NCE EBM's NLL and mean by quadrature (nce). NLL in original units adds
    /// log YStd. `minSteps` raises the epochs of small sets so that every run takes at least that many
    /// optimizer steps (0: use options.Epochs as given). With a validation fraction, that share of the
    /// training rows (drawn with seed options.Seed + 31) is held out, the method's judged NLL
    /// (`judgedNll`) is computed on it after every epoch, and the parameters of the best epoch are kept.
    let runSplitWith (ctx: Context) (protocol: UciProtocol) (options: RegressionOptions) (minSteps: int) (split: RegressionSplit) : SplitMetrics =
        Checks.require "ValidationFraction" (protocol.ValidationFraction >= 0.0 && protocol.ValidationFraction < 1.0)
            (sprintf "the validation fraction must be in [0, 1), got %g" protocol.ValidationFraction)
        let quant = EnergyFs.Data.TargetQuantization.analyze (Tensor.toArray split.YTrain)
        let dequantized = protocol.Dequantize && quant.Quantized
        let yTrain, yTest =
            match (if dequantized then EnergyFs.Data.TargetQuantization.width quant (Tensor.toArray split.YTrain) else None) with
            | Some w ->
                use noise = new Rng(options.Seed + 37L, ctx.Device)
                EnergyFs.Data.TargetQuantization.dequantize noise w split.YTrain, EnergyFs.Data.TargetQuantization.dequantize noise w split.YTest
            | None -> split.YTrain, split.YTest
        let n = split.XTrain.shape[0]
        let nVal = if protocol.ValidationFraction > 0.0 then max 1L (int64 (Math.Round (protocol.ValidationFraction * float n))) else 0L
        Checks.require "ValidationFraction" (n - nVal >= 1L) (sprintf "%d training rows leave none for training after %d validation rows" n nVal)
        let perm = using (new Rng(options.Seed + 31L, ctx.Device)) (fun r -> Tensor.randperm r ctx.Device n)
        let trIdx, valIdx = perm.narrow (0L, nVal, n - nVal), perm.narrow (0L, 0L, nVal)
        let xTr, yTr = Tensor.selectRows trIdx split.XTrain, Tensor.selectRows trIdx yTrain
        let xVal, yVal = Tensor.selectRows valIdx split.XTrain, Tensor.selectRows valIdx yTrain
        let temporaries = [ perm; trIdx; valIdx; xTr; yTr; xVal; yVal ] @ (if dequantized then [ yTrain; yTest ] else [])
        try
            let batches = Training.Batches.count options.BatchSize (n - nVal)
            let options = { options with Epochs = max options.Epochs ((minSteps + batches - 1) / batches) }
            let watch = Diagnostics.Stopwatch.StartNew ()
            let model = using (new Rng(options.Seed, ctx.Device)) (fun rng -> Regression.create ctx rng options (int split.XTrain.shape[1]) 1)
            use model = model
            let validate = if nVal > 0L then Some (fun m -> [ "val_nll", judgedNll ctx validationPoints m xVal yVal ]) else None
            let fit =
                { Regression.fitOptions options with
                    RestoreBest = validate.IsSome
                    EarlyStopping = validate |> Option.map (fun _ -> { Metric = "val_nll"; Goal = Training.Minimize; Patience = Int32.MaxValue }) }
            let result = Training.Fit.run fit (Regression.fitTask options validate model xTr yTr)
            let selected = if validate.IsSome && result.State.BestEpoch >= 0 then float ((result.State.BestEpoch + 1) * batches) else nan
            let seconds = watch.Elapsed.TotalSeconds
            let lo, hi, points = quadrature
            use rng = new Rng(options.Seed + 23L, ctx.Device)
            let rmseOf (pred: Tensor) =
                Scope.run (fun () -> sqrt (Tensor.toScalar (Tensor.mean (Tensor.square (pred - yTest)))) * split.YStd)
            let logStd = log split.YStd
            let common =
                { Nll = nan; Rmse = nan; ProposalNll = nan; Seconds = seconds; SelectedStep = selected; Steps = options.Epochs * batches
                  Dequantized = dequantized; TargetDistinct = quant.Distinct; TargetQuantized = quant.Quantized }
            match options.Method with
            | Joint ->
                { common with
                    Nll = Regression.ebmNllQuadrature ctx lo hi points model split.XTest yTest + logStd
                    Rmse = rmseOf (Regression.predictMean rng 1024 model split.XTest)
                    ProposalNll = Regression.proposalNll model split.XTest yTest + logStd }
            | MdnAlone ->
                { common with
                    Nll = Regression.proposalNll model split.XTest yTest + logStd
                    Rmse = rmseOf (Regression.predictMean rng 1 model split.XTest) }
            | Teacher ->
                let mdnMean = Diff.noGrad (fun () -> Scope.tensor (fun () -> EnergyFs.Models.Mdn.mean (model.Proposal split.XTest).Value))
                { common with
                    Nll = Regression.proposalNll model split.XTest yTest + logStd
                    Rmse = rmseOf mdnMean
                    ProposalNll = Regression.ebmNllQuadrature ctx lo hi points model split.XTest yTest + logStd }
            | NceFixedNoise ->
                { common with
                    Nll = Regression.ebmNllQuadrature ctx lo hi points model split.XTest yTest + logStd
                    Rmse = rmseOf (Regression.predictMeanQuadrature ctx lo hi points model split.XTest) }
        finally Scope.disposeAll temporaries

    /// `runSplitWith` under `UciProtocol.defaults` (step selected on 10% of the training rows).
    let runSplit (ctx: Context) (options: RegressionOptions) (minSteps: int) (split: RegressionSplit) : SplitMetrics =
        runSplitWith ctx UciProtocol.defaults options minSteps split

    /// Runs `splits` splits (0 .. splits−1) given by `load` and returns the per-split metrics.
    let runWith (ctx: Context) (protocol: UciProtocol) (options: RegressionOptions) (minSteps: int) (load: int -> RegressionSplit) (splits: int) (onSplit: int -> SplitMetrics -> unit) : SplitMetrics list =
        Checks.positiveInt "splits" splits
        [ for i in 0 .. splits - 1 ->
            let split = load i
            let r = runSplitWith ctx protocol { options with Seed = options.Seed + int64 i } minSteps split
            Scope.disposeAll [ split.XTrain; split.YTrain; split.XTest; split.YTest ]
            onSplit i r
            r ]

    /// `runWith` under `UciProtocol.defaults`.
    let run (ctx: Context) (options: RegressionOptions) (minSteps: int) (load: int -> RegressionSplit) (splits: int) (onSplit: int -> SplitMetrics -> unit) : SplitMetrics list =
        runWith ctx UciProtocol.defaults options minSteps load splits onSplit

    /// The summary of one method's per-split metrics: mean ± sample std over splits
    /// (`Statistics.meanStd`, n − 1) of the test NLL, RMSE and the second model's NLL, and the
    /// total training time. Until issue #11 this used the population std (divisor n): the tables in
    /// docs/papers/regression.md that say "population std" are √((n − 1)/n) of what this gives now
    /// (with 20 splits, the std shown there is 2.5% smaller; the means are unchanged).
    let summarize (method: RegressionMethod) (results: SplitMetrics list) : UciSummary =
        Checks.require "results" (not results.IsEmpty) "no split results to summarise"
        let nll, nllSd = Statistics.meanStd (results |> List.map (fun r -> r.Nll))
        let rmse, rmseSd = Statistics.meanStd (results |> List.map (fun r -> r.Rmse))
        let second, secondSd = Statistics.meanStd (results |> List.map (fun r -> r.ProposalNll))
        let selected = results |> List.map (fun r -> r.SelectedStep)
        let selectedMean = if selected |> List.exists Double.IsNaN then nan else List.average selected
        let range = if Double.IsNaN selectedMean then (nan, nan) else (List.min selected, List.max selected)
        { Method = method; Splits = results.Length; NllMean = nll; NllStd = nllSd; RmseMean = rmse; RmseStd = rmseSd
          SecondNllMean = second; SecondNllStd = secondSd; Seconds = results |> List.sumBy (fun r -> r.Seconds)
          SelectedStepMean = selectedMean; SelectedStepRange = range
          StepsMean = results |> List.averageBy (fun r -> float r.Steps)
          TargetDistinct = results |> List.map (fun r -> r.TargetDistinct) |> List.min
          TargetQuantized = results |> List.exists (fun r -> r.TargetQuantized)
          Dequantized = results |> List.exists (fun r -> r.Dequantized) }

    /// The metrics of a summary, as the reproduction cache stores them and `energyfs regression uci
    /// --json` prints them: `nll`, `rmse`, `second_nll` (means over splits, original units) with
    /// their sample std over splits (`nll_std`, `rmse_std`, `second_nll_std`), and `train_seconds`,
    /// the mean training time per split, and `selected_step` (mean over splits of the step kept by
    /// validation; `selected_step_min`, `selected_step_max`) out of `steps` (the mean budget), and
    /// `target_distinct` (fewest distinct training targets over the splits), `target_quantized` and
    /// `dequantized` (1 or 0).
    let metrics (s: UciSummary) : (string * float) list =
        [ "nll", s.NllMean; "nll_std", s.NllStd; "rmse", s.RmseMean; "rmse_std", s.RmseStd
          "second_nll", s.SecondNllMean; "second_nll_std", s.SecondNllStd; "train_seconds", s.Seconds / float s.Splits
          "selected_step", s.SelectedStepMean; "selected_step_min", fst s.SelectedStepRange; "selected_step_max", snd s.SelectedStepRange
          "steps", s.StepsMean; "target_distinct", float s.TargetDistinct
          "target_quantized", (if s.TargetQuantized then 1.0 else 0.0); "dequantized", (if s.Dequantized then 1.0 else 0.0) ]

    /// Every method of `methods` on the same `splits` splits (each split loaded once per method, the
    /// same seeds per split for every method), summarised per method; `onSplit` is called with the
    /// method, the split index and its metrics.
    let compareWith (ctx: Context) (protocol: UciProtocol) (options: RegressionOptions) (minSteps: int) (load: int -> RegressionSplit) (splits: int)
                    (methods: RegressionMethod list) (onSplit: RegressionMethod -> int -> SplitMetrics -> unit) : UciSummary list =
        Checks.require "methods" (not methods.IsEmpty) "no methods to compare"
        [ for m in methods -> summarize m (runWith ctx protocol { options with Method = m } minSteps load splits (onSplit m)) ]

    /// `compareWith` under `UciProtocol.defaults`.
    let compare (ctx: Context) (options: RegressionOptions) (minSteps: int) (load: int -> RegressionSplit) (splits: int)
                (methods: RegressionMethod list) (onSplit: RegressionMethod -> int -> SplitMetrics -> unit) : UciSummary list =
        compareWith ctx UciProtocol.defaults options minSteps load splits methods onSplit

    /// A Markdown table of summaries, one row per method: test NLL and RMSE as mean ± std, the second
    /// model's NLL (proposal of the joint EBM, teacher EBM of the teacher-trained MDN), the step kept by
    /// validation (mean, range, of the budget) and training time.
    let markdownTable (summaries: UciSummary list) : string =
        let pm (m: float) (s: float) = if Double.IsNaN m then "–" else sprintf "%.3f ± %.3f" m s
        let rows =
            [ for s in summaries ->
                let step =
                    if Double.IsNaN s.SelectedStepMean then sprintf "last of %.0f" s.StepsMean
                    else sprintf "%.0f (%.0f–%.0f) of %.0f" s.SelectedStepMean (fst s.SelectedStepRange) (snd s.SelectedStepRange) s.StepsMean
                sprintf "| %s | %d | %s | %s | %s | %s | %.0f |" (RegressionMethod.name s.Method) s.Splits (pm s.NllMean s.NllStd)
                    (pm s.RmseMean s.RmseStd) (pm s.SecondNllMean s.SecondNllStd) step s.Seconds ]
        String.Join ("\n", "| method | splits | test NLL | test RMSE | second model's NLL | step kept (validation) | train s |" :: "|---|---|---|---|---|---|---|" :: rows)
