/// Inference networks (moved from the former Inference tests): the binary entropy and the start
/// from the classifier.
module EnergyFs.Tests.Models.InferenceNetworkTests

open Expecto
open EnergyFs
open EnergyFs.Models

let ctx = Context.cpu64

[<Tests>]
let tests =
    testList "Models.InferenceNetwork" [
        testCase "binary entropy: 0 at {0,1}, L·log 2 at ½" <| fun () ->
            Scope.run (fun () ->
                let h = InferenceNetwork.entropy (Tensor.ofRows ctx [| [| 0.0; 1.0 |]; [| 0.5; 0.5 |] |])
                let a = Tensor.toArray h
                Expect.isLessThan a[0] 1e-5 "discrete"
                Expect.floatClose Accuracy.high a[1] (2.0 * log 2.0) "uniform")

        testCase "inference network starts as the classifier: σ(MLP(x))" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(0L, ctx.Device)
                let cls = FunctionalMlp.create rng ctx [ 3; 4; 2 ]
                let psi = InferenceNetwork.initFrom cls
                let x = Tensor.randn rng ctx [ 5L; 3L ]
                let a = InferenceNetwork.predict (FunctionalMlp.tensors psi) x
                let b = Tensor.sigmoid (FunctionalMlp.forward (FunctionalMlp.tensors cls) x)
                Expect.equal (Tensor.maxAbsDiff a b) 0.0 "same outputs"
                Expect.isFalse (obj.ReferenceEquals(psi.Head, cls.Head)) "independent copies")
    ]
