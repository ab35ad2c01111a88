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

let metrics nll rmse second = { Nll = nll; Rmse = rmse; ProposalNll = second; Seconds = 1.5; SelectedStep = 100.0; Steps = 200; Dequantized = false; TargetDistinct = 300; TargetQuantized = false }

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

        testCase "validation: every method keeps a step chosen on training rows; the test targets do not move it" <| fun () ->
            let options = { RegressionOptions.defaults with Samples = 16; Hidden = 8; Epochs = 6; BatchSize = 50 }
            for m in [ MdnAlone; Joint ] do
                let split = UciExperiment.syntheticSplit ctx 61L 250
                let r = UciExperiment.runSplit ctx { options with Method = m } 0 split
                // 225 training rows, 22 for validation: 203 rows, 5 batches per epoch, 6 epochs.
                Expect.equal r.Steps 30 (sprintf "%A: step budget" m)
                Expect.isTrue (r.SelectedStep >= 5.0 && r.SelectedStep <= 30.0 && r.SelectedStep % 5.0 = 0.0) (sprintf "%A: an epoch's end, got %g" m r.SelectedStep)
                // Scrambled test targets: the same step is kept, only the test NLL changes.
                use scrambled = split.YTest.flip [| 0L |]
                let r2 = UciExperiment.runSplit ctx { options with Method = m } 0 { split with YTest = scrambled }
                Expect.equal r2.SelectedStep r.SelectedStep (sprintf "%A: selection ignores the test rows" m)
                Expect.notEqual r2.Nll r.Nll (sprintf "%A: the test NLL did change" m)
                let last = UciExperiment.runSplitWith ctx { UciProtocol.defaults with ValidationFraction = 0.0 } { options with Method = m } 0 split
                Expect.isTrue (Double.IsNaN last.SelectedStep) "no validation: the last step, reported as NaN"
                Expect.equal last.Steps 30 "225 rows: 5 batches (the last of 25), 6 epochs"
                Scope.disposeAll [ split.XTrain; split.YTrain; split.XTest; split.YTest ]

        testCase "quantization: six integer values are detected, dequantized within half a step, and reported" <| fun () ->
            let values = Array.init 300 (fun i -> float (i % 6))
            let q = TargetQuantization.analyze values
            Expect.equal (q.Distinct, q.Step, q.Quantized) (6, Some 1.0, true) "six values, step 1"
            Expect.isSome (TargetQuantization.warning "y" q) "a warning"
            let continuous = TargetQuantization.analyze (Array.init 300 (fun i -> sin (float i * 1.7) * 3.1 + 0.001 * float i))
            Expect.isFalse continuous.Quantized "continuous targets"
            Expect.isNone (TargetQuantization.warning "y" continuous) "no warning"
            // Rounded to 0.5 with many ties: a common step.
            let rounded = TargetQuantization.analyze (Array.init 300 (fun i -> Math.Round (sin (float i) * 20.0) / 2.0))
            Expect.equal (rounded.Step, rounded.Quantized) (Some 0.5, true) "a common step of 0.5"
            use rng = new Rng(3L, ctx.Device)
            use y = Tensor.ofArray Context.cpu64 values
            use d = TargetQuantization.dequantize rng 1.0 y
            let noise = Array.map2 (-) (Tensor.toArray d) values
            Expect.isTrue (noise |> Array.forall (fun u -> abs u <= 0.5)) "within ±Δ/2"
            Expect.isGreaterThan (Array.distinct (Tensor.toArray d)).Length 290 "no ties left"
            Expect.isTrue (abs (Array.average noise) < 0.1) "centred"
    ]
