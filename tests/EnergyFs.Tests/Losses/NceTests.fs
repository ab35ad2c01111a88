module EnergyFs.Tests.Losses.NceTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Losses
open EnergyFs.Tests.Generators
open EnergyFs.Tests.Expectations

let ctx = Context.cpu64

let logNormal (mu: float) (sd: float) (y: Tensor) = Tensor.square ((y - mu) / sd) * -0.5 - log (sd * sqrt (2.0 * Math.PI))

[<Tests>]
let tests =
    testList "Losses.Nce" [
        property "the ranking loss is ≥ 0" <| fun (Seed seed) ->
            Scope.run (fun () ->
                use rng = new Rng(seed, ctx.Device)
                let s = Tensor.randn rng ctx [ 5L; 7L ] * 4.0
                let q = Tensor.randn rng ctx [ 5L; 7L ]
                Expect.isGreaterThanOrEqual (Tensor.toScalar (Nce.ranking s q)) 0.0 "cross-entropy ≥ 0")

        testCase "its gradient in f is (softmax(f − log q) − e₀)/B and log q gets none" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(4L, ctx.Device)
                let s = Tensor.randn rng ctx [ 3L; 4L ]
                let q = Tensor.randn rng ctx [ 3L; 4L ]
                let gs = Diff.gradN (fun vs -> Nce.ranking vs[0] q) [ s ]
                let onehot = torch.nn.functional.one_hot (torch.zeros ([| 3L |], dtype = torch.ScalarType.Int64), 4L)
                let expected = (torch.nn.functional.softmax (s - q, 1L) - onehot.to_type ctx.DType) / 3.0
                Expect.isLessThan (Tensor.maxAbsDiff gs[0] expected) 1e-12 "∂L/∂f"
                let qVar = q.detach().requires_grad_ true
                Expect.isFalse (Nce.ranking s qVar).requires_grad "no gradient into q")

        testCase "the expected loss is smallest at f = log p + const" <| fun () ->
            // p = N(0.3, 0.5²), noise q = N(0, 1); y₀ ~ p, y₁..y₈ ~ q; common random numbers.
            Scope.run (fun () ->
                use rng = new Rng(8L, ctx.Device)
                let b = 40_000L
                let y0 = Tensor.randn rng ctx [ b; 1L ] * 0.5 + 0.3
                let noise = Tensor.randn rng ctx [ b; 8L ]
                let y = Tensor.cat 1 [ y0; noise ]
                let logQ = logNormal 0.0 1.0 y
                let lossOf (f: Tensor) = Tensor.toScalar (Nce.ranking f logQ)
                let best = lossOf (logNormal 0.3 0.5 y)
                Expect.floatClose Accuracy.veryHigh (lossOf (logNormal 0.3 0.5 y + 5.0)) best "a constant shift changes nothing"
                for name, g in [ "y", (fun (t: Tensor) -> t); "y²", Tensor.square; "sin 2y", (fun t -> (t * 2.0).sin ()) ] do
                    for eps in [ -0.3; 0.3 ] do
                        let perturbed = lossOf (logNormal 0.3 0.5 y + g y * eps)
                        Expect.isGreaterThan perturbed best (sprintf "log p + %g·%s is worse" eps name)
                let wrongNoise = Tensor.toScalar (Nce.ranking (logNormal 0.3 0.5 y) (logNormal 0.0 2.0 y))
                Expect.isGreaterThan wrongNoise best "using the wrong noise density is worse")

        testCase "batched equals the mean of per-example losses" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(5L, ctx.Device)
                let s = Tensor.randn rng ctx [ 4L; 6L ]
                let q = Tensor.randn rng ctx [ 4L; 6L ]
                let per = [ for i in 0L .. 3L -> Tensor.toScalar (Nce.ranking (s.narrow (0L, i, 1L)) (q.narrow (0L, i, 1L))) ]
                Expect.floatClose Accuracy.veryHigh (Tensor.toScalar (Nce.ranking s q)) (List.average per) "mean")

        testCase "bad input: shapes differ, no noise column" <| fun () ->
            Scope.run (fun () ->
                let e = raisesOf<ArgumentException> (fun () -> Nce.ranking (Tensor.zeros ctx [ 2L; 3L ]) (Tensor.zeros ctx [ 2L; 4L ]) |> ignore)
                Expect.stringContains e.Message "logNoise" "names the argument"
                raisesOf<ArgumentException> (fun () -> Nce.ranking (Tensor.zeros ctx [ 2L; 1L ]) (Tensor.zeros ctx [ 2L; 1L ]) |> ignore) |> ignore)
    ]
