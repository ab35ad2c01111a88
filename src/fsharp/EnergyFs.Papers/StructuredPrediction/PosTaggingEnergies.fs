namespace EnergyFs.Papers.StructuredPrediction

open System
open System.Diagnostics
open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Data
open EnergyFs.Sequences
open EnergyFs.Models
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Training
open EnergyFs.Learners
open EnergyFs.Metrics

/// How the structured energy over label sequences is trained and decoded.
[<RequireQualifiedAccess>]
type EnergyTraining =
    /// Structured SVM with relaxed gradient-based inference (entropic mirror descent over the
    /// per-position simplices), decoded by the same inference rounded per position (Belanger &
    /// McCallum 2016; Tu & Gimpel 2018, arXiv 1803.03376, §7).
    | Spen
    /// Inference networks trained jointly with the energy, the cost-augmented network Φ, then a
    /// test-time network Ψ retuned from Φ with the energy fixed (Tu & Gimpel 2018, §3).
    | Infnet
    /// Implicit training: the energy follows the hypergradient of the network's cross-entropy
    /// through the inner energy minimisation (Shankar & Piratla 2022, arXiv 2211.11649, §3).
    | Implicit

/// Names of the energy-training methods.
[<RequireQualifiedAccess>]
module EnergyTraining =
    /// "spen", "infnet" or "implicit".
    let name = function EnergyTraining.Spen -> "spen" | EnergyTraining.Infnet -> "infnet" | EnergyTraining.Implicit -> "implicit"
    /// The method of a name written by `name`, or None.
    let tryParse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "spen" -> Some EnergyTraining.Spen
        | "infnet" -> Some EnergyTraining.Infnet
        | "implicit" -> Some EnergyTraining.Implicit
        | _ -> None

/// A global term of the energy, added to the linear chain (Tu, Pang & Gimpel 2020, arXiv 2005.04231, §3).
type GlobalLabelTerm =
    /// `ConvolutionalLabelEnergy` with this many filters of this width.
    | Convolutional of filters: int * width: int
    /// `LabelLanguageModelEnergy` with this many LSTM units.
    | LabelLanguageModel of hidden: int

/// A configuration of the energy experiments on POS tagging; start from `PosTaggingEnergies.setup`.
type PosEnergySetup =
    { /// The feature network's pretraining (CRF loss) and the training sentences.
      Pretrain: PosTaggingSetup
      /// Energy training reads the training sentences of at most this many words (0: all).
      MaxTrainLength: int
      /// Dev sentences that select the epoch (the first N; 0: all). Reported accuracies use all of dev.
      SelectionSentences: int
      /// The global terms added to the linear chain, each with weight 1.
      Global: GlobalLabelTerm list
      /// Epochs of energy training (the best on dev restored, retuning epochs for infnet apart).
      Epochs: int
      /// Sentences per step.
      BatchSize: int
      /// Adam learning rate of the energy θ.
      EnergyLearningRate: float
      /// Adam learning rate of the inference networks (infnet, implicit).
      NetworkLearningRate: float
      /// Steps of relaxed inference (spen, and the search-error measurement).
      InferenceSteps: int
      /// τ of relaxed inference: it minimises E(ȳ) − τ Σ_t H(ȳ_t) (spen).
      Entropy: float
      /// Epochs of test-time retuning of Ψ (infnet).
      RetuneEpochs: int
      /// Inner steps per outer step (implicit).
      InnerSteps: int
      /// Conjugate-gradient iterations per hypergradient (implicit).
      CgIterations: int }

/// The outcome of one energy run.
type PosEnergyResult =
    { /// The seed of the run.
      Seed: int64
      /// spen, infnet or implicit.
      Method: string
      /// The energy's terms ("linear-chain+conv").
      Energy: string
      /// UPOS token accuracy on dev (%).
      DevAccuracy: float
      /// UPOS token accuracy on test (%).
      TestAccuracy: float
      /// The pretrained CRF's dev accuracy with Viterbi (%), the starting point.
      CrfDevAccuracy: float
      /// The pretrained CRF's test accuracy (%).
      CrfTestAccuracy: float
      /// Search error (%) on dev: sentences where relaxed gradient-based inference on the trained
      /// energy's linear-chain part returns tags scoring lower on that chain than Viterbi's.
      SearchError: float
      /// Sentences (%) on dev whose inference-network tags score lower on the linear-chain part
      /// than Viterbi's (NaN for spen); the global term can make that the intended answer.
      NetworkBelowViterbi: float
      /// Decoding speed of the method's own decoder, tokens per second, at batch 1 (the first 200 dev
      /// sentences) and batch 256 (all of dev), from word indices: embeddings, networks and
      /// inference all timed (`PosTaggingEnergies.tokensPerSecond`).
      TokensPerSecondBatch1: float
      /// The same at batch 256.
      TokensPerSecondBatch256: float
      /// Viterbi decoding by the pretrained CRF tagger (embeddings, BiLSTM, Viterbi) in the same
      /// process, at batch 1 (`SequenceTagger.tokensPerSecond`): the like-for-like reference.
      ViterbiTokensPerSecondBatch1: float
      /// The same at batch 256.
      ViterbiTokensPerSecondBatch256: float
      /// The selected epoch (1-based; 0: the starting point).
      BestEpoch: int
      /// Wall seconds of pretraining plus energy training (evaluation excluded).
      Seconds: float }

