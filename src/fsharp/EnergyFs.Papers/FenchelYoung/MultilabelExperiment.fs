namespace EnergyFs.Papers.FenchelYoung

open System
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics

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

    /// report validation and test metrics of the selected model.
    let runSeed (options: MultilabelOptions) (train: MultilabelData) (test: MultilabelData) (seed: int) (onProgress: float -> unit) : MultilabelRun =
        if train.LabelCount <> test.LabelCount || train.Dimension <> test.Dimension then
            Checks.fail "test" (sprintf "train has %d features and %d labels but test has %d and %d" train.Dimension train.LabelCount test.Dimension test.LabelCount)
        let watch = Diagnostics.Stopwatch.StartNew ()
        let order = Array.init train.Count id
        (Random seed).Shuffle order
        let nVal = max 1 (int (options.ValidationFraction * float train.Count))
        let valIdx, trIdx = order[.. nVal - 1], order[nVal ..]
        let pick (idx: int[]) (a: 'T[]) = idx |> Array.map (fun i -> a[i])
        let scale = Multilabel.standardize (pick trIdx train.Features)
        let ctx = options.Context
        let tensor (rows: float[][]) = Tensor.toContext ctx (Tensor.ofRows Context.cpu64 rows)
        use trX = tensor (scale (pick trIdx train.Features))
        use trY = tensor (pick trIdx train.Labels)
        use vaX = tensor (scale (pick valIdx train.Features))
        let vaTruth = pick valIdx train.Labels
        use teX = tensor (scale test.Features)
        let grid = options.WeightDecays
        let stages = if options.Refit then grid.Length + 1 else grid.Length
        let candidates =
            grid |> List.mapi (fun gi decay ->
                let net, epochs, bestEpochs =
                    Multilabel.trainSelected options seed decay trX trY vaX vaTruth (fun p -> onProgress ((float gi + p.Fraction) / float stages))
                let v = Multilabel.evaluate options net vaX vaTruth
                net, decay, (epochs, bestEpochs), v)
        let best = candidates |> List.maxBy (fun (_, _, _, v) -> v |> List.find (fst >> (=) "hamming_accuracy") |> snd)
        let net, decay, (epochs, bestEpochs), v = best
        let t =
            if options.Refit then
                // Retrain on training plus validation rows for the selected epochs (same standardization).
                use allX = torch.cat ([| trX; vaX |], 0L)
                use vaY = tensor vaTruth
                use allY = torch.cat ([| trY; vaY |], 0L)
                use refit = Multilabel.trainFixed options seed decay bestEpochs allX allY (fun p -> onProgress ((float grid.Length + p.Fraction) / float stages))
                Multilabel.evaluate options refit teX test.Labels
            else Multilabel.evaluate options net teX test.Labels
        for c, _, _, _ in candidates do c.Dispose ()
        { Seed = seed; WeightDecay = decay; Epochs = (if options.Refit then bestEpochs else epochs); Validation = v; Test = t; Seconds = watch.Elapsed.TotalSeconds }

    /// Trains a classifier on a whole data set with one weight decay, early-stopped on a seeded

    /// The metrics of one seed, as the reproduction cache stores them and `energyfs fy multilabel
    /// --json` summarises them over seeds: the test metrics ×100 (`hamming_accuracy`, `example_f1`,
    /// `micro_f1`, `macro_f1`; Table 1 reports the Hamming accuracy in %), the selected model's
    /// validation Hamming accuracy ×100 (`val_hamming_accuracy`), the selected `weight_decay` and
    /// `epochs`.
    let metrics (r: MultilabelRun) : (string * float) list =
        (r.Test |> List.map (fun (k, v) -> k, 100.0 * v))
        @ [ "val_hamming_accuracy", 100.0 * (r.Validation |> List.find (fst >> (=) "hamming_accuracy") |> snd)
            "weight_decay", r.WeightDecay; "epochs", float r.Epochs ]
