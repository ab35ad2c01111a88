namespace EnergyFs.Data

open System
open TorchSharp
open EnergyFs

/// A padded batch of B sentences of at most T words (the shapes every sequence function of
/// EnergyFs takes: [B, T] indices, [B, T] masks). Padding sits at the end of each row: a
/// sentence's real words are a prefix of its row. Owns its tensors: dispose it.
type SequenceBatch =
    { /// Word indices [B, T] (int64; 0 at padding).
      Words: Tensor
      /// Shape indices [B, T] (int64; 0 at padding).
      Shapes: Tensor
      /// Suffix indices [B, T, S] for the S suffix lengths (int64; 0 at padding).
      Suffixes: Tensor
      /// Tag indices [B, T] (int64; 0 at padding).
      Tags: Tensor
      /// [B, T] bool: true at real words.
      Mask: Tensor
      /// The sentences' positions in the array the batch was drawn from.
      Indices: int[]
      /// The sentences' lengths.
      Lengths: int[] }
    /// Number of real words in the batch.
    member b.Tokens = Array.sum b.Lengths
    interface IDisposable with
        member b.Dispose() =
            for t in [ b.Words; b.Shapes; b.Suffixes; b.Tags; b.Mask ] do t.Dispose()

/// Padded minibatches of encoded sentences. `bucketed` groups sentences of similar length (less
/// padding, hence less work for the recurrent network and the chain's forward algorithm) and
/// shuffles within and across buckets with an explicit Rng: the same seed gives the same batches.
/// (Training/Batches.fs draws index batches over fixed-width rows; sequences need padding and
/// length buckets, so they have their own batcher, drawing from the same Rng.)
[<RequireQualifiedAccess>]
module SequenceBatches =

    /// The padded batch of `sentences` at `indices` on `device`.
    let make (device: torch.Device) (sentences: EncodedSentence[]) (indices: int[]) : SequenceBatch =
        if indices.Length = 0 then invalidArg "indices" "a batch needs at least one sentence"
        for i in indices do
            if i < 0 || i >= sentences.Length then
                invalidArg "indices" (sprintf "sentence index %d is outside 0 .. %d" i (sentences.Length - 1))
            if sentences[i].Length = 0 then invalidArg "sentences" (sprintf "sentence %d has no word" i)
        let b = indices.Length
        let lengths = indices |> Array.map (fun i -> sentences[i].Length)
        let t = Array.max lengths
        let s = sentences[indices[0]].Suffixes |> Array.tryHead |> Option.map Array.length |> Option.defaultValue 0
        let words = Array.zeroCreate<int64> (b * t)
        let shapes = Array.zeroCreate<int64> (b * t)
        let tags = Array.zeroCreate<int64> (b * t)
        let suffixes = Array.zeroCreate<int64> (b * t * s)
        let mask = Array.zeroCreate<bool> (b * t)
        indices |> Array.iteri (fun row i ->
            let sentence = sentences[i]
            for j in 0 .. sentence.Length - 1 do
                let k = row * t + j
                words[k] <- int64 sentence.Words[j]
                shapes[k] <- int64 sentence.Shapes[j]
                tags[k] <- int64 sentence.Tags[j]
                mask[k] <- true
                if sentence.Suffixes[j].Length <> s then
                    invalidArg "sentences" (sprintf "sentence %d has %d suffix features at word %d, the batch %d" i sentence.Suffixes[j].Length j s)
                for l in 0 .. s - 1 do suffixes[k * s + l] <- int64 (sentence.Suffixes[j][l]))
        Runtime.ensureNative ()
        let tensor (values: int64[]) (shape: int64[]) = torch.tensor(values, dtype = torch.ScalarType.Int64, device = device).reshape shape
        { Words = tensor words [| int64 b; int64 t |]
          Shapes = tensor shapes [| int64 b; int64 t |]
          Suffixes = tensor suffixes [| int64 b; int64 t; int64 s |]
          Tags = tensor tags [| int64 b; int64 t |]
          Mask = torch.tensor(mask, device = device).reshape [| int64 b; int64 t |]
          Indices = indices
          Lengths = lengths }

    /// The sentence indices of the batches of an epoch: sentences in a random order drawn from
    /// `rng`, stably sorted by length (so ties stay shuffled), cut into runs of `batchSize`, and the
    /// runs put in a random order. Deterministic for the generator's state. The permutations are
    /// drawn on `device`, which must be the generator's.
    let bucketedIndices (rng: Rng) (device: torch.Device) (batchSize: int) (lengths: int[]) : int[][] =
        Checks.positiveInt "batchSize" batchSize
        if lengths.Length = 0 then [||]
        else
            let draw n =
                use p = Tensor.randperm rng device n
                use onHost = p.cpu ()
                onHost.data<int64>().ToArray() |> Array.map int
            let order = draw (int64 lengths.Length) |> Seq.sortBy (fun i -> lengths[i]) |> Array.ofSeq
            let runs = order |> Array.chunkBySize batchSize
            draw (int64 runs.Length) |> Array.map (fun r -> runs[r])

    /// The batches of an epoch in length buckets (see `bucketedIndices`), made lazily on `device`.
    let bucketed (rng: Rng) (device: torch.Device) (batchSize: int) (sentences: EncodedSentence[]) : seq<SequenceBatch> =
        let runs = bucketedIndices rng device batchSize (sentences |> Array.map (fun s -> s.Length))
        seq { for run in runs -> make device sentences run }

    /// Batches of consecutive sentences in their order (for evaluation).
    let sequential (device: torch.Device) (batchSize: int) (sentences: EncodedSentence[]) : seq<SequenceBatch> =
        Checks.positiveInt "batchSize" batchSize
        seq { for run in Array.chunkBySize batchSize [| 0 .. sentences.Length - 1 |] -> make device sentences run }

    /// Number of batches of size `batchSize` over n sentences.
    let count (batchSize: int) (n: int) = (n + batchSize - 1) / batchSize
