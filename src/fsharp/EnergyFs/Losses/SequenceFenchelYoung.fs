namespace EnergyFs.Losses

open TorchSharp
open EnergyFs
open EnergyFs.Sequences

/// Fenchel-Young losses over label sequences (Blondel, Martins & Niculae 2020, JMLR, arXiv
/// 1901.02324, §7 "structured prediction"): with θ = (unary, pairwise) the linear-chain scores
/// (`ChainScores`, higher is better) and φ(y) the sequence's vertex of the marginal polytope M,
///
///   L_Ω(θ; y) = Ω*(θ) + Ω(φ(y)) − ⟨θ, φ(y)⟩ ≥ 0,   ∇_θ L_Ω = ∇Ω*(θ) − φ(y) = μ*(θ) − φ(y).
///
/// Two regularizers Ω on M:
/// - the negative Shannon entropy of the distribution over sequences (maximised over the
///   distributions with marginals μ): Ω* = log Z, ∇Ω* = the marginals, Ω(φ(y)) = 0, so L is the
///   CRF negative log-likelihood log Z(θ) − s(y) (Lafferty et al. 2001);
/// - ½‖μ‖² (unary and pairwise parts): ∇Ω* = SparseMAP (Niculae et al. 2018, arXiv 1802.04223),
///   L = ⟨θ, μ* − φ(y)⟩ − ½‖μ*‖² + ½‖φ(y)‖², zero exactly when the gold sequence wins every other
///   sequence y' by a margin of ‖φ(y)‖² − ⟨φ(y), φ(y')⟩ (the positions and steps where they differ).
/// Both take `mask` [B, T] and integer gold tags [B, T] and return one loss per sentence, [B].
[<RequireQualifiedAccess>]
module SequenceFenchelYoung =

    /// Shapes and mask (`LinearChain.check`), and every score finite (`Checks.allFinite`: one host
    /// read-back of one sum when they are; 10 µs against isfinite's 38 on a tagger's batch).
    let private checkScores (mask: Tensor) (scores: ChainScores) =
        let dims = LinearChain.check mask scores
        Checks.allFinite [ "unary", scores.Unary; "transitions", scores.Transitions ]
        dims

    /// The CRF loss log Z(θ) − s(y) per sentence, [B]: the Shannon-entropy FY loss; its autograd
    /// gradient (through the forward algorithm) is the marginals minus φ(y). The arguments are
    /// checked once (not again by the forward algorithm and the gold score).
    let crf (mask: Tensor) (scores: ChainScores) (tags: Tensor) : Tensor =
        let (_, t, _) as dims = checkScores mask scores
        Scope.tensor (fun () -> LinearChain.forward t mask scores - LinearChain.goldScore dims mask scores tags)

    /// The SparseMAP FY loss per sentence, [B], with the solver's options; its gradient is
    /// μ* − φ(y) (Danskin: μ* is computed without gradient, and the loss is built as
    /// ⟨θ, μ* − φ(y)⟩ + constants, whose autograd gradient is exactly that).
    let sparseMapWith (options: SparseMapOptions) (mask: Tensor) (scores: ChainScores) (tags: Tensor) : Tensor =
        checkScores mask scores |> ignore
        Scope.tensor (fun () ->
            use solution = SparseMap.solve options mask scores
            let gu, gp = LinearChain.features mask scores tags
            let du, dp = solution.Unary - gu, solution.Pairwise - gp
            let perSentence (x: Tensor) = x.reshape([| x.shape[0]; -1L |]).sum (1L, false)
            let linear = perSentence (LinearChain.foldedUnary mask scores * du) + perSentence (LinearChain.pairwise mask scores * dp)
            let half (u: Tensor) (p: Tensor) = (perSentence (u * u) + perSentence (p * p)) * 0.5
            linear - half solution.Unary solution.Pairwise + half gu gp)

    /// `sparseMapWith SparseMapOptions.defaults`.
    let sparseMap (mask: Tensor) (scores: ChainScores) (tags: Tensor) : Tensor = sparseMapWith SparseMapOptions.defaults mask scores tags
