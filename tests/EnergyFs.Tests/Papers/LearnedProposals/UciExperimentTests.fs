module EnergyFs.Tests.Experiments.UciExperimentTests

open System
open Expecto
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Tests.Expectations

let ctx = Context.cpu

let metrics nll rmse second = { Nll = nll; Rmse = rmse; ProposalNll = second; Seconds = 1.5 }

[<Tests>]
let tests =
    testList "Experiments.UciExperiment" [
        testCase "summarize: mean and sample std over splits (Statistics.meanStd); NaN second model stays NaN" <| fun () ->
            let s = UciExperiment.summarize Joint [ metrics 1.0 2.0 3.0; metrics 3.0 4.0 5.0 ]
            Expect.equal (s.Method, s.Splits) (Joint, 2) "method and splits"
            Expect.floatClose Accuracy.veryHigh s.NllMean 2.0 "NLL mean"
            Expect.floatClose Accuracy.veryHigh s.NllStd (sqrt 2.0) "NLL sample std (n − 1; the population std would be 1)"
            Expect.floatClose Accuracy.veryHigh s.RmseMean 3.0 "RMSE mean"
            Expect.floatClose Accuracy.veryHigh s.SecondNllMean 4.0 "second NLL mean"
            Expect.floatClose Accuracy.veryHigh s.Seconds 3.0 "total seconds"
            let m = UciExperiment.summarize MdnAlone [ metrics 1.0 2.0 nan ]
            Expect.isTrue (Double.IsNaN m.SecondNllMean) "no second model"
            let table = UciExperiment.markdownTable [ s; m ]
            let lines = table.Split '\n'
            Expect.equal lines.Length 4 "header, rule, one row per method"
            Expect.stringContains lines[2] "| joint | 2 | 2.000 ± 1.414 | 3.000 ± 1.414 | 4.000 ± 1.414 |" "joint row"
            Expect.stringContains lines[3] "| mdn | 1 | 1.000 ± 0.000 | 2.000 ± 0.000 | – |" "mdn row"
            raisesOf<ArgumentException> (fun () -> UciExperiment.summarize Joint [] |> ignore) |> ignore

        testCase "compare: every method on the same splits gives one finite summary per method" <| fun () ->
            let options = { RegressionOptions.defaults with Samples = 16; Hidden = 8; Epochs = 1; BatchSize = 64 }
            let seen = Collections.Generic.List<string * int>()
            let summaries =
                UciExperiment.compare ctx options 0 (fun i -> UciExperiment.syntheticSplit ctx (50L + int64 i) 200) 2
                    [ MdnAlone; Joint ] (fun m i _ -> seen.Add (RegressionMethod.name m, i))
            Expect.equal (summaries |> List.map (fun s -> s.Method, s.Splits)) [ MdnAlone, 2; Joint, 2 ] "one summary per method"
            Expect.equal (List.ofSeq seen) [ "mdn", 0; "mdn", 1; "joint", 0; "joint", 1 ] "every split of every method reported"
            for s in summaries do
                Expect.isTrue (Double.IsFinite s.NllMean && Double.IsFinite s.RmseMean && s.RmseMean > 0.0) (sprintf "%A finite" s.Method)
            Expect.isTrue (Double.IsFinite summaries[1].SecondNllMean) "the joint model's proposal NLL"
    ]
