module EnergyFs.Tests.Energies.SequenceEnergyTests

open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Models
open EnergyFs.Tests.Generators

let ctx = Context.cpu64

/// Sentence lengths of the test batches (a prefix mask over T = 5).
let lengths = [| 5; 3; 1 |]

/// The mask [B, T] of `lengths` over `steps` positions.
let maskOf (lengths: int[]) (steps: int) =
    Tensor.ofRows ctx [| for n in lengths -> [| for t in 0 .. steps - 1 -> if t < n then 1.0 else 0.0 |] |] |> fun m -> m.gt (Tensor.scalar ctx 0.5)

/// Relaxed labels on the simplices, [B, T, L], drawn from `rng`.
let randomLabels (rng: Rng) (batch: int) (steps: int) (labels: int) =
    torch.nn.functional.softmax (Tensor.randn rng ctx [ int64 batch; int64 steps; int64 labels ] * 2.0, -1L)

/// The composed energy linear chain + 0.7 · label LM + 0.5 · conv (width 2) for L labels and d
/// features, with θ (plain tensors) drawn from `seed`.
let composed (seed: int64) (labels: int) (d: int) =
    use rng = new Rng(seed, ctx.Device)
    let term = SequenceEnergy.sum [ 1.0, LinearChainEnergy.term; 0.7, LabelLanguageModelEnergy.term; 0.5, ConvolutionalLabelEnergy.term ]
    let theta =
        LinearChainEnergy.create rng ctx labels d @ LabelLanguageModelEnergy.create rng ctx labels 4 @ ConvolutionalLabelEnergy.create rng ctx labels 3 2
        |> List.map (fun p -> Tensor.copy p)
    term, theta

