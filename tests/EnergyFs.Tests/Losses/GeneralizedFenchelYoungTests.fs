module EnergyFs.Tests.Losses.GeneralizedFenchelYoungTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Losses
open EnergyFs.Tests.Generators
open EnergyFs.Tests.FenchelYoungFixtures

let tight = { InnerOptions.defaults with Tolerance = 1e-11; MaxIterations = 5000 }
let fd = { GradCheck.defaults with RelativeTolerance = 1e-4; AbsoluteTolerance = 1e-6 }

let gfy r v y = GeneralizedFenchelYoung.loss CoordinateAscent.solve tight Quadratic.energy r v y

[<Tests>]
let tests =
    testList "Losses.GeneralizedFenchelYoung" [
        testList "quadratic energy on the box: ≥ 0, and 0 when y is the maximizer" [
            for r in [ FermiDirac.regularizer; SquaredNorm.box ] ->
                propertySmall r.Name <| fun (Seed s) ->
                    use rng = new Rng(s, ctx.Device)
                    Scope.run (fun () ->
                        let v = randomQuadratic rng 5L 4L 0.9
                        let y = randomIn rng Box 5L 4L
                        Expect.isGreaterThanOrEqual ((gfy r v y).min().ToDouble ()) -1e-9 "non-negative"
                        let binary = y.gt(torch.full_like (y, Scalar.op_Implicit 0.5)).to_type ctx.DType
                        Expect.isGreaterThanOrEqual ((gfy r v binary).min().ToDouble ()) -1e-9 "non-negative on binary labels"
                        let pHat = Conjugates.Generalized.predict CoordinateAscent.solve tight Quadratic.energy r v
                        Expect.isLessThan ((gfy r v pHat).abs().max().ToDouble ()) 1e-9 "zero at the maximizer") ]

        testList "the Danskin gradient in u and A matches finite differences" [
            for r in [ FermiDirac.regularizer; SquaredNorm.box ] ->
                propertySmall r.Name <| fun (Seed s) ->
                    use rng = new Rng(s, ctx.Device)

                    Scope.run (fun () ->
                        let q = randomQuadratic rng 2L 3L 0.9
                        let y = (randomIn rng Box 2L 3L).gt(torch.full ([| 2L; 3L |], Scalar.op_Implicit 0.5, dtype = ctx.DType)).to_type ctx.DType
                        let ofU u = Tensor.sum (gfy r { q with Unary = u } y)
                        GradCheck.grad fd ofU q.Unary |> GradCheck.assertPassed "∂/∂u"
                        let ofA a = Tensor.sum (gfy r { q with Pairwise = a } y)
                        GradCheck.grad fd ofA q.Pairwise |> GradCheck.assertPassed "∂/∂A") ]

        testCase "Danskin agrees with autograd through unrolled solver iterations as they converge" <| fun () ->
            // Unrolled projected gradient with step 1/2 on the squared norm: p ← clip(p + ½(u + Âp − p)).
            use rng = new Rng(21L, ctx.Device)
            Scope.run (fun () ->
                let q = randomQuadratic rng 3L 5L 0.5
                let y = randomIn rng Box 3L 5L
                let r = SquaredNorm.box
                let unrolled (steps: int) (u: Tensor) =
                    let ahat = Quadratic.interactions q.Pairwise
                    let mutable p = torch.full_like (u, Scalar.op_Implicit 0.5)
                    for _ in 1 .. steps do
                        p <- Projections.Box.project (p + (u + Quadratic.apply ahat p - p) * 0.5)
                    let v = { q with Unary = u }
                    Tensor.sum (Quadratic.energy.Value v p - r.Value p + r.Value y - Quadratic.energy.Value v y)
                let danskin = Diff.grad (fun u -> Tensor.sum (gfy r { q with Unary = u } y)) q.Unary
                let errors = [ for steps in [ 2; 8; 64 ] -> Tensor.maxAbsDiff (Diff.grad (unrolled steps) q.Unary) danskin ]
                Expect.isLessThan errors[2] 1e-8 "converged unrolling equals Danskin"
                Expect.isGreaterThan errors[0] errors[2] "the error shrinks with the number of iterations")

        testList "with the bilinear energy it equals the classic Fenchel-Young loss (value and gradient)" [
            for r, solve in [ Shannon.regularizer, MirrorDescent.solve; SquaredNorm.simplex, ProjectedGradient.solve
                              FermiDirac.regularizer, MirrorDescent.solve; SquaredNorm.box, ProjectedGradient.solve ] ->
                propertySmall r.Name <| fun (Seed s) ->
                    use rng = new Rng(s, ctx.Device)
                    Scope.run (fun () ->
                        let theta = randomScores rng 4L 3L
                        let y = randomIn rng r.Domain 4L 3L
                        let options = { InnerOptions.defaults with Tolerance = 1e-10; MaxIterations = 5000 }
                        let general t = Tensor.sum (GeneralizedFenchelYoung.loss solve options Bilinear.energy r t y)
                        let classic t = Tensor.sum (FenchelYoung.loss r t y)
                        Expect.floatClose { absolute = 1e-7; relative = 1e-7 } (Tensor.toScalar (general theta)) (Tensor.toScalar (classic theta)) "same value"
                        Expect.isLessThan (Tensor.maxAbsDiff (Diff.grad general theta) (Diff.grad classic theta)) 1e-4 "same gradient") ]

        testCase "a target outside the box or of the wrong shape is refused" <| fun () ->
            use rng = new Rng(22L, ctx.Device)
            Scope.run (fun () ->
                let v = randomQuadratic rng 2L 3L 0.5
                let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> gfy FermiDirac.regularizer v (Tensor.full ctx [ 2L; 3L ] 1.5) |> ignore)
                Expect.stringContains e.Message "[0, 1]" "names the domain"
                let e2 = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> gfy FermiDirac.regularizer v (Tensor.full ctx [ 2L; 4L ] 0.5) |> ignore)
                Expect.stringContains e2.Message "[2, 3]" "names the expected shape")
    
        testCase "mixture energy: a maximum per mode, multi-start finds the best one, the loss is ≥ 0 with a finite-difference gradient" <| fun () ->
            use rng = new Rng(23L, ctx.Device)
            use net = new MixtureEnergyNet (3, 2, 8, 2)
            net.``to`` ctx.DType |> ignore
            Training.Init.reinitialize rng net
            let energy = Neural.energy net 2
            let r = SquaredNorm.box
            Scope.run (fun () ->
                let s = Tensor.randn rng ctx [ 6L; 3L ]
                // Φ(s, ·) is the log-sum-exp of two concave bumps: check it against the formula at the means.
                let means = net.Means s
                Expect.equal means.shape [| 6L; 2L; 2L |] "means [n, M, k]"
                let options = { InnerOptions.defaults with Tolerance = 1e-9; MaxIterations = 2000; AllowNonConcave = true }
                // Local maxima reached from each mode's centre.
                let local =
                    [ for m in 0L .. 1L ->
                        let start = means.select(1L, m).clamp (Scalar.op_Implicit 0.0, Scalar.op_Implicit 1.0)
                        (ProjectedGradient.solve options energy r s (Some start)).Value ]
                let best = torch.maximum (local[0], local[1])
                let multi = MultiStart.solve 8 (rng.Split ()) ProjectedGradient.solve options energy r s None
                Expect.isGreaterThanOrEqual ((multi.Value - best).min().ToDouble ()) -1e-7 "multi-start reaches the better mode"
                let y = randomIn rng Box 6L 2L
                let solver = MultiStart.solve 4 (rng.Split ()) ProjectedGradient.solve
                let loss, sol = GeneralizedFenchelYoung.lossAndSolution solver options energy r s (Some y) y
                sol.Dispose ()
                Expect.isGreaterThanOrEqual (loss.min().ToDouble ()) -1e-9 "non-negative with the target among the starts"
                // ∇_p Φ by autograd agrees with finite differences.
                let phiSum (p: Tensor) = Tensor.sum (energy.Value s p)
                GradCheck.gradFunction fd phiSum (fun p -> energy.GradP s p) y |> GradCheck.assertPassed "∇_p Φ")

        testCase "non-finite inputs and an empty batch are refused with ArgumentException naming them" <| fun () ->
            use rng = new Rng(4L, ctx.Device)
            Scope.run (fun () ->
                let q = randomQuadratic rng 4L 3L 0.5
                let y = randomIn rng Box 4L 3L
                let badUnary = q.Unary.clone ()
                badUnary[2L, 1L] <- torch.tensor (nan, dtype = ctx.DType)
                let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> gfy FermiDirac.regularizer { q with Unary = badUnary } y |> ignore)
                Expect.equal e.ParamName "v.Unary" "names the unary scores"
                for part in [ "[4, 3]"; "NaN"; "row 2, column 1" ] do Expect.stringContains e.Message part part
                let badPairwise = q.Pairwise.clone ()
                badPairwise[0L, 1L] <- torch.tensor (infinity, dtype = ctx.DType)
                let e2 = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> gfy FermiDirac.regularizer { q with Pairwise = badPairwise } y |> ignore)
                Expect.equal e2.ParamName "v.Pairwise" "names the interactions"
                // The bilinear energy over scores θ: the classic loss through the generalized path.
                let theta = randomScores rng 4L 3L
                theta[1L, 0L] <- torch.tensor (-infinity, dtype = ctx.DType)
                let e3 = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () ->
                    GeneralizedFenchelYoung.loss ProjectedGradient.solve tight Bilinear.energy SquaredNorm.box theta y |> ignore)
                Expect.equal e3.ParamName "v" "names v"
                Expect.stringContains e3.Message "-Inf" "says what the value is"
                for n, k in [ 0L, 3L; 4L, 0L ] do
                    let empty = { Unary = Tensor.zeros ctx [ n; k ]; Pairwise = Tensor.zeros ctx [ k; k ] }
                    let e4 = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> gfy FermiDirac.regularizer empty (Tensor.zeros ctx [ n; k ]) |> ignore)
                    Expect.equal e4.ParamName "y" "names y"
                    Expect.stringContains e4.Message (sprintf "[%d, %d]" n k) "names the shape")
    ]
