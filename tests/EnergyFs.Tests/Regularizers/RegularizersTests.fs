module EnergyFs.Tests.Regularizers.RegularizersTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Tests.Generators
open EnergyFs.Tests.FenchelYoungFixtures

[<Tests>]
let tests =
    testList "Regularizers" [
        perRegularizer "∇Ω*(θ) lies in C and maximizes ⟨θ, p⟩ − Ω(p) against random feasible p" (fun r s ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                let theta = randomScores rng 5L 6L
                let p = r.Predict theta
                Expect.isTrue (Regularizer.contains r.Domain p) "prediction in C"
                let best = r.Conjugate theta
                Expect.isLessThan (Tensor.maxAbsDiff best (Tensor.dot theta p - r.Value p)) 1e-8 "Ω*(θ) = ⟨θ, p̂⟩ − Ω(p̂)"
                for _ in 1 .. 5 do
                    let q = randomIn rng r.Domain 5L 6L
                    let gapMin = (best - (Tensor.dot theta q - r.Value q)).min().ToDouble ()
                    Expect.isGreaterThanOrEqual gapMin -1e-9 "Fenchel-Young inequality"))

        perRegularizer "∇Ω* is the gradient of Ω* (finite differences)" (fun r s ->
            use rng = new Rng(s, ctx.Device)
            use theta = randomScores rng 3L 4L
            GradCheck.gradFunction fd (fun t -> Tensor.sum (r.Conjugate t)) r.Predict theta |> GradCheck.assertPassed r.Name)

        perRegularizer "∇Ω is the gradient of Ω inside C (finite differences)" (fun r s ->
            use rng = new Rng(s, ctx.Device)
            use p = Scope.tensor (fun () -> (randomIn rng r.Domain 3L 4L) * 0.9 + (Regularizer.center r.Domain (torch.zeros (3L, 4L, dtype = ctx.DType))) * 0.1)
            // Directional check along a direction that stays in the affine hull of C.
            use dir =
                Scope.tensor (fun () ->
                    let d = Tensor.randn rng ctx [ 3L; 4L ]
                    if r.Domain = Simplex then d - d.mean ([| 1L |], true) else d)
            let numerical = GradCheck.directional 1e-6 (fun q -> Tensor.sum (r.Value q)) p dir
            let analytic = Scope.run (fun () -> Tensor.toScalar (Tensor.sum (r.Gradient p * dir)))
            Expect.floatClose { absolute = 1e-6; relative = 1e-5 } analytic numerical "directional derivative")

        testCase "Shannon: softmax and logsumexp" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 1.0; 2.0; 3.0 |] |]
            use p = Shannon.predict theta
            let e = [| exp 1.0; exp 2.0; exp 3.0 |]
            let z = Array.sum e
            Expect.sequenceEqual (Tensor.toArray p |> Array.map (fun x -> round (x * 1e12))) (e |> Array.map (fun x -> round (x / z * 1e12))) "softmax"
            Expect.floatClose Accuracy.high (Tensor.toScalar (Shannon.conjugate theta)) (log z) "logsumexp"

        testCase "Fermi-Dirac: sigmoid and softplus" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| -1.0; 0.0; 2.0 |] |]
            let sigmoid x = 1.0 / (1.0 + exp (-x))
            Expect.sequenceEqual (Tensor.toArray (FermiDirac.predict theta) |> Array.map (fun x -> round (x * 1e12)))
                ([| sigmoid -1.0; 0.5; sigmoid 2.0 |] |> Array.map (fun x -> round (x * 1e12))) "sigmoid"
            Expect.floatClose Accuracy.high (Tensor.toScalar (FermiDirac.conjugate theta)) (log (1.0 + exp -1.0) + log 2.0 + log (1.0 + exp 2.0)) "Σ softplus"

        property "Tsallis α = 1 is softmax and α = 2 is sparsemax" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                let theta = randomScores rng 4L 5L
                Expect.isLessThan (Tensor.maxAbsDiff (Tsallis.predict 1.0 theta) (Shannon.predict theta)) 1e-14 "α = 1"
                Expect.isLessThan (Tensor.maxAbsDiff (Tsallis.predict 2.0 theta) (SquaredNorm.simplex.Predict theta)) 1e-9 "α = 2"
                // Ω₂ = ½‖p‖² − ½: the conjugates differ by the constant ½.
                Expect.isLessThan (Tensor.maxAbsDiff (Tsallis.conjugate 2.0 theta) (SquaredNorm.simplex.Conjugate theta + 0.5)) 1e-9 "Ω₂*")

        testCase "Tsallis α < 1 is refused" <| fun () ->
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> Tsallis.regularizer 0.5 |> ignore) |> ignore

        testCase "entmax 1.5 is sparse for separated scores" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 3.0; 0.0; -3.0 |] |]
            let p = Tensor.toArray (Tsallis.predict 1.5 theta)
            Expect.equal p[2] 0.0 "the lowest score gets exactly 0"
            Expect.isGreaterThan p[0] p[1] "order preserved"

        property "Fermi-Dirac: Ω*(θ) = Σ max(θ, 0) + log1p(e^−|θ|) (host, float64) for θ in [−50, 50] and in 15–30" <| fun (Seed s) ->
            use rng = new Rng(s, ctx.Device)
            Scope.run (fun () ->
                // Half the rows in 15–30, where torch's softplus (threshold 20) was off by up to 2.7e-9 per row.
                let theta = Tensor.cat 0 [ Tensor.uniform rng ctx -50.0 50.0 [ 8L; 6L ]; Tensor.uniform rng ctx 15.0 30.0 [ 8L; 6L ] ]
                let rows = Tensor.toArray2D theta
                let got = Tensor.toArray (FermiDirac.conjugate theta)
                for i in 0 .. got.Length - 1 do
                    let expected = Array.sumBy EnergyFs.Tests.Core.TensorsTests.hostSoftplus rows[i, *]
                    Expect.isLessThanOrEqual (abs (got[i] - expected)) (2e-15 * expected) (sprintf "row %d: relative error ≤ 2e-15" i))

        testCase "Fermi-Dirac: conjugateThresholded (mirror ascent) is torch's softplus, off by log1p(e^−θ) above 20" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 25.0 |]; [| 3.0 |]; [| -30.0 |] |]
            let exact = Tensor.toArray (FermiDirac.conjugate theta)
            let thresholded = Tensor.toArray (FermiDirac.conjugateThresholded theta)
            Expect.equal thresholded[0] 25.0 "torch returns θ above 20"
            Expect.floatClose { absolute = 0.0; relative = 1e-15 } exact[0] (25.0 + exp -25.0) "exact: θ + log1p(e^−θ)"
            Expect.floatClose { absolute = 1e-15; relative = 1e-15 } thresholded[1] exact[1] "the same below 20"
            Expect.floatClose { absolute = 0.0; relative = 1e-15 } thresholded[2] exact[2] "and far below 0"
    ]
