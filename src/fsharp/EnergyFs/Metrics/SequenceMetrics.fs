namespace EnergyFs.Metrics

open TorchSharp
open EnergyFs
open EnergyFs.Sequences
open EnergyFs.Data

/// Metrics of sequence labelling over padded batches: only the real positions (mask true) count.
[<RequireQualifiedAccess>]
module SequenceMetrics =

    /// (correctly labelled tokens, tokens) of predicted against gold labels, both [B, T] integer
    /// tensors, over the positions where `mask` [B, T] (bool) is true. Counts add over batches.
    let correctTokens (mask: Tensor) (gold: Tensor) (predicted: Tensor) : int64 * int64 =
        Checks.rank "mask" 2 mask
        Checks.sameShape "mask" mask "gold" gold
        Checks.sameShape "gold" gold "predicted" predicted
        Scope.run (fun () ->
            let hits = predicted.eq(gold).logical_and mask
            hits.sum().item<int64> (), mask.sum().item<int64> ())

    /// Token accuracy: the fraction of real positions whose predicted label is the gold one
    /// (NaN when the mask has no true entry).
    let tokenAccuracy (mask: Tensor) (gold: Tensor) (predicted: Tensor) : float =
        let correct, total = correctTokens mask gold predicted
        if total = 0L then nan else float correct / float total

    /// (search errors, sentences) of approximate inference on a linear chain (Tu & Gimpel 2019,
    /// "Benchmarking approximate inference methods for neural structured prediction", arXiv
    /// 1904.01138, §5): the sentences whose approximate tags [B, T] score lower under `scores` than
    /// Viterbi's optimum by more than `tolerance` (an absolute score difference; ties and
    /// equally good sequences are not errors). Counts add over batches.
    let searchErrors (tolerance: float) (mask: Tensor) (scores: ChainScores) (approximate: Tensor) : int64 * int64 =
        Checks.nonNegative "tolerance" tolerance
        Checks.sameShape "mask" mask "approximate" approximate
        Diff.noGrad (fun () ->
            Scope.run (fun () ->
                use best = LinearChain.viterbi mask scores
                let found = LinearChain.score mask scores approximate
                let worse = found.lt (best.Score - tolerance)
                worse.sum().item<int64> (), mask.shape[0]))

    /// Decoding speed: tokens per second of `decode` (batch ↦ tags [B, T]) over `sentences` at
    /// `batchSize`, in their order (`SequenceBatches.sequential` pads each batch to its longest),
    /// each batch in its own dispose scope without gradients; one pass after one warm-up batch.
    /// Starting from word indices, it times whatever `decode` runs: embeddings, networks, inference.
    let tokensPerSecond (device: torch.Device) (decode: SequenceBatch -> Tensor) (batchSize: int) (sentences: EncodedSentence[]) : float =
        Checks.positiveInt "batchSize" batchSize
        let run (xs: EncodedSentence[]) =
            for b in SequenceBatches.sequential device batchSize xs do
                use batch = b
                Scope.run (fun () -> Diff.noGrad (fun () -> decode batch |> ignore))
        run (Array.truncate batchSize sentences)
        let watch = System.Diagnostics.Stopwatch.StartNew ()
        run sentences
        float (sentences |> Array.sumBy (fun s -> s.Length)) / watch.Elapsed.TotalSeconds
