module EnergyFs.Tests.Inference.InferenceTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Inference
open EnergyFs.Models
open EnergyFs.Tests.Generators
open EnergyFs.Tests.Energies.SpenTests

[<Tests>]
let tests =
    testList "Inference" [
        propertySmall "projected gradient stays in [0,1]^L and decreases the energy (no momentum, small step)" <| fun (Seed s) ->
            Scope.run (fun () ->
                let theta, f, _ = randomSpen s 4 6 5 3
                let energy = Spen.energy theta f
                let y0 = Tensor.full ctx [ 4L; 6L ] 0.5
                let total (y: Tensor) = Tensor.toScalar (Tensor.sum (energy y))
                let values =
                    [ for steps in [ 1; 5; 20 ] ->
                        let y = ProjectedGradient.minimize { Steps = steps; StepSize = 0.02; Momentum = 0.0 } energy y0
                        let inBox = Tensor.toScalar (y.min ()) >= 0.0 && Tensor.toScalar (y.max ()) <= 1.0
                        inBox, total y ]
                let e0 = total y0
                values |> List.forall fst
                && (values |> List.map snd |> List.pairwise |> List.forall (fun (a, b) -> b <= a + 1e-12))
                && snd values.Head <= e0)

        testCase "projected gradient with momentum reaches the corner of a linear energy" <| fun () ->
            Scope.run (fun () ->
                // E = −Σ ȳ_i s_i with s = [2, −1]: the minimiser is ȳ = [1, 0].
                let s = Tensor.ofRows ctx [| [| 2.0; -1.0 |] |]
                let y = ProjectedGradient.minimize ProjectedGradient.defaults (fun y -> -(Tensor.dot y s)) (Tensor.full ctx [ 1L; 2L ] 0.5)
                Expect.equal (Tensor.toArray y) [| 1.0; 0.0 |] "the box corner")

        testCase "entropic mirror descent on a local energy converges to σ(scores/τ)" <| fun () ->
            Scope.run (fun () ->
                let s = Tensor.ofRows ctx [| [| 2.0; -1.0; 0.3 |] |]
                let options = { EntropicMirrorDescent.defaults with Steps = 200; Entropy = 2.0; StepSize = 0.25 }
                let y = EntropicMirrorDescent.minimize options (fun y -> -(Tensor.dot y s)) (Tensor.full ctx [ 1L; 3L ] 0.5)
                Expect.isLessThan (Tensor.maxAbsDiff y (Tensor.sigmoid (s * 0.5))) 1e-8 "fixed point σ(s/τ)")

        testCase "binary entropy: 0 at {0,1}, L·log 2 at ½" <| fun () ->
            Scope.run (fun () ->
                let h = InferenceNetwork.entropy (Tensor.ofRows ctx [| [| 0.0; 1.0 |]; [| 0.5; 0.5 |] |])
                let a = Tensor.toArray h
                Expect.isLessThan a[0] 1e-5 "discrete"
                Expect.floatClose Accuracy.high a[1] (2.0 * log 2.0) "uniform")

        testCase "inference network starts as the classifier: σ(MLP(x))" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(0L, ctx.Device)
                let cls = Models.FunctionalMlp.create rng ctx [ 3; 4; 2 ]
                let psi = InferenceNetwork.initFrom cls
                let x = Tensor.randn rng ctx [ 5L; 3L ]
                let a = InferenceNetwork.predict (Models.FunctionalMlp.tensors psi) x
                let b = Tensor.sigmoid (Models.FunctionalMlp.forward (Models.FunctionalMlp.tensors cls) x)
                Expect.equal (Tensor.maxAbsDiff a b) 0.0 "same outputs"
                Expect.isFalse (obj.ReferenceEquals(psi.Head, cls.Head)) "independent copies")
    ]
