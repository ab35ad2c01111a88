namespace EnergyFs.Projections

open TorchSharp
open EnergyFs

/// Euclidean projection onto the probability simplex Δᵏ = {p ∈ ℝᵏ : p ≥ 0, Σᵢ pᵢ = 1}, row by row.
///
///   proj_Δ(z) = argmin_{p ∈ Δᵏ} ½‖p − z‖²  =  max(z − τ(z), 0),
///
/// where τ(z) is found by sorting (Held, Wolfe, Crowder 1974; Duchi et al. 2008; Condat 2016):
/// with z₍₁₎ ≥ … ≥ z₍ₖ₎ and ρ = max{j : z₍ⱼ₎ − (Σ_{i≤j} z₍ᵢ₎ − 1)/j > 0},
/// τ = (Σ_{i≤ρ} z₍ᵢ₎ − 1)/ρ. O(k log k) per row, fully batched (no loop over rows).
/// This is also sparsemax (Martins and Astudillo 2016), ∇Ω* of the squared norm on the simplex.
///
/// The projection is shift-invariant, proj_Δ(z + c·1) = proj_Δ(z), and τ(z + c·1) = τ(z) + c, so
/// every row is first shifted by its maximum (as the `entmax` package does): the cumulative sums
/// then run over z − max z ≤ 0 and keep their precision when |z| is large (at |z| ≈ 1e3 the
/// unshifted sums lose about 1e-9 of the loss; shifted, it is exact to rounding).
[<RequireQualifiedAccess>]
module Simplex =

    /// τ of rows whose maximum is 0 ([n, k] → [n, 1]): the sort-and-cumsum rule above.
    let private thresholdOfShifted (zs: Tensor) : Tensor =
        Scope.tensor (fun () ->
            let k = zs.shape[1]
            let struct (sorted, idx) = zs.sort (1L, true)
            idx.Dispose ()
            let cssv = sorted.cumsum (1L) - 1.0
            let ranks = torch.arange (1L, k + 1L, dtype = zs.dtype, device = zs.device)
            // Entries of the sorted row that stay in the support: a prefix, so counting gives ρ.
            let support = (sorted - cssv / ranks).gt (torch.zeros_like sorted)
            let rho = (support.sum (1L, true, torch.ScalarType.Int64)).clamp_min (Pinned.intScalar 1L)
            cssv.gather (1L, rho - 1L) / rho.to_type zs.dtype)

    /// Each row's maximum, [n, 1], outside the autograd graph: the results do not depend on it
    /// (shift invariance), so neither do their gradients.
    let private rowMax (z: Tensor) : Tensor =
        Scope.tensor (fun () ->
            let struct (values, indices) = z.detach().max (1L, true)
            indices.Dispose ()
            values)

    /// The threshold τ(z) of every row, shape [n, 1]: max z + τ(z − max z).
    let threshold (z: Tensor) : Tensor =
        Checks.rank "z" 2 z
        Scope.tensor (fun () ->
            let m = rowMax z
            m + thresholdOfShifted (z - m))

    /// proj_Δ(z) for every row of z ([n, k] → [n, k]), computed as max(z − m − τ(z − m), 0) with
    /// m = max z per row.
    let project (z: Tensor) : Tensor =
        Checks.rank "z" 2 z
        Scope.tensor (fun () ->
            let zs = z - rowMax z
            Tensor.relu (zs - thresholdOfShifted zs))

    /// Whether every row of p lies on the simplex up to `tolerance` (entries ≥ −tol, sums within tol of 1).
    let contains (tolerance: float) (p: Tensor) : bool =
        Scope.run (fun () ->
            let minOk = (p.min ()).ToDouble () >= -tolerance
            let sums = p.sum (1L, false)
            minOk && Tensor.maxAbsDiff sums (torch.ones_like sums) <= tolerance)
