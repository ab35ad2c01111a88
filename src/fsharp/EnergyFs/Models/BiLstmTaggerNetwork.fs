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
/// One BiLSTM, two evaluators. The function is `BiLstmTagger.logits` over the embeddings (`Embed`):
/// `BiLstmTaggerNetwork.blocks` gives the same function as the functional tagger's parameter
/// blocks (W_ih, W_hh, b_ih + b_hh per direction, then the output layer), and tests check that
/// both evaluations agree, in value and in second derivatives. The module evaluates its LSTMs with
/// torch.nn.LSTM, libtorch's fused kernel (oneDNN on the CPU): forward + backward at batch 32, 25
/// steps, 160 inputs, 100 units took 4.6 ms against 11.6 ms for `FunctionalLstm.run` (one
/// thread), which is why first-order training (CRF, SparseMAP, softmax) runs on the module. That
/// kernel is twice differentiable (a test compares its Hessian-vector product with the functional
/// one's), but it only evaluates the module's own registered weights: TorchSharp 0.107 exposes no
/// functional LSTM op (only the LSTM and LSTMCell modules). The structured trainers need the
/// network as a pure function of arbitrary weight tensors (copies Φ → Ψ, snapshots ψ₀, detached ψ
/// inside Hessian-vector products), so inference networks and implicit hypergradients
/// (`StructuredOutputs.sequence`) run `BiLstmTagger` on the blocks.
///
/// The backward LSTM reads each sentence reversed within its own length (padding stays at the
/// end, `FunctionalLstm.reverseWithin`), so a sentence's scores do not depend on how much padding
/// its batch has.
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

    /// The sizes the network was built with.
    member _.Shape = shape

    /// The concatenated word, shape and suffix embeddings of a batch, [B, T, D] (the LSTMs' input x;
    /// no dropout).
    member _.Embed (batch: SequenceBatch) : Tensor =
        Scope.tensor (fun () ->
            let features =
                [ words.forward batch.Words; shapes.forward batch.Shapes ]
                @ (suffixes |> List.mapi (fun i e -> e.forward (batch.Suffixes.select (2L, int64 i))))
            torch.cat (ResizeArray features, 2L))

    /// The hidden states [→h_t; ←h_t] of a batch, [B, T, 2h] (dropout on the embeddings and on the
    /// states in training mode): the features the output layer reads.
    member this.Features (batch: SequenceBatch) : Tensor =
        Scope.tensor (fun () ->
            let x = dropout.forward (this.Embed batch)
            let struct (ahead, _, _) = forwardLstm.forward (x, System.Nullable ())
            let struct (behindReversed, _, _) = backwardLstm.forward (FunctionalLstm.reverseWithin batch.Mask x, System.Nullable ())
            dropout.forward (torch.cat (ResizeArray [ ahead; FunctionalLstm.reverseWithin batch.Mask behindReversed ], 2L)))

    /// Unary scores [B, T, L] of a batch.
    override this.forward (batch: SequenceBatch) : Tensor =
        Scope.tensor (fun () -> output.forward (this.Features batch))

    /// The LSTM and output layers as the functional tagger's 8 blocks (`BiLstmTagger`): detached
    /// copies [W_ih; W_hh; b_ih + b_hh] of the forward LSTM, the same of the backward LSTM, then the
    /// output layer [W; b]; `BiLstmTagger.logits blocks batch.Mask (Embed batch)` equals `forward`
    /// in evaluation mode. Each block requires grad; the caller owns them.
    member _.Blocks () : Parameter list =
        Diff.noGrad (fun () ->
            let lstmBlocks (lstm: LSTM) =
                let named = lstm.named_parameters () |> Seq.map (fun struct (n, p) -> n, p :> Tensor) |> dict
                [ named["weight_ih_l0"].clone (); named["weight_hh_l0"].clone (); named["bias_ih_l0"] + named["bias_hh_l0"] ]
            let tensors = lstmBlocks forwardLstm @ lstmBlocks backwardLstm @ [ output.weight.clone (); output.bias.clone () ]
            tensors |> List.map (fun t -> new Parameter (t, true)))

    /// A network with this one's embeddings, transitions and dtype, whose LSTMs and output layer are
    /// the 8 `Blocks`-shaped tensors `blocks` (copied; b_ih takes the summed bias, b_hh is 0), in
    /// evaluation mode: the inverse of `Blocks`. It evaluates a functional tagger's weights (an
    /// inference network ψ) with the fused LSTM kernel, for fast test-time decoding. The caller
    /// owns it.
    member this.WithBlocks (blocks: Tensor list) : BiLstmTaggerNetwork =
        if blocks.Length <> 8 then Checks.fail "blocks" (sprintf "expected the 8 blocks of BiLstmTaggerNetwork.Blocks, got %d" blocks.Length)
        let reference = this.named_parameters () |> Seq.map (fun struct (n, p) -> n, p :> Tensor) |> dict
        let copy = new BiLstmTaggerNetwork (shape)
        copy.``to`` (reference["transitions"].device, reference["transitions"].dtype) |> ignore
        Diff.noGrad (fun () ->
            let target = copy.named_parameters () |> Seq.map (fun struct (n, p) -> n, p :> Tensor) |> dict
            for KeyValue (name, t) in reference do target[name].copy_ t |> ignore
            let assign (name: string) (source: Tensor) =
                if source.shape <> target[name].shape then
                    Checks.fail "blocks" (sprintf "block for %s has shape %A, expected %A" name source.shape target[name].shape)
                target[name].copy_ source |> ignore
            [ "forward_lstm.weight_ih_l0"; "forward_lstm.weight_hh_l0"; "forward_lstm.bias_ih_l0"
              "backward_lstm.weight_ih_l0"; "backward_lstm.weight_hh_l0"; "backward_lstm.bias_ih_l0"
              "output.weight"; "output.bias" ]
            |> List.iteri (fun i name -> assign name blocks[i])
            target["forward_lstm.bias_hh_l0"].zero_ () |> ignore
            target["backward_lstm.bias_hh_l0"].zero_ () |> ignore)
        copy.eval ()
        copy

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

    /// The network's BiLSTM and output layer as `BiLstmTagger` blocks (`Blocks`).
    let blocks (net: BiLstmTaggerNetwork) : Parameter list = net.Blocks ()

    /// A copy of `net` evaluating `blocks` with the fused LSTM kernel (`WithBlocks`).
    let withBlocks (blocks: Tensor list) (net: BiLstmTaggerNetwork) : BiLstmTaggerNetwork = net.WithBlocks blocks
