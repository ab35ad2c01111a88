namespace EnergyFs.Interactive

open System
open EnergyFs.Training

/// The displays this package registers with a .NET Interactive kernel, as plain .NET values: for each
/// type and MIME type, a function from the value to the text of that form. The package's
/// `interactive-extensions/dotnet/extension.dib` (run by the kernel when the package is loaded, from
/// an F# or a C# notebook alike) finds this assembly among the loaded ones and hands each entry to the
/// kernel's `Formatter.Register`, so this assembly references no package of the kernel (whose versions
/// change with every kernel release).
[<AbstractClass; Sealed>]
type NotebookDisplays =

    /// MIME type of Plotly figure JSON.
    static member PlotlyMimeType = "application/vnd.plotly.v1+json"

    /// Every display: (type, MIME type, render). A Figure renders as Plotly JSON, SVG and a line of
    /// text; a TrainingHistory as an HTML table of at most 20 rows.
    static member All() : Tuple<Type, string, Func<obj, string>>[] =
        let figure (render: Figure -> string) = Func<obj, string>(fun o -> render (o :?> Figure))
        [| Tuple.Create(typeof<Figure>, NotebookDisplays.PlotlyMimeType, figure PlotlyFigure.json)
           Tuple.Create(typeof<Figure>, "image/svg+xml", figure SvgFigure.render)
           Tuple.Create(typeof<Figure>, "text/plain", figure string)
           Tuple.Create(typeof<TrainingHistory>, "text/html", Func<obj, string>(fun o -> HistoryDisplay.html 20 (o :?> TrainingHistory))) |]

    /// The MIME types each type displays with by default, richest first (a front end shows the first
    /// it can draw: VS Code and JupyterLab the Plotly chart, a code host's preview the SVG).
    static member Preferred() : Tuple<Type, string[]>[] =
        [| Tuple.Create(typeof<Figure>, [| NotebookDisplays.PlotlyMimeType; "image/svg+xml"; "text/plain" |])
           Tuple.Create(typeof<TrainingHistory>, [| "text/html" |]) |]
