namespace EnergyFs.Papers.Reports

open EnergyFs
open System.IO
open Deedle
open Plotly.NET

/// Charts as self-contained HTML (plotly.js embedded, so a report opens offline).
[<RequireQualifiedAccess>]
module Charts =

    /// One line per (name, xs, ys), with axis titles.
    let lines (title: string) (xTitle: string) (yTitle: string) (series: (string * float[] * float[]) list) : GenericChart =
        series
        |> List.map (fun (name, xs, ys) -> Chart.Line(x = xs, y = ys, Name = name, ShowMarkers = false))
        |> Chart.combine
        |> Chart.withTitle title
        |> Chart.withXAxisStyle xTitle
        |> Chart.withYAxisStyle yTitle

    /// Training curves: the named history columns against the epoch (log-scale y when `logY`).
    let trainingCurves (title: string) (logY: bool) (columns: string list) (history: EnergyFs.Training.TrainingHistory) : GenericChart =
        let epochs = Array.init history.Epochs (fun i -> float (i + 1))
        let chart =
            columns
            |> List.filter (fun c -> history.Columns |> Array.contains c)
            |> List.map (fun c -> c, epochs, history.Column c)
            |> lines title "epoch" "value"
        if logY then chart |> Chart.withYAxis (LayoutObjects.LinearAxis.init (AxisType = StyleParam.AxisType.Log)) else chart

    /// The chart as a complete HTML page with plotly.js inlined. The page declares UTF-8 (Plotly.NET's
    /// template does not), so a page opened from disk shows Plotly's minus signs and the titles' Greek
    /// letters correctly.
    let toHtml (chart: GenericChart) : string =
        let html =
            chart
            |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
            |> GenericChart.toEmbeddedHTML
        let head = html.IndexOf("<head>", System.StringComparison.OrdinalIgnoreCase)
        // Only the page's own head counts: plotly.js itself contains the text "<meta charset".
        let ownHead = if head < 0 then "" else html.Substring(head, min 200 (html.Length - head))
        if head < 0 || ownHead.Contains("<meta charset", System.StringComparison.OrdinalIgnoreCase) then html
        else html.Insert(head + "<head>".Length, "<meta charset=\"utf-8\">")

    /// The chart drawn at a fixed size in pixels (Plotly's default is 600 × 600).
    let sized (width: int, height: int) (chart: GenericChart) : GenericChart =
        chart |> Chart.withSize (width, height)

    /// Writes the chart to `path` as a self-contained HTML page.
    let saveHtml (path: string) (chart: GenericChart) =
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path)) |> ignore
        File.WriteAllText(path, toHtml chart)
