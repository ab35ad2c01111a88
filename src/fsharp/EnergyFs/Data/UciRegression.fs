namespace EnergyFs.Data

open System
open System.Globalization
open System.IO
open EnergyFs

/// Inputs and targets of a regression set. Owns its tensors: dispose it.
type RegressionSet =
    { /// Inputs, shape [n, d].
      X: Tensor
      /// Targets, shape [n, 1].
      Y: Tensor }
    /// The number of rows n.
    member this.Count = int this.X.shape[0]
    interface IDisposable with
        member this.Dispose() =
            this.X.Dispose()
            this.Y.Dispose()

/// One train/test split of a UCI regression benchmark, standardized with statistics of its train
/// part. Owns all its tensors: dispose it.
type UciRegressionSplit =
    { /// The dataset's folder name (for example "uci_concrete").
      Name: string
      /// The split index k.
      Split: int
      /// How many splits the dataset has (n_splits.txt).
      SplitCount: int
      /// The 0-based columns of data.txt used as inputs.
      FeatureColumns: int[]
      /// The 0-based column of data.txt used as the target.
      TargetColumn: int
      /// The training rows (standardized when the options say so).
      Train: RegressionSet
      /// The test rows (standardized with the training statistics).
      Test: RegressionSet
      /// The input standardizer fitted on Train (the identity when inputs are not standardized).
      XStandardizer: Standardizer
      /// The target standardizer fitted on Train (the identity when targets are not standardized).
      YStandardizer: Standardizer
      /// Mean of the training targets in original units (0 when targets are not standardized).
      YMean: float
      /// Standard deviation of the training targets in original units (1 when not standardized):
      /// an RMSE on standardized targets times YStd is the RMSE in original units.
      YStd: float }
    interface IDisposable with
        member this.Dispose() =
            for d in [ this.Train :> IDisposable; this.Test; this.XStandardizer; this.YStandardizer ] do d.Dispose()

