namespace EnergyFs.Metrics

open TorchSharp
open EnergyFs

/// Multilabel metrics on binary predictions and targets (rows = examples, columns = labels)
/// (Tsoumakas, Katakis, Vlahavas 2010, "Mining multi-label data"; Zhang and Zhou 2014), and the
/// example-averaged F1 of thresholded scores with the threshold chosen on a development set
/// (Belanger & McCallum 2016; Tu & Gimpel 2018 report it ×100). Shared by the Fenchel-Young and
/// the SPEN experiments.
/// Conventions for empty denominators: an example with no true and no predicted label has F1 = 1
/// (a perfect prediction); a label never present nor predicted has F1 = 0 in macro F1
/// (scikit-learn's zero_division = 0).
[<RequireQualifiedAccess>]
module MultilabelMetrics =

    /// Checks predictions and targets: both 2-D [n, L] with n ≥ 1, of the same shape.
    let private check (pred: Tensor) (truth: Tensor) =
        Checks.rank "pred" 2 pred
        Checks.rank "truth" 2 truth
        Checks.sameShape "pred" pred "truth" truth
        Checks.require "truth" (truth.shape[0] >= 1L) (sprintf "no examples to score (shape %s)" (Checks.shapeText truth.shape))

    /// The per-example (dim = 1) or per-label (dim = 0) counts of true positives, false positives and
    /// false negatives of boolean predictions p̂ and targets y, as host floats (exact integers).
    let private countsAlong (dim: int64) (p: Tensor) (y: Tensor) =
        Scope.run (fun () ->
            let sum (t: Tensor) = Tensor.toArray (t.sum([| dim |], false, torch.ScalarType.Int64))
            let tp = sum (p.logical_and y)
            let fp = sum (p.logical_and (y.logical_not ()))
            let fn = sum ((p.logical_not ()).logical_and y)
            tp, fp, fn)

    /// F1 = 2tp / (2tp + fp + fn), and `whenEmpty` when tp + fp + fn = 0.
    let private f1 whenEmpty (tp: float) (fp: float) (fn: float) =
        if tp + fp + fn = 0.0 then whenEmpty else 2.0 * tp / (2.0 * tp + fp + fn)

    /// Runs `f` on the boolean tensors p̂ = pred > 0.5 and y = truth > 0.5 (compared in float64).
    let private binarized (pred: Tensor) (truth: Tensor) f =
        check pred truth
        Scope.run (fun () ->
            let above (t: Tensor) = t.detach().to_type(torch.ScalarType.Float64).gt(Pinned.scalar 0.5)
            f (above pred) (above truth))

    /// Hamming accuracy of 0/1 predictions [n, L] against 0/1 targets [n, L]: the fraction of
    /// correct (example, label) entries, (1 / nL) Σᵢⱼ 1[ŷᵢⱼ = yᵢⱼ].
    let hammingAccuracy (pred: Tensor) (truth: Tensor) : float =
        binarized pred truth (fun p y ->
            let correct = p.eq(y).sum(torch.ScalarType.Int64).item<int64> ()
            float correct / float (p.numel ()))

    /// Example-based F1: the mean over examples of 2|y ∩ ŷ| / (|y| + |ŷ|) (1 when both are empty).
    let exampleF1 (pred: Tensor) (truth: Tensor) : float =
        binarized pred truth (fun p y ->
            let tp, fp, fn = countsAlong 1L p y
            Array.init tp.Length (fun i -> f1 1.0 tp[i] fp[i] fn[i]) |> Array.average)

    /// Micro F1: the F1 of all (example, label) entries pooled, 2 Σtp / (2 Σtp + Σfp + Σfn).
    let microF1 (pred: Tensor) (truth: Tensor) : float =
        binarized pred truth (fun p y ->
            let tp, fp, fn = countsAlong 1L p y
            f1 1.0 (Array.sum tp) (Array.sum fp) (Array.sum fn))

    /// Macro F1: the mean over labels of the per-label F1 (0 for a label never present nor predicted).
    let macroF1 (pred: Tensor) (truth: Tensor) : float =
        binarized pred truth (fun p y ->
            let tp, fp, fn = countsAlong 0L p y
            Array.init tp.Length (fun j -> f1 0.0 tp[j] fp[j] fn[j]) |> Array.average)

    /// All four, named as in the reports: hamming_accuracy, example_f1, micro_f1, macro_f1.
    let all (pred: Tensor) (truth: Tensor) =
        [ "hamming_accuracy", hammingAccuracy pred truth
          "example_f1", exampleF1 pred truth
          "micro_f1", microF1 pred truth
          "macro_f1", macroF1 pred truth ]

    // ---- scores and thresholds -------------------------------------------------------------------

    /// The 0/1 predictions 1[score ≥ threshold] (compared in float64), as float64.
    let thresholded (threshold: float) (scores: Tensor) : Tensor =
        Scope.tensor (fun () -> scores.detach().to_type(torch.ScalarType.Float64).ge(Pinned.scalar threshold).to_type(torch.ScalarType.Float64))

    /// Mean example F1 of scores [n, L] thresholded at `threshold` (ŷ_i = 1 when score ≥ threshold)
    /// against 0/1 gold labels [n, L].
    let exampleF1At (threshold: float) (scores: Tensor) (gold: Tensor) : float =
        Checks.sameShape "gold" gold "scores" scores
        use pred = thresholded threshold scores
        exampleF1 pred gold

    /// The thresholds 0.05, 0.10, …, 0.95.
    let defaultGrid = [ for i in 1 .. 19 -> float i * 0.05 ]

    /// The threshold of `grid` with the best mean example F1 on (scores, gold) (the first one on
    /// ties), with that F1.
    let selectThreshold (grid: float list) (scores: Tensor) (gold: Tensor) : float * float =
        if grid.IsEmpty then invalidArg "grid" "the threshold grid is empty"
        Checks.sameShape "gold" gold "scores" scores
        if scores.shape[0] = 0L then invalidArg "scores" "the development split is empty: cannot choose a threshold"
        grid
        |> List.map (fun t -> t, exampleF1At t scores gold)
        |> List.fold (fun (bt, bf) (t, f) -> if f > bf then (t, f) else (bt, bf)) (nan, -1.0)
