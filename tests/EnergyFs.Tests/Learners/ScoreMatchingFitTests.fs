module EnergyFs.Tests.Learners.ScoreMatchingFitTests

open System
open Expecto
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Learners

let ctx = Context.cpu

/// E_data‖∇f(x) − Σ⁻¹x‖² for Gaussian data N(0, Σ), Σ = diag(0.5, 2): the Fisher divergence to the truth.
let fisherToTruth (e: ShallowEuclidean) (x: Tensor) =
    Scope.run (fun () ->
        use _ = TorchSharp.torch.no_grad ()
        let precision = Tensor.ofArray ctx [| 2.0; 0.5 |]
        Tensor.toScalar (Tensor.mean (Tensor.sumDim 1 (Tensor.square (ShallowEuclidean.gradient e x - x * precision)))))

[<Tests>]
let tests =
    testList "Learners.ScoreMatchingFit" [
        testCase "exact, sliced and denoising score matching learn the score of Gaussian data" <| fun () ->
            use rng = new Rng(12L, ctx.Device)
            use data = Tensor.randn rng ctx [ 4000L; 2L ] * Tensor.ofArray ctx [| sqrt 0.5; sqrt 2.0 |]
            let init = ShallowEuclidean.random rng ctx Softplus 32 2 0.1
            let before = fisherToTruth init data
            for objective, factor in [ Exact, 0.1; Sliced 1, 0.2; Denoising 0.1, 0.3 ] do
                let trained, losses = ScoreMatchingFit.run rng { ScoreMatchingFit.defaults with Objective = objective; Steps = 400 } data init
                let after = fisherToTruth trained data
                ShallowEuclidean.dispose trained
                Expect.isLessThan after (factor * before) (sprintf "%A: Fisher divergence %g -> %g" objective before after)
                Expect.isLessThan (Array.average losses[350..]) (Array.average losses[..49]) "the objective decreases"
            ShallowEuclidean.dispose init

        testCase "bad input: data of the wrong dimension is named" <| fun () ->
            use rng = new Rng(1L, ctx.Device)
            let init = ShallowEuclidean.random rng ctx Softplus 4 3 0.1
            use data = Tensor.zeros ctx [ 10L; 2L ]
            let ex = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> ScoreMatchingFit.run rng ScoreMatchingFit.defaults data init |> fst |> ShallowEuclidean.dispose)
            Expect.stringContains ex.Message "3 columns" "dimension named"
            ShallowEuclidean.dispose init
    ]
