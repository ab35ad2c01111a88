module EnergyFs.Tests.Sequences.LinearChainTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Sequences
open EnergyFs.Tests
open EnergyFs.Tests.Generators
open EnergyFs.Tests.Sequences.ChainFixtures

let private close (what: string) (expected: float) (actual: float) =
    Expect.isLessThan (abs (expected - actual)) (1e-9 * (1.0 + abs expected)) (sprintf "%s: expected %.12g, got %.12g" what expected actual)

/// The case padded with one extra sentence and two extra positions, all with random scores:
/// (mask, scores) whose first B rows must give the case's results.
let private padded (seed: int64) (c: ChainCase) : Tensor * ChainScores =
    let r = Random(int seed + 5)
    let g () = r.NextDouble() * 6.0 - 3.0
    let t2 = c.T + 2
    let lengths = Array.append c.Lengths [| r.Next(1, t2 + 1) |]
    let big =
        { c with
            B = c.B + 1; T = t2; Lengths = lengths
            Unary = Array.init (c.B + 1) (fun b -> Array.init t2 (fun t -> if b < c.B && t < c.T then c.Unary[b][t] else Array.init c.L (fun _ -> g ())))
            Pair =
                Array.init (c.B + 1) (fun b -> Array.init (t2 - 1) (fun t ->
                    if c.Shared then (if c.T > 1 then c.Pair[0][0] else Array.init c.L (fun _ -> Array.zeroCreate c.L))
                    elif b < c.B && t < c.T - 1 then c.Pair[b][t]
                    else Array.init c.L (fun _ -> Array.init c.L (fun _ -> g ())))) }
    maskOf big, scoresOf big

