namespace EnergyFs.Models

open System
open TorchSharp
open EnergyFs

/// A batch of B mixtures of K Gaussians with diagonal covariance over y ∈ ℝᴰ:
/// q(y) = Σₖ πₖ Πᵈ N(y_d; μ_kd, σ_kd²).
type Mixture =
    { /// log πₖ, shape [B, K], normalised (logsumexp over K is 0).
      LogWeights: Tensor
      /// μ, shape [B, K, D].
      Means: Tensor
      /// log σ, shape [B, K, D].
      LogStds: Tensor }

/// Mixture density networks (Bishop 1994): the closed-form log-density, sampling and moments of
/// diagonal Gaussian mixtures, used as the learned proposal q_φ(y | x) of Gustafsson, Danelljan &
/// Schön, "Learning Proposals for Practical Energy-Based Regression", AISTATS 2022 (arXiv
/// 2110.11948), Sec. 3.
[<RequireQualifiedAccess>]
module Mdn =

    /// Bounds of log σ: keeps every component a proper, numerically safe density.
    let logStdRange = (-7.0, 5.0)

    /// Number of raw outputs a head needs for K components over D dimensions: K (logits) + 2KD.
    let rawSize (k: int) (d: int) = k * (1 + 2 * d)

    /// The mixture of raw head outputs [B, K(1 + 2D)] laid out as K logits, KD means, KD log σ:
    /// π = softmax(logits), log σ clamped to `logStdRange`.
    let ofRaw (k: int) (d: int) (raw: Tensor) : Mixture =
        Checks.positiveInt "k" k
        Checks.positiveInt "d" d
        Checks.rank "raw" 2 raw
        Checks.dimSize "raw" 1 (int64 (rawSize k d)) raw
        let b = raw.shape[0]
        let kd = int64 (k * d)
        let lo, hi = logStdRange
        { LogWeights = torch.nn.functional.log_softmax (raw.narrow (1L, 0L, int64 k), 1L)
          Means = raw.narrow(1L, int64 k, kd).reshape (b, int64 k, int64 d)
          LogStds = raw.narrow(1L, int64 k + kd, kd).reshape(b, int64 k, int64 d) |> Tensor.clamp lo hi }

    /// Builds a mixture from weights π [B, K] (rows summing to 1), means [B, K, D] and standard
    /// deviations [B, K, D] (all > 0). For tests and hand-made proposals.
    let ofMoments (weights: Tensor) (means: Tensor) (stds: Tensor) : Mixture =
        Checks.rank "weights" 2 weights
        Checks.rank "means" 3 means
        Checks.sameShape "means" means "stds" stds
        Checks.dimSize "means" 0 weights.shape[0] means
        Checks.dimSize "means" 1 weights.shape[1] means
        { LogWeights = Tensor.log weights; Means = means.alias (); LogStds = Tensor.log stds }

    /// Number of components K.
    let components (mix: Mixture) = int mix.Means.shape[1]

    /// Dimension D of y.
    let dimension (mix: Mixture) = int mix.Means.shape[2]

    let private halfLog2Pi = 0.5 * log (2.0 * Math.PI)

    /// log q(y_m) for y [B, M, D] → [B, M]:
    /// log Σₖ exp(cₖ − ½ Σ_d ((y_d − μ_kd)/σ_kd)²),  cₖ = log πₖ − Σ_d log σ_kd − (D/2) log 2π.
    /// The constants cₖ are computed once per mixture ([B, K]), so the [B, M, K, D] tensors see only
    /// the difference, the scaling and the square.
    let logDensity (mix: Mixture) (y: Tensor) : Tensor =
        Checks.rank "y" 3 y
        Checks.dimSize "y" 0 mix.Means.shape[0] y
        Checks.dimSize "y" 2 mix.Means.shape[2] y
        let d = mix.Means.shape[2]
        let offset = mix.LogWeights - Tensor.sumDim 2 mix.LogStds - float d * halfLog2Pi   // [B, K]
        let z = (y.unsqueeze 2L - mix.Means.unsqueeze 1L) * (Tensor.exp (-mix.LogStds)).unsqueeze 1L   // [B, M, K, D]
        let squares = if d = 1L then (Tensor.square z).squeeze 3L else Tensor.sumDim 3 (Tensor.square z)   // [B, M, K]
        Tensor.logsumexp 2 (squares * -0.5 + offset.unsqueeze 1L)

    /// log q(yᵢ) for one target per mixture, y [B, D] → [B].
    let logDensityAt (mix: Mixture) (y: Tensor) : Tensor =
        Checks.rank "y" 2 y
        (logDensity mix (y.unsqueeze 1L)).squeeze 1L

    /// The negative log-likelihood −(1/B) Σᵢ log q(yᵢ | xᵢ) of targets y [B, D]: the maximum-
    /// likelihood loss of an MDN (Bishop 1994, eq. 29).
    let nll (mix: Mixture) (y: Tensor) : Tensor = -(Tensor.mean (logDensityAt mix y))

    /// M samples per mixture, [B, M, D], drawn from `rng` (outside the autograd graph): a component
    /// k ~ Categorical(π), then y = μ_k + σ_k ⊙ ε with ε ~ N(0, I).
    let sample (rng: Rng) (m: int) (mix: Mixture) : Tensor =
        Checks.positiveInt "m" m
        use _ = torch.no_grad ()
        let b, d = mix.Means.shape[0], mix.Means.shape[2]
        Scope.tensor (fun () ->
            let weights = Tensor.exp mix.LogWeights
            let idx = torch.multinomial (weights, int64 m, true, rng.Generator)      // [B, M]
            let index = idx.unsqueeze(-1L).expand (b, int64 m, d)
            let mu = mix.Means.gather (1L, index)
            let sd = (Tensor.exp mix.LogStds).gather (1L, index)
            let eps = torch.randn ([| b; int64 m; d |], dtype = mix.Means.dtype, device = mix.Means.device, generator = rng.Generator)
            (mu + sd * eps).detach ())

    /// The mixture mean E[y] = Σₖ πₖ μₖ, [B, D].
    let mean (mix: Mixture) : Tensor =
        Tensor.sumDim 1 (Tensor.exp(mix.LogWeights).unsqueeze 2L * mix.Means)

    /// The mixture's per-dimension variance Σₖ πₖ (σₖ² + μₖ²) − (E y)², [B, D].
    let variance (mix: Mixture) : Tensor =
        let w = Tensor.exp(mix.LogWeights).unsqueeze 2L
        let second = Tensor.sumDim 1 (w * (Tensor.exp (mix.LogStds * 2.0) + Tensor.square mix.Means))
        second - Tensor.square (mean mix)

    /// The mixture with every tensor detached (a proposal used without gradient).
    let detach (mix: Mixture) : Mixture =
        { LogWeights = mix.LogWeights.detach (); Means = mix.Means.detach (); LogStds = mix.LogStds.detach () }

/// A mixture-density head: one linear layer from features [B, F] to the raw parameters of K
/// diagonal Gaussians over ℝᴰ (see `Mdn.ofRaw`). The proposal head of Gustafsson et al. 2022 reads
/// the EBM's features detached, so training q never moves the EBM's feature network.
type MdnHead(features: int, k: int, d: int) as this =
    inherit torch.nn.Module<Tensor, Tensor>("MdnHead")
    do
        Checks.positiveInt "features" features
        Checks.positiveInt "k" k
        Checks.positiveInt "d" d
    let linear = torch.nn.Linear (int64 features, int64 (Mdn.rawSize k d))
    do this.register_module ("linear", linear)
    /// Components K.
    member _.Components = k
    /// Dimension D of y.
    member _.Dimension = d
    /// Raw outputs [B, K(1 + 2D)].
    override _.forward (h: Tensor) = linear.forward h
    /// The mixture q(· | features) for features [B, F].
    member this.Mixture(h: Tensor) : Mixture =
        Checks.rank "features" 2 h
        Checks.dimSize "features" 1 (int64 features) h
        Mdn.ofRaw k d (this.forward h)
