namespace EnergyFs.Models

open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// A long short-term memory layer (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et
/// al. 2000) stored as parameter blocks [W_ih (4h × in); W_hh (4h × h); b (4h)] and evaluated by
/// pure functions of those blocks, so that it can be differentiated with respect to its weights as
/// a whole, twice if need be (the implicit hypergradient takes Hessian-vector products through it):
///   [i; f; g; o] = W_ih x_t + W_hh h_{t−1} + b,   c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),
///   h_t = σ(o) ⊙ tanh(c_t),   h₀ = c₀ = 0
/// (PyTorch's gate order). Sequences are [B, T, in] batches whose real positions are a prefix
/// (mask [B, T] bool); `bidirectional` reverses each sentence within its own length, so padding
/// never reaches a real position in either direction.
[<RequireQualifiedAccess>]
module FunctionalLstm =

    /// Parameters of one LSTM layer with `inputs` inputs and `hidden` units, initialised from
    /// `rng` as PyTorch's LSTM does (U(−1/√h, 1/√h) everywhere, one bias vector).
    let create (rng: Rng) (ctx: Context) (inputs: int) (hidden: int) : Parameter list =
        Checks.positiveInt "inputs" inputs
        Checks.positiveInt "hidden" hidden
        let bound = 1.0 / sqrt (float hidden)
        let block shape = new Parameter (Tensor.uniform rng ctx (-bound) bound shape, true)
        [ block [ 4L * int64 hidden; int64 inputs ]; block [ 4L * int64 hidden; int64 hidden ]; block [ 4L * int64 hidden ] ]

    let private unpack (ps: Tensor list) =
        match ps with
        | [ wih; whh; b ] -> wih, whh, b
        | _ -> invalidArg "parameters" (sprintf "an LSTM layer has the blocks [W_ih; W_hh; b], got %d blocks" ps.Length)

    /// Number of hidden units h of a layer's parameters.
    let hiddenSize (ps: Tensor list) : int64 =
        let _, whh, _ = unpack ps
        whh.shape[1]

    /// The hidden states h_1 … h_T, [B, T, h], of the layer run left to right over x [B, T, in].
    let run (ps: Tensor list) (x: Tensor) : Tensor =
        let wih, whh, b = unpack ps
        Checks.rank "x" 3 x
        if x.shape[2] <> wih.shape[1] then
            invalidArg "x" (sprintf "the LSTM expects inputs of shape [B, T, %d], got %s" wih.shape[1] (Checks.shapeText x.shape))
        let h = whh.shape[1]
        let n, steps = x.shape[0], x.shape[1]
        // The input part of every step in one product, split into per-step views by one unbind:
        // its backward is one stack, where T selects would each build a zero-filled [B, T, 4h]
        // gradient and add it up. W_hhᵀ is taken once: its gradient sums the per-step products'
        // and is transposed once, instead of T transposed gradients summed.
        let gatesIn = torch.nn.functional.linear (x, wih, b)
        let inputs = gatesIn.unbind 1L
        let whhT = Tensor.transpose whh
        let mutable hPrev = torch.zeros ([| n; h |], dtype = x.dtype, device = x.device)
        let mutable cPrev = torch.zeros ([| n; h |], dtype = x.dtype, device = x.device)
        let outputs = ResizeArray<Tensor> ()
        for t in 0 .. int steps - 1 do
            let gates = inputs[t] + Tensor.matmul hPrev whhT
            let chunks = gates.chunk (4L, 1L)
            let i, f, g, o = Tensor.sigmoid chunks[0], Tensor.sigmoid chunks[1], Tensor.tanh chunks[2], Tensor.sigmoid chunks[3]
            cPrev <- f * cPrev + i * g
            hPrev <- o * Tensor.tanh cPrev
            outputs.Add hPrev
        if steps = 0L then torch.zeros ([| n; 0L; h |], dtype = x.dtype, device = x.device)
        else Tensor.stack 1 (List.ofSeq outputs)

    /// Each sentence of x [B, T, …] reversed within its length (the number of true entries of its
    /// mask row, a prefix); padded positions stay where they are. Applying it twice is the identity.
    let reverseWithin (mask: Tensor) (x: Tensor) : Tensor =
        Checks.rank "mask" 2 mask
        if x.dim () < 2L || x.shape[0] <> mask.shape[0] || x.shape[1] <> mask.shape[1] then
            invalidArg "x" (sprintf "x must start with the mask's shape %s, got %s" (Checks.shapeText mask.shape) (Checks.shapeText x.shape))
        Scope.tensor (fun () ->
            let steps = x.shape[1]
            let lengths = mask.to_type(torch.ScalarType.Int64).sum (1L, true)
            let t = (torch.arange (0L, steps, dtype = torch.ScalarType.Int64, device = x.device)).unsqueeze 0L
            let source = torch.where (t.lt lengths, lengths - 1L - t, t)
            let index =
                let mutable idx = source
                for _ in 2L .. x.dim () - 1L do idx <- idx.unsqueeze -1L
                idx.expand x.shape
            x.gather (1L, index))

    /// A bidirectional layer over x [B, T, in] with real positions given by mask [B, T]: the
    /// forward layer `forward` left to right and the backward layer `backward` right to left
    /// within each sentence, concatenated: [B, T, h_f + h_b]. A sentence's result at its real
    /// positions does not depend on its padding (nor on other sentences).
    let bidirectional (forward: Tensor list) (backward: Tensor list) (mask: Tensor) (x: Tensor) : Tensor =
        let f = run forward x
        let b = reverseWithin mask (run backward (reverseWithin mask x))
        Tensor.cat 2 [ f; b ]
