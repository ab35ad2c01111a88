namespace EnergyFs.Papers.Reports

open EnergyFs
open System
open System.IO
open System.Text
open Deedle

/// Results tables: Deedle frames written as CSV and Markdown, and mean ± std summaries over seeds
/// (the statistics are `EnergyFs.Metrics.Statistics.meanStd`'s).
[<RequireQualifiedAccess>]
module Tables =

    /// Formats a number for a table: 4 significant digits, "—" for NaN.
    let formatValue (v: float) =
        if Double.IsNaN v then "—"
        elif v <> 0.0 && (abs v >= 1e5 || abs v < 1e-3) then v.ToString("0.###e+0", Globalization.CultureInfo.InvariantCulture)
        else v.ToString("0.####", Globalization.CultureInfo.InvariantCulture)

    let private cellText (o: obj) =
        match o with
        | :? float as v -> formatValue v
        | :? float32 as v -> formatValue (float v)
        | null -> ""
        | o -> string o

    /// A training history as a Deedle frame: rows keyed by epoch (1-based), one column per metric.
    let historyFrame (history: EnergyFs.Training.TrainingHistory) : Frame<int, string> =
        if history.Epochs = 0 then Frame.ofRows ([] : (int * Series<string, float>) list)
        else
            history.Rows
            |> Array.mapi (fun i row -> i + 1, Series.ofObservations (Array.zip history.Columns row))
            |> Frame.ofRows

    /// The frame as a Markdown table whose first column, headed `rowHeader`, holds the row keys.
    let markdown (rowHeader: string) (frame: Frame<'R, 'C>) : string =
        let columns = frame.ColumnKeys |> List.ofSeq
        let sb = StringBuilder()
        let line (cells: string seq) = sb.Append("| ").Append(String.Join(" | ", cells)).AppendLine(" |") |> ignore
        line (rowHeader :: (columns |> List.map string))
        line (List.replicate (columns.Length + 1) "---")
        for r in frame.RowKeys do
            let row = frame.Rows.[r]
            line (string r :: (columns |> List.map (fun c -> match row.TryGet c with | OptionalValue.Present v -> cellText v | _ -> "—")))
        sb.ToString()

    let private ensureDirectory (path: string) =
        let dir = Path.GetDirectoryName(Path.GetFullPath path)
        Directory.CreateDirectory dir |> ignore

    /// Writes the frame as Markdown to `path`.
    let writeMarkdown (path: string) (rowHeader: string) (frame: Frame<'R, 'C>) =
        ensureDirectory path
        File.WriteAllText(path, markdown rowHeader frame)

    /// Writes the frame as CSV to `path`, the row keys in a first column named `rowHeader`.
    let writeCsv (path: string) (rowHeader: string) (frame: Frame<'R, 'C>) =
        ensureDirectory path
        frame.SaveCsv(path, includeRowKeys = true, keyNames = [ rowHeader ])

    /// "mean ± std" with `digits` decimals.
    let formatMeanStd (digits: int) (mean: float, std: float) =
        let f = "F" + string digits
        sprintf "%s ± %s" (mean.ToString(f, Globalization.CultureInfo.InvariantCulture)) (std.ToString(f, Globalization.CultureInfo.InvariantCulture))

    /// A summary frame from (row, column, value) observations, one per seed: each cell is
    /// "mean ± std" over the observations sharing its row and column (`Statistics.meanStd`: the
    /// sample standard deviation, n − 1; 0 for one observation).
    let summarize (digits: int) (observations: (string * string * float) seq) : Frame<string, string> =
        observations
        |> Seq.groupBy (fun (r, c, _) -> r, c)
        |> Seq.map (fun ((r, c), group) -> r, c, formatMeanStd digits (EnergyFs.Metrics.Statistics.meanStd (group |> Seq.map (fun (_, _, v) -> v))))
        |> Frame.ofValues
