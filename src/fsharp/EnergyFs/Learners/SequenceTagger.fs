namespace EnergyFs.Learners

open System
open System.Diagnostics
open TorchSharp
open EnergyFs
open EnergyFs.Data
open EnergyFs.Sequences
open EnergyFs.Losses
open EnergyFs.Models
open EnergyFs.Training
open EnergyFs.Metrics

/// The training loss of a sequence tagger (all on the same BiLSTM feature network).
type TaggerLoss =
    /// The CRF loss (the Shannon Fenchel-Young loss over the chain's marginal polytope), decoded
    /// with Viterbi: the linear-chain baseline (Lafferty et al. 2001; Huang et al. 2015).
    | Crf
    /// The SparseMAP Fenchel-Young loss (Niculae et al. 2018), decoded with Viterbi; solved to
    /// `SequenceTagger.trainingSparseMap` (an approximate μ* gives an approximate gradient).
    | SparseMapLoss
    /// Independent per-position softmax cross-entropy (no transitions), decoded position by
    /// position: the BiLSTM baseline.
    | Softmax

/// Names of the tagger losses.
[<RequireQualifiedAccess>]
module TaggerLoss =
    /// "crf", "sparsemap" or "softmax".
    let name = function Crf -> "crf" | SparseMapLoss -> "sparsemap" | Softmax -> "softmax"
    /// The loss of a name written by `name`; fails naming the known ones.
    let parse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "crf" -> Crf
        | "sparsemap" -> SparseMapLoss
        | "softmax" | "bilstm" -> Softmax
        | other -> invalidArg "loss" (sprintf "unknown tagger loss '%s' (expected crf, sparsemap or softmax)" other)

/// Settings of a sequence tagger; start from `SequenceTaggerOptions.defaults`.
type SequenceTaggerOptions =
    { /// The training loss (default CRF).
      Loss: TaggerLoss
      /// The vocabularies (words, shapes, suffixes, tag column).
      Vocabulary: SequenceVocabularyOptions
      /// Word embedding width (default 100).
      WordDim: int
      /// Shape and suffix embedding width (default 20).
      FeatureDim: int
      /// LSTM hidden units per direction (default 100).
      Hidden: int
      /// Dropout on embeddings and LSTM outputs (default 0.25).
      Dropout: float
      /// Maximum epochs (default 20).
      Epochs: int
      /// Epochs without a better dev token accuracy before stopping; the best epoch is restored
      /// (default 3). Only used when a dev set is given.
      Patience: int
      /// Sentences per batch (default 32), bucketed by length.
      BatchSize: int
      /// Adam learning rate (default 2e-3).
      LearningRate: float
      /// Gradient-norm clipping (default 5).
      ClipNorm: float
      /// Seed of the initialisation and the batch order (default 0).
      Seed: int64
      /// Device and dtype (default CPU float32).
      Context: Context
      /// Step and epoch callbacks and cancellation.
      Monitor: FitMonitor }

/// Defaults of SequenceTaggerOptions.
[<RequireQualifiedAccess>]
module SequenceTaggerOptions =
    /// CRF loss, UPOS, word 100 / features 20 / hidden 100 per direction, dropout 0.25, ≤ 20 epochs with
    /// patience 3 on dev accuracy, batch 32, Adam 2e-3, clipping 5, seed 0, CPU float32.
    let defaults =
        { Loss = Crf; Vocabulary = SequenceVocabularyOptions.defaults; WordDim = 100; FeatureDim = 20; Hidden = 100
          Dropout = 0.25; Epochs = 20; Patience = 3; BatchSize = 32; LearningRate = 2e-3; ClipNorm = 5.0; Seed = 0L
          Context = Context.cpu; Monitor = FitMonitor.none }

