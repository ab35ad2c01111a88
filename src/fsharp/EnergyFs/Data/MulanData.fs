namespace EnergyFs.Data

open System
open System.IO
open TorchSharp
open EnergyFs

/// A multilabel data set: features [n, d] and binary labels [n, k] (float64 arrays on the host).
type MultilabelData =
    { /// The data set's name (the MULAN folder name, e.g. "yeast").
      Name: string
      /// Feature rows [n][d], raw (not standardized).
      Features: float[][]
      /// Label rows [n][k], each entry 0.0 or 1.0, columns in the order of `LabelNames`.
      Labels: float[][]
      /// The k label names, in column order (from the MULAN XML file).
      LabelNames: string[] }
    /// Number of examples n.
    member d.Count = d.Features.Length
    /// Number of features d (0 for an empty set).
    member d.Dimension = if d.Features.Length = 0 then 0 else d.Features[0].Length
    /// Number of labels k.
    member d.LabelCount = d.LabelNames.Length

/// The MULAN benchmarks (yeast, scene, emotions, bibtex) as host arrays for the Fenchel-Young
/// multilabel experiment, read with the shared loaders (EnergyFs.Data.Arff and EnergyFs.Data.Mulan).
[<RequireQualifiedAccess>]
module MulanData =

    /// Label names from a MULAN XML file (`<label name="..."/>` elements), in document order.
    let labelNames (xmlPath: string) : string[] = Mulan.labelNames xmlPath

    let private rows (t: Tensor) =
        let a = Tensor.toArray2D t
        Array.init (Array2D.length1 a) (fun i -> Array.init (Array2D.length2 a) (fun j -> a[i, j]))

    /// Reads an ARFF file whose last `labelNames.Length` attributes are {0,1} labels (dense or sparse).
    /// Fails with DataFormatException naming the file and line for a label other than 0 or 1.
    let readArff (name: string) (labelNames: string[]) (path: string) : MultilabelData =
        let data = Arff.load path
        let k = labelNames.Length
        let total = data.Attributes.Length
        if k >= total then raise (DataFormatException(path, 0, sprintf "%d attributes but %d labels" total k))
        let d = total - k
        let n = Array2D.length1 data.Values
        let labels =
            Array.init n (fun i ->
                Array.init k (fun j ->
                    let v = data.Values[i, d + j]
                    if v <> 0.0 && v <> 1.0 then raise (DataFormatException(path, 0, sprintf "row %d: label %s is %g, not 0 or 1" (i + 1) data.Attributes[d + j].Name v))
                    v))
        { Name = name
          Features = Array.init n (fun i -> Array.init d (fun j -> data.Values[i, j]))
          Labels = labels
          LabelNames = data.Attributes[d ..] |> Array.map (fun a -> a.Name) }

    /// The standard MULAN train and test splits of `<dir>/<name>-{train,test}.arff` (name = the
    /// folder's name; a bare name such as "yeast" is looked up in the repository's data/ folder), through EnergyFs.Data.Mulan (label names checked against `<name>.xml`).
    let load (dir: string) : MultilabelData * MultilabelData =
        // A folder, or the name of a dataset in the repository's data/ folder (for example "yeast").
        let full = if Directory.Exists dir then Path.GetFullPath dir else Paths.find dir
        let name = Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar))
        use splits = Mulan.load Context.cpu64 full name
        let convert (s: MultilabelSet) =
            { Name = name; Features = rows s.Features; Labels = rows s.Labels; LabelNames = splits.LabelNames }
        convert splits.Train, convert splits.Test

    /// Synthetic multilabel data with correlated labels (for tests and development): labels are
    /// thresholded noisy linear scores plus a pairwise coupling, so that label interactions matter.
    let synthetic (seed: int) (n: int) (d: int) (k: int) : MultilabelData =
        let r = Random seed
        let gauss () = sqrt (-2.0 * log (1.0 - r.NextDouble())) * cos (2.0 * Math.PI * r.NextDouble())
        let w = Array.init k (fun _ -> Array.init d (fun _ -> gauss ()))
        let x = Array.init n (fun _ -> Array.init d (fun _ -> gauss ()))
        let y =
            x |> Array.map (fun xi ->
                let s = w |> Array.map (fun wj -> Array.fold2 (fun acc a b -> acc + a * b) 0.0 wj xi / sqrt (float d) + 0.3 * gauss ())
                // label j+1 copies label j when both scores agree in sign (correlated labels)
                let y0 = s |> Array.map (fun v -> if v > 0.0 then 1.0 else 0.0)
                Array.init k (fun j -> if j > 0 && y0[j - 1] = 1.0 && s[j] > -0.5 then 1.0 else y0[j]))
        { Name = "synthetic"; Features = x; Labels = y; LabelNames = Array.init k (sprintf "label%d") }
