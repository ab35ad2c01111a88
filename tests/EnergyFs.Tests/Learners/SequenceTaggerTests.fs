module EnergyFs.Tests.Learners.SequenceTaggerTests

open System
open System.IO
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Models
open EnergyFs.Learners
open EnergyFs.Metrics
open EnergyFs.Tests
open EnergyFs.Tests.Data.Fixtures

/// A toy language: determiners, nouns and verbs, where "run"/"walk" are nouns after a determiner
/// and verbs otherwise (the chain's transitions matter), and a final period.
let toySentences (seed: int) (n: int) : ConlluSentence[] =
    let r = Random seed
    let pick (xs: string[]) = xs[r.Next xs.Length]
    Array.init n (fun _ ->
        let words =
            [ yield "the", "DET"
              yield pick [| "dog"; "cat"; "run"; "walk"; "bird" |], "NOUN"
              yield pick [| "sees"; "likes"; "run"; "walk" |], "VERB"
              if r.Next 2 = 0 then
                  yield pick [| "a"; "the" |], "DET"
                  yield pick [| "run"; "walk"; "fish"; "tree" |], "NOUN"
              yield ".", "PUNCT" ]
        { SentenceId = ""; Line = 1
          Words = words |> List.mapi (fun i (f, t) -> { Id = i + 1; Form = f; Upos = t; Xpos = "_" }) |> Array.ofList })

let private small =
    { SequenceTaggerOptions.defaults with
        WordDim = 8; FeatureDim = 4; Hidden = 8; Dropout = 0.0; Epochs = 12; BatchSize = 8; LearningRate = 0.02; Patience = 20
        Vocabulary = { SequenceVocabularyOptions.defaults with MinWordCount = 1 } }

