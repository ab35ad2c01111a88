namespace EnergyFs.Data

open System
open System.IO
open System.Xml
open System.Xml.Linq
open EnergyFs

/// A multilabel benchmark: the standard train/test split, an optional validation set carved from
/// train, and the standardizer when features were standardized. Owns all its tensors: dispose it.
type MultilabelSplits =
    { /// The dataset's name (for example "yeast").
      Name: string
      /// The feature attribute names, in column order.
      FeatureNames: string[]
      /// The label attribute names, in column order (the ARFF's order, which may differ from the XML's).
      LabelNames: string[]
      /// The training set (without the validation rows once validationSplit has run).
      Train: MultilabelSet
      /// The validation set carved from train by validationSplit, if any.
      Validation: MultilabelSet option
      /// The test set.
      Test: MultilabelSet
      /// The feature standardizer fitted on Train by `Mulan.standardize`, if it ran.
      Standardizer: Standardizer option }
    /// The number of features d.
    member this.FeatureCount = this.FeatureNames.Length
    /// The number of labels L.
    member this.LabelCount = this.LabelNames.Length
    interface IDisposable with
        member this.Dispose() =
            (this.Train :> IDisposable).Dispose()
            this.Validation |> Option.iter (fun v -> (v :> IDisposable).Dispose())
            (this.Test :> IDisposable).Dispose()
            this.Standardizer |> Option.iter (fun s -> (s :> IDisposable).Dispose())