/// A trained tagger: its network, vocabularies, options and training history. Owns the network.
type FittedSequenceTagger =
    { /// The trained network (unary scores and transitions).
      Net: BiLstmTaggerNetwork
      /// The vocabularies built from the training sentences.
      Vocabulary: SequenceVocabulary
      /// The options it was trained with.
      Options: SequenceTaggerOptions
      /// Per-epoch history (train_loss, grad_norm, lr, seconds, dev_accuracy when a dev set was given).
      History: TrainingHistory
      /// The epoch (0-based) whose parameters the model holds.
      BestEpoch: int }
    interface IDisposable with
        member t.Dispose() = t.Net.Dispose()

/// Neural sequence taggers on the linear chain: a BiLSTM feature network (`BiLstmTaggerNetwork`)
/// trained with the CRF loss (the strong baseline of Tu & Gimpel 2018, arXiv 1803.03376, and Tu,
/// Pang & Gimpel 2020, arXiv 2005.04231), the SparseMAP loss, or an independent softmax, through
/// `Fit.run`; Viterbi decoding for the chain losses.
[<RequireQualifiedAccess>]
module SequenceTagger =

    /// The network's shape for a vocabulary under the options.
    let shapeOf (options: SequenceTaggerOptions) (vocabulary: SequenceVocabulary) : BiLstmTaggerShape =
        { Words = vocabulary.Words.Count; Shapes = vocabulary.Shapes.Count
          Suffixes = vocabulary.Suffixes |> Array.map (fun v -> v.Count) |> List.ofArray
          Labels = vocabulary.Tags.Length; WordDim = options.WordDim; FeatureDim = options.FeatureDim
          Hidden = options.Hidden; Dropout = options.Dropout }

    /// A fresh network for a vocabulary, drawn from `rng`.
    let create (options: SequenceTaggerOptions) (rng: Rng) (vocabulary: SequenceVocabulary) : BiLstmTaggerNetwork =
        BiLstmTaggerNetwork.create rng options.Context (shapeOf options vocabulary)

    /// The SparseMAP solver settings of training: at most 50 oracle calls, gap tolerance 1e-6 (the
    /// near-uniform scores of an untrained network have large supports).
    let trainingSparseMap = { MaxIterations = 50; Tolerance = 1e-6 }

    /// The mean loss per sentence of a batch.
    let loss (options: SequenceTaggerOptions) (net: BiLstmTaggerNetwork) (batch: SequenceBatch) : Tensor =
        Scope.tensor (fun () ->
            match options.Loss with
            | Crf -> (SequenceFenchelYoung.crf batch.Mask (net.ChainScores batch) batch.Tags).mean ()
            | SparseMapLoss -> (SequenceFenchelYoung.sparseMapWith trainingSparseMap batch.Mask (net.ChainScores batch) batch.Tags).mean ()
            | Softmax ->
                let unary = net.forward batch
                let logp = torch.nn.functional.log_softmax (unary, 2L)
                let picked = logp.gather(2L, batch.Tags.unsqueeze 2L).squeeze 2L
                let real = batch.Mask.to_type picked.dtype
                -(picked * real).sum () / float batch.Indices.Length)

    /// The predicted labels [B, T] of a batch (0 at padding): Viterbi for the chain losses, the
    /// per-position argmax for the softmax.
    let decode (options: SequenceTaggerOptions) (net: BiLstmTaggerNetwork) (batch: SequenceBatch) : Tensor =
        Diff.noGrad (fun () ->
            Scope.tensor (fun () ->
                match options.Loss with
                | Crf | SparseMapLoss ->
                    let result = LinearChain.viterbi batch.Mask (net.ChainScores batch)
                    result.Score.Dispose ()
                    result.Tags
                | Softmax -> (net.forward batch).argmax(2L).masked_fill (batch.Mask.logical_not (), Pinned.intScalar 0L)))

    /// Token accuracy of the network on encoded sentences (eval mode, batches of `batchSize`).
    let accuracy (options: SequenceTaggerOptions) (net: BiLstmTaggerNetwork) (batchSize: int) (sentences: EncodedSentence[]) : float =
        net.eval ()
        let mutable correct, total = 0L, 0L
        for b in SequenceBatches.sequential options.Context.Device batchSize sentences do
            use batch = b
            use predicted = decode options net batch
            let c, n = SequenceMetrics.correctTokens batch.Mask batch.Tags predicted
            correct <- correct + c
            total <- total + n
        if total = 0L then nan else float correct / float total

    /// Trains a tagger on training sentences; with dev sentences, the dev token accuracy is
    /// computed after every epoch, early stopping watches it and the best epoch is restored.
    let fit (options: SequenceTaggerOptions) (train: ConlluSentence[]) (dev: ConlluSentence[] option) : FittedSequenceTagger =
        Checks.positiveInt "BatchSize" options.BatchSize
        Checks.positive "LearningRate" options.LearningRate
        let vocabulary = SequenceVocabulary.build options.Vocabulary train
        let encodedTrain = train |> Array.map (SequenceVocabulary.encode vocabulary)
        let encodedDev = dev |> Option.map (Array.map (SequenceVocabulary.encode vocabulary))
        use rng = new Rng(options.Seed, options.Context.Device)
        let net = create options rng vocabulary
        try
            let task =
                { Model = net
                  Batches = fun rng _ -> SequenceBatches.bucketed rng options.Context.Device options.BatchSize encodedTrain
                  BatchesPerEpoch = SequenceBatches.count options.BatchSize encodedTrain.Length
                  Loss = loss options net
                  Validate = encodedDev |> Option.map (fun d () -> [ "dev_accuracy", accuracy options net 256 d ]) }
            let fitOptions =
                { FitOptions.defaults with
                    Epochs = options.Epochs; Seed = options.Seed; Monitor = options.Monitor
                    Optimizer = OptimizerOptions.adam options.LearningRate |> OptimizerOptions.withClipping options.ClipNorm
                    EarlyStopping = encodedDev |> Option.map (fun _ -> { Metric = "dev_accuracy"; Goal = Maximize; Patience = options.Patience })
                    RestoreBest = encodedDev.IsSome }
            let result = Fit.run fitOptions task
            net.eval ()
            { Net = net; Vocabulary = vocabulary; Options = options; History = result.History
              BestEpoch = (if encodedDev.IsSome then result.State.BestEpoch else result.State.Epoch - 1) }
        with _ ->
            net.Dispose ()
            reraise ()

    /// Token accuracy of a fitted tagger on tagged sentences.
    let evaluate (tagger: FittedSequenceTagger) (sentences: ConlluSentence[]) : float =
        sentences |> Array.map (SequenceVocabulary.encode tagger.Vocabulary) |> accuracy tagger.Options tagger.Net 256

    /// The tags of the sentences given as word forms (one array of forms per sentence).
    let tag (tagger: FittedSequenceTagger) (sentences: string[][]) : string[][] =
        if sentences |> Array.exists (fun s -> s.Length = 0) then invalidArg "sentences" "every sentence needs at least one word"
        tagger.Net.eval ()
        let encoded = sentences |> Array.map (SequenceVocabulary.encodeForms tagger.Vocabulary)
        [| for b in SequenceBatches.sequential tagger.Options.Context.Device 256 encoded do
            use batch = b
            use predicted = decode tagger.Options tagger.Net batch
            let labels = predicted.cpu().data<int64>().ToArray()
            let t = int batch.Words.shape[1]
            for row, n in Array.indexed batch.Lengths do
                yield Array.init n (fun i -> tagger.Vocabulary.Tags[int labels[row * t + i]]) |]

    /// Decoding speed: tokens per second of `decode` over the sentences at batch size `batchSize`
    /// (one pass, after one warm-up batch).
    let tokensPerSecond (tagger: FittedSequenceTagger) (batchSize: int) (sentences: ConlluSentence[]) : float =
        let encoded = sentences |> Array.map (SequenceVocabulary.encode tagger.Vocabulary)
        tagger.Net.eval ()
        SequenceMetrics.tokensPerSecond tagger.Options.Context.Device (decode tagger.Options tagger.Net) batchSize encoded
