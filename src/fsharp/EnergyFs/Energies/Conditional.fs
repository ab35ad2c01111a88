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

    // The y-side layers, applied in feature-major layout (see ScoreFeatures).
    let linearsOf (m: torch.nn.Module) =
        m.children () |> Seq.choose (function :? TorchSharp.Modules.Linear as l -> Some l | _ -> None) |> List.ofSeq
    let yLayers = linearsOf yNet
    let outLayers = match headOut with Some o -> linearsOf o | None -> [ headMid.Value; headLast.Value ]
    /// W z + b for z [in, N] in feature-major layout → [out, N].
    let applyT (l: TorchSharp.Modules.Linear) (z: Tensor) : Tensor =
        match l.bias with
        | null -> torch.mm (l.weight, z)
        | b -> torch.addmm (b.unsqueeze 1L, l.weight, z, 1.0f, 1.0f)

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
        // The y-side layers run in feature-major layout, Z [H, B·M] ← W Z + b: the same function
        // as rows [B·M, H] ← X Wᵀ + b, but libtorch's CPU matrix product (MKL) is several times faster
        // with the long B·M dimension last (a [10, 10] × [10, 32 800] product: 0.12 ms, against
        // 0.74 ms for [32 800, 10] × [10, 10]ᵀ on a 2-core AMD EPYC; the rank-3 linear: 1.4 ms).
        let b, m = y.shape[0], y.shape[1]
        let yT = y.reshape(b * m, int64 yDim).t ()                                        // [D, B·M]
        let e = yLayers |> List.fold (fun z l -> Tensor.relu (applyT l z)) yT             // [H, B·M]
        let hy = (torch.mm (headY.weight, e)).view (int64 hidden, b, m)
        let hx = headX.forward(h).t().unsqueeze 2L                                        // [H, B, 1]
        let z = (Tensor.relu (hy + hx)).view (int64 hidden, b * m)                         // z₁ [H, B·M]
        let f =
            if residual then applyT outLayers[1] (Tensor.relu (applyT outLayers[0] z) + z)
            else applyT outLayers[1] (Tensor.relu (applyT outLayers[0] z))
        f.view (b, m)

    /// Multiplies the first head layer's parameters (W_h, W_e and b of W[h; e] + b) by `factor`, in
    /// place. A generic initialiser (`Init.reinitialize`, PyTorch's rule U(±1/√fan_in)) sees W_h and
    /// W_e as two layers of fan-in H and draws U(±1/√H); the one layer of the authors' code
    /// (`fc1_xy`, fan-in 2H) gets U(±1/√(2H)) from PyTorch: `factor` 1/√2 turns the first into the
    /// second, draw for draw.
    member _.ScaleFirstHeadLayer(factor: float) =
        use _ = torch.no_grad ()
        for p in [ headX.weight; headX.bias; headY.weight ] do p.mul_ (Pinned.scalar factor) |> ignore

    /// f(x, y_m) for x [B, Dx] and candidates y [B, M, D] → [B, M].
    override this.forward (x: Tensor, y: Tensor) = this.ScoreFeatures (this.Features x, y)

    /// f(xᵢ, yᵢ) for x [B, Dx] and one target per example y [B, D] → [B].
    member this.ScoreAt(x: Tensor, y: Tensor) : Tensor =
        Checks.rank "y" 2 y
        Checks.sameRows "x" x "y" y
        (this.forward (x, y.unsqueeze 1L)).squeeze 1L
