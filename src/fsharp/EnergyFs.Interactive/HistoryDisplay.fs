namespace EnergyFs.Interactive

open System
open System.Net
open System.Text
open EnergyFs.Training

/// A training history as an HTML table (the text/html display of a TrainingHistory in a notebook):
/// one row per epoch, one column per metric, numbers to four significant digits, NaN shown blank.
[<RequireQualifiedAccess>]
module HistoryDisplay =

    let private cell (v: float) =
        if Double.IsNaN v then "" else v.ToString("G4", Globalization.CultureInfo.InvariantCulture)

    /// An HTML table of a history; with more than `maxRows` epochs, the first and last halves are kept
    /// and a row says how many were left out.
    [<CompiledName "Html">]
    let html (maxRows: int) (history: TrainingHistory) : string =
        if isNull (box history) then nullArg "history"
        if maxRows < 2 then invalidArg "maxRows" (sprintf "maxRows %d: at least 2" maxRows)
        let b = StringBuilder()
        b.Append("<table><thead><tr><th>epoch</th>") |> ignore
        for c in history.Columns do b.Append("<th>").Append(WebUtility.HtmlEncode c).Append("</th>") |> ignore
        b.Append("</tr></thead><tbody>") |> ignore
        let row (i: int) =
            b.Append("<tr><td>").Append(i + 1).Append("</td>") |> ignore
            for v in history.Rows[i] do b.Append("<td>").Append(cell v).Append("</td>") |> ignore
            b.Append("</tr>") |> ignore
        let n = history.Epochs
        if n <= maxRows then
            for i in 0 .. n - 1 do row i
        else
            let head = maxRows / 2
            for i in 0 .. head - 1 do row i
            b.AppendFormat("<tr><td colspan=\"{0}\">… {1} epochs …</td></tr>", history.Columns.Length + 1, n - maxRows) |> ignore
            for i in n - (maxRows - head) .. n - 1 do row i
        b.Append("</tbody></table>").ToString()
