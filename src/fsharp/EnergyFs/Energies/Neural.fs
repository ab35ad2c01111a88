namespace EnergyFs.Energies

open TorchSharp
open TorchSharp.Modules
open EnergyFs

/// A general neural energy Φ(s, p) = MLP([s, p]) (SiLU activations, scalar output), batched over
/// rows of s [n, d] and p [n, k]. Neither linear in s nor concave in p: it can represent several
/// equally good outputs (multimodal policies) but carries no calibration guarantee, and its inner
/// maximization is only solved locally (use a multi-start solver with AllowNonConcave).
type NeuralEnergyNet(inputs: int, outputs: int, hidden: int) as this =
    inherit torch.nn.Module<Tensor, Tensor, Tensor>("neural_energy")
    do
        Checks.positiveInt "inputs" inputs
        Checks.positiveInt "outputs" outputs
        Checks.positiveInt "hidden" hidden
    let mlp =
        torch.nn.Sequential (
            torch.nn.Linear (int64 (inputs + outputs), int64 hidden), torch.nn.SiLU (),
            torch.nn.Linear (int64 hidden, int64 hidden), torch.nn.SiLU (),
            torch.nn.Linear (int64 hidden, 1L))
    do this.register_module ("mlp", mlp)

    /// Φ(s, p) per row.
    override _.forward (s: Tensor, p: Tensor) = mlp.forward(torch.cat ([| s; p |], 1L)).squeeze (-1L)

    /// Output dimension k.
    member _.Outputs = outputs

/// An input-concave energy Φ(u, p) = ⟨u, p⟩ − g(p), with g a convex input-convex network of p
/// (Amos, Xu, Kolter 2017, arXiv 1609.07152): g(p) = wᵀ softplus(W₂ z + V p + b₂) + ½ c‖p‖²,
/// z = softplus(W₁ p + b₁), with w, W₂ ≥ 0 (kept non-negative by softplus of raw weights) and c ≥ 0.
/// Linear in u and concave in p: the class for which Blondel et al. 2022 prove calibration.
type InputConcaveEnergyNet(outputs: int, hidden: int) as this =
    inherit torch.nn.Module<Tensor, Tensor, Tensor>("input_concave_energy")
    do
        Checks.positiveInt "outputs" outputs
        Checks.positiveInt "hidden" hidden
    let w1 = torch.nn.Linear (int64 outputs, int64 hidden)
    let v2 = torch.nn.Linear (int64 outputs, int64 hidden)
    let w2raw = new Parameter (torch.randn (int64 hidden, int64 hidden) * 0.1 - 2.0)
    let wraw = new Parameter (torch.randn (int64 hidden) * 0.1 - 2.0)
    do
        this.register_module ("w1", w1)
        this.register_module ("v2", v2)
        this.register_parameter ("w2raw", w2raw)
        this.register_parameter ("wraw", wraw)

    /// The convex part g(p) per row.
    member _.Convex (p: Tensor) : Tensor =
        use _scope = torch.NewDisposeScope ()
        let z = torch.nn.functional.softplus (w1.forward p)
        let w2 = torch.nn.functional.softplus w2raw
        let z2 = torch.nn.functional.softplus (z.matmul (w2.t ()) + v2.forward p)
        let g = (z2 * torch.nn.functional.softplus wraw).sum (1L, false)
        g.MoveToOuterDisposeScope ()

    /// Φ(u, p) = ⟨u, p⟩ − g(p) per row.
    override this.forward (u: Tensor, p: Tensor) =
        use _scope = torch.NewDisposeScope ()
        let phi = (u * p).sum (1L, false) - this.Convex p
        phi.MoveToOuterDisposeScope ()