[<Tests>]
let tests =
    testList "Energies.SequenceEnergy" [
        propertySmall "the linear chain at one-hot ȳ is minus the chosen unary and transition scores (brute force)" <| fun (Seed s) ->
            Scope.run (fun () ->
                use rng = new Rng(s, ctx.Device)
                let labels, steps = 3, 5
                let unary = Tensor.randn rng ctx [ 3L; int64 steps; int64 labels ]
                let w = Tensor.randn rng ctx [ int64 labels; int64 labels ]
                let mask = maskOf lengths steps
                let tags = Tensor.randperm rng ctx.Device 15L |> fun p -> (p.remainder (Pinned.intScalar 3L)).reshape [| 3L; 5L |]
                let y = Solvers.SequenceInference.oneHot (int64 labels) (torch.ones ([| 3L; 5L |], dtype = torch.ScalarType.Bool)) tags unary
                let e = Tensor.toArray (LinearChainEnergy.ofScores unary w mask y)
                let u, wa, tg = Tensor.toArray unary, Tensor.toArray2D w, Tensor.toArray tags |> Array.map int
                let expected b =
                    let n = lengths[b]
                    let tag t = tg[b * steps + t]
                    let local = Seq.sum [ for t in 0 .. n - 1 -> u[(b * steps + t) * labels + tag t] ]
                    let pairs = Seq.sum [ for t in 1 .. n - 1 -> wa[tag (t - 1), tag t] ]
                    -(local + pairs)
                e |> Array.mapi (fun b v -> abs (v - expected b) < 1e-10) |> Array.forall id)

        testCase "padded positions of ȳ and of the features do not change any term" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(3L, ctx.Device)
                let term, theta = composed 1L 3 4
                let mask = maskOf lengths 5
                let f = Tensor.randn rng ctx [ 3L; 5L; 4L ]
                let y = randomLabels rng 3 5 3
                let keep = mask.unsqueeze(-1L).to_type ctx.DType
                let y2 = y * keep + randomLabels rng 3 5 3 * (1.0 - keep)
                let f2 = f * keep + Tensor.randn rng ctx [ 3L; 5L; 4L ] * 10.0 * (1.0 - keep)
                for t in [ LinearChainEnergy.term; LabelLanguageModelEnergy.term; ConvolutionalLabelEnergy.term ] do
                    let offset = match t.Name with "linear-chain" -> 0 | "label-lm" -> 2 | _ -> 7
                    let th = theta |> List.skip offset |> List.take t.Blocks
                    Expect.isLessThan (Tensor.maxAbsDiff (t.Energy th f mask y) (t.Energy th f2 mask y2)) 1e-12 t.Name
                Expect.isLessThan (Tensor.maxAbsDiff (term.Energy theta f mask y) (term.Energy theta f2 mask y2)) 1e-12 "the sum")

        testCase "a padded batch gives each sentence's energy computed alone" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(4L, ctx.Device)
                let term, theta = composed 2L 3 4
                let mask = maskOf lengths 5
                let f = Tensor.randn rng ctx [ 3L; 5L; 4L ]
                let y = randomLabels rng 3 5 3
                let batched = Tensor.toArray (term.Energy theta f mask y)
                for b in 0 .. 2 do
                    let n = int64 lengths[b]
                    let one (t: Tensor) = t.narrow(0L, int64 b, 1L).narrow (1L, 0L, n)
                    let alone = Tensor.toScalar (term.Energy theta (one f) (maskOf [| lengths[b] |] lengths[b]) (one y))
                    Expect.floatClose Accuracy.high batched[b] alone (sprintf "sentence %d" b))

        testCase "gradients in ȳ, θ and the features match finite differences" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(5L, ctx.Device)
                let term, theta = composed 3L 3 4
                let mask = maskOf lengths 5
                let f = Tensor.randn rng ctx [ 3L; 5L; 4L ]
                let y = randomLabels rng 3 5 3
                GradCheck.grad GradCheck.defaults (fun y -> Tensor.sum (term.Energy theta f mask y)) y |> GradCheck.assertPassed "∇_ȳ E"
                GradCheck.grad GradCheck.defaults (fun f -> Tensor.sum (term.Energy theta f mask y)) f |> GradCheck.assertPassed "∇_F E"
                for i in 0 .. theta.Length - 1 do
                    let withBlock (b: Tensor) = theta |> List.mapi (fun j t -> if j = i then b else t)
                    GradCheck.grad GradCheck.defaults (fun b -> Tensor.sum (term.Energy (withBlock b) f mask y)) theta[i]
                    |> GradCheck.assertPassed (sprintf "∇_θ[%d] E" i))

        testCase "the composition reads its terms' blocks in order and weights them" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(6L, ctx.Device)
                let _, theta = composed 4L 3 4
                let mask = maskOf lengths 5
                let f = Tensor.randn rng ctx [ 3L; 5L; 4L ]
                let y = randomLabels rng 3 5 3
                let total = SequenceEnergy.sum [ 1.0, LinearChainEnergy.term; 0.7, LabelLanguageModelEnergy.term; 0.5, ConvolutionalLabelEnergy.term ]
                let expected =
                    LinearChainEnergy.energy (List.take 2 theta) f mask y
                    + LabelLanguageModelEnergy.energy theta[2..6] f mask y * 0.7
                    + ConvolutionalLabelEnergy.energy theta[7..9] f mask y * 0.5
                Expect.isLessThan (Tensor.maxAbsDiff (total.Energy theta f mask y) expected) 1e-12 "Σ w_k E_k"
                Expect.equal total.Blocks 10 "2 + 5 + 3 blocks"
                let e = Expect.throwsC (fun () -> total.Energy (List.take 9 theta) f mask y |> ignore) id :?> System.ArgumentException
                Expect.equal e.ParamName "theta" "names θ"
                let structured = SequenceEnergy.structured total
                Expect.isLessThan (Tensor.maxAbsDiff (structured.Energy theta f None y) (total.Energy theta f (maskOf [| 5; 5; 5 |] 5) y)) 1e-12 "no mask = all real")

        testCase "the label LM at one-hot ȳ is the tag sequence's negative log-likelihood" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(7L, ctx.Device)
                let theta = LabelLanguageModelEnergy.create rng ctx 3 4 |> List.map Tensor.copy
                let tags = Tensor.indices ctx.Device [| 0L; 2L; 1L; 1L |] |> fun t -> t.reshape [| 1L; 4L |]
                let mask = maskOf [| 4 |] 4
                let y = Solvers.SequenceInference.oneHot 3L mask tags (Tensor.zeros ctx [ 1L ])
                let p = Tensor.toArray (LabelLanguageModelEnergy.nextLabel theta y)
                let nll = -(Seq.sum [ for t, tag in List.indexed [ 0; 2; 1; 1 ] -> log p[t * 3 + tag] ])
                Expect.floatClose Accuracy.high (Tensor.toScalar (LabelLanguageModelEnergy.energy theta (Tensor.zeros ctx [ 1L; 4L; 2L ]) mask y)) nll "−Σ log p_t(y_t)")

        testCase "bad shapes are refused naming the argument" <| fun () ->
            Scope.run (fun () ->
                let y = Tensor.zeros ctx [ 2L; 3L; 4L ]
                let f = Tensor.zeros ctx [ 2L; 3L; 5L ]
                let bad = Expect.throwsC (fun () -> LinearChainEnergy.ofScores (Tensor.zeros ctx [ 2L; 3L; 4L ]) (Tensor.zeros ctx [ 3L; 3L ]) (maskOf [| 3; 3 |] 3) y |> ignore) id :?> System.ArgumentException
                Expect.equal bad.ParamName "transitions" "names the transitions"
                let badMask = Expect.throwsC (fun () -> ConvolutionalLabelEnergy.energy [ Tensor.zeros ctx [ 2L; 4L; 2L ]; Tensor.zeros ctx [ 2L ]; Tensor.zeros ctx [ 2L ] ] f (maskOf [| 2 |] 3) y |> ignore) id :?> System.ArgumentException
                Expect.equal badMask.ParamName "mask" "names the mask")
    ]