/// Multilabel datasets in the MULAN convention (http://mulan.sourceforge.net/format.html): a folder
/// with `<name>-train.arff`, `<name>-test.arff` and `<name>.xml`; the XML
/// (`<labels xmlns="http://mulan.sourceforge.net/labels"><label name="..."/>...`) names the L labels,
/// which are the LAST L attributes of each ARFF (in any order relative to the XML), with values 0/1.
[<RequireQualifiedAccess>]
module Mulan =

    let private fail file line message : 'a = raise (DataFormatException(file, line, message))

    /// The label names listed in a MULAN XML file, in document order (nested hierarchical labels
    /// included). Fails with DataFormatException naming the file and line when it is not well-formed
    /// XML, names no label, has a label without a name, or names a label twice.
    let labelNames (xmlPath: string) : string[] =
        let doc =
            try XDocument.Load(xmlPath, LoadOptions.SetLineInfo)
            with :? XmlException as e -> fail xmlPath e.LineNumber (sprintf "not well-formed XML: %s" e.Message)
        let labels = doc.Descendants() |> Seq.filter (fun e -> e.Name.LocalName = "label") |> Array.ofSeq
        if labels.Length = 0 then fail xmlPath 0 "no <label name=\"...\"> element: expected the MULAN label list"
        let seen = Collections.Generic.HashSet<string>()
        labels |> Array.map (fun e ->
            let line = (e :> IXmlLineInfo).LineNumber
            match e.Attribute(XName.Get "name") with
            | null -> fail xmlPath line "<label> without a name attribute"
            | a ->
                if not (seen.Add a.Value) then fail xmlPath line (sprintf "label '%s' is listed twice" a.Value)
                a.Value)

    /// Checks that the last L attributes of `data` (read from `arffPath`) are exactly the labels named
    /// in `xmlPath`, with values 0 or 1, and returns (feature count d). Fails naming the files and the
    /// first attribute or label that differs.
    let checkLabels (xmlPath: string) (labels: string[]) (arffPath: string) (data: ArffData) : int =
        let nLabels = labels.Length
        let total = data.Attributes.Length
        if nLabels >= total then
            fail arffPath 0 (sprintf "%s names %d labels but the file has only %d attributes (at least one feature is needed)" (Path.GetFileName xmlPath) nLabels total)
        let d = total - nLabels
        let wanted = Collections.Generic.HashSet<string>(labels)
        for p in d .. total - 1 do
            let a = data.Attributes[p]
            if not (wanted.Contains a.Name) then
                fail arffPath 0 (sprintf "attribute %d '%s' is not a label named in %s, but the last %d attributes must be the %d labels listed there (wrong number of labels, or a misnamed label?)"
                                    (p + 1) a.Name (Path.GetFileName xmlPath) nLabels nLabels)
        // All L positions hold distinct attribute names from the set of L labels, so the sets are equal.
        let values = data.Values
        for p in d .. total - 1 do
            for r in 0 .. Array2D.length1 values - 1 do
                let v = values[r, p]
                if v <> 0.0 && v <> 1.0 then
                    fail arffPath 0 (sprintf "label '%s' has value %g in instance %d; labels must be 0 or 1" data.Attributes[p].Name v (r + 1))
        d

    /// Requires train and test to declare the same features, naming both files.
    let private checkSameFeatures trainPath (train: ArffData) testPath (test: ArffData) =
        if train.Attributes.Length <> test.Attributes.Length then
            fail testPath 0 (sprintf "%d attributes, but %s has %d: train and test must declare the same attributes"
                                 test.Attributes.Length trainPath train.Attributes.Length)
        Array.iteri2 (fun i (a: ArffAttribute) (b: ArffAttribute) ->
            if a.Name <> b.Name then
                fail testPath 0 (sprintf "attribute %d is '%s' but in %s it is '%s'" (i + 1) b.Name trainPath a.Name))
            train.Attributes test.Attributes

    /// Columns 0..d-1 and d..end of the values, as tensors in ctx.
    let private toSet (ctx: Context) d (data: ArffData) =
        let v = data.Values
        let n = Array2D.length1 v
        let width = Array2D.length2 v
        let features = Tensor.ofArray2D ctx (Array2D.init n d (fun i j -> v[i, j]))
        let labels = Tensor.ofArray2D ctx (Array2D.init n (width - d) (fun i j -> v[i, d + j]))
        { Features = features; Labels = labels }

    /// Loads `<name>-train.arff`, `<name>-test.arff` and `<name>.xml` from `dir` into tensors in ctx's
    /// dtype and device (nominal features are encoded as their value index). No standardization:
    /// see `standardize`. Errors (DataFormatException naming the files): labels of the XML not the last
    /// attributes of an ARFF, train and test declaring different attributes, an empty file, and every
    /// ARFF format error (with its line). A folder that does not exist raises DirectoryNotFoundException
    /// naming it as given; a missing file raises FileNotFoundException naming the file and the files
    /// the folder holds.
    let load (ctx: Context) (dir: string) (name: string) : MultilabelSplits =
        if String.IsNullOrWhiteSpace dir then Checks.fail "dir" "the MULAN folder is empty"
        if String.IsNullOrWhiteSpace name then Checks.fail "name" "the dataset name is empty"
        let expected = sprintf "%s.xml, %s-train.arff and %s-test.arff" name name name
        if not (Directory.Exists dir) then
            let full = Path.GetFullPath dir
            raise (DirectoryNotFoundException(
                sprintf "MULAN dataset folder '%s'%s does not exist: expected a folder holding %s (a dataset of the data folder: Paths.find \"%s\", DataPaths.Find(\"%s\") from C#)"
                    dir (if full = dir then "" else sprintf " (%s)" full) expected name name))
        let xmlPath = Path.Combine(dir, name + ".xml")
        let trainPath = Path.Combine(dir, name + "-train.arff")
        let testPath = Path.Combine(dir, name + "-test.arff")
        for path in [ xmlPath; trainPath; testPath ] do
            if not (File.Exists path) then
                let present = Directory.GetFiles dir |> Array.map Path.GetFileName |> Array.sort
                raise (FileNotFoundException(
                    sprintf "%s not found: the MULAN folder '%s' must hold %s (it holds: %s)"
                        path dir expected (if present.Length = 0 then "nothing" else String.Join(", ", present)), path))
        let labels = labelNames xmlPath
        let train = Arff.load trainPath
        let test = Arff.load testPath
        let d = checkLabels xmlPath labels trainPath train
        checkSameFeatures trainPath train testPath test
        checkLabels xmlPath labels testPath test |> ignore
        for path, data in [ trainPath, train; testPath, test ] do
            if Arff.rowCount data = 0 then fail path 0 "no instances after @data"
        let names = Arff.names train
        let trainSet = toSet ctx d train
        let testSet = try toSet ctx d test with _ -> (trainSet :> IDisposable).Dispose(); reraise ()
        { Name = name
          FeatureNames = names[.. d - 1]
          LabelNames = names[d ..]
          Train = trainSet
          Validation = None
          Test = testSet
          Standardizer = None }

    /// `load ctx (Paths.find name) name`: a dataset of the repository's data/ folder.
    let loadNamed (ctx: Context) (name: string) : MultilabelSplits = load ctx (Paths.find name) name

    /// Loads a MULAN folder given as a path (the dataset's name is the folder's name), or, when no
    /// such folder exists, the dataset of that name in the repository's data/ folder (`loadNamed`).
    let loadFrom (ctx: Context) (folderOrName: string) : MultilabelSplits =
        if String.IsNullOrWhiteSpace folderOrName then Checks.fail "folderOrName" "expected a MULAN folder or a dataset name, got an empty string"
        let full = if Directory.Exists folderOrName then Path.GetFullPath folderOrName else Paths.find folderOrName
        load ctx full (Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)))

    let private copySet (s: MultilabelSet) = { Features = Tensor.copy s.Features; Labels = Tensor.copy s.Labels }

    let private copyStandardizer (s: Standardizer) = { Mean = Tensor.copy s.Mean; Std = Tensor.copy s.Std }

    /// Carves a validation set out of TRAIN (never test) with `MultilabelSet.split`: round(fraction · n)
    /// rows chosen by a random permutation drawn from `rng` (which must live on the dataset's
    /// device); the rest stays train. fraction must be in (0, 1) and leave at least one row on each
    /// side. Returns a new dataset that owns copies of its tensors; `data` is not disposed.
    let validationSplit (rng: Rng) (fraction: float) (data: MultilabelSplits) : MultilabelSplits =
        if data.Validation.IsSome then Checks.fail "data" "the dataset already has a validation set"
        let train, validation = MultilabelSet.split rng fraction data.Train
        { data with
            Train = train
            Validation = Some validation
            Test = copySet data.Test
            Standardizer = data.Standardizer |> Option.map copyStandardizer }

    /// Standardizes the features with a Standardizer fitted on TRAIN only (after validationSplit, on
    /// the remaining train rows) and applied to train, validation and test; constant columns get
    /// std 1. Returns a new dataset owning its tensors, with `Standardizer = Some s`; `data` is not
    /// disposed. Fails if `data` is already standardized.
    let standardize (data: MultilabelSplits) : MultilabelSplits =
        if data.Standardizer.IsSome then Checks.fail "data" "the dataset is already standardized"
        let s = Standardizer.fit data.Train.Features
        { data with
            Train = MultilabelSet.standardize s data.Train
            Validation = data.Validation |> Option.map (MultilabelSet.standardize s)
            Test = MultilabelSet.standardize s data.Test
            Standardizer = Some s }

    /// Copies of every tensor of the dataset (standardizer included) in ctx's device and dtype.
    /// Load, split and standardize in float64, then move: the statistics keep float64 precision.
    let toContext (ctx: Context) (data: MultilabelSplits) : MultilabelSplits =
        { data with
            Train = MultilabelSet.toContext ctx data.Train
            Validation = data.Validation |> Option.map (MultilabelSet.toContext ctx)
            Test = MultilabelSet.toContext ctx data.Test
            Standardizer =
                data.Standardizer |> Option.map (fun s ->
                    let move (t: Tensor) = Scope.tensor (fun () -> (Tensor.toContext ctx t).clone ())
                    { Mean = move s.Mean; Std = move s.Std }) }

    /// Label cardinality: the mean number of positive labels per instance.
    let labelCardinality (set: MultilabelSet) : float =
        Scope.run (fun () -> Tensor.toScalar (Tensor.sum set.Labels) / float set.Count)
