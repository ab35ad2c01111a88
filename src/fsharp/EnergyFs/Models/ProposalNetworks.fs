namespace EnergyFs.Models

open TorchSharp
open EnergyFs

/// Which networks a regressor of Gustafsson, Danelljan & Schön, "Learning Proposals for Practical
/// Energy-Based Regression" (AISTATS 2022, arXiv 2110.11948) is built from. Both share the feature
/// network h = F(x) (two ReLU layers) and the target embedding e = G(y) (two ReLU layers), and both
/// compute the first head layer W[h; e] + b; they differ after it and in the proposal q(y | x):
///
/// - `Paper`: the network of the authors' released code (github fregu856/ebms_proposals, toy sets):
///   a residual head z₁ = relu(W[h; e] + b), z₂ = relu(A z₁ + a) + z₁, f = c·z₂ + d, and a proposal of
///   three separate two-layer networks on h (means, log σ², mixture logits; `MdnNetworksHead`). The
///   authors use width 10 on the 1-D toy sets.
/// - `Compact`: EnergyFs's earlier variant: a plain head z₁ = relu(W[h; e] + b), f = c·relu(A z₁ + a) + d
///   and a proposal of one linear layer from h to the logits, means and log σ (`MdnHead`). Same
///   number of energy parameters as `Paper` at the same width, fewer proposal parameters.
[<RequireQualifiedAccess>]
type RegressionArchitecture =
    /// The authors' network: residual energy head, three two-layer proposal networks.
    | Paper
    /// EnergyFs's earlier network: plain energy head, one linear proposal layer.
    | Compact

/// Names of RegressionArchitecture as the CLI and model files spell them.
[<RequireQualifiedAccess>]
module RegressionArchitecture =
    /// "paper" or "compact".
    let name = function RegressionArchitecture.Paper -> "paper" | RegressionArchitecture.Compact -> "compact"
    /// The inverse of `name`; fails naming the accepted values.
    let parse (text: string) =
        match text.Trim().ToLowerInvariant() with
        | "paper" -> RegressionArchitecture.Paper
        | "compact" -> RegressionArchitecture.Compact
        | _ -> invalidArg "architecture" (sprintf "unknown architecture '%s' (expected paper or compact)" text)

/// The proposal head of the authors' code for Gustafsson et al. 2022 (their "noise net"): three
/// separate two-layer ReLU networks on the features h [B, F], each F → H → ·,
///
///   μ = M₂ relu(M₁ h + m₁) + m₂ ∈ ℝᴷᴰ,   log σ² = S₂ relu(S₁ h + s₁) + s₂ ∈ ℝᴷᴰ,
///   logits = L₂ relu(L₁ h + l₁) + l₂ ∈ ℝᴷ,   π = softmax(logits).
///
/// `forward` lays its outputs out as `MdnHead`'s raw vector (K logits, KD means, KD log σ = ½ log σ²),
/// so `Mdn.ofRaw` reads both heads; it clamps log σ to `Mdn.logStdRange` (log σ² ∈ [−14, 10]), a guard
/// the authors' code does not have and which does not bind on the toy sets (σ ≈ 0.075 there).
type MdnNetworksHead(features: int, hidden: int, k: int, d: int) as this =
    inherit torch.nn.Module<Tensor, Tensor>("MdnNetworksHead")
    do
        Checks.positiveInt "features" features
        Checks.positiveInt "hidden" hidden
        Checks.positiveInt "k" k
        Checks.positiveInt "d" d
    let means = Perceptron.build false [ features; hidden; k * d ]
    let logVariances = Perceptron.build false [ features; hidden; k * d ]
    let logits = Perceptron.build false [ features; hidden; k ]
    do
        this.register_module ("means", means)
        this.register_module ("logVariances", logVariances)
        this.register_module ("logits", logits)
    /// Components K.
    member _.Components = k
    /// Dimension D of y.
    member _.Dimension = d
    /// Raw outputs [B, K(1 + 2D)]: logits, means, ½ log σ² (the layout of `Mdn.ofRaw`).
    override _.forward (h: Tensor) =
        Checks.rank "features" 2 h
        Checks.dimSize "features" 1 (int64 features) h
        Tensor.cat 1 [ logits.forward h; means.forward h; logVariances.forward h * 0.5 ]
    /// The mixture q(· | features) for features [B, F].
    member this.Mixture(h: Tensor) : Mixture = Mdn.ofRaw k d (this.forward h)

/// Constructors of the proposal head of an architecture.
[<RequireQualifiedAccess>]
module ProposalHead =
    /// The head on features of width `features` for K components over ℝᴰ: `MdnNetworksHead` (hidden
    /// width `hidden`) for `Paper`, `MdnHead` for `Compact`. Its forward gives `Mdn.ofRaw`'s layout.
    let create (architecture: RegressionArchitecture) (features: int) (hidden: int) (k: int) (d: int) : torch.nn.Module<Tensor, Tensor> =
        match architecture with
        | RegressionArchitecture.Paper -> new MdnNetworksHead(features, hidden, k, d)
        | RegressionArchitecture.Compact -> new MdnHead(features, k, d)

/// A stand-alone mixture density network q_φ(y | x): a ReLU feature network x → H → H followed by
/// the proposal head of an architecture (`ProposalHead.create`: one linear layer for `Compact`, the
/// three two-layer networks of the authors' code for `Paper`): the "MDN" baseline and the student of
/// the energy-based teacher in Gustafsson et al. 2022 (Sec. 4).
type MixtureDensityNetwork(xDim: int, yDim: int, k: int, hidden: int, architecture: RegressionArchitecture) as this =
    inherit torch.nn.Module<Tensor, Tensor>("MixtureDensityNetwork")
    do
        Checks.positiveInt "xDim" xDim
        Checks.positiveInt "hidden" hidden
    let features = Perceptron.build true [ xDim; hidden; hidden ]
    let head = ProposalHead.create architecture hidden hidden k yDim
    do
        this.register_module ("features", features)
        this.register_module ("head", head)
    /// The `Compact` network (one linear head layer).
    new (xDim, yDim, k, hidden) = new MixtureDensityNetwork(xDim, yDim, k, hidden, RegressionArchitecture.Compact)
    /// Components K.
    member _.Components = k
    /// Dimension of x.
    member _.XDim = xDim
    /// Dimension of y.
    member _.YDim = yDim
    /// The networks it is built from.
    member _.Architecture = architecture
    /// Raw head outputs [B, K(1 + 2D)] for x [B, Dx] (`Mdn.ofRaw`'s layout).
    override _.forward (x: Tensor) = head.forward (features.forward x)
    /// The mixture q(· | x) for x [B, Dx].
    member this.Mixture(x: Tensor) : Mixture =
        Checks.rank "x" 2 x
        Checks.dimSize "x" 1 (int64 xDim) x
        Mdn.ofRaw k yDim (this.forward x)
