namespace EnergyFs.Interactive

open System
open OxyPlot
open OxyPlot.Axes
open OxyPlot.Legends
open OxyPlot.Series

/// OxyPlot's PDF text metrics (Helvetica) widened by a fifth: the SVG is drawn later by whatever sans-serif
/// the viewer has (Liberation Sans, DejaVu Sans: wider than Helvetica's metrics), so the layout reserves
/// room for the wider text (legend entries, tick labels beside an axis title) instead of overlapping.
type internal GenerousTextMeasurer(width: float, height: float) =
    inherit PdfRenderContext(width, height, OxyColors.White)
    override _.MeasureText(text: string, fontFamily: string, fontSize: float, fontWeight: float) =
        let size = base.MeasureText(text, fontFamily, fontSize, fontWeight)
        OxySize(size.Width * 1.2, size.Height)

/// A Figure as a static SVG document, drawn by OxyPlot (OxyPlot.Core's SvgExporter: managed code
/// only, no native graphics library), in the same colours as the Plotly rendering. This is the form
/// that viewers which run no scripts (a code host's notebook preview, an e-mail) can show.
[<RequireQualifiedAccess>]
module SvgFigure =

    let private oxyColour (hex: string) = OxyColor.Parse hex

    let private axis (position: AxisPosition) (a: EnergyFs.Interactive.Axis) : Axes.Axis =
        let ax: Axes.Axis = if a.Log then LogarithmicAxis() else LinearAxis()
        ax.Position <- position
        ax.Title <- a.Title
        // Room between the tick labels and the axis title: the PDF font metrics OxyPlot measures text with run
        // narrower than a browser's sans-serif.
        ax.AxisTitleDistance <- 10.0
        ax.MajorGridlineStyle <- LineStyle.Solid
        ax.MajorGridlineColor <- OxyColor.FromRgb(230uy, 230uy, 230uy)
        ax

    /// Points of a series that the axes can draw: both coordinates finite, positive on a log axis.
    let private drawable (figure: Figure) (s: EnergyFs.Interactive.Series) =
        Array.zip s.X s.Y
        |> Array.map (fun (x, y) ->
            let ok = Double.IsFinite x && Double.IsFinite y && (not figure.XAxis.Log || x > 0.0) && (not figure.YAxis.Log || y > 0.0)
            if ok then Some (x, y) else None)

    let private series (figure: Figure) (i: int) (s: EnergyFs.Interactive.Series) : Series.Series =
        let colour = oxyColour (Palette.colour i)
        let points = drawable figure s
        match s.Mode with
        | SeriesMode.Markers ->
            let scatter = ScatterSeries(Title = s.Name, MarkerType = MarkerType.Circle, MarkerSize = 2.5, MarkerFill = colour)
            for p in points do
                match p with
                | Some (x, y) -> scatter.Points.Add(ScatterPoint(x, y))
                | None -> ()
            scatter
        | mode ->
            let line = LineSeries(Title = s.Name, Color = colour, StrokeThickness = 1.8)
            if mode = SeriesMode.LinesAndMarkers then
                line.MarkerType <- MarkerType.Circle
                line.MarkerSize <- 3.0
                line.MarkerFill <- colour
            // DataPoint.Undefined breaks the line at a gap, as Plotly does at a null.
            for p in points do
                match p with
                | Some (x, y) -> line.Points.Add(DataPoint(x, y))
                | None -> line.Points.Add DataPoint.Undefined
            line

    /// The OxyPlot model of a figure (axes, series, a legend below the plot area when there is more
    /// than one series).
    [<CompiledName "Model">]
    let model (figure: Figure) : PlotModel =
        if isNull (box figure) then nullArg "figure"
        // Arial's metrics are what OxyPlot measures text with (PDF Helvetica), and a viewer without Arial falls
        // back to a wider sans-serif: the padding leaves room for that, and the legend goes below the plot, where
        // a long entry wraps to another row instead of running off the right edge.
        let m =
            PlotModel(Title = figure.Title, Background = OxyColors.White, TitleFontSize = 14.0, DefaultFont = "Arial, Helvetica, sans-serif",
                      Padding = OxyThickness(8.0, 16.0, 24.0, 8.0))
        m.Axes.Add(axis AxisPosition.Bottom figure.XAxis)
        m.Axes.Add(axis AxisPosition.Left figure.YAxis)
        figure.Series |> Array.iteri (fun i s -> m.Series.Add(series figure i s))
        if figure.Series.Length > 1 then
            m.Legends.Add(
                Legend(LegendPosition = LegendPosition.BottomCenter, LegendPlacement = LegendPlacement.Outside,
                       LegendOrientation = LegendOrientation.Horizontal, LegendBorderThickness = 0.0, LegendSymbolLength = 20.0))
        m

    /// The figure as a complete SVG document of its Width × Height.
    [<CompiledName "Render">]
    let render (figure: Figure) : string =
        let m = model figure
        SvgExporter.ExportToString(m, float figure.Width, float figure.Height, true, GenerousTextMeasurer(float figure.Width, float figure.Height))
