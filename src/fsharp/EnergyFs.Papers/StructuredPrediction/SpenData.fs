namespace EnergyFs.Papers.StructuredPrediction

open System
open System.IO
open System.Text.RegularExpressions
open EnergyFs

open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Models
open EnergyFs.Energies
/// A multilabel data set as plain arrays: inputs [n][D] and 0/1 labels [n][L].
type MultilabelArrays =
    { /// Input rows [n][D], the ARFF feature attributes as read (not standardised).
      Inputs: float[][]
      /// Label rows [n][L], each entry 0 or 1, in the ARFF's label-attribute order.
      Labels: float[][] }

/// The MULAN benchmarks as host arrays for the SPEN experiments, read with the shared loaders
/// (EnergyFs.Data.Arff and EnergyFs.Data.Mulan), and the splits those experiments use.
[<RequireQualifiedAccess>]
module SpenData =

    /// The number of `<label …>` entries of a MULAN XML label header.
    let labelCount (xmlFile: string) = (Data.Mulan.labelNames xmlFile).Length

    let private rows (t: Tensor) =
        let a = Tensor.toArray2D t
        Array.init (Array2D.length1 a) (fun i -> Array.init (Array2D.length2 a) (fun j -> a[i, j]))

    /// Reads an ARFF file (dense or sparse) whose last `labels` attributes are the labels.
    let readArff (file: string) (labels: int) : MultilabelArrays =
        let data = Data.Arff.load file
        let attributes = data.Attributes.Length
        if labels >= attributes then
            raise (DataFormatException(file, 0, sprintf "label count mismatch: %d labels but only %d attributes" labels attributes))
        let features = attributes - labels
        let n = Array2D.length1 data.Values
        { Inputs = Array.init n (fun i -> Array.init features (fun j -> data.Values[i, j]))
          Labels = Array.init n (fun i -> Array.init labels (fun j -> data.Values[i, features + j])) }

    /// Reads `<dir>/<name>-train.arff` and `<dir>/<name>-test.arff` with `<dir>/<name>.xml` (name =
    /// the folder's name) through EnergyFs.Data.Mulan.
    let load (dir: string) : MultilabelArrays * MultilabelArrays =
        // A folder, or the name of a dataset in the repository's data/ folder (for example "yeast").
        let full = if Directory.Exists dir then Path.GetFullPath dir else Data.Paths.find dir
        let name = Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar))
        use splits = Data.Mulan.load Context.cpu64 full name
        let convert (s: Data.MultilabelSet) = { Inputs = rows s.Features; Labels = rows s.Labels }
        convert splits.Train, convert splits.Test

    /// Splits rows into (train, dev) with a fraction `devFraction` of them in dev, by a permutation
    /// drawn from `seed`. Fails when dev would be empty.
    let splitDev (seed: int) (devFraction: float) (data: MultilabelArrays) : MultilabelArrays * MultilabelArrays =
        let n = data.Inputs.Length
        let nDev = int (Math.Round(float n * devFraction))
        if nDev < 1 then invalidArg "devFraction" (sprintf "the development split is empty (%d examples × %g)" n devFraction)
        if nDev >= n then invalidArg "devFraction" (sprintf "the development split takes all %d examples" n)
        let order = let a = [| 0 .. n - 1 |] in (Random seed).Shuffle a; a
        let pick (idx: int[]) = { Inputs = idx |> Array.map (fun i -> data.Inputs[i]); Labels = idx |> Array.map (fun i -> data.Labels[i]) }
        pick order[nDev ..], pick order[.. nDev - 1]

    /// Standardises each input column with the train split's mean and standard deviation (columns
    /// with zero spread are left centred only).
    let standardize (train: MultilabelArrays) (others: MultilabelArrays list) =
        let d = train.Inputs[0].Length
        let mean = Array.init d (fun j -> train.Inputs |> Array.averageBy (fun r -> r[j]))
        let std = Array.init d (fun j -> sqrt (train.Inputs |> Array.averageBy (fun r -> (r[j] - mean[j]) ** 2.0)))
        let apply (a: MultilabelArrays) = { a with Inputs = a.Inputs |> Array.map (Array.mapi (fun j v -> (v - mean[j]) / (if std[j] > 1e-12 then std[j] else 1.0))) }
        apply train, others |> List.map apply

    /// A synthetic multilabel problem with label correlations, for tests and quick runs: inputs
    /// x ~ N(0, I_D); labels from a low-rank latent z = σ(Wx) that switches groups of labels on
    /// together, y_i = 1[(Uz)_i + noise > threshold].
    let synthetic (seed: int) (n: int) (inputs: int) (labels: int) : MultilabelArrays =
        let r = Random seed
        let gauss () = sqrt (-2.0 * log (1.0 - r.NextDouble())) * cos (2.0 * Math.PI * r.NextDouble())
        let k = max 2 (labels / 3)
        let w = Array.init k (fun _ -> Array.init inputs (fun _ -> gauss () / sqrt (float inputs)))
        let u = Array.init labels (fun _ -> Array.init k (fun _ -> if r.NextDouble() < 0.3 then 1.0 else 0.0))
        let xs = Array.init n (fun _ -> Array.init inputs (fun _ -> gauss ()))
        let ys =
            xs |> Array.map (fun x ->
                let z = w |> Array.map (fun wk -> if Array.fold2 (fun s a b -> s + a * b) 0.0 wk x > 0.3 then 1.0 else 0.0)
                Array.init labels (fun i -> if Array.fold2 (fun s a b -> s + a * b) 0.0 u[i] z + 0.3 * gauss () > 0.5 then 1.0 else 0.0))
        { Inputs = xs; Labels = ys }
