namespace EnergyFs.Papers.StructuredPrediction

open System
open System.Diagnostics
open EnergyFs
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Training

/// A configuration of the part-of-speech tagging experiment.
type PosTaggingSetup =
    { /// Training sentences used (the first N of the train split; 0: all 12,544).
      TrainSentences: int
      /// The tagger's options (loss, sizes, epochs, seed, context).
      Tagger: SequenceTaggerOptions }

/// The outcome of one run.
type PosTaggingResult =
    { /// The seed of the run.
      Seed: int64
      /// The tagger's loss.
      Method: string
      /// UPOS token accuracy on dev (%).
      DevAccuracy: float
      /// UPOS token accuracy on test (%).
      TestAccuracy: float
      /// Epochs trained (the best one on dev restored).
      Epochs: int
      /// Wall seconds of the fit (evaluation excluded).
      Seconds: float
      /// Decoding speed, tokens per second, at batch 1 (the first 200 dev sentences) and batch 256 (all dev).
      TokensPerSecondBatch1: float
      /// Decoding speed at batch 256.
      TokensPerSecondBatch256: float }

/// Part-of-speech tagging on UD English EWT (UPOS, gold tokenization, no pretrained embeddings):
/// the CRF baseline of Tu & Gimpel 2018 (arXiv 1803.03376) and Tu, Pang & Gimpel 2020
/// (arXiv 2005.04231), a BiLSTM with an independent softmax, and the SparseMAP loss; dev selects
/// the epoch (early stopping), test is used once.
[<RequireQualifiedAccess>]
module PosTagging =

    /// The full configuration: all training sentences, the tagger defaults (≤ 20 epochs, patience 3).
    let setup = { TrainSentences = 0; Tagger = SequenceTaggerOptions.defaults }

    /// The quick configuration: 2,000 training sentences, 2 epochs.
    let quickSetup = { TrainSentences = 2000; Tagger = { SequenceTaggerOptions.defaults with Epochs = 2 } }

    /// The loss of a method name: crf, bilstm (softmax) or sparsemap.
    let parseMethod (text: string) : TaggerLoss = TaggerLoss.parse text

    /// Trains and evaluates one tagger on the UD treebank in `folder`; `report` receives the
    /// fraction done and a description after every step.
    let runOnFolder (setup: PosTaggingSetup) (report: float * string -> unit) (folder: string) : PosTaggingResult =
        let train = Conllu.readSplit folder "train"
        let train = if setup.TrainSentences > 0 then Array.truncate setup.TrainSentences train else train
        let dev, test = Conllu.readSplit folder "dev", Conllu.readSplit folder "test"
        let monitor =
            { setup.Tagger.Monitor with
                OnProgress = fun p -> setup.Tagger.Monitor.OnProgress p; report (p.Fraction, sprintf "epoch %d/%d loss %.3f" (p.Epoch + 1) p.Epochs p.Loss) }
        let watch = Stopwatch.StartNew ()
        use tagger = SequenceTagger.fit { setup.Tagger with Monitor = monitor } train (Some dev)
        let seconds = watch.Elapsed.TotalSeconds
        { Seed = setup.Tagger.Seed
          Method = TaggerLoss.name setup.Tagger.Loss
          DevAccuracy = 100.0 * SequenceTagger.evaluate tagger dev
          TestAccuracy = 100.0 * SequenceTagger.evaluate tagger test
          Epochs = tagger.History.Epochs
          Seconds = seconds
          TokensPerSecondBatch1 = SequenceTagger.tokensPerSecond tagger 1 (Array.truncate 200 dev)
          TokensPerSecondBatch256 = SequenceTagger.tokensPerSecond tagger 256 dev }

    /// The metrics of a run, for reports and JSON.
    let metrics (r: PosTaggingResult) : (string * float) list =
        [ "dev_accuracy", r.DevAccuracy; "test_accuracy", r.TestAccuracy; "epochs", float r.Epochs; "seconds", r.Seconds
          "tokens_per_second_batch1", r.TokensPerSecondBatch1; "tokens_per_second_batch256", r.TokensPerSecondBatch256 ]
