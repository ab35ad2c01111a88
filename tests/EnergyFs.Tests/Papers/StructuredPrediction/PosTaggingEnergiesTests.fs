module EnergyFs.Tests.Papers.StructuredPrediction.PosTaggingEnergiesTests

open System
open System.IO
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Sequences
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Metrics
open EnergyFs.Learners
open EnergyFs.Models
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Tests.Data.Fixtures
open EnergyFs.Tests.Learners.SequenceTaggerTests

/// Sentences as CoNLL-U text (ten columns, XPOS "_").
let private conllu (sentences: ConlluSentence[]) =
    sentences
    |> Array.map (fun s -> s.Words |> Array.map (fun w -> sprintf "%d\t%s\t_\t%s\t_\t_\t_\t_\t_\t_" w.Id w.Form w.Upos) |> String.concat "\n")
    |> String.concat "\n\n"
    |> fun text -> text + "\n\n"

/// A tiny treebank of the toy language (train 60, dev 20, test 20 sentences).
let private treebank (dir: TempDir) =
    dir.Write "toy-ud-train.conllu" (conllu (toySentences 11 60)) |> ignore
    dir.Write "toy-ud-dev.conllu" (conllu (toySentences 12 20)) |> ignore
    dir.Write "toy-ud-test.conllu" (conllu (toySentences 13 20)) |> ignore

/// Small networks, a convolutional term of 4 filters of width 2, 2 epochs.
let private tiny =
    { PosTaggingEnergies.quickSetup with
        Pretrain =
            { TrainSentences = 0
              Tagger =
                { SequenceTaggerOptions.defaults with
                    WordDim = 8; FeatureDim = 4; Hidden = 8; Dropout = 0.0; Epochs = 12; BatchSize = 8; LearningRate = 0.02; Patience = 20
                    Vocabulary = { SequenceVocabularyOptions.defaults with MinWordCount = 1 } } }
        MaxTrainLength = 0; SelectionSentences = 0; Global = [ Convolutional (4, 2) ]; Epochs = 3; BatchSize = 8
        NetworkLearningRate = 1e-2; InferenceSteps = 20; RetuneEpochs = 5; CgIterations = 3 }

