namespace EnergyFs.Energies

open TorchSharp
open TorchSharp.Modules
open EnergyFs
open EnergyFs.Models

/// The label language model energy ("TLM", Tu & Gimpel 2018, arXiv 1803.03376, §7.2; a global term
/// of Tu, Pang & Gimpel 2020, arXiv 2005.04231, §3): an LSTM reads the relaxed label sequence
/// left to right and scores each next label distribution,
///   E(ȳ) = −Σ_t m_t log ⟨ȳ_t, softmax(V h_t + c)⟩,   h_t = LSTM(z_0 … z_t),
/// with z_0 = 0 (the start) and z_t = ȳ_{t−1}. At one-hot ȳ it is the negative log-likelihood of the
/// tag sequence under the label language model (without an end symbol: the paper's ȳ_{T+1} term is
/// left out, so the energy needs no extra label). It reads ȳ at real positions only (the LSTM is
/// causal and the padded terms are masked), and not the features. θ = [W_ih (4h × L); W_hh (4h ×
/// h); b (4h); V (L × h); c (L)].
[<RequireQualifiedAccess>]
module LabelLanguageModelEnergy =

    /// Parameters for L labels and h LSTM units, drawn from `rng` (LSTM as `FunctionalLstm.create`,
    /// the output layer as a Linear layer).
    let create (rng: Rng) (ctx: Context) (labels: int) (hidden: int) : Parameter list =
        Checks.positiveInt "labels" labels
        let lstm = FunctionalLstm.create rng ctx labels hidden
        let bound = 1.0 / sqrt (float hidden)
        lstm @ [ new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 labels; int64 hidden ], true)
                 new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 labels ], true) ]

    /// The model's next-label distributions p_t = softmax(V h_t + c), [B, T, L], for ȳ [B, T, L]
    /// (p_t depends on ȳ_0 … ȳ_{t−1} only).
    let nextLabel (theta: Tensor list) (y: Tensor) : Tensor =
        if theta.Length <> 5 then
            invalidArg "theta" (sprintf "label language model parameters are [W_ih; W_hh; b; V; c], got %d blocks" theta.Length)
        Checks.rank "y" 3 y
        let shifted = torch.nn.functional.pad (y.narrow (1L, 0L, max 0L (y.shape[1] - 1L)), [| 0L; 0L; 1L; 0L |])
        let h = FunctionalLstm.run (List.take 3 theta) shifted
        torch.nn.functional.softmax (torch.nn.functional.linear (h, theta[3], theta[4]), -1L)

    /// E(ȳ) per sentence, [B], for θ (5 blocks), features [B, T, d] (only their shape is checked),
    /// mask [B, T] and ȳ [B, T, L].
    let energy (theta: Tensor list) (features: Tensor) (mask: Tensor) (y: Tensor) : Tensor =
        SequenceShapes.check features mask y
        if y.shape[1] = 0L then torch.zeros ([| y.shape[0] |], dtype = y.dtype, device = y.device)
        else
            let p = nextLabel theta y
            let agreement = Tensor.dot p y
            // log ⟨ȳ_t, p_t⟩ at real positions; padded ones (where ȳ may be 0) contribute 0.
            let logs = torch.where (mask, Tensor.log (agreement.clamp_min (Pinned.scalar 1e-30)), torch.zeros_like agreement)
            -(Tensor.sumDim 1 logs)

    /// The term (5 blocks) for composition (`SequenceEnergy`).
    let term : SequenceEnergyTerm = { Name = "label-lm"; Blocks = 5; Energy = energy }
