namespace EnergyFs.Energies

open TorchSharp
open EnergyFs

/// One term of an energy over relaxed label sequences ȳ ∈ Δ_L^T (a distribution over the L labels
/// at every position; Tu, Pang & Gimpel 2020, arXiv 2005.04231, §3): E_θ(F(x), ȳ) per sentence,
/// lower is better. Shapes follow the sequence convention of EnergyFs: features F(x) [B, T, d],
/// relaxed labels ȳ [B, T, L], mask [B, T] bool with true at the real tokens (a prefix of each
/// row). A term must not depend on ȳ or F(x) at padded positions. θ is a list of tensor blocks
/// (not a module), so that the structured trainers can differentiate with respect to θ as plain
/// tensors; a composed energy concatenates its terms' blocks.
type SequenceEnergyTerm =
    { /// The term's name (in reports and messages), for example "linear-chain".
      Name: string
      /// Number of θ blocks the term reads (a composition hands each term its own slice).
      Blocks: int
      /// E_θ(F(x), ȳ) per sentence, [B], for θ (`Blocks` blocks), features [B, T, d], mask
      /// [B, T] and ȳ [B, T, L]; differentiable in θ, the features and ȳ.
      Energy: Tensor list -> Tensor -> Tensor -> Tensor -> Tensor }

/// Shapes and masks shared by the sequence energy terms.
[<RequireQualifiedAccess>]
module SequenceShapes =

    /// Checks a batch: ȳ [B, T, L], mask [B, T] of dtype bool, features [B, T, d]; fails naming the
    /// argument and the shapes otherwise.
    let check (features: Tensor) (mask: Tensor) (y: Tensor) =
        Checks.rank "y" 3 y
        Checks.rank "mask" 2 mask
        Checks.rank "features" 3 features
        if mask.dtype <> torch.ScalarType.Bool then
            invalidArg "mask" (sprintf "the mask must be a bool tensor [B, T], got dtype %A" mask.dtype)
        if mask.shape[0] <> y.shape[0] || mask.shape[1] <> y.shape[1] then
            invalidArg "mask" (sprintf "mask shape %s does not match y %s ([B, T] of [B, T, L])" (Checks.shapeText mask.shape) (Checks.shapeText y.shape))
        if features.shape[0] <> y.shape[0] || features.shape[1] <> y.shape[1] then
            invalidArg "features" (sprintf "features shape %s does not match y %s ([B, T, d] for [B, T, L])" (Checks.shapeText features.shape) (Checks.shapeText y.shape))

    /// The mask as 0/1 numbers of ȳ's dtype, [B, T].
    let weights (mask: Tensor) (y: Tensor) : Tensor = mask.to_type y.dtype

    /// ȳ with its padded positions zeroed, [B, T, L].
    let masked (mask: Tensor) (y: Tensor) : Tensor = y * (weights mask y).unsqueeze -1L

    /// A mask with every position real, [B, T], for ȳ [B, T, L].
    let full (y: Tensor) : Tensor =
        torch.ones ([| y.shape[0]; y.shape[1] |], dtype = torch.ScalarType.Bool, device = y.device)

    /// The lengths of the sentences (true entries per mask row), as int64 [B].
    let lengths (mask: Tensor) : Tensor = mask.to_type(torch.ScalarType.Int64).sum (1L, false)
