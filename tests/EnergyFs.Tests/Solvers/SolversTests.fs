module EnergyFs.Tests.Solvers.SolversTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Tests.Generators
open EnergyFs.Tests.FenchelYoungFixtures

let tight = { InnerOptions.defaults with Tolerance = 1e-9; MaxIterations = 3000 }
/// Frank-Wolfe converges at rate O(1/t): a looser gap, certified by the Frank-Wolfe gap itself.
let loose = { InnerOptions.defaults with Tolerance = 1e-5; MaxIterations = 500 }
/// Few cases: each runs four iterative solvers to high accuracy.
let few name f = testPropertyWithConfig (withArbs { small with maxTest = 4 }) name f

let gradientSolvers : (string * InnerSolver<QuadraticInput>) list =
    [ "projected gradient", ProjectedGradient.solve; "mirror ascent", MirrorDescent.solve ]

let allBoxSolvers : (string * InnerSolver<QuadraticInput>) list =
    gradientSolvers @ [ "Frank-Wolfe", FrankWolfe.solve; "coordinate ascent", CoordinateAscent.solve; "parallel ascent", ParallelAscent.solve ]

[<Tests>]
let tests =
    testList "Solvers" [
        testList "the five solvers agree on concave quadratic problems on the box" [
            for r in [ FermiDirac.regularizer; SquaredNorm.box ] ->
                few r.Name <| fun (Seed s) ->
                    use rng = new Rng(s, ctx.Device)
                    Scope.run (fun () ->
                        let v = randomQuadratic rng 4L 6L 0.8
                        let reference = CoordinateAscent.solve tight Quadratic.energy r v None
                        Expect.isTrue reference.Converged "coordinate ascent converged"
                        for name, solve in allBoxSolvers do
                            // Projected gradient with an entropy crawls along the barrier: a looser tolerance.
                            let barrierPga = name = "projected gradient" && r.Barrier
                            let options = if name = "Frank-Wolfe" then loose elif barrierPga then { tight with Tolerance = 1e-6; MaxIterations = 3000 } else tight
                            let sol = solve options Quadratic.energy r v None
                            if name = "Frank-Wolfe" then
                                // The Frank-Wolfe gap bounds the suboptimality of a concave problem.
                                let sub = (reference.Value - sol.Value).max().ToDouble ()
                                Expect.isLessThanOrEqual sub (sol.Gap + 1e-9) "Frank-Wolfe: suboptimality ≤ its gap"
                                Expect.isGreaterThanOrEqual ((reference.Value - sol.Value).min().ToDouble ()) -1e-9 "Frank-Wolfe: not above the maximum"
                            else
                                // Projected gradient crawls along the entropy's barrier (see its doc): within 1e-2 in
                                // 3000 iterations, and never above the maximum. (400 were too few for some problems:
                                // FsCheck seed 396039 left it 0.07 below after 400, honestly reported as not converged.)
                                Expect.isLessThan (Tensor.maxAbsDiff sol.Value reference.Value) (if barrierPga then 1e-2 else 1e-7) (sprintf "%s: same value" name)
                                Expect.isGreaterThanOrEqual ((reference.Value - sol.Value).min().ToDouble ()) -1e-9 (sprintf "%s: not above the maximum" name)
                            Expect.isTrue (Regularizer.contains Box sol.Argmax) (sprintf "%s: maximizer in the box" name)
                            // No random feasible point does better.
                            for _ in 1 .. 3 do
                                let q = randomIn rng Box 4L 6L
                                let fq = Quadratic.energy.Value v q - r.Value q
                                Expect.isGreaterThanOrEqual ((sol.Value - fq).min().ToDouble ()) -1e-9 (sprintf "%s: a maximum" name)) ]

        testList "with the bilinear energy the solvers compute ∇Ω* on the simplex" [
            for r in [ Shannon.regularizer; SquaredNorm.simplex; Tsallis.regularizer 1.5 ] ->
                few r.Name <| fun (Seed s) ->
                    use rng = new Rng(s, ctx.Device)
                    Scope.run (fun () ->
                        let theta = randomScores rng 3L 5L
                        let expected = r.Predict theta
                        // Projected gradient is not run with Shannon's barrier on the simplex: it stalls at the
                        // clamped face (see ProjectedGradient's doc); mirror ascent is the method there.
                        let methods =
                            [ if not r.Barrier then "projected gradient", ProjectedGradient.solve
                              "mirror ascent", MirrorDescent.solve ]
                        for name, solve in methods do
                            let sol = solve tight Bilinear.energy r theta None
                            Expect.isLessThan (Tensor.maxAbsDiff sol.Value (r.Conjugate theta)) 1e-5 (sprintf "%s: Ω^Φ = Ω*" name)
                            Expect.isLessThan (Tensor.maxAbsDiff sol.Argmax expected) 2e-3 (sprintf "%s: argmax = ∇Ω*" name)
                        let fw = FrankWolfe.solve loose Bilinear.energy r theta None
                        let sub = (r.Conjugate theta - fw.Value).max().ToDouble ()
                        Expect.isLessThanOrEqual sub (fw.Gap + 1e-9) "Frank-Wolfe: Ω* − value ≤ gap"
                        Expect.isGreaterThanOrEqual ((r.Conjugate theta - fw.Value).min().ToDouble ()) -1e-9 "Frank-Wolfe: value ≤ Ω*") ]

        testCase "diagnostics: iterations, gap, convergence, and a warm start at the solution stops at once" <| fun () ->
            use rng = new Rng(11L, ctx.Device)
            Scope.run (fun () ->
                let v = randomQuadratic rng 8L 5L 0.5
                for name, solve in allBoxSolvers do
                    let options = if name = "Frank-Wolfe" then { loose with Tolerance = 1e-3 } else { tight with Tolerance = 1e-6 }
                    let sol = solve options Quadratic.energy FermiDirac.regularizer v None
                    Expect.isTrue sol.Converged (sprintf "%s converged (gap %g after %d)" name sol.Gap sol.Iterations)
                    Expect.isGreaterThan sol.Iterations 0 (sprintf "%s used iterations" name)
                    let warm = solve options Quadratic.energy FermiDirac.regularizer v (Some sol.Argmax)
                    Expect.isLessThanOrEqual warm.Iterations 2 (sprintf "%s warm start" name)
                    let capped = solve { tight with MaxIterations = 1 } Quadratic.energy FermiDirac.regularizer v None
                    Expect.isFalse capped.Converged (sprintf "%s: one iteration is not enough" name))

        testCase "coordinate ascent handles non-concave interactions; the gradient solvers refuse them" <| fun () ->
            use rng = new Rng(12L, ctx.Device)
            Scope.run (fun () ->
                let v = randomQuadratic rng 4L 5L 6.0
                let sol = CoordinateAscent.solve tight Quadratic.energy FermiDirac.regularizer v None
                Expect.isTrue sol.Converged "coordinate ascent reaches a fixed point"
                for name, solve in [ "pga", ProjectedGradient.solve; "mirror", MirrorDescent.solve; "fw", FrankWolfe.solve ] do
                    let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> solve tight Quadratic.energy FermiDirac.regularizer v None |> ignore)
                    Expect.stringContains e.Message "concave" (sprintf "%s names concavity" name)
                // Explicitly allowed: a stationary point, no better than the coordinate-ascent fixed point by much.
                let allowed = ProjectedGradient.solve { tight with AllowNonConcave = true; MaxIterations = 100 } Quadratic.energy FermiDirac.regularizer v None
                Expect.isTrue (Regularizer.contains Box allowed.Argmax) "feasible")

        testCase "coordinate ascent refuses a non-quadratic energy and the simplex" <| fun () ->
            use theta = Tensor.ofRows ctx [| [| 0.1; 0.2 |] |]
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> CoordinateAscent.solve tight Bilinear.energy FermiDirac.regularizer theta None |> ignore) |> ignore
            let v = { Unary = theta; Pairwise = torch.zeros (2L, 2L, dtype = ctx.DType) }
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> CoordinateAscent.solve tight Quadratic.energy Shannon.regularizer v None |> ignore) |> ignore

        testCase "mismatched pairwise shape and a warm start outside C are refused" <| fun () ->
            use u = Tensor.ofRows ctx [| [| 0.1; 0.2; 0.3 |] |]
            let bad = { Unary = u; Pairwise = torch.zeros (2L, 2L, dtype = ctx.DType) }
            let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> CoordinateAscent.solve tight Quadratic.energy FermiDirac.regularizer bad None |> ignore)
            Expect.stringContains e.Message "Pairwise" "names the argument"
            let v = { Unary = u; Pairwise = torch.zeros (3L, 3L, dtype = ctx.DType) }
            use outside = Tensor.ofRows ctx [| [| 0.1; 2.0; 0.3 |] |]
            EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> MirrorDescent.solve tight Quadratic.energy FermiDirac.regularizer v (Some outside) |> ignore) |> ignore

        testCase "per-example interactions [n, k, k] equal a shared matrix repeated" <| fun () ->
            use rng = new Rng(13L, ctx.Device)
            Scope.run (fun () ->
                let v = randomQuadratic rng 3L 4L 0.7
                let perExample = { v with Pairwise = v.Pairwise.unsqueeze(0L).expand(3L, 4L, 4L).contiguous () }
                let a = CoordinateAscent.solve tight Quadratic.energy FermiDirac.regularizer v None
                let b = CoordinateAscent.solve tight Quadratic.energy FermiDirac.regularizer perExample None
                Expect.isLessThan (Tensor.maxAbsDiff a.Argmax b.Argmax) 1e-12 "same maximizer")
    
        testCase "parallel ascent ascends at every iteration, also on non-concave and per-example interactions, to a fixed point" <| fun () ->
            use rng = new Rng(14L, ctx.Device)
            Scope.run (fun () ->
                for r in [ FermiDirac.regularizer; SquaredNorm.box ] do
                    for scale in [ 0.5; 6.0 ] do
                        let shared = randomQuadratic rng 5L 6L scale
                        // One matrix per example: the shared one plus a per-example symmetric perturbation.
                        let noise = Tensor.randn rng ctx [ 5L; 6L; 6L ]
                        let perExample = { shared with Pairwise = shared.Pairwise + (noise + noise.transpose (1L, 2L)) * (0.25 * scale) }
                        for v in [ shared; perExample ] do
                            let f p = Quadratic.energy.Value v p - r.Value p
                            let mutable previous = System.Double.NegativeInfinity
                            let values =
                                [ for t in 1 .. 12 ->
                                    let sol = ParallelAscent.solve { tight with Tolerance = 0.0; MaxIterations = t } Quadratic.energy r v None
                                    Expect.equal sol.Iterations t "ran to the cap"
                                    sol.Value ]
                            for a, b in List.pairwise values do
                                Expect.isGreaterThanOrEqual ((b - a).min().ToDouble ()) -1e-12 (sprintf "%s, scale %g: F never decreases" r.Name scale)
                            let sol = ParallelAscent.solve tight Quadratic.energy r v None
                            Expect.isTrue sol.Converged (sprintf "%s, scale %g: converged (gap %g after %d)" r.Name scale sol.Gap sol.Iterations)
                            // A fixed point of the undamped map p = ∇Ω*(u + Â p): the coordinate-wise optimality condition.
                            let again = r.Predict (v.Unary + Quadratic.apply (Quadratic.interactions v.Pairwise) sol.Argmax)
                            Expect.isLessThan (Tensor.maxAbsDiff again sol.Argmax) 1e-7 "stationary"
                            Expect.isLessThan (Tensor.maxAbsDiff (f sol.Argmax) sol.Value) 1e-12 "value at the maximizer")

        testCase "parallel ascent on the simplex (Shannon, concave quadratic energy) agrees with mirror ascent" <| fun () ->
            use rng = new Rng(15L, ctx.Device)
            Scope.run (fun () ->
                let v = randomQuadratic rng 4L 5L 0.5
                let a = ParallelAscent.solve tight Quadratic.energy Shannon.regularizer v None
                let b = MirrorDescent.solve tight Quadratic.energy Shannon.regularizer v None
                Expect.isTrue a.Converged "converged"
                Expect.isLessThan (Tensor.maxAbsDiff a.Argmax b.Argmax) 1e-6 "same maximizer"
                Expect.isTrue (Regularizer.contains Simplex a.Argmax) "in the simplex"
                EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> ParallelAscent.solve tight Bilinear.energy Shannon.regularizer v.Unary None |> ignore) |> ignore)
    ]