[<Tests>]
let lstmTests =
    testList "Models.BiLstmTagger" [
        testCase "reversing within the lengths twice is the identity, and padding stays put" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(8L, ctx.Device)
                let x = Tensor.randn rng ctx [ 3L; 5L; 2L ]
                let mask = maskOf lengths 5
                let r = FunctionalLstm.reverseWithin mask x
                Expect.equal (Tensor.toArray (FunctionalLstm.reverseWithin mask r)) (Tensor.toArray x) "involution"
                Expect.equal (Tensor.toArray (r.select(0L, 1L).select (0L, 0L))) (Tensor.toArray (x.select(0L, 1L).select (0L, 2L))) "first ← last real"
                Expect.equal (Tensor.toArray (r.select(0L, 1L).select (0L, 4L))) (Tensor.toArray (x.select(0L, 1L).select (0L, 4L))) "padding stays")

        testCase "the LSTM layer equals its step-by-step definition, in value and in every gradient" <| fun () ->
            // The recursion written out with a select per step and W_hh transposed at every step
            // (the plain reading of the equations); `run` splits the inputs by one unbind and
            // transposes once: the same values and gradients, bit for bit.
            Scope.run (fun () ->
                use rng = new Rng(10L, ctx.Device)
                let ps = FunctionalLstm.create rng ctx 3 4 |> List.map Tensor.copy
                let x = Tensor.randn rng ctx [ 2L; 6L; 3L ]
                let reference (ps: Tensor list) (x: Tensor) =
                    let wih, whh, b = ps[0], ps[1], ps[2]
                    let gatesIn = torch.nn.functional.linear (x, wih, b)
                    let mutable h = Tensor.zeros ctx [ 2L; 4L ]
                    let mutable c = Tensor.zeros ctx [ 2L; 4L ]
                    let hs =
                        [ for t in 0L .. 5L ->
                            let gates = gatesIn.select (1L, t) + Tensor.matmul h (Tensor.transpose whh)
                            let k = gates.chunk (4L, 1L)
                            c <- Tensor.sigmoid k[1] * c + Tensor.sigmoid k[0] * Tensor.tanh k[2]
                            h <- Tensor.sigmoid k[3] * Tensor.tanh c
                            h ]
                    Tensor.stack 1 hs
                // A weighted sum, so that every position and unit gets its own output gradient.
                let weights = Tensor.randn rng ctx [ 2L; 6L; 4L ]
                let loss (f: Tensor list -> Tensor -> Tensor) (xs: Tensor list) = (f (List.take 3 xs) xs[3] * weights).sum ()
                let expected = Diff.gradN (loss reference) (ps @ [ x ])
                let actual = Diff.gradN (loss FunctionalLstm.run) (ps @ [ x ])
                Expect.equal (Tensor.toArray (FunctionalLstm.run ps x)) (Tensor.toArray (reference ps x)) "values"
                List.zip3 [ "W_ih"; "W_hh"; "b"; "x" ] expected actual
                |> List.iter (fun (name, e, a) -> Expect.equal (Tensor.toArray a) (Tensor.toArray e) (sprintf "gradient in %s" name)))

        testCase "the tagger's scores at real positions do not depend on padding or batch" <| fun () ->
            Scope.run (fun () ->
                use rng = new Rng(9L, ctx.Device)
                let psi = BiLstmTagger.create rng ctx 2 3 4 |> List.map Tensor.copy
                let mask = maskOf lengths 5
                let x = Tensor.randn rng ctx [ 3L; 5L; 2L ]
                let s = BiLstmTagger.logits psi mask x
                for b in 0 .. 2 do
                    let n = int64 lengths[b]
                    let alone = BiLstmTagger.logits psi (maskOf [| lengths[b] |] lengths[b]) (x.narrow(0L, int64 b, 1L).narrow (1L, 0L, n))
                    Expect.isLessThan (Tensor.maxAbsDiff (s.narrow(0L, int64 b, 1L).narrow (1L, 0L, n)) alone) 1e-12 (sprintf "sentence %d" b)
                let p = BiLstmTagger.predict psi mask x
                Expect.isLessThan (Tensor.maxAbsDiff (p.sum (-1L, false)) (torch.ones_like (p.sum (-1L, false)))) 1e-12 "rows on the simplex")
    ]
