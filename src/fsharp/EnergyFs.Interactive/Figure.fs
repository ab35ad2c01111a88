namespace EnergyFs.Interactive

open System
open EnergyFs.Training

/// How a series is drawn.
type SeriesMode =
    /// Points joined by straight lines.
    | Lines = 0
    /// Points only.
    | Markers = 1
    /// Points joined by lines, each point marked.
    | LinesAndMarkers = 2

/// One named series of (x, y) points. NaN values are gaps (a NaN in a history marks a metric not
/// computed in that epoch).
type Series =
    { /// The legend entry.
      Name: string
      /// The abscissae.
      X: float[]
      /// The ordinates, one per abscissa.
      Y: float[]
      /// Lines, markers or both.
      Mode: SeriesMode }

    static member private Make (mode: SeriesMode) (name: string) (x: seq<float>) (y: seq<float>) =
        if isNull name then nullArg "name"
        if isNull (box x) then nullArg "x"
        if isNull (box y) then nullArg "y"
        let x, y = Array.ofSeq x, Array.ofSeq y
        if x.Length <> y.Length then
            invalidArg "y" (sprintf "series '%s': %d x values but %d y values" name x.Length y.Length)
        { Name = name; X = x; Y = y; Mode = mode }

    /// Points joined by lines.
    static member Lines(name: string, x: seq<float>, y: seq<float>) = Series.Make SeriesMode.Lines name x y
    /// Points only (a scatter plot).
    static member Markers(name: string, x: seq<float>, y: seq<float>) = Series.Make SeriesMode.Markers name x y
    /// Points joined by lines, each point marked.
    static member LinesAndMarkers(name: string, x: seq<float>, y: seq<float>) = Series.Make SeriesMode.LinesAndMarkers name x y

/// An axis: its title and its scale.
type Axis =
    { /// The axis title.
      Title: string
      /// A logarithmic (base-10) scale; non-positive values are left out of the drawing.
      Log: bool }

/// A 2-D chart of named series. In a .NET Interactive notebook that has loaded this package, a
/// Figure displays as an interactive Plotly chart (`application/vnd.plotly.v1+json`, drawn by VS Code
/// and JupyterLab) with a static SVG of the same chart beside it (`image/svg+xml`, drawn by viewers
/// that run no scripts, such as a code host's notebook preview); `PlotlyFigure.json` and
/// `SvgFigure.render` give each form directly (for example to save it).
type Figure =
    { /// The title above the plot.
      Title: string
      /// The horizontal axis.
      XAxis: Axis
      /// The vertical axis.
      YAxis: Axis
      /// The series, drawn in order (colours follow Plotly's default cycle).
      Series: Series[]
      /// Width in pixels.
      Width: int
      /// Height in pixels.
      Height: int }

    /// A figure with linear axes, 720 × 420 pixels.
    static member Create(title: string, xTitle: string, yTitle: string, series: seq<Series>) =
        if isNull (box series) then nullArg "series"
        let series = Array.ofSeq series
        series |> Array.iteri (fun i s -> if isNull (box s) then invalidArg "series" (sprintf "series[%d] is null" i))
        { Title = (if isNull title then "" else title)
          XAxis = { Title = (if isNull xTitle then "" else xTitle); Log = false }
          YAxis = { Title = (if isNull yTitle then "" else yTitle); Log = false }
          Series = series
          Width = 720
          Height = 420 }

    /// The curves of some metrics of a training history against the epoch (1-based); an empty
    /// `columns` plots every metric except lr and seconds. An unknown column is an ArgumentException
    /// naming it and the history's columns.
    static member TrainingCurves(title: string, history: TrainingHistory, columns: seq<string>) =
        let columns =
            match List.ofSeq columns with
            | [] -> history.Columns |> Array.filter (fun c -> c <> "lr" && c <> "seconds") |> List.ofArray
            | cs -> cs
        let epochs = Array.init history.Epochs (fun i -> float (i + 1))
        Figure.Create(title, "epoch", "", columns |> List.map (fun c -> Series.Lines(c, epochs, history.Column c)))

    /// The same figure with a logarithmic horizontal axis.
    member f.WithLogX() = { f with XAxis = { f.XAxis with Log = true } }
    /// The same figure with a logarithmic vertical axis.
    member f.WithLogY() = { f with YAxis = { f.YAxis with Log = true } }
    /// The same figure with another size in pixels (each at least 120).
    member f.WithSize(width: int, height: int) =
        if width < 120 then invalidArg "width" (sprintf "width %d: at least 120 pixels" width)
        if height < 120 then invalidArg "height" (sprintf "height %d: at least 120 pixels" height)
        { f with Width = width; Height = height }

    /// A one-line description: the title and each series' name and length (the text/plain display).
    override f.ToString() =
        let series = f.Series |> Array.map (fun s -> sprintf "%s (%d points)" s.Name s.X.Length)
        sprintf "Figure \"%s\": %s" f.Title (String.Join(", ", series))

/// Plotly's default colour cycle, used by both renderings so the interactive chart and the SVG match.
module internal Palette =
    let colours =
        [| "#1f77b4"; "#ff7f0e"; "#2ca02c"; "#d62728"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f"; "#bcbd22"; "#17becf" |]
    let colour (i: int) = colours[i % colours.Length]
