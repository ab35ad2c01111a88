namespace EnergyFs.Interactive

open System.IO
open System.Text
open System.Text.Json

/// A Figure as a Plotly figure specification: `{ "data": [traces], "layout": {...} }`, the JSON that
/// plotly.js draws and that notebook front ends render from the `application/vnd.plotly.v1+json`
/// MIME type. Written directly with Utf8JsonWriter: the figure model is a handful of fields, and
/// Plotly.NET (the papers' reports use it) needs FSharp.Core 10.1, which the .NET Interactive kernel
/// (FSharp.Core 10.0) cannot load. NaN and infinities become null (a gap in the trace); coordinates
/// keep 7 significant digits.
[<RequireQualifiedAccess>]
module PlotlyFigure =

    /// A coordinate to 7 significant digits (finer than any screen resolves; keeps stored notebooks small).
    let private number (w: Utf8JsonWriter) (v: float) =
        if System.Double.IsFinite v then w.WriteRawValue(v.ToString("G7", System.Globalization.CultureInfo.InvariantCulture))
        else w.WriteNullValue()

    let private axis (w: Utf8JsonWriter) (name: string) (a: Axis) =
        w.WriteStartObject name
        w.WriteStartObject "title"
        w.WriteString("text", a.Title)
        w.WriteEndObject()
        w.WriteString("type", (if a.Log then "log" else "linear"))
        w.WriteBoolean("automargin", true)
        w.WriteEndObject()

    let private trace (w: Utf8JsonWriter) (i: int) (s: Series) =
        w.WriteStartObject()
        w.WriteString("type", "scatter")
        w.WriteString("name", s.Name)
        w.WriteString("mode", (match s.Mode with SeriesMode.Markers -> "markers" | SeriesMode.LinesAndMarkers -> "lines+markers" | _ -> "lines"))
        w.WriteStartObject "line"
        w.WriteString("color", Palette.colour i)
        w.WriteEndObject()
        w.WriteStartObject "marker"
        w.WriteString("color", Palette.colour i)
        w.WriteNumber("size", (if s.Mode = SeriesMode.Markers then 5 else 6))
        w.WriteEndObject()
        w.WriteStartArray "x"
        for v in s.X do number w v
        w.WriteEndArray()
        w.WriteStartArray "y"
        for v in s.Y do number w v
        w.WriteEndArray()
        w.WriteEndObject()

    /// The figure's Plotly JSON (compact, UTF-8 text).
    [<CompiledName "Json">]
    let json (figure: Figure) : string =
        if isNull (box figure) then nullArg "figure"
        use stream = new MemoryStream()
        do
            use w = new Utf8JsonWriter(stream)
            w.WriteStartObject()
            w.WriteStartArray "data"
            figure.Series |> Array.iteri (trace w)
            w.WriteEndArray()
            w.WriteStartObject "layout"
            w.WriteStartObject "title"
            w.WriteString("text", figure.Title)
            w.WriteEndObject()
            w.WriteNumber("width", figure.Width)
            w.WriteNumber("height", figure.Height)
            axis w "xaxis" figure.XAxis
            axis w "yaxis" figure.YAxis
            w.WriteEndObject()
            w.WriteEndObject()
        Encoding.UTF8.GetString(stream.ToArray())
