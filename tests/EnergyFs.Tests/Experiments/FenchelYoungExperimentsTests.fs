module EnergyFs.Tests.Experiments.FenchelYoungExperimentsTests

open System.IO
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Experiments

let rows (a: float list list) = a |> List.map Array.ofList |> Array.ofList

[<Tests>]
let tests =
    testList "Experiments.FenchelYoung" [
        testCase "multilabel metrics on a hand-checked example" <| fun () ->
            let truth = rows [ [ 1.; 0.; 1. ]; [ 0.; 0.; 0. ]; [ 1.; 1.; 0. ] ]
            let pred = rows [ [ 1.; 1.; 1. ]; [ 0.; 0.; 0. ]; [ 0.; 1.; 0. ] ]
            Expect.floatClose Accuracy.high (MultilabelMetrics.hammingAccuracy pred truth) (7.0 / 9.0) "7 of 9 entries right"
            // example F1: 2·2/(3+2) = 0.8; empty/empty = 1; 2·1/(1+2) = 2/3
            Expect.floatClose Accuracy.high (MultilabelMetrics.exampleF1 pred truth) ((0.8 + 1.0 + 2.0 / 3.0) / 3.0) "example F1"
            // pooled: tp 3, fp 1, fn 1
            Expect.floatClose Accuracy.high (MultilabelMetrics.microF1 pred truth) (6.0 / 8.0) "micro F1"
            // label 0: tp1 fn1 → 2/3; label 1: tp1 fp1 → 2/3; label 2: tp1 → 1
            Expect.floatClose Accuracy.high (MultilabelMetrics.macroF1 pred truth) ((2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0) "macro F1"

        testCase "the MULAN reader reads a small file and names the line of a bad value" <| fun () ->
            let dir = Path.Combine (Path.GetTempPath (), sprintf "fy-mulan-%d" (System.Random().Next ()), "tiny")
            Directory.CreateDirectory dir |> ignore
            try
                File.WriteAllText (Path.Combine (dir, "tiny.xml"), "<labels xmlns=\"http://mulan.sourceforge.net/labels\"><label name=\"a\"></label><label name=\"b\"></label></labels>")
                let header = "@relation t\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute a {0,1}\n@attribute b {0,1}\n@data\n"
                File.WriteAllText (Path.Combine (dir, "tiny-train.arff"), header + "0.5,1.5,1,0\n-1,2,0,1\n")
                File.WriteAllText (Path.Combine (dir, "tiny-test.arff"), header + "0.5,x,1,0\n")
                let e = EnergyFs.Tests.Expectations.raisesOf<DataFormatException> (fun () -> MulanData.load dir |> ignore)
                Expect.equal e.Line 7 "the line of the bad value"
                File.WriteAllText (Path.Combine (dir, "tiny-test.arff"), header + "0.5,3,1,1\n")
                let train, test = MulanData.load dir
                Expect.equal (train.Count, train.Dimension, train.LabelCount) (2, 2, 2) "shape"
                Expect.equal train.Labels[1] [| 0.0; 1.0 |] "labels are the last attributes"
                Expect.equal test.Features[0] [| 0.5; 3.0 |] "features"
            finally
                Directory.Delete (Path.GetDirectoryName dir, true)

        testCase "reacher: the expert reaches the goal by either mode; averaging the two modes hits the obstacle" <| fun () ->
            let ctx = Context.cpu64
            let settings = Reacher.defaults
            use rng = new Rng (1L, ctx.Device)
            use start = Reacher.reset settings rng ctx 8
            let run policy =
                let returns, stuck, distance, s, a = Reacher.rollout settings policy start
                Scope.disposeAll s
                Scope.disposeAll a
                Array.average returns, stuck, distance
            use up = Tensor.ones ctx [ 8L ]
            use down = Tensor.full ctx [ 8L ] -1.0
            for mode in [ up; down ] do
                let _, stuck, distance = run (Reacher.expert settings mode)
                Expect.isFalse (Array.exists id stuck) "the expert never touches the obstacle"
                Expect.isTrue (distance |> Array.forall (fun d -> d < 0.3)) (sprintf "the expert reaches the goal: %A" distance)
            let average (s: Tensor) =
                Scope.tensor (fun () -> (Reacher.expert settings up s + Reacher.expert settings down s) * 0.5)
            let _, stuck, _ = run average
            Expect.isTrue (Array.forall id stuck) "the average of the two modes drives into the obstacle"

        testCase "calibration: the task excess risk goes down with the FY excess risk" <| fun () ->
            let options = { CalibrationOptions.defaults with TrainSize = 300; EvalSize = 300; Steps = 20; Every = 10; Inner = { CalibrationOptions.defaults.Inner with Tolerance = 1e-5 } }
            let points, spearman = Calibration.run options
            let first, last = List.head points, List.last points
            Expect.isLessThan last.FyExcess first.FyExcess "FY excess risk decreases"
            Expect.isLessThan last.TaskExcess first.TaskExcess "task excess risk decreases"
            Expect.isGreaterThanOrEqual (points |> List.map (fun p -> p.FyExcess) |> List.min) 0.0 "FY excess risk ≥ 0"
            Expect.isGreaterThan spearman 0.0 "positively rank-correlated"
    
        testCase "multilabel: selection on validation then refit on all training rows learns a separable problem with either loss" <| fun () ->
            // Labels: y₀ = [x₀ > 0], y₁ = [x₁ > 0], y₂ = y₀ (perfectly correlated with y₀).
            let make seed n =
                let rnd = System.Random (seed: int)
                let x = Array.init n (fun _ -> Array.init 4 (fun _ -> rnd.NextDouble () * 2.0 - 1.0))
                let y = x |> Array.map (fun r -> let a = (if r[0] > 0.0 then 1.0 else 0.0) in [| a; (if r[1] > 0.0 then 1.0 else 0.0); a |])
                { Name = "toy"; Features = x; Labels = y; LabelNames = [| "a"; "b"; "c" |] }
            let train, test = make 1 160, make 2 80
            for loss in [ Independent; QuadraticEnergy ] do
                let options =
                    { MultilabelOptions.defaults with
                        Loss = loss; Hidden = 8; Epochs = 30; Patience = 5; BatchSize = 32; LearningRate = 1e-2
                        WeightDecays = [ 1e-4 ]; Refit = true; Context = Context.cpu }
                let run = Multilabel.runSeed options train test 0 ignore
                let acc = run.Test |> List.find (fst >> (=) "hamming_accuracy") |> snd
                Expect.isGreaterThan acc 0.9 (sprintf "%A: test Hamming accuracy" loss)
                Expect.isTrue (run.Epochs >= 1 && run.Epochs <= 30) "refit epochs = the selected epoch count"
    ]
