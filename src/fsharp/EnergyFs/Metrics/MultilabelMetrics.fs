namespace EnergyFs.Metrics

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

    let private counts (pred: float[]) (truth: float[]) =
        let mutable tp = 0.0
        let mutable fp = 0.0
        let mutable fn = 0.0
        for j in 0 .. pred.Length - 1 do
            match pred[j] > 0.5, truth[j] > 0.5 with
            | true, true -> tp <- tp + 1.0
            | true, false -> fp <- fp + 1.0
            | false, true -> fn <- fn + 1.0
            | _ -> ()
        tp, fp, fn

    let private check (pred: float[][]) (truth: float[][]) =
        if pred.Length <> truth.Length || pred.Length = 0 then
            invalidArg "truth" (sprintf "predictions (%d rows) and targets (%d rows) must have the same, non-zero number of rows" pred.Length truth.Length)

    /// Hamming accuracy: the fraction of correct (example, label) entries.
    let hammingAccuracy (pred: float[][]) (truth: float[][]) =
        check pred truth
        let total = pred |> Array.sumBy Array.length
        let correct = Array.map2 (fun (p: float[]) (t: float[]) -> Array.map2 (fun a b -> if (a > 0.5) = (b > 0.5) then 1 else 0) p t |> Array.sum) pred truth |> Array.sum
        float correct / float total

    /// Example-based F1: mean over examples of 2|y ∩ ŷ| / (|y| + |ŷ|).
    let exampleF1 (pred: float[][]) (truth: float[][]) =
        check pred truth
        Array.map2 (fun p t ->
            let tp, fp, fn = counts p t
            if tp + fp + fn = 0.0 then 1.0 else 2.0 * tp / (2.0 * tp + fp + fn)) pred truth
        |> Array.average

    /// Micro F1: F1 of the (example, label) entries pooled.
    let microF1 (pred: float[][]) (truth: float[][]) =
        check pred truth
        let tp, fp, fn = Array.map2 counts pred truth |> Array.fold (fun (a, b, c) (x, y, z) -> a + x, b + y, c + z) (0.0, 0.0, 0.0)
        if tp + fp + fn = 0.0 then 1.0 else 2.0 * tp / (2.0 * tp + fp + fn)

    /// Macro F1: mean over labels of the per-label F1.
    let macroF1 (pred: float[][]) (truth: float[][]) =
        check pred truth
        let k = pred[0].Length
        Array.init k (fun j ->
            let p = pred |> Array.map (fun r -> r[j])
            let t = truth |> Array.map (fun r -> r[j])
            let tp, fp, fn = counts p t
            if tp + fp + fn = 0.0 then 0.0 else 2.0 * tp / (2.0 * tp + fp + fn))
        |> Array.average

    /// All four, named as in the reports.
    let all (pred: float[][]) (truth: float[][]) =
        [ "hamming_accuracy", hammingAccuracy pred truth
          "example_f1", exampleF1 pred truth
          "micro_f1", microF1 pred truth
          "macro_f1", macroF1 pred truth ]

    // ---- scores and thresholds -------------------------------------------------------------------

    /// Example F1 of a predicted label set ŷ against a gold set y: 2|ŷ ∩ y| / (|ŷ| + |y|), and 1
    /// when both are empty. Returns the mean over examples, for 0/1 arrays of the same shape.
    let exampleF1Sets (predicted: bool[][]) (gold: bool[][]) : float =
        if predicted.Length <> gold.Length then
            invalidArg "gold" (sprintf "%d predicted examples but %d gold ones" predicted.Length gold.Length)
        if predicted.Length = 0 then invalidArg "predicted" "no examples to score"
        Array.map2 (fun (p: bool[]) (g: bool[]) ->
            if p.Length <> g.Length then invalidArg "gold" (sprintf "label count mismatch: %d predicted versus %d gold labels" p.Length g.Length)
            let tp = Array.fold2 (fun acc a b -> if a && b then acc + 1 else acc) 0 p g
            let np = p |> Array.sumBy (fun b -> if b then 1 else 0)
            let ng = g |> Array.sumBy (fun b -> if b then 1 else 0)
            if np + ng = 0 then 1.0 else 2.0 * float tp / float (np + ng)) predicted gold
        |> Array.average

    let private rows (t: Tensor) =
        let a = Tensor.toArray2D t
        Array.init (Array2D.length1 a) (fun i -> Array.init (Array2D.length2 a) (fun j -> a[i, j]))

    /// Mean example F1 of scores [n, L] thresholded at `threshold` (ŷ_i = 1 when score ≥ threshold)
    /// against 0/1 gold labels [n, L].
    let exampleF1At (threshold: float) (scores: Tensor) (gold: Tensor) : float =
        Checks.sameShape "gold" gold "scores" scores
        let s = rows scores
        let g = rows gold |> Array.map (Array.map (fun v -> v > 0.5))
        exampleF1Sets (s |> Array.map (Array.map (fun v -> v >= threshold))) g

    /// The thresholds 0.05, 0.10, …, 0.95.
    let defaultGrid = [ for i in 1 .. 19 -> float i * 0.05 ]

    /// The threshold of `grid` with the best mean example F1 on (scores, gold) (the first one on
    /// ties), with that F1.
    let selectThreshold (grid: float list) (scores: Tensor) (gold: Tensor) : float * float =
        if grid.IsEmpty then invalidArg "grid" "the threshold grid is empty"
        Checks.sameShape "gold" gold "scores" scores
        if scores.shape[0] = 0L then invalidArg "scores" "the development split is empty: cannot choose a threshold"
        let s = rows scores
        let g = rows gold |> Array.map (Array.map (fun v -> v > 0.5))
        grid
        |> List.map (fun t -> t, exampleF1Sets (s |> Array.map (Array.map (fun v -> v >= t))) g)
        |> List.fold (fun (bt, bf) (t, f) -> if f > bf then (t, f) else (bt, bf)) (nan, -1.0)
