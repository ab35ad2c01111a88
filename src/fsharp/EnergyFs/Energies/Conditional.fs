namespace EnergyFs.Energies

open TorchSharp
open EnergyFs
open EnergyFs.Models

/// A conditional energy-based model p_θ(y | x) = exp f_θ(x, y) / Z_θ(x) for y ∈ ℝᴰ of any D
/// (Gustafsson, Danelljan & Schön, "Learning Proposals for Practical Energy-Based Regression",
/// AISTATS 2022, arXiv 2110.11948, eq. 1): a feature network h = F(x), an embedding network
/// e = G(y) and a head f = g(h, e) on both.
///
/// The head is a ReLU network on the concatenation [h; e]. Its first layer W[h; e] + b is computed as
/// (W_h h + b) + W_e e, so the x-part is evaluated once per example and broadcast over the M
/// candidate values of y — the same function as the concatenation, M times cheaper in x. After it,
/// z₁ = relu(W[h; e] + b):
///
/// - `RegressionArchitecture.Paper` (the authors' released code): z₂ = relu(A z₁ + a) + z₁ (a residual
///   layer), f = c·z₂ + d;
/// - `RegressionArchitecture.Compact`: f = c·relu(A z₁ + a) + d.
///
/// Both have 5H² + (7 + Dx + D)H + 1 parameters: for Dx = D = 1, 5H² + 9H + 1 (the authors' feature
/// and predictor networks together).
type ConditionalEbm(xDim: int, yDim: int, hidden: int, architecture: RegressionArchitecture) as this =
    inherit torch.nn.Module<Tensor, Tensor, Tensor>("ConditionalEbm")
    do
        Checks.positiveInt "xDim" xDim
        Checks.positiveInt "yDim" yDim
        Checks.positiveInt "hidden" hidden
    let xNet = Perceptron.build true [ xDim; hidden; hidden ]
    let yNet = Perceptron.build true [ yDim; hidden; hidden ]
    let headX = torch.nn.Linear (int64 hidden, int64 hidden)
    let headY = torch.nn.Linear (int64 hidden, int64 hidden, hasBias = false)
    let residual = architecture = RegressionArchitecture.Paper
    // Compact: one Sequential (its state-dict names are those of the files saved before the choice
    // existed); Paper: the two layers around the residual connection.
    let headOut = if residual then None else Some (Perceptron.build false [ hidden; hidden; 1 ])
    let headMid = if residual then Some (torch.nn.Linear (int64 hidden, int64 hidden)) else None
    let headLast = if residual then Some (torch.nn.Linear (int64 hidden, 1L)) else None
    do
        this.register_module ("xNet", xNet)
        this.register_module ("yNet", yNet)
        this.register_module ("headX", headX)
        this.register_module ("headY", headY)
        headOut |> Option.iter (fun m -> this.register_module ("headOut", m))
        headMid |> Option.iter (fun m -> this.register_module ("headMid", m))
        headLast |> Option.iter (fun m -> this.register_module ("headLast", m))

    /// The `Compact` network.
    new (xDim, yDim, hidden) = new ConditionalEbm(xDim, yDim, hidden, RegressionArchitecture.Compact)

    /// Dimension of x.
    member _.XDim = xDim
    /// Dimension of y.
    member _.YDim = yDim
    /// Width of the feature vector h.
    member _.Hidden = hidden
    /// The networks it is built from.
    member _.Architecture = architecture

    /// The features h = F(x), [B, H], for x [B, Dx].
    member _.Features(x: Tensor) : Tensor =
        Checks.rank "x" 2 x
        Checks.dimSize "x" 1 (int64 xDim) x
        xNet.forward x

    /// f(x, y_m) for features h [B, H] (from `Features`) and candidates y [B, M, D] → [B, M].
    member _.ScoreFeatures(h: Tensor, y: Tensor) : Tensor =
        Checks.rank "features" 2 h
        Checks.rank "y" 3 y
        Checks.dimSize "y" 2 (int64 yDim) y
        Checks.dimSize "y" 0 h.shape[0] y
        // The y-side layers run on [B·M, ·] matrices: libtorch's linear on a rank-3 input is up to twice
        // as slow as on the same numbers as a matrix (a [32·1025, 10] product: 1.4 ms against 0.8 ms).
        let b, m = y.shape[0], y.shape[1]
        let e = yNet.forward (y.reshape (b * m, int64 yDim))                          // [B·M, H]
        let hy = (headY.forward e).view (b, m, int64 hidden)
        let z = (Tensor.relu (headX.forward(h).unsqueeze 1L + hy)).view (b * m, int64 hidden)   // [B·M, H]
        let f =
            match headOut, headMid, headLast with
            | Some out, _, _ -> out.forward z
            | None, Some mid, Some last -> last.forward (Tensor.relu (mid.forward z) + z)
            | _ -> invalidOp "unreachable: the head has neither variant"
        f.view (b, m)

    /// f(x, y_m) for x [B, Dx] and candidates y [B, M, D] → [B, M].
    override this.forward (x: Tensor, y: Tensor) = this.ScoreFeatures (this.Features x, y)

    /// f(xᵢ, yᵢ) for x [B, Dx] and one target per example y [B, D] → [B].
    member this.ScoreAt(x: Tensor, y: Tensor) : Tensor =
        Checks.rank "y" 2 y
        Checks.sameRows "x" x "y" y
        (this.forward (x, y.unsqueeze 1L)).squeeze 1L
