/// EnergyFs.Interactive: figures as Plotly JSON and SVG, histories as HTML tables, the displays the
/// kernel extension registers.
module EnergyFs.Tests.Interactive.FigureTests

open System
open System.Text.Json
open System.Xml.Linq
open Expecto
open EnergyFs.Training
open EnergyFs.Interactive

let private figure () =
    Figure.Create("losses", "epoch", "loss", [
        Series.Lines("train", [ 1.0; 2.0; 3.0 ], [ 0.9; nan; 0.5 ])
        Series.Markers("val", [ 1.0; 2.0; 3.0 ], [ 1.0; 0.8; 0.7 ]) ])

[<Tests>]
let tests =
    testList "Interactive" [
        testList "Figure" [
            test "a series with more x than y values is an ArgumentException naming it" {
                let message =
                    try Series.Lines("train", [ 1.0; 2.0 ], [ 1.0 ]) |> ignore; "no exception"
                    with :? ArgumentException as e -> e.Message
                Expect.stringContains message "series 'train': 2 x values but 1 y values" "the message names the series"
            }
            test "training curves plot the named metrics against the 1-based epoch; an unknown metric is named" {
                let h = { Columns = [| "train_loss"; "lr"; "val_loss" |]; Rows = [| [| 2.0; 0.1; 3.0 |]; [| 1.0; 0.1; 2.5 |] |] }
                let f = Figure.TrainingCurves("run", h, [])
                Expect.equal (f.Series |> Array.map (fun s -> s.Name)) [| "train_loss"; "val_loss" |] "every metric but lr and seconds"
                Expect.equal f.Series[1].X [| 1.0; 2.0 |] "epochs from 1"
                Expect.equal f.Series[1].Y [| 3.0; 2.5 |] "the metric's values"
                Expect.throwsT<ArgumentException> (fun () -> Figure.TrainingCurves("run", h, [ "val_f1" ]) |> ignore) "unknown metric"
            }
            test "WithSize refuses a figure too small to draw" {
                Expect.throwsT<ArgumentException> (fun () -> (figure ()).WithSize(50, 400) |> ignore) "width below 120"
            }
        ]
        testList "PlotlyFigure" [
            test "the JSON has one scatter trace per series, NaN as null, the axes' titles and scales" {
                use doc = JsonDocument.Parse(PlotlyFigure.json ((figure ()).WithLogY()) : string)
                let data = doc.RootElement.GetProperty "data"
                Expect.equal (data.GetArrayLength()) 2 "two traces"
                let train = data[0]
                let trainY = train.GetProperty "y"
                Expect.equal (train.GetProperty("mode").GetString()) "lines" "lines"
                Expect.equal (data[1].GetProperty("mode").GetString()) "markers" "markers"
                Expect.equal trainY[1].ValueKind JsonValueKind.Null "NaN is a gap (null)"
                Expect.equal (trainY[2].GetDouble()) 0.5 "values kept"
                let layout = doc.RootElement.GetProperty "layout"
                Expect.equal (layout.GetProperty("yaxis").GetProperty("type").GetString()) "log" "log y axis"
                Expect.equal (layout.GetProperty("xaxis").GetProperty("title").GetProperty("text").GetString()) "epoch" "x title"
                Expect.equal (layout.GetProperty("width").GetInt32()) 720 "default width"
            }
        ]
        testList "SvgFigure" [
            test "the SVG is a well-formed document of the figure's size with its title, axis titles and legend" {
                let svg = SvgFigure.render (figure ())
                let doc = XDocument.Parse svg
                Expect.equal (doc.Root.Name.LocalName) "svg" "an svg root"
                Expect.equal (doc.Root.Attribute(XName.Get "width").Value) "720" "width"
                let texts = doc.Descendants() |> Seq.filter (fun e -> e.Name.LocalName = "text") |> Seq.map (fun e -> e.Value) |> Set.ofSeq
                for t in [ "losses"; "epoch"; "loss"; "train"; "val" ] do
                    Expect.contains texts t (sprintf "the SVG shows '%s'" t)
            }
            test "a log axis leaves out non-positive values instead of failing" {
                let f = Figure.Create("", "x", "y", [ Series.Lines("s", [ 1.0; 2.0; 3.0 ], [ 0.0; 1.0; 10.0 ]) ]).WithLogY()
                XDocument.Parse(SvgFigure.render f) |> ignore
            }
        ]
        testList "HistoryDisplay" [
            test "one row per epoch, NaN blank; long histories keep their head and tail" {
                let h = { Columns = [| "loss"; "val" |]; Rows = Array.init 30 (fun i -> [| float i; (if i = 0 then nan else 1.0) |]) }
                let html = HistoryDisplay.html 10 h
                Expect.stringContains html "<th>loss</th><th>val</th>" "the header"
                Expect.stringContains html "<tr><td>1</td><td>0</td><td></td></tr>" "epoch 1, NaN blank"
                Expect.stringContains html "… 20 epochs …" "20 epochs left out"
                Expect.stringContains html "<tr><td>30</td><td>29</td><td>1</td></tr>" "the last epoch"
                Expect.equal (Text.RegularExpressions.Regex.Matches(html, "<tr><td>\\d").Count) 10 "ten epoch rows"
            }
        ]
        testList "NotebookDisplays" [
            test "a Figure displays as Plotly JSON first, then SVG and text; a history as HTML" {
                let all = NotebookDisplays.All()
                let mimes (t: Type) = all |> Array.filter (fun e -> e.Item1 = t) |> Array.map (fun e -> e.Item2)
                Expect.equal (mimes typeof<Figure>) [| "application/vnd.plotly.v1+json"; "image/svg+xml"; "text/plain" |] "figure displays"
                Expect.equal (mimes typeof<TrainingHistory>) [| "text/html" |] "history display"
                let preferred = NotebookDisplays.Preferred() |> Array.find (fun e -> e.Item1 = typeof<Figure>)
                Expect.equal preferred.Item2[0] "application/vnd.plotly.v1+json" "the interactive chart first"
                let text = (all |> Array.find (fun e -> e.Item1 = typeof<Figure> && e.Item2 = "text/plain")).Item3.Invoke(figure ())
                Expect.equal text "Figure \"losses\": train (3 points), val (3 points)" "the text form"
            }
        ]
    ]
