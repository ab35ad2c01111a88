namespace EnergyFs.Learners

open TorchSharp
open EnergyFs
open EnergyFs.Models
open EnergyFs.Losses

/// The output side of the structured trainers (`StructuredSvm`, `SpenEndToEnd`,
/// `InferenceNetworks`, `ImplicitStructured`): what a relaxed output is and how the trainers
/// measure, smooth, start and predict it. One trainer serves every output shape: multilabel
/// ȳ ∈ [0,1]^L ([n, L], no mask; Belanger & McCallum 2016, Tu & Gimpel 2018 §6) or label sequences
/// ȳ ∈ Δ_L^T ([B, T, L] with the examples' mask [B, T]; Tu & Gimpel 2018 §7, Tu, Pang & Gimpel
/// 2020, arXiv 2005.04231). Every function takes the batch's mask (None: every position real).
type StructuredOutputs =
    { /// A short name ("multilabel", "sequence").
      Name: string
      /// The start ȳ₀ of relaxed inference, shaped like the given tensor (½ in the box, 1/L per
      /// position on the simplices).
      Start: Tensor -> Tensor
      /// The task cost Δ(ȳ, y) per example from (mask, ȳ, gold y): the L1 cost or the Hamming cost.
      Cost: Tensor option -> Tensor -> Tensor -> Tensor
      /// The entropy H(ȳ) per example from (mask, ȳ): binary entropies or the positions' Shannon
      /// entropies.
      Entropy: Tensor option -> Tensor -> Tensor
      /// The inference network's scores (logits) from (ψ, mask, inputs x): an MLP ([n, L]) or a
      /// BiLSTM tagger ([B, T, L]).
      Network: Tensor list -> Tensor option -> Tensor -> Tensor
      /// Relaxed outputs from the network's scores: the sigmoid or the per-position softmax.
      OfLogits: Tensor -> Tensor
      /// The supervised loss of scores against gold labels, a scalar, from (mask, logits, gold y):
      /// the mean binary cross-entropy, or the cross-entropy per real token (the outer loss of
      /// implicit training).
      LogitLoss: Tensor option -> Tensor -> Tensor -> Tensor }

/// The two output structures and the functions the trainers build on them.
[<RequireQualifiedAccess>]
module StructuredOutputs =

    /// Multilabel outputs ȳ ∈ [0,1]^L: start ½, L1 cost Σ_i |ȳ_i − y_i|, binary entropy, an MLP
    /// (`FunctionalMlp`) with a sigmoid, binary cross-entropy. The trainers' default; the mask is
    /// not read.
    let multilabel : StructuredOutputs =
        { Name = "multilabel"
          Start = fun like -> torch.full_like (like, Pinned.scalar 0.5)
          Cost = fun _ yBar y -> StructuredHinge.l1Cost yBar y
          Entropy = fun _ yBar -> InferenceNetwork.entropy yBar
          Network = fun psi _ x -> FunctionalMlp.forward psi x
          OfLogits = Tensor.sigmoid
          LogitLoss = fun _ logits y -> torch.nn.functional.binary_cross_entropy_with_logits (logits, y) }

    /// The mask of a sequence batch ([B, T] of the leading dimensions of x), all true when None.
    let private maskOr (mask: Tensor option) (x: Tensor) =
        match mask with
        | Some m -> m
        | None -> torch.ones ([| x.shape[0]; x.shape[1] |], dtype = torch.ScalarType.Bool, device = x.device)

    /// Σ_t m_t H(ȳ_t), H(p) = −Σ_l p_l log p_l, per sentence [B] for ȳ [B, T, L]. Computed as
    /// −Σ p log max(p, 1e-30): the same value, and a finite derivative where a softmax output
    /// underflows to exactly 0 (xlogy(p, p) differentiates to 0/0 there, which made implicit
    /// hypergradients NaN on a peaked pretrained network).
    let sequenceEntropy (mask: Tensor option) (yBar: Tensor) : Tensor =
        Checks.rank "yBar" 3 yBar
        let p = Tensor.clampMin 0.0 yBar
        let h = -(Tensor.sumDim -1 (p * Tensor.log (Tensor.clampMin 1e-30 p)))
        Tensor.sumDim 1 (h * (maskOr mask yBar).to_type yBar.dtype)

    /// The mean cross-entropy per real token −Σ_{b,t} m_bt ⟨y_bt, log softmax(s_bt)⟩ / Σ m of scores
    /// s [B, T, L] against one-hot gold y [B, T, L].
    let sequenceCrossEntropy (mask: Tensor option) (logits: Tensor) (y: Tensor) : Tensor =
        Checks.sameShape "y" y "logits" logits
        let m = (maskOr mask y).to_type y.dtype
        let perToken = -(Tensor.sumDim -1 (y * torch.nn.functional.log_softmax (logits, -1L)))
        Tensor.sum (perToken * m) / Tensor.clampMin 1.0 (Tensor.sum m)

    /// Label sequences ȳ ∈ Δ_L^T ([B, T, L], mask [B, T]): start 1/L per position, Hamming cost
    /// Σ_t m_t ‖ȳ_t − y_t‖₁/2, the positions' Shannon entropies, a BiLSTM tagger (`BiLstmTagger`)
    /// over token inputs [B, T, D] with a per-position softmax, the cross-entropy per real token.
    let sequence : StructuredOutputs =
        { Name = "sequence"
          Start = fun like -> torch.full_like (like, Pinned.scalar (1.0 / float like.shape[like.shape.Length - 1]))
          Cost = fun mask yBar y -> StructuredHinge.hammingCost (maskOr mask y) yBar y
          Entropy = sequenceEntropy
          Network = fun psi mask x -> BiLstmTagger.logits psi (maskOr mask x) x
          OfLogits = fun logits -> torch.nn.functional.softmax (logits, -1L)
          LogitLoss = sequenceCrossEntropy }

    /// The inference network's relaxed outputs A_ψ(x) = OfLogits (Network ψ mask x).
    let predict (outputs: StructuredOutputs) (psi: Tensor list) (mask: Tensor option) (x: Tensor) : Tensor =
        outputs.OfLogits (outputs.Network psi mask x)

    /// The inference network's energy-minimisation objective on a batch (`InferenceNetwork.objectiveWith`
    /// with this structure's network and entropy): mean E(A_ψ(x)) + τ mean H(A_ψ(x)) + λ‖ψ − ψ₀‖².
    let networkObjective (outputs: StructuredOutputs) (entropyWeight: float) (pullWeight: float) (psi0: Tensor list)
                         (mask: Tensor option) (energy: Tensor -> Tensor) (psi: Tensor list) (x: Tensor) : Tensor =
        InferenceNetwork.objectiveWith (fun p x -> predict outputs p mask x) (outputs.Entropy mask) entropyWeight pullWeight psi0 energy psi x
