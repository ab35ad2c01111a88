module EnergyFs.Tests.Losses.SequenceFenchelYoungTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Regularizers
open EnergyFs.Losses
open EnergyFs.Projections
open EnergyFs.Sequences
open EnergyFs.Tests.Generators
open EnergyFs.Tests.Sequences.ChainFixtures

/// Five replayable cases: the brute-force QP below is the slow part.
let private few name f = testPropertyWithConfig (withArbs { small with maxTest = 5 }) name f

let private exact = { SparseMapOptions.defaults with Tolerance = 1e-13; MaxIterations = 500 }

/// The case's sentence b as a one-sentence case.
let private single (c: ChainCase) (b: int) =
    { c with B = 1; T = c.Lengths[b]; Lengths = [| c.Lengths[b] |]; Unary = [| c.Unary[b][.. c.Lengths[b] - 1] |]
             Pair = [| c.Pair[b][.. c.Lengths[b] - 2] |] }

/// φ(y) of a sequence as a flat host vector (unary T·L, then pairwise (T−1)·L·L).
let private phi (l: int) (y: int[]) =
    let t = y.Length
    let v = Array.zeroCreate<float> (t * l + max 0 (t - 1) * l * l)
    for i in 0 .. t - 1 do v[i * l + y[i]] <- 1.0
    for i in 1 .. t - 1 do v[t * l + ((i - 1) * l + y[i - 1]) * l + y[i]] <- 1.0
    v

/// SparseMAP of a one-sentence case by brute force: min over α ∈ Δ(all sequences) of
/// ½‖Φα‖² − ⟨s, α⟩ by accelerated projected gradient (FISTA) with `Simplex.project`; returns μ = Φα.
let private bruteSparseMap (c: ChainCase) : float[] =
    let ys = sequences c.T c.L
    let phis = ys |> Array.map (phi c.L)
    let n = ys.Length
    let q = Array2D.init n n (fun i j -> Array.fold2 (fun acc a b -> acc + a * b) 0.0 phis[i] phis[j])
    let s = ys |> Array.map (hostScore c 0)
    let lipschitz = Seq.sum (seq { for i in 0 .. n - 1 do for j in 0 .. n - 1 -> q[i, j] * q[i, j] }) |> sqrt
    let grad (a: float[]) = Array.init n (fun i -> Seq.sum (seq { for j in 0 .. n - 1 -> q[i, j] * a[j] }) - s[i])
    let project (z: float[]) = Scope.run (fun () -> Simplex.project (torch.tensor(z, dtype = ctx.DType).reshape [| 1L; int64 n |]) |> Tensor.toArray)
    let mutable a = Array.create n (1.0 / float n)
    let mutable y = a
    let mutable tk = 1.0
    for _ in 1 .. 3000 do
        let g = grad y
        let next = project (Array.map2 (fun yi gi -> yi - gi / lipschitz) y g)
        let tNext = (1.0 + sqrt (1.0 + 4.0 * tk * tk)) / 2.0
        y <- Array.map2 (fun ni ai -> ni + (tk - 1.0) / tNext * (ni - ai)) next a
        a <- next
        tk <- tNext
    Array.init phis[0].Length (fun k -> Seq.sum (seq { for i in 0 .. n - 1 -> a[i] * phis[i][k] }))

let private flatMu (solution: SparseMapSolution) =
    Array.append (Tensor.toArray solution.Unary) (Tensor.toArray solution.Pairwise)

