module EnergyFs.Tests.Experiments.MultilabelMetricsTests

open System.IO
open Expecto
open EnergyFs
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Models
open EnergyFs.Energies

let ctx = Context.cpu64

[<Tests>]
let tests =
    testList "Experiments.MultilabelMetrics" [
        testCase "example F1 on hand-made sets" <| fun () ->
            // {1,2} vs {2,3}: 2·1/4 = 0.5; {} vs {}: 1; {1} vs {}: 0; {1,2,3} vs {1,2,3}: 1.
            let p = [| [| true; true; false |]; [| false; false; false |]; [| true; false; false |]; [| true; true; true |] |]
            let g = [| [| false; true; true |]; [| false; false; false |]; [| false; false; false |]; [| true; true; true |] |]
            Expect.floatClose Accuracy.high (MultilabelMetrics.exampleF1Sets p g) ((0.5 + 1.0 + 0.0 + 1.0) / 4.0) "mean of per-example F1"

        testCase "example F1 of thresholded scores" <| fun () ->
            Scope.run (fun () ->
                let scores = Tensor.ofRows ctx [| [| 0.9; 0.4; 0.1 |]; [| 0.3; 0.6; 0.7 |] |]
                let gold = Tensor.ofRows ctx [| [| 1.0; 1.0; 0.0 |]; [| 0.0; 0.0; 1.0 |] |]
                // t = 0.5: {1} vs {1,2} → 2/3; {2,3} vs {3} → 2/3.
                Expect.floatClose Accuracy.high (MultilabelMetrics.exampleF1At 0.5 scores gold) (2.0 / 3.0) "t = 0.5"
                // t = 0.35: {1,2} vs {1,2} → 1; {2,3} vs {3} → 2/3.
                Expect.floatClose Accuracy.high (MultilabelMetrics.exampleF1At 0.35 scores gold) (5.0 / 6.0) "t = 0.35")

        testCase "threshold selection picks the best grid point" <| fun () ->
            Scope.run (fun () ->
                let scores = Tensor.ofRows ctx [| [| 0.9; 0.4; 0.1 |]; [| 0.3; 0.6; 0.7 |] |]
                let gold = Tensor.ofRows ctx [| [| 1.0; 1.0; 0.0 |]; [| 0.0; 0.0; 1.0 |] |]
                let t, f = MultilabelMetrics.selectThreshold [ 0.2; 0.35; 0.5; 0.65 ] scores gold
                // 0.65: {1} vs {1,2} → 2/3; {3} vs {3} → 1: mean 5/6, tie with 0.35, first wins.
                Expect.equal t 0.35 "first best threshold"
                Expect.floatClose Accuracy.high f (5.0 / 6.0) "its F1")

        testCase "an empty dev split is refused clearly" <| fun () ->
            let data = SpenData.synthetic 0 3 2 2
            let e = Expect.throwsC (fun () -> SpenData.splitDev 0 0.1 data |> ignore) id
            Expect.stringContains e.Message "development split is empty" "names the problem"

        testCase "ARFF reader: dense and sparse rows, labels last, label count mismatch" <| fun () ->
            let dir = Path.Combine(Path.GetTempPath(), "energyfs-spen-arff-" + string (System.Guid.NewGuid()))
            Directory.CreateDirectory dir |> ignore
            try
                let header = "@relation t\n@attribute a numeric\n@attribute b numeric\n@attribute l1 {0,1}\n@attribute l2 {0,1}\n@data\n"
                File.WriteAllText(Path.Combine(dir, "dense.arff"), header + "1.5,2,0,1\n-1,0.25,1,1\n")
                File.WriteAllText(Path.Combine(dir, "sparse.arff"), header + "{0 1.5,1 2,3 1}\n{1 0.25,2 1}\n")
                let d = SpenData.readArff (Path.Combine(dir, "dense.arff")) 2
                let s = SpenData.readArff (Path.Combine(dir, "sparse.arff")) 2
                Expect.equal d.Inputs [| [| 1.5; 2.0 |]; [| -1.0; 0.25 |] |] "dense inputs"
                Expect.equal d.Labels [| [| 0.0; 1.0 |]; [| 1.0; 1.0 |] |] "dense labels"
                Expect.equal s.Inputs [| [| 1.5; 2.0 |]; [| 0.0; 0.25 |] |] "sparse inputs (omitted = 0)"
                Expect.equal s.Labels [| [| 0.0; 1.0 |]; [| 1.0; 0.0 |] |] "sparse labels"
                let e = Expect.throwsC (fun () -> SpenData.readArff (Path.Combine(dir, "dense.arff")) 4 |> ignore) id
                Expect.stringContains e.Message "label count mismatch" "label count mismatch named"
            finally
                Directory.Delete(dir, true)
    ]