[<Tests>]
let tests =
    testList "Learners.SequenceTagger" [
        test "the network's scores of a sentence do not depend on the padding of its batch" {
            let sentences = toySentences 1 6
            let v = SequenceVocabulary.build small.Vocabulary sentences
            let encoded = sentences |> Array.map (SequenceVocabulary.encode v)
            use rng = new Rng(3L, torch.CPU)
            use net = SequenceTagger.create { small with Context = Context.cpu64 } rng v
            net.eval ()
            Diff.noGrad (fun () ->
                Scope.run (fun () ->
                    use all = SequenceBatches.make torch.CPU encoded [| 0 .. 5 |]
                    let together = net.forward all
                    for i in 0 .. 5 do
                        use alone = SequenceBatches.make torch.CPU encoded [| i |]
                        let own = net.forward alone
                        let row = together.narrow(0L, int64 i, 1L).narrow (1L, 0L, int64 encoded[i].Length)
                        Expect.isLessThan (Tensor.maxAbsDiff own row) 1e-12 (sprintf "sentence %d" i)))
        }
        test "the module's BiLSTM and the functional tagger on its blocks compute the same scores" {
            let sentences = toySentences 5 6
            let v = SequenceVocabulary.build small.Vocabulary sentences
            let encoded = sentences |> Array.map (SequenceVocabulary.encode v)
            use rng = new Rng(4L, torch.CPU)
            use net = SequenceTagger.create { small with Context = Context.cpu64; Dropout = 0.25 } rng v
            net.eval ()
            Diff.noGrad (fun () ->
                Scope.run (fun () ->
                    use batch = SequenceBatches.make torch.CPU encoded [| 0 .. 5 |]
                    let blocks = BiLstmTaggerNetwork.blocks net
                    Expect.equal blocks.Length 8 "the functional tagger's 8 blocks"
                    let functional = BiLstmTagger.logits (blocks |> List.map (fun p -> p :> torch.Tensor)) batch.Mask (net.Embed batch)
                    Expect.isLessThan (Tensor.maxAbsDiff functional (net.forward batch)) 1e-12 "same scores"))
            // Second derivatives: the Hessian-vector product of Σ s² along a direction v of the
            // forward LSTM's W_ih, through torch.nn.LSTM and through the functional blocks.
            Scope.run (fun () ->
                use batch = SequenceBatches.make torch.CPU encoded [| 0 .. 5 |]
                let x = Diff.noGrad (fun () -> net.Embed batch)
                let blocks = BiLstmTaggerNetwork.blocks net |> List.map (fun p -> p :> torch.Tensor)
                let wih = net.named_parameters () |> Seq.pick (fun struct (n, p) -> if n = "forward_lstm.weight_ih_l0" then Some (p :> torch.Tensor) else None)
                use rng2 = new Rng(6L, torch.CPU)
                let v = Tensor.randn rng2 Context.cpu64 (Tensor.shape wih)
                let hvp (scores: unit -> torch.Tensor) (w: torch.Tensor) =
                    let s = scores ()
                    let g = torch.autograd.grad (ResizeArray [ (s * s).sum () ], ResizeArray [ w ], retain_graph = true, create_graph = true) |> Seq.head
                    torch.autograd.grad (ResizeArray [ (g * v).sum () ], ResizeArray [ w ], retain_graph = true) |> Seq.head
                let viaModule = hvp (fun () -> net.forward batch) wih
                let viaBlocks = hvp (fun () -> BiLstmTagger.logits blocks batch.Mask x) blocks[0]
                Expect.isGreaterThan (Tensor.toScalar (viaModule.abs().sum ())) 0.0 "a nonzero second derivative"
                Expect.isLessThan (Tensor.maxAbsDiff viaModule viaBlocks) 1e-9 "torch.nn.LSTM is twice differentiable, like the functional LSTM")
        }
        test "WithBlocks evaluates other blocks with the fused LSTM: the functional tagger's scores on them, the original network unchanged" {
            let sentences = toySentences 7 6
            let v = SequenceVocabulary.build small.Vocabulary sentences
            let encoded = sentences |> Array.map (SequenceVocabulary.encode v)
            use rng = new Rng(8L, torch.CPU)
            use net = SequenceTagger.create { small with Context = Context.cpu64 } rng v
            net.eval ()
            Diff.noGrad (fun () ->
                Scope.run (fun () ->
                    use batch = SequenceBatches.make torch.CPU encoded [| 0 .. 5 |]
                    let before = net.forward batch
                    // Other weights: every block moved, so a copy that ignored one would differ.
                    let blocks = BiLstmTaggerNetwork.blocks net |> List.map (fun p -> (p :> torch.Tensor) + Tensor.randn rng Context.cpu64 (Tensor.shape p) * 0.3)
                    use exported = BiLstmTaggerNetwork.withBlocks blocks net
                    let functional = BiLstmTagger.logits blocks batch.Mask (net.Embed batch)
                    Expect.isLessThan (Tensor.maxAbsDiff functional (exported.forward batch)) 1e-12 "the fused LSTM on the blocks = the functional tagger"
                    Expect.isGreaterThan (Tensor.maxAbsDiff before (exported.forward batch)) 1e-3 "the blocks changed the scores"
                    Expect.isLessThan (Tensor.maxAbsDiff before (net.forward batch)) 1e-15 "the original network is untouched"
                    Expect.equal (exported.Transitions.data<float>().ToArray()) (net.Transitions.data<float>().ToArray()) "transitions copied"
                    Expect.throws (fun () -> net.WithBlocks (List.take 7 blocks) |> ignore) "7 blocks are refused"))
        }
        test "token accuracy counts only the real positions" {
            let mask = torch.tensor([| true; true; false; true; false; false |]).reshape [| 2L; 3L |]
            let gold = torch.tensor([| 1L; 2L; 0L; 3L; 0L; 0L |]).reshape [| 2L; 3L |]
            let predicted = torch.tensor([| 1L; 0L; 5L; 3L; 7L; 7L |]).reshape [| 2L; 3L |]
            Expect.equal (SequenceMetrics.correctTokens mask gold predicted) (2L, 3L) "2 of 3 real tokens"
        }
        test "the CRF tagger learns a toy language, repeats for a seed, and round-trips through a model file" {
            let train, dev = toySentences 1 60, toySentences 2 20
            use tagger = SequenceTagger.fit small train (Some dev)
            let accuracy = SequenceTagger.evaluate tagger dev
            Expect.isGreaterThan accuracy 0.95 (sprintf "dev accuracy %.3f" accuracy)
            Expect.equal (SequenceTagger.tag tagger [| [| "the"; "run"; "sees"; "a"; "walk"; "." |] |]) [| [| "DET"; "NOUN"; "VERB"; "DET"; "NOUN"; "PUNCT" |] |] "tags a new sentence"
            use again = SequenceTagger.fit small train (Some dev)
            Expect.equal (again.History.Column "train_loss") (tagger.History.Column "train_loss") "same seed, same run"
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "tagger.efm")
            SequenceTaggerFile.save path tagger
            use loaded = SequenceTaggerFile.load path Context.cpu
            Expect.equal loaded.Vocabulary.Words.Items tagger.Vocabulary.Words.Items "the vocabulary"
            Expect.equal loaded.History tagger.History "the history"
            Diff.noGrad (fun () ->
                Scope.run (fun () ->
                    use batch = SequenceBatches.make torch.CPU (dev |> Array.map (SequenceVocabulary.encode tagger.Vocabulary)) [| 0 .. 19 |]
                    Expect.equal (Tensor.maxAbsDiff (loaded.Net.forward batch) (tagger.Net.forward batch)) 0.0 "the same scores"
                    Expect.equal (Tensor.maxAbsDiff loaded.Net.Transitions tagger.Net.Transitions) 0.0 "the same transitions"))
            Expect.equal (SequenceTagger.evaluate loaded dev) accuracy "the same accuracy"
            let other = Path.Combine(dir.Path, "other.efm")
            Training.ModelFile.save other "multilabel-classifier" (Text.Json.Nodes.JsonObject()) []
            let e = Expectations.raisesOf<InvalidDataException> (fun () -> SequenceTaggerFile.load other Context.cpu |> ignore)
            Expect.stringContains e.Message "not a 'sequence-tagger'" "names the kind"
        }
        test "the softmax (BiLSTM) and SparseMAP losses train too" {
            let train = toySentences 4 30
            for loss in [ Softmax; SparseMapLoss ] do
                use tagger = SequenceTagger.fit { small with Loss = loss; Epochs = 6 } train None
                let losses = tagger.History.Column "train_loss"
                Expect.isLessThan losses[losses.Length - 1] (0.5 * losses[0]) (sprintf "%s: the loss falls: %A" (TaggerLoss.name loss) losses)
        }
    ]
