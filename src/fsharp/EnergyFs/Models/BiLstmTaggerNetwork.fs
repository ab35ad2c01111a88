namespace EnergyFs.Models

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Data
open EnergyFs.Sequences

/// The sizes of a BiLSTM tagger network.
type BiLstmTaggerShape =
    { /// Entries of the word table (reserved ones included).
      Words: int
      /// Entries of the shape table.
      Shapes: int
      /// Entries of each suffix table.
      Suffixes: int list
      /// Number of labels L.
      Labels: int
      /// Word embedding width.
      WordDim: int
      /// Width of each shape and suffix embedding.
      FeatureDim: int
      /// LSTM hidden units per direction.
      Hidden: int
      /// Dropout probability on the embeddings and on the LSTM outputs (in training mode).
      Dropout: float }

/// The feature network of a neural sequence tagger (Huang, Xu & Yu 2015, arXiv 1508.01991;
/// Lample et al. 2016, arXiv 1603.01360, without character LSTMs): the embeddings of a word, its
/// shape and its suffixes, concatenated, run through a bidirectional LSTM; a linear layer maps
/// each position's two hidden states to unary scores over the L labels. The module also holds the
/// linear chain's transition scores [L, L] and start/end scores [L] (zero at creation), so
/// `ChainScores` come from one module: scores are "higher is better" (energies are their negatives).
///
/// The backward LSTM reads each sentence reversed within its own length (padding stays at the
/// end), so a sentence's scores do not depend on how much padding its batch has.
type BiLstmTaggerNetwork(shape: BiLstmTaggerShape) as this =
    inherit torch.nn.Module<SequenceBatch, Tensor>("bilstm_tagger")
    do
        for name, v in [ "Words", shape.Words; "Shapes", shape.Shapes; "Labels", shape.Labels; "WordDim", shape.WordDim; "FeatureDim", shape.FeatureDim; "Hidden", shape.Hidden ] do
            Checks.positiveInt name v
        if shape.Dropout < 0.0 || shape.Dropout >= 1.0 then Checks.fail "Dropout" (sprintf "Dropout must lie in [0, 1), got %g" shape.Dropout)
    let inputDim = int64 (shape.WordDim + shape.FeatureDim * (1 + shape.Suffixes.Length))
    let words = torch.nn.Embedding (int64 shape.Words, int64 shape.WordDim, padding_idx = 0L)
    let shapes = torch.nn.Embedding (int64 shape.Shapes, int64 shape.FeatureDim, padding_idx = 0L)
    let suffixes = shape.Suffixes |> List.map (fun n -> torch.nn.Embedding (int64 n, int64 shape.FeatureDim, padding_idx = 0L))
    let forwardLstm = torch.nn.LSTM (inputDim, int64 shape.Hidden, batchFirst = true)
    let backwardLstm = torch.nn.LSTM (inputDim, int64 shape.Hidden, batchFirst = true)
    let dropout = torch.nn.Dropout shape.Dropout
    let output = torch.nn.Linear (int64 (2 * shape.Hidden), int64 shape.Labels)
    do
        this.register_module ("words", words)
        this.register_module ("shapes", shapes)
        suffixes |> List.iteri (fun i e -> this.register_module (sprintf "suffix%d" i, e))
        this.register_module ("forward_lstm", forwardLstm)
        this.register_module ("backward_lstm", backwardLstm)
        this.register_module ("dropout", dropout)
        this.register_module ("output", output)
        this.register_parameter ("transitions", new Parameter (torch.zeros (int64 shape.Labels, int64 shape.Labels)))
        this.register_parameter ("start", new Parameter (torch.zeros (int64 shape.Labels)))
        this.register_parameter ("end", new Parameter (torch.zeros (int64 shape.Labels)))

    /// Index [B, T] that reverses each row within its length and leaves padding in place.
    static member ReversalIndex (batch: SequenceBatch) : Tensor =
        let t = int batch.Words.shape[1]
        let index = batch.Lengths |> Array.collect (fun n -> Array.init t (fun i -> int64 (if i < n then n - 1 - i else i)))
        torch.tensor(index, dtype = torch.ScalarType.Int64, device = batch.Words.device).reshape batch.Words.shape

    /// The sizes the network was built with.
    member _.Shape = shape

    /// Unary scores [B, T, L] of a batch.
    override _.forward (batch: SequenceBatch) : Tensor =
        Scope.tensor (fun () ->
            let features =
                [ words.forward batch.Words; shapes.forward batch.Shapes ]
                @ (suffixes |> List.mapi (fun i e -> e.forward (batch.Suffixes.select (2L, int64 i))))
            let x = dropout.forward (torch.cat (ResizeArray features, 2L))
            let struct (ahead, _, _) = forwardLstm.forward (x, System.Nullable ())
            let reversal = BiLstmTaggerNetwork.ReversalIndex batch
            let gatherRows (v: Tensor) = v.gather (1L, reversal.unsqueeze(2L).expand ([| v.shape[0]; v.shape[1]; v.shape[2] |]))
            let struct (behindReversed, _, _) = backwardLstm.forward (gatherRows x, System.Nullable ())
            let h = dropout.forward (torch.cat (ResizeArray [ ahead; gatherRows behindReversed ], 2L))
            output.forward h)

    /// The transition scores [L, L] (from → to). Looked up by name: `to(dtype)` replaces the
    /// registered parameter object.
    member this.Transitions : Tensor = this.get_parameter "transitions" :> Tensor

    /// The chain's scores of a batch: unary from the network, the module's transition, start and end scores.
    member this.ChainScores (batch: SequenceBatch) : ChainScores =
        { Unary = this.forward batch
          Transitions = this.Transitions
          Start = Some (this.get_parameter "start" :> Tensor)
          End = Some (this.get_parameter "end" :> Tensor) }

/// Construction of the tagger network from an explicit Rng.
[<RequireQualifiedAccess>]
module BiLstmTaggerNetwork =

    /// A network on the context's device and dtype, every parameter drawn from `rng`
    /// (`Init.reinitialize`), then the transition, start and end scores set to 0.
    let create (rng: Rng) (ctx: Context) (shape: BiLstmTaggerShape) : BiLstmTaggerNetwork =
        let net = new BiLstmTaggerNetwork (shape)
        net.``to`` (ctx.Device, ctx.DType) |> ignore
        Training.Init.reinitialize rng net
        Diff.noGrad (fun () ->
            for name in [ "transitions"; "start"; "end" ] do net.get_parameter(name).zero_ () |> ignore)
        net
