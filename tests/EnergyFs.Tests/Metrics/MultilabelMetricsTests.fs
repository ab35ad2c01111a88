module EnergyFs.Tests.Experiments.MultilabelMetricsTests

open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Metrics

let ctx = Context.cpu64

/// The metric definitions on host rows (Tsoumakas et al. 2010), written with loops: the reference
/// the tensor metrics must equal.
module Reference =
    let private counts (p: float[]) (t: float[]) =
        let mutable tp, fp, fn = 0.0, 0.0, 0.0
        for j in 0 .. p.Length - 1 do
            match p[j] > 0.5, t[j] > 0.5 with
            | true, true -> tp <- tp + 1.0
            | true, false -> fp <- fp + 1.0
            | false, true -> fn <- fn + 1.0
            | _ -> ()
        tp, fp, fn
    let private f1 empty (tp, fp, fn) = if tp + fp + fn = 0.0 then empty else 2.0 * tp / (2.0 * tp + fp + fn)
    let hamming (p: float[][]) (t: float[][]) =
        let total = p |> Array.sumBy Array.length
        let correct = Array.map2 (fun (a: float[]) (b: float[]) -> Array.map2 (fun x y -> if (x > 0.5) = (y > 0.5) then 1 else 0) a b |> Array.sum) p t |> Array.sum
        float correct / float total
    let exampleF1 p t = Array.map2 (fun a b -> f1 1.0 (counts a b)) p t |> Array.average
    let microF1 p t = Array.map2 counts p t |> Array.fold (fun (a, b, c) (x, y, z) -> a + x, b + y, c + z) (0.0, 0.0, 0.0) |> f1 1.0
    let macroF1 (p: float[][]) (t: float[][]) =
        Array.init p[0].Length (fun j -> f1 0.0 (counts (p |> Array.map (fun r -> r[j])) (t |> Array.map (fun r -> r[j])))) |> Array.average

/// Two random 0/1 matrices of the same shape [n, L] (1 ≤ n ≤ 12, 1 ≤ L ≤ 6), sparse or dense.
let private binaryPair =
    gen {
        let! n = Gen.choose (1, 12)
        let! l = Gen.choose (1, 6)
        let! density = Gen.elements [ 0.0; 0.2; 0.5; 0.9 ]
        let matrix =
            Gen.arrayOfLength n (Gen.arrayOfLength l (Gen.choose (0, 99) |> Gen.map (fun u -> if float u < 100.0 * density then 1.0 else 0.0)))
        let! p = matrix
        let! t = matrix
        return p, t
    }

let private binaryConfig = { FsCheckConfig.defaultConfig with maxTest = 200; arbitrary = [] }

[<Tests>]
let tests =
    testList "Experiments.MultilabelMetrics" [
        testPropertyWithConfig binaryConfig "metrics on tensors equal the row definitions on random 0/1 matrices" <|
            Prop.forAll (Arb.fromGen binaryPair) (fun (p, t) ->
                Scope.run (fun () ->
                    let pt, tt = Tensor.ofRows ctx p, Tensor.ofRows Context.cpu t
                    MultilabelMetrics.hammingAccuracy pt tt = Reference.hamming p t
                    && MultilabelMetrics.exampleF1 pt tt = Reference.exampleF1 p t
                    && MultilabelMetrics.microF1 pt tt = Reference.microF1 p t
                    && MultilabelMetrics.macroF1 pt tt = Reference.macroF1 p t))

        testCase "metrics refuse mismatched shapes, naming the argument and the shapes" <| fun () ->
            Scope.run (fun () ->
                let a = Tensor.zeros ctx [ 3L; 2L ]
                let b = Tensor.zeros ctx [ 2L; 2L ]
                let e = Expect.throwsC (fun () -> MultilabelMetrics.hammingAccuracy a b |> ignore) id
                Expect.stringContains e.Message "[3, 2]" "the prediction's shape"
                Expect.stringContains e.Message "[2, 2]" "the target's shape"
                let e = Expect.throwsC (fun () -> MultilabelMetrics.exampleF1 (Tensor.zeros ctx [ 3L ]) a |> ignore) id
                Expect.equal (e :?> System.ArgumentException).ParamName "pred" "names pred")

        testCase "example F1 on hand-made sets" <| fun () ->
            // {1,2} vs {2,3}: 2·1/4 = 0.5; {} vs {}: 1; {1} vs {}: 0; {1,2,3} vs {1,2,3}: 1.
            Scope.run (fun () ->
                let p = Tensor.ofRows ctx [| [| 1.; 1.; 0. |]; [| 0.; 0.; 0. |]; [| 1.; 0.; 0. |]; [| 1.; 1.; 1. |] |]
                let g = Tensor.ofRows ctx [| [| 0.; 1.; 1. |]; [| 0.; 0.; 0. |]; [| 0.; 0.; 0. |]; [| 1.; 1.; 1. |] |]
                Expect.floatClose Accuracy.high (MultilabelMetrics.exampleF1 p g) ((0.5 + 1.0 + 0.0 + 1.0) / 4.0) "mean of per-example F1")

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

        testCase "an empty validation split is refused clearly" <| fun () ->
            use rng = new Rng(0L, TorchSharp.torch.CPU)
            use data = MultilabelSet.synthetic rng ctx 3 2 2
            let e = Expect.throwsC (fun () -> MultilabelSet.split rng 0.1 data |> ignore) id
            Expect.stringContains e.Message "the validation split must be neither empty nor everything" "names the problem"
            Expect.equal (e :?> System.ArgumentException).ParamName "fraction" "names the argument"
    ]
