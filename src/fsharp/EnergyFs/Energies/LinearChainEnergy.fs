namespace EnergyFs.Energies

open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// The linear-chain energy over relaxed label sequences (the CRF's score, Lafferty, McCallum &
/// Pereira 2001, negated; the "local + label bigram" energy of Tu & Gimpel 2018, arXiv 1803.03376,
/// §7, and Tu, Pang & Gimpel 2020, arXiv 2005.04231, eq. 1):
///   E(ȳ) = −Σ_t m_t ⟨U_t, ȳ_t⟩ − Σ_{t ≥ 1} m_t ȳ_{t−1}ᵀ W ȳ_t,
/// with unary scores U [B, T, L], transition scores W [L, L] (from → to) and the mask m [B, T].
/// At one-hot ȳ it is minus the sum of the chosen unary and transition scores; it is bilinear in ȳ
/// (not convex: relaxed inference finds stationary points, which for a dominant U are the
/// per-position argmax). As an energy of the structured trainers the unary scores come from
/// features, U = F(x) Bᵀ, and θ = [B (L × d); W (L × L)].
[<RequireQualifiedAccess>]
module LinearChainEnergy =

    /// E(ȳ) per sentence, [B], from unary scores [B, T, L], transitions [L, L], mask [B, T] and
    /// ȳ [B, T, L]; differentiable in all three numeric tensors.
    let ofScores (unary: Tensor) (transitions: Tensor) (mask: Tensor) (y: Tensor) : Tensor =
        SequenceShapes.check unary mask y
        Checks.sameShape "unary" unary "y" y
        Checks.rank "transitions" 2 transitions
        let labels = y.shape[2]
        if transitions.shape[0] <> labels || transitions.shape[1] <> labels then
            invalidArg "transitions" (sprintf "transitions must be [L, L] = [%d, %d], got %s" labels labels (Checks.shapeText transitions.shape))
        let m = SequenceShapes.weights mask y
        let local = Tensor.sumDim 1 (Tensor.dot unary y * m)
        let steps = y.shape[1]
        if steps < 2L then -local
        else
            let previous = y.narrow (1L, 0L, steps - 1L)
            let next = y.narrow (1L, 1L, steps - 1L)
            let pairs = Tensor.dot (Tensor.matmul previous transitions) next * m.narrow (1L, 1L, steps - 1L)
            -(local + Tensor.sumDim 1 pairs)

    /// Energy parameters θ = [B (L × d); W (L × L)] for L labels and d features, drawn from `rng`
    /// (B as a Linear layer's weights, W small: U(−0.1, 0.1)).
    let create (rng: Rng) (ctx: Context) (labels: int) (featureDim: int) : Parameter list =
        Checks.positiveInt "labels" labels
        Checks.positiveInt "featureDim" featureDim
        let bound = 1.0 / sqrt (float featureDim)
        [ new Parameter (Tensor.uniform rng ctx (-bound) bound [ int64 labels; int64 featureDim ], true)
          new Parameter (Tensor.uniform rng ctx (-0.1) 0.1 [ int64 labels; int64 labels ], true) ]

    /// The unary scores U = F(x) Bᵀ, [B, T, L], of local weights B (L × d) for features [B, T, d].
    let unaryOf (b: Tensor) (features: Tensor) : Tensor =
        Checks.rank "features" 3 features
        if features.shape[2] <> b.shape[1] then
            invalidArg "features" (sprintf "the energy expects %d features per token, got shape %s" b.shape[1] (Checks.shapeText features.shape))
        Tensor.matmul features (Tensor.transpose b)

    /// The unary scores U = F(x) Bᵀ, [B, T, L], of θ = [B; W] for features [B, T, d].
    let unary (theta: Tensor list) (features: Tensor) : Tensor =
        match theta with
        | [ b; _ ] -> unaryOf b features
        | _ -> invalidArg "theta" (sprintf "linear-chain energy parameters are [B; W], got %d blocks" theta.Length)

    /// E_θ(F(x), ȳ) per sentence with θ = [B; W]: `ofScores (F(x) Bᵀ) W`.
    let energy (theta: Tensor list) (features: Tensor) (mask: Tensor) (y: Tensor) : Tensor =
        ofScores (unary theta features) theta[1] mask y

    /// The term (2 blocks) for composition with global terms (`SequenceEnergy`).
    let term : SequenceEnergyTerm = { Name = "linear-chain"; Blocks = 2; Energy = energy }

    /// The local (unary-only) energy −Σ_t m_t ⟨F(x)_t Bᵀ, ȳ_t⟩ with θ = [B] (1 block): the baseline
    /// without label interactions, whose minimiser is the per-position argmax of the unary scores.
    let localTerm : SequenceEnergyTerm =
        { Name = "local"; Blocks = 1
          Energy =
            fun theta features mask y ->
                match theta with
                | [ b ] ->
                    SequenceShapes.check features mask y
                    let u = unaryOf b features
                    -(Tensor.sumDim 1 (Tensor.dot u y * SequenceShapes.weights mask y))
                | _ -> invalidArg "theta" (sprintf "local energy parameters are [B], got %d blocks" theta.Length) }