[<Tests>]
let tests =
    testList "Sequences.LinearChain" [
        propertySmall "logPartition equals log-sum-exp over every label sequence (T ≤ 4, L ≤ 3)" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let z = LinearChain.logPartition (maskOf c) (scoresOf c) |> Tensor.toArray
                for b in 0 .. c.B - 1 do close (sprintf "log Z of sentence %d" b) (bruteLogPartition c b) z[b]))

        propertySmall "viterbi equals the brute-force argmax, and its score is the sequence's score" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let mask, scores = maskOf c, scoresOf c
                use result = LinearChain.viterbi mask scores
                let tags = result.Tags.data<int64>().ToArray()
                let best = Tensor.toArray result.Score
                let scored = LinearChain.score mask scores result.Tags |> Tensor.toArray
                for b in 0 .. c.B - 1 do
                    let y, value = bruteArgmax c b
                    Expect.equal (Array.init c.T (fun t -> int tags[b * c.T + t])) (Array.append y (Array.zeroCreate (c.T - y.Length))) (sprintf "argmax of sentence %d (padding holds 0)" b)
                    close "best score" value best[b]
                    close "score of the Viterbi sequence" value scored[b]))

        propertySmall "score equals the host score of random sequences, and ⟨θ, φ(y)⟩" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let mask, scores = maskOf c, scoresOf c
                let tags, tagTensor = randomTags s c
                let values = LinearChain.score mask scores tagTensor |> Tensor.toArray
                let fu, fp = LinearChain.features mask scores tagTensor
                let inner = (Tensor.sumDim 1 (Tensor.sumDim 2 (LinearChain.foldedUnary mask scores * fu))
                             + (LinearChain.pairwise mask scores * fp).sum ([| 1L; 2L; 3L |], false, torch.ScalarType.Float64)) |> Tensor.toArray
                for b in 0 .. c.B - 1 do
                    let expected = hostScore c b (Array.truncate c.Lengths[b] tags[b])
                    close "score" expected values[b]
                    close "⟨θ, φ(y)⟩" expected inner[b]))

        propertySmall "marginals sum to 1 per position and match brute force" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let mu, pairs = LinearChain.marginals (maskOf c) (scoresOf c)
                let muHost, pairHost = Tensor.toArray mu, Tensor.toArray pairs
                for b in 0 .. c.B - 1 do
                    let bu, bp = bruteMarginals c b
                    for t in 0 .. c.T - 1 do
                        let row = Array.init c.L (fun j -> muHost[(b * c.T + t) * c.L + j])
                        close "Σ_j μ[t, j]" (if t < c.Lengths[b] then 1.0 else 0.0) (Array.sum row)
                        for j in 0 .. c.L - 1 do close (sprintf "μ[%d, %d, %d]" b t j) bu.[t].[j] row.[j]
                    for t in 0 .. c.T - 2 do
                        for i in 0 .. c.L - 1 do
                            for j in 0 .. c.L - 1 do
                                close "pairwise marginal" bp.[t].[i].[j] pairHost.[((b * (c.T - 1) + t) * c.L + i) * c.L + j]))

        propertySmall "gradients of log Z match finite differences (unary, transitions, start/end)" (fun (Seed s) ->
            let c = randomCase s 3 3
            let mask, scores = maskOf c, scoresOf c
            let check what (f: Tensor -> Tensor) (x: Tensor) = GradCheck.grad GradCheck.defaults f x |> GradCheck.assertPassed what
            check "∂/∂unary" (fun u -> (LinearChain.logPartition mask { scores with Unary = u }).sum ()) scores.Unary
            if scores.Transitions.numel () > 0L then
                check "∂/∂transitions" (fun p -> (LinearChain.logPartition mask { scores with Transitions = p }).sum ()) scores.Transitions
            scores.Start |> Option.iter (check "∂/∂start" (fun v -> (LinearChain.logPartition mask { scores with Start = Some v }).sum ()))
            scores.End |> Option.iter (check "∂/∂end" (fun v -> (LinearChain.logPartition mask { scores with End = Some v }).sum ())))

        propertySmall "padding a batch with another sentence and positions changes no sentence's result" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let mask, scores = maskOf c, scoresOf c
                let bigMask, bigScores = padded s c
                let first (t: Tensor) = t.narrow(0L, 0L, int64 c.B)
                let z, bigZ = LinearChain.logPartition mask scores, LinearChain.logPartition bigMask bigScores
                Expect.isLessThan (Tensor.maxAbsDiff z (first bigZ)) 1e-12 "log Z"
                use v = LinearChain.viterbi mask scores
                use bigV = LinearChain.viterbi bigMask bigScores
                Expect.isTrue (v.Tags.eq((first bigV.Tags).narrow (1L, 0L, int64 c.T)).all().item<bool> ()) "Viterbi tags"
                Expect.equal (bigV.Tags.narrow(1L, int64 c.T, 2L).narrow(0L, 0L, int64 c.B).abs().sum().item<int64> ()) 0L "padding tags are 0"
                let mu, _ = LinearChain.marginals mask scores
                let bigMu, _ = LinearChain.marginals bigMask bigScores
                Expect.isLessThan (Tensor.maxAbsDiff mu ((first bigMu).narrow (1L, 0L, int64 c.T))) 1e-12 "marginals"
                Expect.equal ((first bigMu).narrow(1L, int64 c.T, 2L).abs().sum().item<float> ()) 0.0 "marginals are 0 at padding"))

        test "sentences of length 1: log Z is the log-sum-exp of the scores, Viterbi the argmax" {
            Scope.run (fun () ->
                let u = torch.tensor([| 0.5; -1.0; 2.0; 1.0; 0.0; -3.0 |], dtype = ctx.DType).reshape [| 2L; 1L; 3L |]
                let mask = torch.ones([| 2L; 1L |], dtype = torch.ScalarType.Bool)
                let scores = ChainScores.create u (torch.zeros ([| 3L; 3L |], dtype = ctx.DType))
                let z = LinearChain.logPartition mask scores |> Tensor.toArray
                close "row 0" (logSumExp [| 0.5; -1.0; 2.0 |]) z[0]
                close "row 1" (logSumExp [| 1.0; 0.0; -3.0 |]) z[1]
                use v = LinearChain.viterbi mask scores
                Expect.equal (v.Tags.data<int64>().ToArray()) [| 2L; 0L |] "argmax"
                let _, pairs = LinearChain.marginals mask scores
                Expect.equal pairs.shape [| 2L; 0L; 3L; 3L |] "no pairwise marginals")
        }

        test "bad shapes and masks fail with messages naming the argument" {
            Scope.run (fun () ->
                let u = torch.zeros ([| 2L; 3L; 4L |], dtype = ctx.DType)
                let mask = torch.ones ([| 2L; 3L |], dtype = torch.ScalarType.Bool)
                let good = ChainScores.create u (torch.zeros ([| 4L; 4L |], dtype = ctx.DType))
                let fails (argument: string) (fragment: string) (f: unit -> unit) =
                    let e = Expectations.raisesOf<ArgumentException> f
                    Expect.equal e.ParamName argument "the exception names the argument"
                    Expect.stringContains e.Message fragment "the message says what is wrong"
                fails "unary" "3 dimension" (fun () -> LinearChain.logPartition mask { good with Unary = u.select (0L, 0L) } |> ignore)
                fails "transitions" "[L, L] = [4, 4]" (fun () -> LinearChain.logPartition mask { good with Transitions = torch.zeros ([| 3L; 4L |]) } |> ignore)
                fails "mask" "[B, T] = [2, 3]" (fun () -> LinearChain.logPartition (torch.ones ([| 2L; 2L |], dtype = torch.ScalarType.Bool)) good |> ignore)
                fails "mask" "bool" (fun () -> LinearChain.logPartition (torch.ones ([| 2L; 3L |])) good |> ignore)
                fails "mask" "length 0" (fun () -> LinearChain.viterbi (torch.tensor([| true; true; true; false; false; false |]).reshape [| 2L; 3L |]) good |> ignore)
                fails "mask" "not a prefix" (fun () -> LinearChain.logPartition (torch.tensor([| true; true; true; true; false; true |]).reshape [| 2L; 3L |]) good |> ignore)
                fails "start" "[L] = [4]" (fun () -> LinearChain.logPartition mask { good with Start = Some (torch.zeros ([| 3L |], dtype = ctx.DType)) } |> ignore)
                fails "tags" "0 .. 3" (fun () -> LinearChain.score mask good (torch.full ([| 2L; 3L |], Pinned.intScalar 4L, dtype = torch.ScalarType.Int64)) |> ignore)
                fails "tags" "integer" (fun () -> LinearChain.score mask good (torch.zeros ([| 2L; 3L |])) |> ignore))
        }
    ]
