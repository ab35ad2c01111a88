namespace EnergyFs.Losses

open System
open System.Collections.Generic
open TorchSharp
open EnergyFs
open EnergyFs.Energies

/// Score-matching objectives for p ∝ exp(−f) (Hyvärinen 2005): the Fisher divergence
/// E_data‖∇log p_data − ∇log p_f‖² up to a constant that does not depend on f, obtained by
/// integration by parts:  J(f) = E_data[½‖∇f‖² − Δf].  Each returns a 0-D tensor that is
/// differentiable in the energy's parameters (when they require grad).
[<RequireQualifiedAccess>]
module ScoreMatching =

    /// ∂(Σ y)/∂x keeping the graph (for objectives that differentiate a gradient again).
    let private gradKeep (y: Tensor) (x: Tensor) =
        (Diff.gradients { CreateGraph = true; RetainGraph = true; Unused = ZerosForUnused } y [ x ]).Head

    /// Exact score matching on the sphere S^(d−1) for a shallow energy (Domingo-Enrich et al. 2021,
    /// arXiv 2107.05134; Riemannian form of Hyvärinen 2005):
    ///
    ///   J(f) = E_data[ ½‖∇_T f(x)‖² − Δ_S f(x) ],
    ///
    /// Δ_S being the Laplace–Beltrami operator (`Shallow.laplaceBeltrami`). For ReLU neurons
    /// Δ_S⟨x,z⟩₊ = −(d−1)⟨x,z⟩₊ + δ_{⟨x,z⟩=0}: the kink along the great circle carries a Dirac mass
    /// (the jump of the normal derivative, ‖z‖ = 1), so J contains −(1/m) Σᵢ cᵢwᵢ ∫_{⟨x,zᵢ⟩=0} p_data,
    /// which is not an expectation over the data, and the feature gradient has boundary terms from
    /// the moving kinks. Both are obtained by evaluating J for the Gaussian-smoothed ReLU σ_h
    /// (`SmoothedRelu bandwidth`), smooth with σ_h'' = φ(t/h)/h → δ; J_h → J as h → 0, and autograd
    /// of J_h gives the full gradient. GDA with a restart at every step smooths the kinks at the noise
    /// scale h = √(2η). The bandwidth is unused for smooth activations (exact).
    let sphereShallow (bandwidth: float) (e: ShallowSphere) (data: Tensor) =
        Projections.Sphere.requireOn "data" 1e-3 data
        let e =
            match e.Activation with
            | Relu ->
                Checks.positive "bandwidth" bandwidth
                { e with Activation = SmoothedRelu bandwidth }
            | _ -> e
        let grad = Shallow.tangentGradient e data
        Tensor.mean (Tensor.sumDim 1 (Tensor.square grad) * 0.5 - Shallow.laplaceBeltrami e data)

    /// Exact score matching on ℝᵈ for a shallow energy with closed-form Laplacian:
    ///   J(f) = E_data[½‖∇f‖² − Δf]  (Hyvärinen 2005, Theorem 1).
    let euclideanShallow (e: ShallowEuclidean) (data: Tensor) =
        Tensor.mean (Tensor.sumDim 1 (Tensor.square (ShallowEuclidean.gradient e data)) * 0.5 - ShallowEuclidean.laplacian e data)

    /// Exact score matching for any energy (per-row energies [n] of x [n, d]) by autograd: the
    /// Laplacian as d Hessian-diagonal passes. For small d; the `sliced` objective scales better.
    let exact (energy: Tensor -> Tensor) (data: Tensor) =
        Checks.rank "data" 2 data
        let x = data.detach().requires_grad_ true
        let g = gradKeep ((energy x).sum ()) x
        let d = int data.shape[1]
        let lap = [ for j in 0 .. d - 1 -> (gradKeep ((g.select (1L, int64 j)).sum ()) x).select (1L, int64 j) ] |> List.reduce (+)
        Tensor.mean (Tensor.sumDim 1 (Tensor.square g) * 0.5 - lap)

    /// Sliced score matching (Song, Garg, Shi & Ermon 2019, arXiv 1905.07088, eq. (7)) with
    /// `projections` Gaussian directions v per point:
    ///   J(f) = E_data E_v[ ½(vᵀ∇f)² − vᵀ∇²f v ].
    let sliced (rng: Rng) (projections: int) (energy: Tensor -> Tensor) (data: Tensor) =
        Checks.rank "data" 2 data
        Checks.positiveInt "projections" projections
        let ctx = { Device = data.device; DType = data.dtype }
        let x = data.detach().repeat(int64 projections, 1L).requires_grad_ true
        let v = Tensor.randn rng ctx (Tensor.shape x)
        let g = gradKeep ((energy x).sum ()) x
        let gv = Tensor.sumDim 1 (g * v)
        let hv = gradKeep (gv.sum ()) x
        Tensor.mean (Tensor.square gv * 0.5 - Tensor.sumDim 1 (hv * v))

    /// Denoising score matching (Vincent 2011) with Gaussian noise of standard deviation σ:
    ///   J(f) = ½ E_data E_ε ‖∇f(x + σε) − ε/σ‖²,
    /// whose minimiser is the energy of the data convolved with N(0, σ²I).
    let denoising (rng: Rng) (sigma: float) (energy: Tensor -> Tensor) (data: Tensor) =
        Checks.rank "data" 2 data
        Checks.positive "sigma" sigma
        let ctx = { Device = data.device; DType = data.dtype }
        let eps = Tensor.randn rng ctx (Tensor.shape data)
        let x = (data.detach () + eps * sigma).requires_grad_ true
        let g = gradKeep ((energy x).sum ()) x
        Tensor.mean (Tensor.sumDim 1 (Tensor.square (g - eps / sigma))) * 0.5
