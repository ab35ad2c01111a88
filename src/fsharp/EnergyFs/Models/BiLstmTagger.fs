namespace EnergyFs.Models

open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// A BiLSTM tagger stored as parameter blocks (the forward LSTM's three, the backward LSTM's three,
/// then the output layer [W (L × 2h); b (L)]): per-position label scores
///   s_t = W [→h_t; ←h_t] + b,   [B, T, L],
/// over token features x [B, T, D] with real positions mask [B, T]. Softmax over the labels gives
/// the per-position distributions A_Ψ(x) ∈ Δ_L^T of Tu & Gimpel's inference networks for sequence
/// labelling (Tu & Gimpel 2018, arXiv 1803.03376, §2 and §7; Tu, Pang & Gimpel 2020, arXiv
/// 2005.04231, §2), and the unary features of a sequence energy. Pure functions of the blocks, so
/// the implicit hypergradient can differentiate through it.
[<RequireQualifiedAccess>]
module BiLstmTagger =

    /// Parameters of a tagger over `inputs` features per token, `hidden` units per direction and
    /// `labels` labels, drawn from `rng`.
    let create (rng: Rng) (ctx: Context) (inputs: int) (hidden: int) (labels: int) : Parameter list =
        Checks.positiveInt "labels" labels
        let forward = FunctionalLstm.create rng ctx inputs hidden
        let backward = FunctionalLstm.create rng ctx inputs hidden
        let bound = 1.0 / sqrt (float (2 * hidden))
        let w = new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 labels; 2L * int64 hidden ], true)
        let b = new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 labels ], true)
        forward @ backward @ [ w; b ]

    let private unpack (psi: Tensor list) =
        if psi.Length <> 8 then
            invalidArg "psi" (sprintf "a BiLSTM tagger has 8 blocks (two LSTM layers and the output layer), got %d" psi.Length)
        List.take 3 psi, psi[3..5], psi[6], psi[7]

    /// The hidden states [→h_t; ←h_t], [B, T, 2h] (the features of the output layer).
    let features (psi: Tensor list) (mask: Tensor) (x: Tensor) : Tensor =
        let forward, backward, _, _ = unpack psi
        FunctionalLstm.bidirectional forward backward mask x

    /// The per-position label scores (logits) s_t, [B, T, L].
    let logits (psi: Tensor list) (mask: Tensor) (x: Tensor) : Tensor =
        let _, _, w, b = unpack psi
        torch.nn.functional.linear (features psi mask x, w, b)

    /// The per-position distributions softmax(s_t), [B, T, L] (every row on the simplex, padded
    /// positions included; a masked consumer ignores them).
    let predict (psi: Tensor list) (mask: Tensor) (x: Tensor) : Tensor =
        torch.nn.functional.softmax (logits psi mask x, -1L)
