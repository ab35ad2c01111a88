/// The PyTorch twins of the dual group (bench/pytorch/dual.py) written directly against TorchSharp,
/// line for line, without EnergyFs: a sphere Langevin step of the particles under the energy
/// f(x) = (1/m) Σᵢ cᵢwᵢ relu(⟨x, zᵢ⟩) and one GDA iteration (Langevin step + maximum-likelihood
/// neuron update), drawing from a torch.Generator seeded 0 as the Python does; the same arithmetic,
/// shapes, no_grad blocks and read back (`w.mean().item()`, here `ToDouble`).
module EnergyFs.Bench.Groups.DualDirect

open TorchSharp
open EnergyFs.Bench

/// ∇f(x) = (1/m) Σᵢ cᵢwᵢ 1{⟨x, zᵢ⟩ > 0} zᵢ per row of x (`cw` = c ⊙ w).
let energyGradient (x: torch.Tensor) (z: torch.Tensor) (cw: torch.Tensor) =
    let t = x.matmul z.T
    (t.gt((0).ToScalar ()).to_type(x.dtype) * cw).matmul z / z.shape[0]

/// (I − x xᵀ) v per row.
let tangent (x: torch.Tensor) (v: torch.Tensor) = v - x * (x * v).sum (1L, keepdim = true)

/// x ← normalize(x − η ∇_T f(x) + √(2η) ξ_T), ξ ~ N(0, I) drawn from `gen`.
let langevinStepOf (x: torch.Tensor) (z: torch.Tensor) (cw: torch.Tensor) (eta: float) (gen: torch.Generator) =
    let g = tangent x (energyGradient x z cw)
    let xi = tangent x (torch.randn (x.shape, generator = gen, dtype = x.dtype, device = x.device))
    let y = x - eta * g + (2.0 * eta) ** 0.5 * xi
    y / y.norm (dim = 1, keepdim = true)

/// m times the gradients of mean_x f(x) with respect to each feature [m, d] and mass [m].
let neuronGradients (x: torch.Tensor) (z: torch.Tensor) (c: torch.Tensor) (w: torch.Tensor) =
    let t = x.matmul z.T
    let gz = t.gt((0).ToScalar ()).to_type(x.dtype).T.matmul x / x.shape[0] * (c * w).index ([| torch.TensorIndex.Colon; torch.TensorIndex.None |])
    let gw = torch.nn.functional.relu(t).mean ([| 0L |]) * c
    gz, gw

/// One Langevin step of the particles, then one neuron update (projected features, Fisher-Rao
/// masses, mean mass capped at β). Returns (particles, z, w).
let gdaStep (data: torch.Tensor) (particles: torch.Tensor) (z: torch.Tensor) (c: torch.Tensor) (w: torch.Tensor)
            (eta: float) (alphaZ: float) (alphaW: float) (beta: float) (gen: torch.Generator) =
    let particles = langevinStepOf particles z (c * w) eta gen
    let dz, dw = neuronGradients data z c w
    let pz, pw = neuronGradients particles z c w
    let gz, gw = dz - pz, dw - pw
    let z = z - alphaZ * tangent z gz
    let z = z / z.norm (dim = 1, keepdim = true)
    let w = w * torch.exp (-alphaW * gw)
    let mean = w.mean().ToDouble ()
    let w = if mean > beta then w * (beta / mean) else w
    particles, z, w

/// The generator (seeded 0), unit features z [neurons, dim], signs c = ±1 alternating, masses 1 and
/// `particles` uniform points on the sphere, in the Python's order of draws.
let private setup (particles: int) (neurons: int) (dim: int) =
    let gen = new torch.Generator (0UL, torch.CPU)
    gen.manual_seed 0L |> ignore
    use scope = torch.NewDisposeScope ()
    let x = torch.randn ([| int64 neurons; int64 dim |], generator = gen)
    let z = x / x.norm (dim = 1, keepdim = true)
    let c = torch.tensor ([| for i in 0 .. neurons - 1 -> if i % 2 = 0 then 1.0f else -1.0f |])
    let w = torch.ones (int64 neurons)
    let y = torch.randn ([| int64 particles; int64 dim |], generator = gen)
    let points = y / y.norm (dim = 1, keepdim = true)
    scope.MoveToOuter (z, c, w, points) |> ignore
    gen, z, c, w, points

/// One sphere Langevin step of all particles from the same state every call (`dual.langevin_step`).
let langevinCase (particles: int) (neurons: int) (dim: int) () =
    let gen, z, c, w, x = setup particles neurons dim
    Benchmark.case [ x; z; c; w; gen ] (fun () ->
        use _ = torch.no_grad ()
        langevinStepOf x z (c * w) 1e-2 gen |> ignore)

/// One GDA iteration from the same state every call (`dual.gda_iteration`): particles start at
/// data rows drawn with replacement and are cloned per call.
let gdaCase (particles: int) (neurons: int) (dim: int) () =
    let gen, z, c, w, data = setup particles neurons dim
    let start =
        use idx = torch.randint (0L, int64 particles, [| int64 particles |], generator = gen)
        data.index ([| torch.TensorIndex.Tensor idx |])
    Benchmark.case [ data; start; z; c; w; gen ] (fun () ->
        use _ = torch.no_grad ()
        gdaStep data (start.clone ()) z c w 1e-2 1e-2 1e-2 10.0 gen |> ignore)