/// A mixture-of-modes neural energy over outputs p ∈ [0, 1]ᵏ:
///   Φ(s, p) = log Σₘ exp( wₘ(s) − (βₘ/2) ‖p − μₘ(s)‖² ),
/// with a shared SiLU trunk h(s), means μₘ(s) = sigmoid(Wₘ h(s)) ∈ (0, 1)ᵏ, mode log-weights w(s) =
/// log_softmax(W_w h(s)) and learned precisions βₘ = exp(ρₘ) (initially 20). Each component is
/// concave in p, the mixture is not: Φ has up to M local maxima, one near each μₘ(s), so it
/// represents M equally good actions (a multimodal policy) while keeping the inner maximization
/// easy (each basin is a near-quadratic bump, found by a few starts of projected gradient).
/// A structured alternative to the MLP energy for the imitation experiment of Blondel et al. 2022
/// (arXiv 2205.09589, §5.2: there an energy over actions trained with the generalized FY loss).
/// Not linear in s, not concave in p: no calibration guarantee.
type MixtureEnergyNet(inputs: int, outputs: int, hidden: int, modes: int) as this =
    inherit torch.nn.Module<Tensor, Tensor, Tensor>("mixture_energy")
    do
        Checks.positiveInt "inputs" inputs
        Checks.positiveInt "outputs" outputs
        Checks.positiveInt "hidden" hidden
        Checks.positiveInt "modes" modes
    let trunk =
        torch.nn.Sequential (
            torch.nn.Linear (int64 inputs, int64 hidden), torch.nn.SiLU (),
            torch.nn.Linear (int64 hidden, int64 hidden), torch.nn.SiLU ())
    let means = torch.nn.Linear (int64 hidden, int64 (modes * outputs))
    let weights = torch.nn.Linear (int64 hidden, int64 modes)
    let logPrecision = new Parameter (torch.full ([| int64 modes |], Scalar.op_Implicit (log 20.0)))
    do
        this.register_module ("trunk", trunk)
        this.register_module ("means", means)
        this.register_module ("weights", weights)
        this.register_parameter ("log_precision", logPrecision)

    /// The mode centres μₘ(s) ∈ (0, 1)ᵏ, shape [n, M, k].
    member _.Means (s: Tensor) : Tensor =
        use _scope = torch.NewDisposeScope ()
        let mu = torch.sigmoid(means.forward (trunk.forward s)).view (s.shape[0], int64 modes, int64 outputs)
        mu.MoveToOuterDisposeScope ()

    /// Φ(s, p) per row.
    override this.forward (s: Tensor, p: Tensor) =
        use _scope = torch.NewDisposeScope ()
        // Looked up by name: `to(dtype)` replaces the registered parameter object.
        let logPrecision = this.get_parameter "log_precision"
        let h = trunk.forward s
        let mu = torch.sigmoid(means.forward h).view (s.shape[0], int64 modes, int64 outputs)
        let w = torch.nn.functional.log_softmax (weights.forward h, 1L)
        let d = (p.unsqueeze 1L - mu).square().sum (2L, false)
        let phi = torch.logsumexp (w - d * logPrecision.exp () * 0.5, 1L, false)
        phi.MoveToOuterDisposeScope ()

    /// Number of modes M.
    member _.Modes = modes

/// Energy records for the neural energies.
[<RequireQualifiedAccess>]
module Neural =

    /// The general neural energy over inputs s [n, d]: curvature unknown, no calibration guarantee.
    let energy (net: torch.nn.Module<Tensor, Tensor, Tensor>) (outputs: int) : Energy<Tensor> =
        { Name = "neural"
          Value = fun s p -> net.forward (s, p)
          GradP = fun s p -> Energy.gradByAutograd (fun q -> net.forward (s.detach (), q)) p
          Detach = fun s -> s.detach ()
          Shape = fun s -> (Regularizers.Regularizer.requireBatch "s" s; s.shape[0], int64 outputs)
          Like = id
          Curvature = fun _ -> None
          Calibrated = false
          Quadratic = None }

    /// The input-concave energy over scores u [n, k]: concave in p (curvature ≤ 0), linear in u.
    let inputConcave (net: InputConcaveEnergyNet) : Energy<Tensor> =
        { energy net 1 with
            Name = "input-concave"
            Shape = fun u -> (Regularizers.Regularizer.requireBatch "u" u; u.shape[0], u.shape[1])
            Curvature = fun _ -> Some 0.0
            Calibrated = true }
