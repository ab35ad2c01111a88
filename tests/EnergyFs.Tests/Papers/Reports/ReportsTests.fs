module EnergyFs.Tests.Reports.ReportsTests

open System.IO
open Expecto
open Deedle
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Metrics

let frame () =
    Frame.ofColumns [ "loss", Series.ofObservations [ 1, 0.5; 2, 0.25 ]; "acc", Series.ofObservations [ 1, 0.8; 2, nan ] ]

[<Tests>]
let tests =
    testList "Reports" [
        testCase "a training history becomes a frame keyed by epoch" <| fun () ->
            let history : EnergyFs.Training.TrainingHistory = { Columns = [| "loss"; "acc" |]; Rows = [| [| 0.5; 0.8 |]; [| 0.25; nan |] |] }
            let f = Tables.historyFrame history
            Expect.equal (List.ofSeq f.RowKeys) [ 1; 2 ] "rows are epochs 1..n"
            Expect.equal (f.GetColumn<float>("loss").[2]) 0.25 "values by column"
            Expect.equal (Tables.historyFrame { Columns = [||]; Rows = [||] }).RowCount 0 "empty history"

        testCase "markdown table with row keys and a dash for NaN" <| fun () ->
            let md = Tables.markdown "epoch" (frame ())
            let lines = md.Trim().Split('\n') |> Array.map (fun l -> l.Trim())
            Expect.equal lines[0] "| epoch | loss | acc |" "header"
            Expect.equal lines[1] "| --- | --- | --- |" "rule"
            Expect.equal lines[2] "| 1 | 0.5 | 0.8 |" "first row"
            Expect.equal lines[3] "| 2 | 0.25 | — |" "NaN as a dash"

        testCase "CSV round trip" <| fun () ->
            let path = Path.GetTempFileName()
            try
                Tables.writeCsv path "epoch" (frame ())
                let text = File.ReadAllLines path
                Expect.equal text[0] "epoch,loss,acc" "header"
                Expect.stringStarts text[1] "1,0.5,0.8" "row"
            finally File.Delete path

        testCase "mean ± std over seeds" <| fun () ->
            let m, s = EnergyFs.Metrics.Statistics.meanStd [ 1.0; 2.0; 3.0 ]
            Expect.equal m 2.0 "mean"
            Expect.equal s 1.0 "sample std"
            let summary = Tables.summarize 2 [ "mlp", "F1", 0.5; "mlp", "F1", 0.7; "spen", "F1", 0.9 ]
            Expect.equal (summary.GetColumn<string>("F1").["mlp"]) "0.60 ± 0.14" "summary cell"
            Expect.equal (summary.GetColumn<string>("F1").["spen"]) "0.90 ± 0.00" "single seed"

        testCase "a chart is written as self-contained HTML" <| fun () ->
            let path = Path.Combine(Path.GetTempPath(), sprintf "energyfs-chart-%d.html" (System.Random().Next()))
            try
                let history : EnergyFs.Training.TrainingHistory = { Columns = [| "loss"; "acc" |]; Rows = [| [| 0.5; 0.8 |]; [| 0.25; nan |] |] }
                Charts.trainingCurves "loss" true [ "loss"; "missing" ] history |> Charts.saveHtml path
                let html = File.ReadAllText path
                Expect.isGreaterThan html.Length 1_000_000 "plotly.js inlined"
                Expect.isFalse (html.Contains "src=\"https://cdn.plot.ly") "no script loaded from the CDN"
                Expect.stringContains html "\"loss\"" "the trace is there"
                Expect.stringContains html "<meta charset=\"utf-8\">" "the page declares UTF-8"
            finally File.Delete path
    ]
