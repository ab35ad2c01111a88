module EnergyFs.Tests.Experiments.ToyRegressionTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Samplers
open EnergyFs.Learners
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners

let ctx = Context.cpu64

[<Tests>]
let tests =
    testList "Experiments.ToyRegression" [
        testCase "every true conditional integrates to 1" <| fun () ->
            Scope.run (fun () ->
                let xs = Tensor.ofArray ctx [| -2.9; -2.0; -1.6; -1.0; -0.2; 0.0; 0.3; 1.0; 1.6; 2.9 |] |> Tensor.unsqueeze 1
                let grid = Quadrature.grid ctx -8.0 8.0 32001
                for set in [ Toy1 ] do
                    let logP = ToyRegression.trueLogDensity set xs (grid.unsqueeze(0L).expand (10L, 32001L))
                    let integrals = Tensor.toArray (Tensor.exp (Quadrature.logIntegral -8.0 8.0 logP))
                    integrals |> Array.iteri (fun i v -> Expect.floatClose { absolute = 1e-4; relative = 1e-4 } v 1.0 (sprintf "%A, x #%d" set i)))

        testCase "generated data follow the true density (mean log-likelihood = −E_x H(p(· | x)))" <| fun () ->
            Scope.run (fun () ->
                for set in [ Toy1 ] do
                    use rng = new Rng(5L, ctx.Device)
                    let x, y = ToyRegression.generate ctx rng set 20_000
                    let sampleLl = -(ToyRegression.trueNll set x y)
                    // −E_x H = E_x ∫ p log p dy by quadrature over a grid of x.
                    let xs = (Quadrature.grid ctx -3.0 3.0 201).unsqueeze 1L
                    let grid = Quadrature.grid ctx -6.0 6.0 6001
                    let logP = ToyRegression.trueLogDensity set xs (grid.unsqueeze(0L).expand (201L, 6001L))
                    let p = Tensor.exp logP
                    let plogp = torch.where (p.gt (Scalar.op_Implicit 0.0), p * logP, torch.zeros_like p)
                    let negEntropy = Tensor.toScalar (Tensor.mean (torch.trapezoid (plogp, dx = 12.0 / 6000.0, dim = 1L)))
                    Expect.isLessThan (abs (sampleLl - negEntropy)) 0.03 (sprintf "%A: sample log-likelihood %g vs −E H %g" set sampleLl negEntropy))

        testCase "toy set 2's conditional integrates to 1 in each of its four zones" <| fun () ->
            Scope.run (fun () ->
                // Zones by i = 3799x: asymmetric < 800, symmetric < 1800, uniform < 2300, multimodal.
                let xs = Tensor.ofArray ctx [| 0.05; 0.2; 0.3; 0.45; 0.5; 0.6; 0.7; 0.95 |] |> Tensor.unsqueeze 1
                // An offset fine grid (the Beta(½, 1) density has an integrable y^(−½) pole at y = 0.5).
                let n = 400_001
                let grid = Quadrature.grid ctx -8.00003 12.00003 n
                let logP = ToyRegression.trueLogDensity Toy2 xs (grid.unsqueeze(0L).expand (8L, int64 n))
                let integrals = Tensor.toArray (Tensor.exp (Quadrature.logIntegral -8.00003 12.00003 logP))
                integrals |> Array.iteri (fun i v -> Expect.floatClose { absolute = 5e-3; relative = 5e-3 } v 1.0 (sprintf "x #%d" i)))

        testCase "toy set 2's samples lie in the support of its density and have the zones' moments" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(5L, ctx.Device)
                let x, y = ToyRegression.generate ctx rng Toy2 40_000
                let logP = ToyRegression.trueLogDensity Toy2 x y
                Expect.isTrue (Tensor.toScalar (Tensor.sum (torch.isfinite(logP).logical_not().to_type torch.float64)) = 0.0) "every sample has a finite true log-density"
                let xa, ya = Tensor.toArray x, Tensor.toArray y
                let zone lo hi = Array.zip xa ya |> Array.filter (fun (v, _) -> v * 3799.0 >= lo && v * 3799.0 < hi) |> Array.map snd
                let asym, multi = zone 0.0 800.0, zone 2300.0 3800.0
                // E[0.5 + 5 Beta(½, 1)] = 0.5 + 5/3; the multimodal zone: mean (8.25 + 2.5 − 3.75)/3, ⅓ in [8, 8.5].
                Expect.floatClose { absolute = 0.05; relative = 0.0 } (Array.average asym) (0.5 + 5.0 / 3.0) "asymmetric zone mean"
                Expect.floatClose { absolute = 0.06; relative = 0.0 } (Array.average multi) (7.0 / 3.0) "multimodal zone mean"
                let top = multi |> Array.filter (fun v -> v >= 8.0 && v <= 8.5) |> Array.length |> float
                Expect.floatClose { absolute = 0.015; relative = 0.0 } (top / float multi.Length) (1.0 / 3.0) "multimodal zone: share of U(8, 8.5)"
                Expect.isTrue (Array.forall (fun v -> v >= -4.5 && v <= 9.0) (Array.append asym multi)) "asymmetric and multimodal zones lie in [−4.5, 9]")

        testCase "density slices: the truth and the EBM integrate to 1 over the plotted y range" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(1L, ctx.Device)
                use model = Regression.create ctx rng { RegressionOptions.defaults with Hidden = 8 } 1 1
                let slices = ToyRegression.densitySlices ctx Toy1 [ -1.0; 1.0 ] 2001 model
                for x, ys, curves in slices do
                    Expect.equal (curves |> List.map fst) [ "truth"; "EBM (quadrature)"; "MDN / proposal (exact)" ] "curves"
                    let dy = ys[1] - ys[0]
                    for name, p in curves |> List.take 2 do
                        let integral = dy * (Array.sum p - 0.5 * (p[0] + p[p.Length - 1]))
                        Expect.floatClose { absolute = 2e-3; relative = 0.0 } integral 1.0 (sprintf "%s at x = %g" name x))

        testCase "the grid KL is ≥ 0 and finite for an untrained model" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(1L, ctx.Device)
                use model = Regression.create ctx rng { RegressionOptions.defaults with Hidden = 8 } 1 1
                for useEbm in [ true; false ] do
                    let kl = ToyRegression.klOnGrid ctx Toy1 128 useEbm model
                    Expect.isTrue (kl >= 0.0 && not (System.Double.IsNaN kl)) (sprintf "KL = %g" kl))
    ]