[<Tests>]
let tests =
    testList "Papers.StructuredPrediction.PosTaggingEnergies" [
        test "relaxed inference on a linear chain with dominant unaries makes no search error; Viterbi's tags make none; worse tags count" {
            Scope.run (fun () ->
                let ctx = Context.cpu64
                use rng = new Rng(5L, ctx.Device)
                let b, t, l = 6L, 7L, 4L
                let mask = (torch.arange (0L, t)).unsqueeze(0L).lt ((Tensor.indices torch.CPU [| 7L; 5L; 3L; 7L; 1L; 6L |]).unsqueeze 1L)
                let unary = Tensor.randn rng ctx [ b; t; l ] * 10.0
                let transitions = Tensor.randn rng ctx [ l; l ] * 0.1
                let scores = ChainScores.create unary transitions
                let energy y = LinearChainEnergy.ofScores unary transitions mask y
                let y = SequenceInference.entropic 0.0 { SequenceInference.entropicDefaults with MaxIterations = 100 } energy (SequenceInference.uniformStart b t l unary)
                Expect.equal (SequenceMetrics.searchErrors 1e-6 mask scores (SequenceInference.tags y)) (0L, b) "relaxed inference finds Viterbi's optimum"
                use best = LinearChain.viterbi mask scores
                Expect.equal (SequenceMetrics.searchErrors 1e-6 mask scores best.Tags) (0L, b) "Viterbi's own tags"
                // Strong transitions, weak unaries: the per-position argmax of the unaries is not optimal.
                let chain = ChainScores.create (unary * 0.01) (Tensor.randn rng ctx [ l; l ] * 5.0)
                let errors, _ = SequenceMetrics.searchErrors 1e-6 mask chain (unary.argmax -1L)
                Expect.isGreaterThan errors 0L "the unaries' argmax is a search error somewhere")
        }
        test "spen, infnet and implicit train end to end on a tiny treebank and stay near the CRF they start from" {
            use dir = new TempDir()
            treebank dir
            for training in [ EnergyTraining.Spen; EnergyTraining.Infnet; EnergyTraining.Implicit ] do
                let r = PosTaggingEnergies.runOnFolder tiny training ignore dir.Path
                let name = EnergyTraining.name training
                Expect.isGreaterThan r.CrfDevAccuracy 90.0 (sprintf "%s: the pretrained CRF learns the toy language (%.1f)" name r.CrfDevAccuracy)
                Expect.isGreaterThan r.DevAccuracy (r.CrfDevAccuracy - 5.0) (sprintf "%s: dev %.1f vs CRF %.1f" name r.DevAccuracy r.CrfDevAccuracy)
                Expect.isGreaterThan r.TestAccuracy (r.CrfTestAccuracy - 5.0) (sprintf "%s: test %.1f vs CRF %.1f" name r.TestAccuracy r.CrfTestAccuracy)
                Expect.isTrue (r.SearchError >= 0.0 && r.SearchError <= 100.0) (sprintf "%s: search error %.1f %%" name r.SearchError)
                Expect.isGreaterThan r.TokensPerSecondBatch1 0.0 "decoding speed at batch 1"
                Expect.isGreaterThan r.TokensPerSecondBatch256 0.0 "decoding speed at batch 256"
                Expect.isGreaterThan r.ViterbiTokensPerSecondBatch256 0.0 "Viterbi speed"
                Expect.equal r.Energy "linear-chain+conv" "the energy's terms"
            let again = PosTaggingEnergies.runOnFolder tiny EnergyTraining.Spen ignore dir.Path
            let first = PosTaggingEnergies.runOnFolder tiny EnergyTraining.Spen ignore dir.Path
            Expect.equal again.DevAccuracy first.DevAccuracy "same seed, same result"
        }
        test "the timed decoders (from word indices) return the tags of the evaluated ones (from precomputed inputs)" {
            let ctx = tiny.Pretrain.Tagger.Context
            use tagger = SequenceTagger.fit tiny.Pretrain.Tagger (toySentences 21 40) None
            let sentences = toySentences 22 9 |> Array.map (SequenceVocabulary.encode tagger.Vocabulary)
            Scope.run (fun () ->
                use rng = new Rng(3L, ctx.Device)
                let theta = PosTaggingEnergies.initialEnergy rng ctx tagger.Net tiny |> Structured.tensors
                let svm = PosTaggingEnergies.svmOptions tiny 0L
                let psi = BiLstmTaggerNetwork.blocks tagger.Net |> Structured.tensors
                let d = PosTaggingEnergies.examples ctx tagger.Net sentences
                use batch = SequenceBatches.sequential ctx.Device sentences.Length sentences |> Seq.exactlyOne
                let same (name: string) (a: TorchSharp.torch.Tensor) (b: TorchSharp.torch.Tensor) =
                    Expect.equal (a.masked_select(batch.Mask).data<int64>().ToArray()) (b.masked_select(batch.Mask).data<int64>().ToArray()) name
                Diff.noGrad (fun () ->
                    same "relaxed inference" (PosTaggingEnergies.relaxedBatchDecode svm theta tagger.Net batch) (PosTaggingEnergies.relaxedDecode svm theta tagger.Net.Shape.Labels d)
                    use exported = BiLstmTaggerNetwork.withBlocks psi tagger.Net
                    same "inference network" (PosTaggingEnergies.networkBatchDecode exported batch) (PosTaggingEnergies.networkDecode psi d)))
            Expect.isGreaterThan (SequenceMetrics.tokensPerSecond ctx.Device (fun b -> b.Tags) 4 sentences) 0.0 "a speed"
            Expect.throws (fun () -> SequenceMetrics.tokensPerSecond ctx.Device (fun b -> b.Tags) 0 sentences |> ignore) "batch size 0 is refused"
        }
        test "method names round-trip and unknown global terms are refused" {
            for m in [ EnergyTraining.Spen; EnergyTraining.Infnet; EnergyTraining.Implicit ] do Expect.equal (EnergyTraining.tryParse (EnergyTraining.name m)) (Some m) "round trip"
            Expect.equal (EnergyTraining.tryParse "crf") None "crf is not an energy method"
        }
    ]
