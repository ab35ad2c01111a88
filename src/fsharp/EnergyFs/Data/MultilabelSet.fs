namespace EnergyFs.Data

open System
open TorchSharp
open EnergyFs

/// Multilabel examples as tensors: features [n, d] and 0/1 labels [n, L] on one device. One part
/// (train, validation or test) of a `MultilabelSplits`, or a data set of its own (the facade's and
/// the learners' input). Owns its tensors: dispose it.
type MultilabelSet =
    { /// Features, shape [n, d].
      Features: Tensor
      /// Labels in {0, 1}, shape [n, L], same dtype and device as the features.
      Labels: Tensor }
    /// The number of instances n.
    member this.Count = int this.Features.shape[0]
    /// The number of features d.
    member this.FeatureCount = int this.Features.shape[1]
    /// The number of labels L.
    member this.LabelCount = int this.Labels.shape[1]
    interface IDisposable with
        member this.Dispose() =
            this.Features.Dispose()
            this.Labels.Dispose()

/// Building, splitting, standardizing and moving `MultilabelSet`s. Every function returns a set that
/// owns new tensors and leaves its argument alive.
[<RequireQualifiedAccess>]
module MultilabelSet =

    /// Checks that features is [n, d] and labels is [n, L] with n ≥ 1, on the same device and dtype,
    /// labels in {0, 1}; fails naming the argument and its shape.
    let check (features: Tensor) (labels: Tensor) =
        Checks.rank "features" 2 features
        Checks.rank "labels" 2 labels
        Checks.sameRows "features" features "labels" labels
        Checks.require "features" (features.shape[0] >= 1L) (sprintf "features has no rows (shape %s)" (Checks.shapeText features.shape))
        Checks.require "labels" (labels.shape[1] >= 1L) (sprintf "labels has no columns (shape %s)" (Checks.shapeText labels.shape))
        Checks.require "labels" (labels.device_type = features.device_type && labels.device_index = features.device_index && labels.dtype = features.dtype)
            (sprintf "labels (%O, %O) and features (%O, %O) must share device and dtype" labels.device labels.dtype features.device features.dtype)
        Checks.finite "features" features
        Scope.run (fun () ->
            let bad = labels.eq(Pinned.scalar 0.0).logical_or(labels.eq(Pinned.scalar 1.0)).logical_not ()
            if bad.any().item<bool> () then
                let first = bad.nonzero().[0].cpu().data<int64>().ToArray()
                Checks.fail "labels" (sprintf "labels (shape %s) must be 0 or 1, but row %d, column %d holds %g"
                                          (Checks.shapeText labels.shape) first[0] first[1] (labels[first[0], first[1]].ToDouble())))

    /// A set owning copies of `features` [n, d] and `labels` [n, L] (checked by `check`).
    let create (features: Tensor) (labels: Tensor) : MultilabelSet =
        check features labels
        { Features = Tensor.copy features; Labels = Tensor.copy labels }

    /// A set in ctx from host rows (features [n][d], labels [n][L] of 0/1); fails naming the argument
    /// and the first ragged row, a row-count mismatch or a label other than 0/1.
    let ofRows (ctx: Context) (features: float[][]) (labels: float[][]) : MultilabelSet =
        if isNull features then nullArg "features"
        if isNull labels then nullArg "labels"
        if features.Length <> labels.Length then
            Checks.fail "labels" (sprintf "features has %d rows but labels has %d" features.Length labels.Length)
        if features.Length = 0 then Checks.fail "features" "features has no rows"
        let table name (rows: float[][]) =
            rows |> Array.iteri (fun i r ->
                if isNull r then Checks.fail name (sprintf "%s[%d] is null" name i)
                if r.Length <> rows[0].Length then
                    Checks.fail name (sprintf "%s[%d] has %d columns but %s[0] has %d" name i r.Length name rows[0].Length))
        table "features" features
        table "labels" labels
        labels |> Array.iteri (fun i r ->
            r |> Array.iteri (fun j v ->
                if v <> 0.0 && v <> 1.0 then Checks.fail "labels" (sprintf "labels[%d][%d] is %g; labels must be 0 or 1" i j v)))
        let x = Tensor.ofRows ctx features
        let y = Tensor.ofRows ctx labels
        { Features = x; Labels = y }

    /// Copies of both tensors in ctx's device and dtype.
    let toContext (ctx: Context) (set: MultilabelSet) : MultilabelSet =
        let move (t: Tensor) = Scope.tensor (fun () -> (Tensor.toContext ctx t).clone ())
        { Features = move set.Features; Labels = move set.Labels }

    /// The rows at int64 indices `idx` (copies).
    let select (idx: Tensor) (set: MultilabelSet) : MultilabelSet =
        { Features = Tensor.selectRows idx set.Features; Labels = Tensor.selectRows idx set.Labels }

    /// The rows of `first` followed by those of `second` (copies); fails naming `second` when the
    /// widths differ.
    let append (first: MultilabelSet) (second: MultilabelSet) : MultilabelSet =
        Checks.dimSize "second.Features" 1 first.Features.shape[1] second.Features
        Checks.dimSize "second.Labels" 1 first.Labels.shape[1] second.Labels
        { Features = Tensor.cat 0 [ first.Features; second.Features ]; Labels = Tensor.cat 0 [ first.Labels; second.Labels ] }

    /// The number of validation rows round(fraction · n); fails naming `fraction` unless
    /// 0 < fraction < 1 and 1 ≤ round(fraction · n) ≤ n − 1.
    let validationCount (fraction: float) (n: int) : int =
        if not (fraction > 0.0 && fraction < 1.0) then
            Checks.fail "fraction" (sprintf "fraction must be in (0, 1), got %g" fraction)
        let nVal = int (Math.Round(fraction * float n))
        if nVal < 1 || nVal > n - 1 then
            Checks.fail "fraction" (sprintf "fraction %g of %d rows gives %d validation rows; need between 1 and %d (the validation split must be neither empty nor everything)" fraction n nVal (n - 1))
        nVal

    /// Splits the rows into (train, validation) by a random permutation π of 0 … n−1 drawn from `rng`
    /// (on the set's device): validation = rows π[0 … m−1], train = rows π[m …] with
    /// m = `validationCount fraction n`. The same seed gives the same split; the two parts partition
    /// the rows.
    let split (rng: Rng) (fraction: float) (set: MultilabelSet) : MultilabelSet * MultilabelSet =
        let n = set.Count
        let nVal = validationCount fraction n
        use perm = Tensor.randperm rng set.Features.device (int64 n)
        use valIdx = Tensor.sliceRows 0L (int64 nVal) perm
        use trainIdx = Tensor.sliceRows (int64 nVal) (int64 (n - nVal)) perm
        select trainIdx set, select valIdx set

    /// The set with features z = (x − mean) / std of a standardizer (fitted on training rows; see
    /// `Standardizer.fit`); labels copied.
    let standardize (s: Standardizer) (set: MultilabelSet) : MultilabelSet =
        { Features = Standardizer.apply s set.Features; Labels = Tensor.copy set.Labels }

    /// Whether every feature is 0 or 1 (bag-of-words data such as bibtex, which is not standardized).
    let hasBinaryFeatures (set: MultilabelSet) : bool =
        Scope.run (fun () -> (set.Features.eq(Pinned.scalar 0.0).logical_or(set.Features.eq(Pinned.scalar 1.0))).all().item<bool> ())

    /// Synthetic multilabel data with correlated labels, for tests and examples: x ~ N(0, I_d),
    /// W ~ N(0, I) of shape [L, d], scores s = x Wᵀ / √d + 0.3 ε (ε ~ N(0, 1)), y⁰ = 1[s > 0], and
    /// label j > 0 is switched on when label j − 1 is on and s_j > −0.5 (so labels interact):
    /// y_j = 1 if (j > 0 ∧ y⁰_{j−1} = 1 ∧ s_j > −0.5), else y⁰_j. All draws come from `rng`.
    let synthetic (rng: Rng) (ctx: Context) (n: int) (d: int) (labels: int) : MultilabelSet =
        Checks.positiveInt "n" n
        Checks.positiveInt "d" d
        Checks.positiveInt "labels" labels
        Scope.tensor2 (fun () ->
            let w = Tensor.randn rng ctx [ int64 labels; int64 d ]
            let x = Tensor.randn rng ctx [ int64 n; int64 d ]
            let noise = Tensor.randn rng ctx [ int64 n; int64 labels ]
            let s = x.matmul(w.t ()) / Math.Sqrt(float d) + noise * 0.3
            let y0 = s.gt(Pinned.scalar 0.0).to_type ctx.DType
            let previous = Tensor.cat 1 [ Tensor.zeros ctx [ int64 n; 1L ]; y0.narrow (1L, 0L, int64 (labels - 1)) ]
            let coupled = previous.eq(Pinned.scalar 1.0).logical_and(s.gt(Pinned.scalar -0.5))
            x, torch.where (coupled, torch.ones_like y0, y0))
        |> fun (x, y) -> { Features = x; Labels = y }
