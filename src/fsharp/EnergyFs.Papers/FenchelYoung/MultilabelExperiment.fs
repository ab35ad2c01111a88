namespace EnergyFs.Papers.FenchelYoung

open System
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Energies
open EnergyFs.Data
open EnergyFs.Learners

/// The outcome of one seed: the selected weight decay, validation and test metrics, wall time.
type MultilabelRun =
    { /// The seed of this run: it seeds the validation split, the network's initialization and the
      /// minibatch order.
      Seed: int
      /// The weight decay chosen from `MultilabelOptions.WeightDecays` by the best validation Hamming
      /// accuracy.
      WeightDecay: float
      /// Epochs run by the selected model (early stopping included) without Refit; with Refit, the
      /// selected epoch count the final model was retrained for.
      Epochs: int
      /// Metrics of the selected model on the validation split.
      Validation: (string * float) list
      /// Metrics of the final model on the test split, by name: hamming_accuracy, example_f1,
      /// micro_f1, macro_f1 (each in [0, 1]; the paper's Table 1 reports Hamming accuracy).
      Test: (string * float) list
      /// Wall-clock seconds of the whole seed (grid search, refit and evaluation).
      Seconds: float }


/// The multilabel classification experiment of Blondel et al. 2022 (arXiv 2205.09589, §5.1,
/// Table 1): independent sigmoid baseline versus the generalized FY loss with a quadratic energy on
/// the MULAN splits, the weight decay and epoch count selected on a validation split.
[<RequireQualifiedAccess>]
module MultilabelExperiment =

    /// One seed: carve a validation split of `options.ValidationFraction` from the training rows with
    /// `Rng(seed)` (`Mulan.validationSplit`), standardize with statistics of the remaining training
    /// rows only (`Mulan.standardize`, float64 when `data` is loaded in float64), move to the
    /// options' context, select the weight decay and the epoch count on the validation rows, refit
    /// when asked, and report validation and test metrics of the selected model. `data` is raw (not
    /// split, not standardized) and is not disposed.
    let runSeed (options: MultilabelOptions) (data: MultilabelSplits) (seed: int) (onProgress: float -> unit) : MultilabelRun =
        if data.Validation.IsSome || data.Standardizer.IsSome then
            Checks.fail "data" "pass the dataset as loaded: runSeed makes the validation split and the standardization itself"
        let watch = Diagnostics.Stopwatch.StartNew ()
        use rng = new Rng(int64 seed, data.Train.Features.device)
        use split = Mulan.validationSplit rng options.ValidationFraction data
        use scaled = Mulan.standardize split
        use prepared = Mulan.toContext options.Context scaled
        let train, validation, test = prepared.Train, prepared.Validation.Value, prepared.Test
        let grid = options.WeightDecays
        let stages = if options.Refit then grid.Length + 1 else grid.Length
        let candidates =
            grid |> List.mapi (fun gi decay ->
                let net, epochs, bestEpochs =
                    Multilabel.trainSelected options (int64 seed) decay train validation (fun p -> onProgress ((float gi + p.Fraction) / float stages))
                let v = Multilabel.evaluate options net validation
                net, decay, (epochs, bestEpochs), v)
        let best = candidates |> List.maxBy (fun (_, _, _, v) -> v |> List.find (fst >> (=) "hamming_accuracy") |> snd)
        let net, decay, (epochs, bestEpochs), v = best
        let t =
            if options.Refit then
                // Retrain on training plus validation rows for the selected epochs (same standardization).
                use all = MultilabelSet.append train validation
                use refit = Multilabel.trainFixed options (int64 seed) decay bestEpochs all (fun p -> onProgress ((float grid.Length + p.Fraction) / float stages))
                Multilabel.evaluate options refit test
            else Multilabel.evaluate options net test
        for c, _, _, _ in candidates do (c :> IDisposable).Dispose ()
        { Seed = seed; WeightDecay = decay; Epochs = (if options.Refit then bestEpochs else epochs); Validation = v; Test = t; Seconds = watch.Elapsed.TotalSeconds }

    /// The metrics of one seed, as the reproduction cache stores them and `energyfs fy multilabel
    /// --json` summarises them over seeds: the test metrics ×100 (`hamming_accuracy`, `example_f1`,
    /// `micro_f1`, `macro_f1`; Table 1 reports the Hamming accuracy in %), the selected model's
    /// validation Hamming accuracy ×100 (`val_hamming_accuracy`), the selected `weight_decay` and
    /// `epochs`.
    let metrics (r: MultilabelRun) : (string * float) list =
        (r.Test |> List.map (fun (k, v) -> k, 100.0 * v))
        @ [ "val_hamming_accuracy", 100.0 * (r.Validation |> List.find (fst >> (=) "hamming_accuracy") |> snd)
            "weight_decay", r.WeightDecay; "epochs", float r.Epochs ]