/// The SPEN family on UD English EWT UPOS tagging (issue #14): an energy over relaxed label
/// sequences, E_θ(x, ȳ) = linear chain on the features F(x) of a pretrained CRF tagger + global
/// terms (convolutional and/or label language model; Tu, Pang & Gimpel 2020, arXiv 2005.04231),
/// trained by the structured SVM with gradient-based inference, by inference networks (Tu &
/// Gimpel 2018, arXiv 1803.03376) or implicitly (Shankar & Piratla 2022, arXiv 2211.11649). As
/// SPEN pretrains its features (Belanger & McCallum 2016, and `SpenExperiment`), F(x) are the
/// hidden states of a CRF-trained BiLSTM (`SequenceTagger`), fixed during energy training; the
/// linear chain starts from that CRF's output layer and transitions, and the inference networks
/// start from its BiLSTM (`BiLstmTaggerNetwork.blocks`) reading its embeddings. Epochs are
/// selected on dev accuracy; test is read once.
[<RequireQualifiedAccess>]
module PosTaggingEnergies =

    /// The full configuration: all of EWT for pretraining (the tagger defaults), energy training on
    /// sentences of ≤ 60 words, a convolutional term (50 filters of width 3), 10 epochs, batch 32.
    let setup =
        { Pretrain = PosTagging.setup; MaxTrainLength = 60; SelectionSentences = 0; Global = [ Convolutional (50, 3) ]
          Epochs = 10; BatchSize = 32; EnergyLearningRate = 1e-3; NetworkLearningRate = 5e-4; InferenceSteps = 30
          Entropy = 0.1; RetuneEpochs = 3; InnerSteps = 2; CgIterations = 5 }

    /// The quick configuration: 2,000 training sentences, 2 CRF epochs; energy training on those of
    /// ≤ 25 words for 2 epochs, 500 dev sentences to select the epoch, 20 inference steps, 1
    /// retuning epoch, 3 CG iterations.
    let quickSetup =
        { setup with
            Pretrain = PosTagging.quickSetup; MaxTrainLength = 25; SelectionSentences = 500; Epochs = 2
            InferenceSteps = 20; RetuneEpochs = 1; CgIterations = 3 }

    /// The energy: the linear chain plus the global terms.
    let energyTerm (setup: PosEnergySetup) : SequenceEnergyTerm =
        let globals =
            setup.Global |> List.map (function
                | Convolutional _ -> 1.0, ConvolutionalLabelEnergy.term
                | LabelLanguageModel _ -> 1.0, LabelLanguageModelEnergy.term)
        SequenceEnergy.sum ((1.0, LinearChainEnergy.term) :: globals)

    /// θ of the energy: the linear chain from the pretrained network (B = [W_out | b_out], since the
    /// features end with a constant 1; W = its transitions), the global terms drawn from `rng`.
    let initialEnergy (rng: Rng) (ctx: Context) (net: BiLstmTaggerNetwork) (setup: PosEnergySetup) : Parameter list =
        let labels = net.Shape.Labels
        let chain =
            Diff.noGrad (fun () ->
                match net.Blocks () with
                | blocks when blocks.Length = 8 ->
                    let w, b = blocks[6] :> Tensor, blocks[7] :> Tensor
                    let local = torch.cat (ResizeArray [ w; b.unsqueeze 1L ], 1L)
                    let result = [ new Parameter (local, true); new Parameter (net.Transitions.detach().clone (), true) ]
                    Scope.disposeAll (Structured.tensors blocks)
                    result
                | blocks -> invalidArg "net" (sprintf "expected 8 BiLSTM blocks, got %d" blocks.Length))
        let globals =
            setup.Global |> List.collect (function
                | Convolutional (filters, width) -> ConvolutionalLabelEnergy.create rng ctx labels filters width
                | LabelLanguageModel hidden -> LabelLanguageModelEnergy.create rng ctx labels hidden)
        chain @ globals

    /// The examples of encoded sentences under a pretrained network (evaluation mode, no gradient):
    /// inputs x = its embeddings [B, T, D], features F(x) = [its BiLSTM states; 1] [B, T, 2h + 1],
    /// one-hot gold labels and the mask, padded to the longest sentence.
    let examples (ctx: Context) (net: BiLstmTaggerNetwork) (sentences: EncodedSentence[]) : LabelledExamples =
        if sentences.Length = 0 then invalidArg "sentences" "no sentence to encode"
        net.eval ()
        let longest = sentences |> Array.map (fun s -> s.Length) |> Array.max |> int64
        let pad (x: Tensor) = torch.nn.functional.pad (x, [| 0L; 0L; 0L; longest - x.shape[1] |])
        let parts =
            Diff.noGrad (fun () ->
                [ for chunk in Array.chunkBySize 256 [| 0 .. sentences.Length - 1 |] ->
                    Scope.tensors (fun () ->
                        use batch = SequenceBatches.make ctx.Device sentences chunk
                        let x = net.Embed batch
                        let h = net.Features batch
                        let f = torch.cat (ResizeArray [ h; torch.ones ([| h.shape[0]; h.shape[1]; 1L |], dtype = h.dtype, device = h.device) ], 2L)
                        let y = SequenceInference.oneHot (int64 net.Shape.Labels) batch.Mask batch.Tags x
                        let mask = torch.nn.functional.pad (batch.Mask.to_type torch.ScalarType.Int64, [| 0L; longest - batch.Mask.shape[1] |])
                        [ pad x; pad f; pad y; mask.gt (Pinned.intScalar 0L) ]) ])
        let cat (i: int) = Tensor.cat 0 (parts |> List.map (fun p -> p[i]))
        let result = { Inputs = cat 0; Features = cat 1; Labels = cat 2; Mask = Some (cat 3) }
        for p in parts do Scope.disposeAll p
        result

    /// Evaluation chunks of at most 256 sentences, sorted by length (each padded to its own longest).
    let chunks (ctx: Context) (net: BiLstmTaggerNetwork) (sentences: EncodedSentence[]) : LabelledExamples list =
        sentences |> Array.sortBy (fun s -> s.Length) |> Array.chunkBySize 256 |> Array.map (examples ctx net) |> List.ofArray

    /// Token accuracy of `decode` (examples ↦ tags [B, T]) over evaluation chunks.
    let accuracy (decode: LabelledExamples -> Tensor) (data: LabelledExamples list) : float =
        let mutable correct, total = 0L, 0L
        for d in data do
            Scope.run (fun () ->
                let predicted = Diff.noGrad (fun () -> decode d)
                let c, n = SequenceMetrics.correctTokens d.Mask.Value (d.Labels.argmax -1L) predicted
                correct <- correct + c
                total <- total + n)
        float correct / float (max 1L total)

    /// The linear-chain part of θ (its first two blocks) as chain scores of examples.
    let chainScores (theta: Tensor list) (d: LabelledExamples) : ChainScores =
        ChainScores.create (LinearChainEnergy.unary (List.take 2 theta) d.Features) theta[1]

    /// (errors, sentences) of `decode` against Viterbi on the linear-chain part of θ, summed over
    /// chunks (`SequenceMetrics.searchErrors`, tolerance 1e-4).
    let searchErrors (theta: Tensor list) (decode: LabelledExamples -> Tensor) (data: LabelledExamples list) : int64 * int64 =
        data
        |> List.map (fun d ->
            Scope.run (fun () ->
                let tags = Diff.noGrad (fun () -> decode d)
                Diff.noGrad (fun () -> SequenceMetrics.searchErrors 1e-4 d.Mask.Value (chainScores theta d) tags)))
        |> List.fold (fun (a, b) (c, d) -> a + c, b + d) (0L, 0L)

    /// The energy's input features of a batch under the pretrained network: [its BiLSTM states; 1].
    let batchFeatures (net: BiLstmTaggerNetwork) (batch: SequenceBatch) : Tensor =
        let h = net.Features batch
        torch.cat (ResizeArray [ h; torch.ones ([| h.shape[0]; h.shape[1]; 1L |], dtype = h.dtype, device = h.device) ], 2L)

    /// The structured SVM options of the setup (relaxed inference: entropic mirror descent).
    let svmOptions (setup: PosEnergySetup) (seed: int64) : StructuredSvmOptions =
        { StructuredSvm.sequence setup.Entropy (SequenceEnergy.structured (energyTerm setup)) with
            Epochs = setup.Epochs; BatchSize = setup.BatchSize; Seed = seed
            Optimizer = OptimizerOptions.adam setup.EnergyLearningRate
            Inference = SequenceInference.entropic setup.Entropy { SequenceInference.entropicDefaults with MaxIterations = setup.InferenceSteps } }

    /// Relaxed gradient-based decoding with `options` (θ fixed), rounded per position.
    let relaxedDecode (options: StructuredSvmOptions) (theta: Tensor list) (labels: int) (d: LabelledExamples) : Tensor =
        SequenceInference.tags (StructuredSvm.predictMasked options theta d.Features d.Mask labels)

    /// Decoding by an inference network ψ (per-position argmax of A_ψ(x)).
    let networkDecode (psi: Tensor list) (d: LabelledExamples) : Tensor =
        SequenceInference.tags (StructuredOutputs.predict StructuredOutputs.sequence psi d.Mask d.Inputs)

    /// `relaxedDecode` from a batch's word indices (the feature BiLSTM included).
    let relaxedBatchDecode (options: StructuredSvmOptions) (theta: Tensor list) (net: BiLstmTaggerNetwork) (batch: SequenceBatch) : Tensor =
        SequenceInference.tags (StructuredSvm.predictMasked options theta (batchFeatures net batch) (Some batch.Mask) net.Shape.Labels)

    /// `networkDecode` from a batch's word indices, by `exported`, a network holding ψ
    /// (`BiLstmTaggerNetwork.withBlocks ψ`: the fused LSTM kernel, the same tags): the per-position
    /// argmax of its scores.
    let networkBatchDecode (exported: BiLstmTaggerNetwork) (batch: SequenceBatch) : Tensor =
        exported.forward(batch).argmax -1L

    /// The epoch (1-based, 0 for the start) of the best validation among epoch records.
    let private bestEpoch (records: EpochRecord list) =
        match records |> List.filter (fun r -> not (Double.IsNaN r.Validation)) with
        | [] -> records.Length
        | rs -> (rs |> List.maxBy (fun r -> r.Validation)).Epoch

    /// Pretrains the CRF, trains the energy by `method`, and evaluates on dev and test; `report`
    /// receives (fraction done, description).
    let runOnFolder (setup: PosEnergySetup) (method: EnergyTraining) (report: float * string -> unit) (folder: string) : PosEnergyResult =
        let ctx = setup.Pretrain.Tagger.Context
        let seed = setup.Pretrain.Tagger.Seed
        let train = Conllu.readSplit folder "train"
        let train = if setup.Pretrain.TrainSentences > 0 then Array.truncate setup.Pretrain.TrainSentences train else train
        let dev, test = Conllu.readSplit folder "dev", Conllu.readSplit folder "test"
        let watch = Stopwatch.StartNew ()
        let crfOptions = { setup.Pretrain.Tagger with Loss = Crf }
        let monitor = { crfOptions.Monitor with OnProgress = fun p -> report (0.3 * p.Fraction, sprintf "CRF pretraining epoch %d/%d" (p.Epoch + 1) p.Epochs) }
        use tagger = SequenceTagger.fit { crfOptions with Monitor = monitor } train (Some dev)
        let crfDev, crfTest = 100.0 * SequenceTagger.evaluate tagger dev, 100.0 * SequenceTagger.evaluate tagger test
        let encode = Array.map (SequenceVocabulary.encode tagger.Vocabulary)
        let energyTrain = encode train |> Array.filter (fun s -> setup.MaxTrainLength <= 0 || s.Length <= setup.MaxTrainLength)
        let devEncoded, testEncoded = encode dev, encode test
        let selection = if setup.SelectionSentences > 0 then Array.truncate setup.SelectionSentences devEncoded else devEncoded
        Scope.run (fun () ->
            let data = examples ctx tagger.Net energyTrain
            let devChunks, testChunks, selectionChunks = chunks ctx tagger.Net devEncoded, chunks ctx tagger.Net testEncoded, chunks ctx tagger.Net selection
            use rng = new Rng(seed, ctx.Device)
            let theta = initialEnergy rng ctx tagger.Net setup
            let th = Structured.tensors theta
            let labels = tagger.Net.Shape.Labels
            let svm = svmOptions setup seed
            let progress (f, text) = report (0.3 + 0.7 * f, text)
            // (the decoder, the epoch kept, the inference network's blocks for infnet and implicit)
            let decode, best, network =
                match method with
                | EnergyTraining.Spen ->
                    let decode = relaxedDecode svm th labels
                    let records = StructuredSvm.train svm (fun () -> accuracy decode selectionChunks) progress theta data
                    decode, bestEpoch records, None
                | EnergyTraining.Infnet ->
                    let phi = BiLstmTaggerNetwork.blocks tagger.Net
                    let options =
                        { InferenceNetworks.sequence svm.Energy with
                            Epochs = setup.Epochs; BatchSize = setup.BatchSize; Seed = seed; RetuneEpochs = setup.RetuneEpochs
                            EnergyOptimizer = OptimizerOptions.adam setup.EnergyLearningRate
                            NetworkOptimizer = OptimizerOptions.adam setup.NetworkLearningRate }
                    InferenceNetworks.train options (fun () -> nan) progress theta phi data |> ignore
                    let psi = FunctionalMlp.copy phi
                    let decode = networkDecode (Structured.tensors psi)
                    let retuned = InferenceNetworks.retune options (fun () -> accuracy decode selectionChunks) th (Structured.tensors phi) psi data
                    decode, bestEpoch retuned, Some (Structured.tensors psi)
                | EnergyTraining.Implicit ->
                    let psi = BiLstmTaggerNetwork.blocks tagger.Net
                    let options =
                        { ImplicitStructured.sequence svm.Energy with
                            Epochs = setup.Epochs; BatchSize = setup.BatchSize; Seed = seed; InnerSteps = setup.InnerSteps
                            InnerOptimizer = OptimizerOptions.adam setup.NetworkLearningRate
                            OuterOptimizer = OptimizerOptions.adam setup.EnergyLearningRate; EntropyWeight = -1.0 }
                        |> ImplicitStructured.wellPosed 1e-2 0 setup.CgIterations
                    let decode = networkDecode (Structured.tensors psi)
                    let records, _ = ImplicitStructured.train options (fun () -> accuracy decode selectionChunks) progress theta psi data
                    decode, bestEpoch records, Some (Structured.tensors psi)
            let seconds = watch.Elapsed.TotalSeconds
            let chainOnly = { svm with Energy = SequenceEnergy.structured LinearChainEnergy.term }
            let percent (e: int64, n: int64) = 100.0 * float e / float (max 1L n)
            // Timed decoding: relaxed inference (spen), or the network's blocks in the fused-LSTM copy.
            let exported = network |> Option.map (fun psi -> BiLstmTaggerNetwork.withBlocks psi tagger.Net)
            try
                let batchDecode = match exported with Some e -> networkBatchDecode e | None -> relaxedBatchDecode svm th tagger.Net
                tagger.Net.eval ()
                { Seed = seed; Method = EnergyTraining.name method; Energy = (energyTerm setup).Name
                  DevAccuracy = 100.0 * accuracy decode devChunks; TestAccuracy = 100.0 * accuracy decode testChunks
                  CrfDevAccuracy = crfDev; CrfTestAccuracy = crfTest
                  SearchError = percent (searchErrors th (relaxedDecode chainOnly (List.take 2 th) labels) devChunks)
                  NetworkBelowViterbi = (match network with Some _ -> percent (searchErrors th decode devChunks) | None -> nan)
                  TokensPerSecondBatch1 = SequenceMetrics.tokensPerSecond ctx.Device batchDecode 1 (Array.truncate 200 devEncoded)
                  TokensPerSecondBatch256 = SequenceMetrics.tokensPerSecond ctx.Device batchDecode 256 devEncoded
                  ViterbiTokensPerSecondBatch1 = SequenceTagger.tokensPerSecond tagger 1 (Array.truncate 200 dev)
                  ViterbiTokensPerSecondBatch256 = SequenceTagger.tokensPerSecond tagger 256 dev
                  BestEpoch = best; Seconds = seconds }
            finally
                exported |> Option.iter (fun e -> e.Dispose ()))

    /// The metrics of a run, for reports and JSON.
    let metrics (r: PosEnergyResult) : (string * float) list =
        [ "dev_accuracy", r.DevAccuracy; "test_accuracy", r.TestAccuracy; "crf_dev_accuracy", r.CrfDevAccuracy
          "crf_test_accuracy", r.CrfTestAccuracy; "search_error", r.SearchError; "network_below_viterbi", r.NetworkBelowViterbi
          "tokens_per_second_batch1", r.TokensPerSecondBatch1
          "tokens_per_second_batch256", r.TokensPerSecondBatch256; "viterbi_tokens_per_second_batch1", r.ViterbiTokensPerSecondBatch1
          "viterbi_tokens_per_second_batch256", r.ViterbiTokensPerSecondBatch256; "best_epoch", float r.BestEpoch; "seconds", r.Seconds ]
