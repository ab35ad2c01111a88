namespace EnergyFs.Losses

open EnergyFs

/// The margin of a structured hinge loss (Tu & Gimpel 2018, arXiv 1803.03376, §3, Table 1).
type Margin =
    /// Margin-rescaled: the margin is the task cost Δ(ȳ, y) (Taskar et al. 2004; Tsochantaridis et al. 2005).
    | MarginRescaled
    /// A constant margin m (the "contrastive" variant with m = 1).
    | Constant of float
    /// No margin: the structured perceptron (LeCun et al. 2006).
    | Perceptron

/// Structured hinge losses over energies (lower energy = better output).
[<RequireQualifiedAccess>]
module StructuredHinge =

    /// The L1 task cost Δ(ȳ, y) = Σ_i |ȳ_i − y_i| per example (Tu & Gimpel 2018 use it for
    /// multilabel classification); for y ∈ {0,1}^L it is linear in ȳ ∈ [0,1]^L.
    let l1Cost (yBar: Tensor) (y: Tensor) : Tensor =
        Checks.sameShape "y" y "yBar" yBar
        Tensor.sumDim -1 (Tensor.abs (yBar - y))

    /// The Hamming cost of relaxed label sequences Δ(ȳ, y) = Σ_t m_t ‖ȳ_t − y_t‖₁ / 2 per sentence
    /// ([B]) for ȳ, y [B, T, L] and mask m [B, T] (Tu & Gimpel 2018, arXiv 1803.03376, §7, for
    /// tagging): at one-hot ȳ and y the number of wrongly tagged real tokens, and linear in ȳ on
    /// Δ_L^T for one-hot y (‖ȳ_t − y_t‖₁/2 = 1 − ȳ_t[y_t]).
    let hammingCost (mask: Tensor) (yBar: Tensor) (y: Tensor) : Tensor =
        Checks.sameShape "y" y "yBar" yBar
        Checks.rank "yBar" 3 yBar
        Checks.rank "mask" 2 mask
        if mask.shape[0] <> y.shape[0] || mask.shape[1] <> y.shape[1] then
            invalidArg "mask" (sprintf "mask shape %s does not match labels %s" (Checks.shapeText mask.shape) (Checks.shapeText y.shape))
        Tensor.sumDim 1 (Tensor.sumDim -1 (Tensor.abs (yBar - y)) * mask.to_type yBar.dtype) * 0.5

    /// The margin term of `margin` given the task cost Δ (per example).
    let marginTerm (margin: Margin) (cost: Tensor) : Tensor =
        match margin with
        | MarginRescaled -> cost
        | Constant m -> cost * 0.0 + m
        | Perceptron -> cost * 0.0

    /// The argument of the hinge, m(Δ) − E(x, ȳ) + E(x, y), per example, without the [·]₊ (the
    /// inference network of Tu & Gimpel maximises it).
    let violation (margin: Margin) (cost: Tensor) (energyPredicted: Tensor) (energyGold: Tensor) : Tensor =
        Checks.sameShape "energyGold" energyGold "energyPredicted" energyPredicted
        marginTerm margin cost - energyPredicted + energyGold

    /// The structured hinge [m(Δ(ȳ, y)) − E(x, ȳ) + E(x, y)]₊ per example (Belanger & McCallum
    /// 2016, arXiv 1511.06350, eq. 8 for the margin-rescaled case). It is ≥ 0, and 0 when the gold
    /// output's energy is lower than the predicted one's by at least the margin.
    let hinge (margin: Margin) (cost: Tensor) (energyPredicted: Tensor) (energyGold: Tensor) : Tensor =
        Tensor.relu (violation margin cost energyPredicted energyGold)