[<Tests>]
let tests =
    testList "Losses.SequenceFenchelYoung" [
        propertySmall "the Shannon (CRF) loss equals the negative log-likelihood computed by enumeration" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let tags, tagTensor = randomTags s c
                let loss = SequenceFenchelYoung.crf (maskOf c) (scoresOf c) tagTensor |> Tensor.toArray
                for b in 0 .. c.B - 1 do
                    let nll = bruteLogPartition c b - hostScore c b (Array.truncate c.Lengths[b] tags[b])
                    Expect.floatClose Accuracy.veryHigh loss[b] nll "log Z − s(y)"
                    Expect.isGreaterThanOrEqual loss[b] -1e-12 "≥ 0 (to rounding)"))

        propertySmall "the CRF loss is the Shannon FY loss (FenchelYoung.loss) over the simplex of all sequences" (fun (Seed s) ->
            let c = single (randomCase s 4 3) 0
            Scope.run (fun () ->
                let tags, tagTensor = randomTags s c
                let ys = sequences c.T c.L
                let theta = torch.tensor(ys |> Array.map (hostScore c 0), dtype = ctx.DType).reshape [| 1L; int64 ys.Length |]
                let gold = ys |> Array.findIndex (fun y -> y = tags[0])
                let y = torch.zeros ([| 1L; int64 ys.Length |], dtype = ctx.DType)
                y[0L, int64 gold] <- torch.tensor (1.0, dtype = ctx.DType)
                let fy = FenchelYoung.loss Shannon.regularizer theta y |> Tensor.toScalar
                let crf = SequenceFenchelYoung.crf (maskOf c) (scoresOf c) tagTensor |> Tensor.toScalar
                Expect.floatClose Accuracy.veryHigh crf fy "same loss"))

        few "SparseMAP: μ* matches the QP over the simplex of all sequences, with a small support" (fun (Seed s) ->
            let c = single (randomCase s 3 3) 0
            Scope.run (fun () ->
                use solution = SparseMap.solve exact (maskOf c) (scoresOf c)
                let mu = flatMu solution
                let brute = bruteSparseMap c
                Expect.isLessThan (Array.map2 (fun a b -> abs (a - b)) mu brute |> Array.max) 1e-5 "μ* = brute-force μ"
                let support = solution.Support[0]
                Expect.floatClose Accuracy.veryHigh (support |> Array.sumBy snd) 1.0 "weights sum to 1"
                Expect.isTrue (support |> Array.forall (fun (_, w) -> w > 0.0)) "positive weights"
                Expect.isLessThanOrEqual support.Length (mu.Length + 1) "Carathéodory: at most dim + 1 sequences"
                let recombined = support |> Array.map (fun (y, w) -> phi c.L y |> Array.map ((*) w)) |> Array.reduce (Array.map2 (+))
                Expect.isLessThan (Array.map2 (fun a b -> abs (a - b)) mu recombined |> Array.max) 1e-12 "μ* = Σ αᵢ φ(yᵢ)"))

        test "SparseMAP is sparse where the scores separate the sequences" {
            Scope.run (fun () ->
                let c = { randomCase 7L 4 3 with B = 1; T = 4; L = 3; Lengths = [| 4 |]; Shared = true; Start = None; End = None }
                let c = { c with Unary = [| Array.init 4 (fun t -> Array.init 3 (fun j -> if j = t % 3 then 3.0 else float j * 0.1)) |]
                                 Pair = [| Array.init 3 (fun _ -> Array.init 3 (fun i -> Array.init 3 (fun j -> if i = j then 0.2 else 0.0))) |] }
                use solution = SparseMap.solve exact (maskOf c) (scoresOf c)
                Expect.isLessThanOrEqual solution.Support[0].Length 4 (sprintf "a few of the 81 sequences: %A" solution.Support[0]))
        }

        propertySmall "both losses are ≥ 0; SparseMAP's is 0 when the gold sequence wins by the margin" (fun (Seed s) ->
            let c = randomCase s 4 3
            Scope.run (fun () ->
                let mask, scores = maskOf c, scoresOf c
                let _, tags = randomTags s c
                for loss in [ SequenceFenchelYoung.crf mask scores tags; SequenceFenchelYoung.sparseMapWith exact mask scores tags ] do
                    Expect.isGreaterThanOrEqual (loss.min().ToDouble ()) -1e-9 "≥ 0"
                let fu, fp = LinearChain.features mask scores tags
                let scaled (k: float) = { Unary = fu * k; Transitions = fp * k; Start = None; End = None }
                let atMargin = SequenceFenchelYoung.sparseMapWith exact mask (scaled 1.0) tags |> Tensor.toArray
                Expect.isLessThan (Array.max (Array.map abs atMargin)) 1e-9 "θ = φ(y): the margin is met, loss 0"
                if c.L > 1 then
                    let inside = SequenceFenchelYoung.sparseMapWith exact mask (scaled 0.5) tags |> Tensor.toArray
                    Expect.isTrue (inside |> Array.forall (fun v -> v > 1e-6)) (sprintf "θ = ½φ(y): inside the margin, loss > 0: %A" inside)
                    Expect.isGreaterThan (SequenceFenchelYoung.crf mask (scaled 1.0) tags |> Tensor.toArray |> Array.min) 0.0 "the CRF loss is never 0"))

        propertySmall "gradients are μ* − φ(y) and match finite differences (CRF and SparseMAP)" (fun (Seed s) ->
            let c = randomCase s 3 3
            let mask, scores = maskOf c, scoresOf c
            let _, tags = randomTags s c
            let check what (loss: ChainScores -> Tensor) =
                GradCheck.grad GradCheck.defaults (fun u -> (loss { scores with Unary = u }).sum ()) scores.Unary |> GradCheck.assertPassed (what + ", ∂/∂unary")
                if scores.Transitions.numel () > 0L then
                    GradCheck.grad GradCheck.defaults (fun p -> (loss { scores with Transitions = p }).sum ()) scores.Transitions |> GradCheck.assertPassed (what + ", ∂/∂transitions")
            check "CRF" (fun sc -> SequenceFenchelYoung.crf mask sc tags)
            check "SparseMAP" (fun sc -> SequenceFenchelYoung.sparseMapWith exact mask sc tags)
            Scope.run (fun () ->
                let g = Diff.grad (fun u -> (SequenceFenchelYoung.sparseMapWith exact mask { scores with Unary = u } tags).sum ()) scores.Unary
                use solution = SparseMap.solve exact mask scores
                let fu, _ = LinearChain.features mask scores tags
                Expect.isLessThan (Tensor.maxAbsDiff g (solution.Unary - fu)) 1e-12 "∂L/∂unary = μ*_U − φ_U(y)"))

        test "non-finite scores fail naming the argument" {
            Scope.run (fun () ->
                let c = randomCase 3L 3 3
                let scores = scoresOf c
                let bad = { scores with Unary = scores.Unary * nan }
                let _, tags = randomTags 3L c
                let e = EnergyFs.Tests.Expectations.raisesOf<System.ArgumentException> (fun () -> SequenceFenchelYoung.crf (maskOf c) bad tags |> ignore)
                Expect.equal e.ParamName "unary" "names the unary scores")
        }
    ]
