module EnergyFs.Tests.Reproduction.ReportTests

open System
open System.IO
open Expecto
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners
open EnergyFs.Tests.Reproduction.Fixtures

let private checksOf (summary: ExperimentResult list -> PaperSummary) results = (summary results).Checks |> List.map (fun c -> c.Passed)

let private info =
    { Title = "EnergyFs reproduction report"; Command = "energyfs reproduce tiny --quick"; Mode = "quick"
      Date = DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero); Seeds = [ 0 ]
      Environment = [ "EnergyFs", "0.1.0"; "threads", "1" ]; WallSeconds = 12.5; CpuSeconds = 10.0 }

let private fy (yeast: float) (energy: float) (mse: float) =
    [ resultOf "fy-multilabel-yeast-quadratic" [ "hamming_accuracy", yeast; "example_f1", 61.0 ]
      resultOf "fy-multilabel-scene-quadratic" [ "hamming_accuracy", 91.0 ]
      resultOf "fy-multilabel-emotions-quadratic" [ "hamming_accuracy", 78.0 ]
      resultOf "fy-imitation" [ "energy_normalized", energy; "mse_normalized", mse; "energy_collision", 0.0; "mse_collision", 1.0; "energy_success", energy ]
      resultOf "fy-calibration" [ "spearman", 0.95; "task_excess_start", 0.5; "task_excess_end", 0.1 ] ]

