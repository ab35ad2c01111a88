module EnergyFs.Tests.Solvers.SequenceInferenceTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Tests.Generators
open EnergyFs.Tests.Energies.SequenceEnergyTests

/// The brute-force minimiser of the linear-chain energy of one sentence of length n: every one of
/// the Lⁿ tag sequences scored from the unary [T·L] and transition [L, L] arrays of sentence b.
let bruteForce (u: float[]) (w: float[,]) (steps: int) (labels: int) (b: int) (n: int) =
    let rec sequences k = if k = 0 then [ [] ] else [ for s in sequences (k - 1) do for l in 0 .. labels - 1 -> s @ [ l ] ]
    let score (tags: int list) =
        let local = tags |> List.mapi (fun t l -> u[(b * steps + t) * labels + l]) |> List.sum
        let pairs = tags |> List.pairwise |> List.sumBy (fun (a, c) -> w[a, c])
        local + pairs
    sequences n |> List.maxBy score

[<Tests>]
let tests =
    testList "Solvers.SequenceInference" [
        propertySmall "with a dominant unary, relaxed inference recovers the brute-force argmax sequence" <| fun (Seed s) ->
            Scope.run (fun () ->
                use rng = new Rng(s, ctx.Device)
                let labels, steps = 3, 4
                let lens = [| 4; 2 |]
                // A clear winner per position (margin ≈ 4 against transitions of size ≈ 0.3).
                let winners = (Tensor.randperm rng ctx.Device 24L).remainder(Pinned.intScalar 3L).narrow(0L, 0L, 8L).reshape [| 2L; 4L |]
                let unary =
                    SequenceInference.oneHot (int64 labels) (maskOf [| 4; 4 |] steps) winners (Tensor.zeros ctx [ 1L ]) * 4.0
                    + Tensor.randn rng ctx [ 2L; int64 steps; int64 labels ] * 0.5
                let w = Tensor.randn rng ctx [ int64 labels; int64 labels ] * 0.3
                let mask = maskOf lens steps
                let f y = LinearChainEnergy.ofScores unary w mask y
                let y0 = SequenceInference.uniformStart 2L (int64 steps) (int64 labels) unary
                let u, wa = Tensor.toArray unary, Tensor.toArray2D w
                [ SequenceInference.projectedGradient SequenceInference.projectedDefaults f y0
                  SequenceInference.entropic 0.0 { SequenceInference.entropicDefaults with MaxIterations = 100 } f y0 ]
                |> List.forall (fun y ->
                    let tags = Tensor.toArray (SequenceInference.tags y) |> Array.map int
                    lens |> Array.mapi (fun b n -> [ for t in 0 .. n - 1 -> tags[b * steps + t] ] = bruteForce u wa steps labels b n) |> Array.forall id))

        testCase "relaxed inference lowers the full energy from the start and stays on the simplices" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(11L, ctx.Device)
                let term, theta = composed 12L 3 4
                let mask = maskOf lengths 5
                let features = Tensor.randn rng ctx [ 3L; 5L; 4L ]
                let f y = term.Energy theta features mask y
                let y0 = SequenceInference.uniformStart 3L 5L 3L features
                let start = Tensor.toArray (f y0)
                for name, y in [ "projected", SequenceInference.projectedGradient { SequenceInference.projectedDefaults with Step = FixedStep (0.1, 0.5) } f y0
                                 "entropic", SequenceInference.entropic 0.0 { SequenceInference.entropicDefaults with Step = FixedStep (0.2, 0.0) } f y0 ] do
                    let final = Tensor.toArray (f y)
                    Array.iter2 (fun a b -> Expect.isLessThan b a (sprintf "%s: energy decreases (%g → %g)" name a b)) start final
                    Expect.isTrue (FeasibleSet.contains 1e-9 ProbabilitySimplex (y.reshape [| -1L; 3L |])) (sprintf "%s: rows on Δ_L" name))

        testCase "the entropic objective decreases step by step for a small step" <| fun () ->
            Scope.run (fun () ->
                let term, theta = composed 13L 3 4
                use rng = new Rng(14L, ctx.Device)
                let mask = maskOf lengths 5
                let features = Tensor.randn rng ctx [ 3L; 5L; 4L ]
                let tau = 0.5
                let objective (y: Tensor) =
                    Tensor.toScalar (Tensor.sum (term.Energy theta features mask y) - Tensor.sum (Learners.StructuredOutputs.sequenceEntropy None y) * tau)
                let y0 = SequenceInference.uniformStart 3L 5L 3L features
                let values =
                    [ for k in 0 .. 6 -> objective (SequenceInference.entropic tau { SequenceInference.entropicDefaults with Step = FixedStep (0.05, 0.0); MaxIterations = k * 5 + 1 } (fun y -> term.Energy theta features mask y) y0) ]
                values |> List.pairwise |> List.iter (fun (a, b) -> Expect.isLessThanOrEqual b (a + 1e-12) (sprintf "%g → %g" a b)))

        testCase "a backtracking step is refused, and rounding gives one-hot tags zero at padding" <| fun () ->
            Scope.run (fun () ->
                let y0 = SequenceInference.uniformStart 1L 2L 3L (Tensor.zeros ctx [ 1L ])
                let e = Expect.throwsC (fun () -> SequenceInference.projectedGradient { SequenceInference.projectedDefaults with Step = Backtracking 1.0 } Tensor.sum y0 |> ignore) id :?> System.ArgumentException
                Expect.equal e.ParamName "options" "names the options"
                let y = Tensor.ofArray ctx [| 0.1; 0.7; 0.2; 0.5; 0.2; 0.3 |] |> fun t -> t.reshape [| 1L; 2L; 3L |]
                let oneHot = SequenceInference.oneHot 3L (maskOf [| 1 |] 2) (SequenceInference.tags y) y
                Expect.equal (Tensor.toArray oneHot) [| 0.0; 1.0; 0.0; 0.0; 0.0; 0.0 |] "argmax, zero at padding")
    ]