/// The UCI regression benchmarks with the 20 fixed splits of Hernández-Lobato & Adams (2015), as
/// distributed with Gal & Ghahramani (2016). A dataset folder holds `data.txt` (whitespace-separated
/// floats, one row per example; blank lines are skipped), `index_features.txt` and `index_target.txt`
/// (0-based column indices), `index_train_<k>.txt` and `index_test_<k>.txt` (0-based row indices of
/// split k) and `n_splits.txt`.
[<RequireQualifiedAccess>]
module UciRegression =

    /// What `loadWith` standardizes (always with statistics of the training rows).
    type Options =
        { /// Standardize the inputs column-wise.
          StandardizeX: bool
          /// Standardize the targets.
          StandardizeY: bool }

    /// Standardize both inputs and targets.
    let defaults = { StandardizeX = true; StandardizeY = true }

    let private fail file line message : 'a = raise (DataFormatException(file, line, message))

    /// Calls `onLine lineNumber text fields` for each non-blank line, with the (start, length) of each blank-separated field.
    let private scanFields (path: string) (onLine: int -> string -> (int * int) list -> unit) =
        use reader = new StreamReader(path)
        let mutable lineNo = 0
        let mutable text = reader.ReadLine()
        while not (isNull text) do
            lineNo <- lineNo + 1
            let fields = ResizeArray<int * int>()
            let mutable i = 0
            while i < text.Length do
                while i < text.Length && Char.IsWhiteSpace text[i] do i <- i + 1
                let start = i
                while i < text.Length && not (Char.IsWhiteSpace text[i]) do i <- i + 1
                if i > start then fields.Add((start, i - start))
            if fields.Count > 0 then onLine lineNo text (List.ofSeq fields)
            text <- reader.ReadLine()

    /// Reads a table of whitespace-separated finite floats (blank lines skipped). Fails with
    /// DataFormatException naming the file and line for a non-numeric or non-finite value, or a row
    /// whose width differs from the first row's; and for a file without rows.
    let readTable (path: string) : float[][] =
        let rows = ResizeArray<float[]>()
        let mutable firstLine = 0
        scanFields path (fun lineNo text fields ->
            let row =
                fields |> List.mapi (fun j (start, len) ->
                    let mutable v = 0.0
                    if not (Double.TryParse(text.AsSpan(start, len), NumberStyles.Float, CultureInfo.InvariantCulture, &v)) then
                        fail path lineNo (sprintf "expected a number in column %d, found '%s'" (j + 1) (text.Substring(start, min len 40)))
                    if not (Double.IsFinite v) then
                        fail path lineNo (sprintf "value '%s' in column %d is not a finite number (NaN and infinities are rejected)" (text.Substring(start, len)) (j + 1))
                    v)
                |> Array.ofList
            if rows.Count = 0 then firstLine <- lineNo
            elif row.Length <> rows[0].Length then
                fail path lineNo (sprintf "row has %d values but the first row (line %d) has %d" row.Length firstLine rows[0].Length)
            rows.Add row)
        if rows.Count = 0 then fail path 0 "no rows (the file is empty)"
        rows.ToArray()

    /// Reads whitespace-separated non-negative integers (0-based indices), each < `bound`. Fails with
    /// DataFormatException naming the file and line for anything else, naming `boundWhat` when an
    /// index is out of range.
    let readIndices (bound: int) (boundWhat: string) (path: string) : int[] =
        let result = ResizeArray<int>()
        scanFields path (fun lineNo text fields ->
            for start, len in fields do
                let mutable v = 0
                if not (Int32.TryParse(text.AsSpan(start, len), NumberStyles.None, CultureInfo.InvariantCulture, &v)) then
                    fail path lineNo (sprintf "expected a non-negative integer index, found '%s'" (text.Substring(start, min len 40)))
                if v >= bound then
                    fail path lineNo (sprintf "index %d is out of range: %s (valid indices 0..%d)" v boundWhat (bound - 1))
                result.Add v)
        result.ToArray()

    /// The number of splits the dataset in `dir` has (n_splits.txt).
    let splitCount (dir: string) : int =
        let path = Path.Combine(dir, "n_splits.txt")
        match readIndices Int32.MaxValue "" path with
        | [| n |] when n >= 1 -> n
        | _ -> fail path 1 "expected a single positive integer (the number of splits)"

    /// The rows `rows` of columns `cols` as a [rows, cols] array.
    let private gather (table: float[][]) (rows: int[]) (cols: int[]) = Array2D.init rows.Length cols.Length (fun i j -> table[rows[i]][cols[j]])

    /// Loads split `split` of the dataset in `dir` into tensors in ctx, standardized as `options` say
    /// with statistics of the training rows only. A missing split file raises FileNotFoundException
    /// naming it and saying how many splits exist; a split number ≥ n_splits raises
    /// ArgumentOutOfRangeException; bad contents raise DataFormatException naming file and line
    /// (non-numeric value, rows of differing width, index out of range, a row in both train and test).
    let loadWith (options: Options) (ctx: Context) (dir: string) (split: int) : UciRegressionSplit =
        if not (Directory.Exists dir) then
            let hint = if Paths.isPath dir then "" else " (a dataset of the data folder by name is loaded with loadNamed)"
            raise (DirectoryNotFoundException(sprintf "UCI dataset folder '%s' does not exist%s" dir hint))
        let count = splitCount dir
        let trainPath = Path.Combine(dir, sprintf "index_train_%d.txt" split)
        let testPath = Path.Combine(dir, sprintf "index_test_%d.txt" split)
        for p in [ trainPath; testPath ] do
            if not (File.Exists p) then
                raise (FileNotFoundException(
                    sprintf "split %d not found: %s does not exist; this dataset has %d splits (0..%d)" split p count (count - 1), p))
        if split < 0 || split >= count then
            raise (ArgumentOutOfRangeException("split", sprintf "split %d is out of range: %s has %d splits (0..%d)" split dir count (count - 1)))
        let dataPath = Path.Combine(dir, "data.txt")
        let table = readTable dataPath
        let width = table[0].Length
        let columnsWhat = sprintf "%s has %d columns" (Path.GetFileName dataPath) width
        let rowsWhat = sprintf "%s has %d rows" (Path.GetFileName dataPath) table.Length
        let features = readIndices width columnsWhat (Path.Combine(dir, "index_features.txt"))
        let targetPath = Path.Combine(dir, "index_target.txt")
        let target =
            match readIndices width columnsWhat targetPath with
            | [| t |] -> t
            | other -> fail targetPath 1 (sprintf "expected exactly one target column index, found %d" other.Length)
        let trainRows = readIndices table.Length rowsWhat trainPath
        let testRows = readIndices table.Length rowsWhat testPath
        let inTrain = Collections.Generic.HashSet<int>(trainRows)
        match testRows |> Array.tryFind inTrain.Contains with
        | Some r -> fail testPath 0 (sprintf "row %d is in both the training and the test split (%s)" r (Path.GetFileName trainPath))
        | None -> ()
        Scope.keeping (fun (r: UciRegressionSplit) -> seq { r.Train.X; r.Train.Y; r.Test.X; r.Test.Y; r.XStandardizer.Mean; r.XStandardizer.Std; r.YStandardizer.Mean; r.YStandardizer.Std }) (fun () ->
            let rawSet rows = { X = Tensor.ofArray2D ctx (gather table rows features); Y = Tensor.ofArray2D ctx (gather table rows [| target |]) }
            let train, test = rawSet trainRows, rawSet testRows
            let xs = if options.StandardizeX then Standardizer.fit train.X else Standardizer.identity ctx features.Length
            let ys = if options.StandardizeY then Standardizer.fit train.Y else Standardizer.identity ctx 1
            let scale (s: RegressionSet) = { X = Standardizer.apply xs s.X; Y = Standardizer.apply ys s.Y }
            { Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath dir))
              Split = split
              SplitCount = count
              FeatureColumns = features
              TargetColumn = target
              Train = scale train
              Test = scale test
              XStandardizer = xs
              YStandardizer = ys
              YMean = (Standardizer.means ys)[0]
              YStd = (Standardizer.stds ys)[0] })

    /// `loadWith defaults`: inputs and targets standardized with training statistics.
    let load (ctx: Context) (dir: string) (split: int) : UciRegressionSplit = loadWith defaults ctx dir split

    /// The prefix of the UCI datasets' folder names in the data folder ("uci_concrete").
    [<Literal>]
    let FolderPrefix = "uci_"

    /// The folder of a UCI dataset given either as a path (`Paths.isPath`: it has a directory
    /// separator or exists relative to the current directory), returned as a full path, or as a
    /// bare name of the data folder with or without the prefix ("concrete" or "uci_concrete").
    /// Raises DirectoryNotFoundException naming what was given: the path as given when it is not a
    /// folder; for an unknown name, the name, the folder looked for and the UCI datasets present.
    let resolve (dataset: string) : string =
        if String.IsNullOrWhiteSpace dataset then invalidArg "dataset" "the UCI dataset name or folder is empty"
        if Paths.isPath dataset then
            if Directory.Exists dataset then Path.GetFullPath dataset
            else raise (DirectoryNotFoundException(sprintf "UCI dataset folder '%s' does not exist" dataset))
        else
            let dataRoot = Paths.root ()
            let folderName = if dataset.StartsWith FolderPrefix then dataset else FolderPrefix + dataset
            let dir = Path.Combine(dataRoot, folderName)
            if Directory.Exists dir then dir
            else
                let present =
                    Directory.GetDirectories dataRoot |> Array.map Path.GetFileName
                    |> Array.filter (fun n -> n.StartsWith FolderPrefix) |> Array.sort
                raise (DirectoryNotFoundException(
                    sprintf "UCI dataset '%s' not found: looked for the folder %s in the data folder %s (UCI datasets present: %s)"
                        dataset folderName dataRoot (String.Join(", ", present))))

    /// `load ctx (resolve dataset) split`: a dataset of the repository's data/ folder by name
    /// ("yacht" or "uci_yacht"), or a dataset folder by path.
    let loadNamed (ctx: Context) (dataset: string) (split: int) : UciRegressionSplit = load ctx (resolve dataset) split

    /// Standardized predictions or errors back in the target's original units (z · YStd + YMean).
    let toOriginalUnits (data: UciRegressionSplit) (z: Tensor) : Tensor = Standardizer.invert data.YStandardizer z