[<Tests>]
let tests =
    testList "Reproduction.Report" [
        testCase "FY checks: within 1 point of the published accuracy; energy policy beats MSE" <| fun () ->
            Expect.equal (checksOf FenchelYoungPaper.summarize (fy 80.0 0.9 0.5)) [ Some true; Some true; Some false; Some true; Some true; Some true ] "yeast 80.0 ok, emotions 78.0 not"
            Expect.equal (checksOf FenchelYoungPaper.summarize (fy 78.0 0.4 0.5)) [ Some false; Some true; Some false; Some false; Some false; Some true ] "yeast 78.0 not, MSE better, success 0.4"

        testCase "dual checks: feature < lazy, best ratio 1" <| fun () ->
            let results (feature: float) (lazyKl: float) (r01: float) (r10: float) =
                [ resultOf "dual-feature" [ "kl", feature ]; resultOf "dual-lazy" [ "kl", lazyKl ]
                  resultOf "dual-ratio-0.1" [ "kl", r01 ]; resultOf "dual-ratio-10" [ "kl", r10 ] ]
            Expect.equal (checksOf DualPaper.summarize (results 0.03 0.5 0.6 0.09)) [ Some true; Some true ] "the paper's picture"
            Expect.equal (checksOf DualPaper.summarize (results 0.6 0.5 0.6 0.09)) [ Some false; Some false ] "lazy better, ratio 10 best"

        testCase "regression check: teacher < MDN and joint < both" <| fun () ->
            let results mdn teacher joint =
                [ resultOf "regression-yacht-mdn-s00" [ "nll", mdn ]; resultOf "regression-yacht-teacher-s00" [ "nll", teacher ]
                  resultOf "regression-yacht-joint-s00" [ "nll", joint; "rmse", 0.5 ] ]
            let summary = (RegressionPaper.spec true).Summarize
            Expect.equal (checksOf summary (results 1.1 1.0 -0.6)) [ Some true ] "holds"
            Expect.equal (checksOf summary (results 1.0 1.1 -0.6)) [ Some false ] "teacher worse than MDN"
            Expect.equal (checksOf summary (results 1.1 0.5 0.6)) [ Some false ] "joint worse than teacher"
            Expect.equal (checksOf summary (results 1.1 1.0 -0.6 |> List.take 2)) [ None ] "joint missing: undecided"

        testCase "SPEN checks: MLP near 38.9, SPEN above MLP" <| fun () ->
            let results mlp spen = [ resultOf "spen-bibtex-mlp" [ "test_f1", mlp ]; resultOf "spen-bibtex-spen" [ "test_f1", spen ] ]
            let summary = (SpenPaper.spec true).Summarize
            Expect.equal (checksOf summary (results 38.7 39.4)) [ Some true; Some true ] "holds"
            Expect.equal (checksOf summary (results 36.0 35.0)) [ Some false; Some false ] "fails"

        testCase "the Markdown and HTML show the published numbers beside the measured ones and the verdicts" <| fun () ->
            let papers = [ FenchelYoungPaper.spec true; SpenPaper.spec true ]
            let results =
                [ Runner.summarize papers[0] (fy 80.0 0.9 0.5)
                  Runner.summarize papers[1] [ resultOf "spen-bibtex-mlp" [ "test_f1", 38.7; "dev_f1", 40.0 ]; resultOf "spen-bibtex-spen" [ "test_f1", 37.0 ] ] ]
            let md = Report.markdown info results
            for text in [ "80.19"; "91.58"; "80.56"; "38.9"; "42.2"; "published"; "80.00"; "38.70"; "✓"; "✗"; "emotions: Hamming accuracy within 1 point"
                          "headline checks passed: 6 of 8"; "charts/fy-hamming-accuracy.html"; "| 0.1.0 |" ] do
                Expect.stringContains md text (sprintf "Markdown shows %s" text)
            Expect.stringContains md "| yeast | 80.19 | 80.00 |" "published beside measured in one row"
            let page = Report.html info results
            for text in [ "80.19"; "38.9"; "✓"; "✗"; "<iframe src=\"charts/spen-bibtex-f1.html\""; "headline checks passed: 6 of 8" ] do
                Expect.stringContains page text (sprintf "HTML shows %s" text)

        testCase "end to end: a tiny catalogue into a temporary folder writes report.md, report.html and the chart" <| fun () ->
            let dir = tempDir ()
            try
                let calls = ref 0
                let paper = paperOf [ counting "a" 1.0 calls; { counting "b" 1.0 calls with Run = fun _ _ _ -> failwith "exploded" } ]
                let results = Runner.run { RunnerOptions.defaults with CacheDir = Path.Combine(dir, "cache"); Seeds = [ 0; 1 ] } [ paper ]
                let md, html = Report.write dir { info with Environment = About.describe Context.cpu } results
                Expect.isTrue (File.Exists md && File.Exists html) "both reports"
                Expect.isTrue (File.Exists (Path.Combine(dir, "charts", "tiny-curve.html"))) "the chart"
                // Each chart is drawn at Report.chartSize and framed by that plus the chart page's margins, so
                // no axis label is cut and nothing scrolls inside the frame (the 520-px frames around Plotly's
                // 600 × 600 default cut the x axis; seen in a headless-browser screenshot).
                let w, h = Report.chartSize
                let chartPage = File.ReadAllText(Path.Combine(dir, "charts", "tiny-curve.html"))
                Expect.stringContains chartPage (sprintf "\"width\":%d,\"height\":%d" w h) "the chart is drawn at the report's chart size"
                let fw, fh = Report.frameSize
                Expect.isTrue (fw >= w + 16 && fh >= h + 16) "the frame holds the chart and the page's 8-px margins"
                Expect.stringContains (File.ReadAllText html) (sprintf "<iframe src=\"charts/tiny-curve.html\" loading=\"lazy\" style=\"width:%dpx;height:%dpx\">" fw fh) "the frame's size"
                let text = File.ReadAllText md
                Expect.stringContains text "| a | 1.50 | 1.50 ± 0.71 |" "mean ± std over seeds beside the published column"
                Expect.stringContains text "✓ value exceeds 1" "the check"
                Expect.stringContains text "## Failures" "failures section"
                Expect.stringContains text "b seed 1: Exception: exploded" "which failed and why"
                Expect.stringContains text "TorchSharp" "versions"
                Expect.stringContains (File.ReadAllText html) "exploded" "the HTML too"
                Expect.equal (Directory.GetFiles(Path.Combine(dir, "cache")).Length) 2 "two cached runs (a, seeds 0 and 1)"
            finally Directory.Delete(dir, true)
    ]
