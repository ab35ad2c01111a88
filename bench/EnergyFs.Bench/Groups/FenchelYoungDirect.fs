/// The PyTorch twins of the fenchel-young group (bench/pytorch/fenchel_young.py) written directly
/// against TorchSharp, line for line, without EnergyFs: the inner problem
/// max_{p ∈ [0,1]^k} ⟨u, p⟩ + ½⟨p, Â p⟩ − Ω(p) (Fermi-Dirac Ω) solved by Gauss-Seidel coordinate
/// ascent, parallel minorized ascent and projected gradient ascent with per-row backtracking, and the
/// multilabel training steps (generalized FY loss with the Danskin gradient; binary logistic loss).
/// The same arithmetic, shapes, iteration counts, no_grad blocks, in-place copies and reads back
/// (`.item()`, here `ToDouble` / `ToBoolean`) as the Python. Where Python frees a loop's temporaries
/// by reference counting, a dispose scope per iteration frees them here.
module EnergyFs.Bench.Groups.FenchelYoungDirect

open TorchSharp
open TorchSharp.Modules
open EnergyFs.Bench

/// Runs `f` under torch.no_grad ().
let private noGrad (f: unit -> 'T) : 'T =
    use _ = torch.no_grad ()
    f ()

/// The columns j:j+1 of a [n, k] tensor (Python's `t[:, j:j + 1]`), a view.
let private column (j: int64) (t: torch.Tensor) =
    t.index ([| torch.TensorIndex.Colon; torch.TensorIndex.Slice (j, j + 1L) |])

/// Â = (A + Aᵀ)/2 with its diagonal zeroed.
let interactions (a: torch.Tensor) =
    let k = a.shape[a.shape.Length - 1]
    (a + a.transpose (-1L, -2L)) * 0.5 * (1.0 - torch.eye (k, dtype = a.dtype))

/// Ω(p) = Σⱼ pⱼ log pⱼ + (1 − pⱼ) log(1 − pⱼ) per row.
let fermiDirac (p: torch.Tensor) =
    (torch.xlogy (p, p) + torch.xlogy (1.0 - p, 1.0 - p)).sum (1L)

/// ∇Ω(p) = log p − log(1 − p), clamped away from 0 and 1.
let fermiDiracGrad (p: torch.Tensor) =
    let q = p.clamp ((1e-30).ToScalar (), (1.0 - 1e-16).ToScalar ())
    q.log () - (1.0 - q).clamp_min((1e-30).ToScalar ()).log ()

/// Φ(u, p) = ⟨u, p⟩ + ½⟨p, Â p⟩ per row.
let phi (u: torch.Tensor) (ahat: torch.Tensor) (p: torch.Tensor) =
    (u * p).sum (1L) + 0.5 * (p * p.matmul ahat).sum (1L)

/// F(p) = Φ(u, p) − Ω(p) per row.
let objective (u: torch.Tensor) (ahat: torch.Tensor) (p: torch.Tensor) = phi u ahat p - fermiDirac p

/// The box [0, 1]^k shrunk by 1e-6.
let private projectInterior (z: torch.Tensor) =
    let eps = 1e-6
    z.clamp((0.0).ToScalar (), (1.0).ToScalar ()).clamp (eps.ToScalar (), (1.0 - eps).ToScalar ())

/// Gauss-Seidel sweeps pⱼ ← sigmoid(uⱼ + Σᵢ Âⱼᵢ pᵢ) over all rows at once from p = ½, until the
/// largest change of a sweep is ≤ tol or after `sweeps` sweeps. Returns (F(p), p, sweeps).
let coordinateAscent (u: torch.Tensor) (ahat: torch.Tensor) (sweeps: int) (tol: float) =
    noGrad (fun () ->
        let n, k = u.shape[0], u.shape[1]
        let p = torch.full ([| n; k |], (0.5).ToScalar (), dtype = u.dtype)
        let mutable gap, it = infinity, 0
        while gap > tol && it < sweeps do
            use _ = torch.NewDisposeScope ()
            let mutable change = torch.zeros ([| 1L |], dtype = u.dtype)
            for j in 0L .. k - 1L do
                let c = column j u + p.matmul (column j ahat)
                let pj = torch.sigmoid c
                change <- torch.maximum (change, (pj - column j p).abs().max ())
                (column j p).copy_ pj |> ignore
            gap <- change.ToDouble ()
            it <- it + 1
        objective u ahat p, p, it)

/// Parallel minorized ascent: η = 4 / (4 + max(0, −λ_min(Â))), z ← lerp(z, u + p Â, η),
/// p = sigmoid(z) from z = u, until max_rows ‖p⁺ − p‖_∞ / η ≤ tol or after `iterations`.
/// Returns (F(p), p, iterations).
let parallelAscent (u: torch.Tensor) (ahat: torch.Tensor) (iterations: int) (tol: float) =
    noGrad (fun () ->
        let eta = 4.0 / (4.0 + (torch.linalg.eigvalsh ahat).min().neg().clamp_min((0.0).ToScalar ()).reshape (1L, 1L))
        let mutable z = u.clone ()
        let mutable p = torch.sigmoid z
        let mutable gap, it = infinity, 0
        while gap > tol && it < iterations do
            use scope = torch.NewDisposeScope ()
            let c = torch.addmm (u, p, ahat, 1.0f, 1.0f)
            let zNext = torch.lerp (z, c, eta)
            let q = torch.sigmoid zNext
            gap <- ((q - p).abs().amax([| 1L |], keepdim = true) / eta).max().ToDouble ()
            scope.MoveToOuter (zNext, q) |> ignore
            z.Dispose ()
            p.Dispose ()
            z <- zNext
            p <- q
            it <- it + 1
        objective u ahat p, p, it)

/// Projected gradient ascent from p = ½ with per-row step η (from `step`), halved until
/// F(p⁺) ≥ F(p) + ⟨g, p⁺ − p⟩ − ‖p⁺ − p‖²/(2η) (up to a relative slack 2e-7, at most 40 tries),
/// then η ← min(1.25 η, 1e6 step); stops when max_rows ‖p − proj(p + ∇F(p))‖ ≤ tol or after
/// `iterations` steps. Returns (F(p), p, iterations).
let projectedGradient (u: torch.Tensor) (ahat: torch.Tensor) (iterations: int) (step: float) (tol: float) =
    noGrad (fun () ->
        let n, k = u.shape[0], u.shape[1]
        let mutable p = torch.full ([| n; k |], (0.5).ToScalar (), dtype = u.dtype)
        let mutable eta = torch.full ([| n; 1L |], step.ToScalar (), dtype = u.dtype)
        let mutable it = 0
        let mutable running = true
        while running do
            use scope = torch.NewDisposeScope ()
            let g = u + p.matmul ahat - fermiDiracGrad p
            let measure = (p - projectInterior (p + g)).norm(dim = 1).max().ToDouble ()
            if measure <= tol || it >= iterations then running <- false
            else
                let fp = objective u ahat p
                let slack = 2e-7
                let mutable tries = 0
                let mutable q = null
                let mutable searching = true
                let p0, eta0 = p, eta
                while searching do
                    q <- projectInterior (p + eta * g)
                    let d = 0.5 * (q - p).pow((2).ToScalar ()).sum (1L)
                    let lower = fp + (g * (q - p)).sum (1L) - d / eta.squeeze (1L)
                    let ok = (objective u ahat q).ge (lower - (fp.abs () + 1.0) * slack)
                    tries <- tries + 1
                    if ok.all().ToBoolean () || tries >= 40 then searching <- false
                    else eta <- torch.where (ok.unsqueeze (1L), eta, eta * 0.5)
                p <- q
                eta <- (eta * 1.25).clamp_max ((1e6 * step).ToScalar ())
                scope.MoveToOuter (p, eta) |> ignore
                p0.Dispose ()
                eta0.Dispose ()
                it <- it + 1
        eta.Dispose ()
        objective u ahat p, p, it)

/// u ~ N(0, 1) [batch, k] and A [k, k] Gaussian, symmetrized, scaled to spectral norm 0.5 (drawn
/// in float64, returned in float32), from torch's default generator.
let private problem (batch: int) (k: int) =
    use scope = torch.NewDisposeScope ()
    let u = torch.randn ([| int64 batch; int64 k |])
    let m = torch.randn ([| int64 k; int64 k |], dtype = torch.ScalarType.Float64)
    let s = (m + m.t ()) * 0.5
    let a = (s / (torch.linalg.eigvalsh s).abs().max () * 0.5).to_type torch.ScalarType.Float32
    scope.MoveToOuter (u, a) |> ignore
    u, a

/// A case running `solve u Â iterations` on a fixed problem (torch seeded 0, as the PyTorch
/// worker does before a set-up), checked once to run all `iterations`.
let private solveCase (solve: torch.Tensor -> torch.Tensor -> int -> int) (batch: int) (k: int) (iterations: int) () =
    torch.manual_seed 0L |> ignore
    let u, a = problem batch k
    let ahat = interactions a
    a.Dispose ()
    let used =
        use _ = torch.NewDisposeScope ()
        solve u ahat iterations
    if used <> iterations then failwithf "the solve stopped after %d of %d iterations" used iterations
    Benchmark.case [ u; ahat ] (fun () -> solve u ahat iterations |> ignore)

let private third (_, _, it) = it

/// One coordinate-ascent solve of `batch` rows with `iterations` sweeps (`fenchel_young.coordinate_solve`).
let coordinateCase (batch: int) (k: int) (iterations: int) =
    solveCase (fun u ahat n -> coordinateAscent u ahat n 0.0 |> third) batch k iterations

/// One parallel-ascent solve of `batch` rows with `iterations` iterations (`fenchel_young.parallel_solve`).
let parallelCase (batch: int) (k: int) (iterations: int) =
    solveCase (fun u ahat n -> parallelAscent u ahat n 0.0 |> third) batch k iterations

/// One projected-gradient solve of `batch` rows with `iterations` iterations (`fenchel_young.pga_solve`).
let pgaCase (batch: int) (k: int) (iterations: int) =
    solveCase (fun u ahat n -> projectedGradient u ahat n 1.0 0.0 |> third) batch k iterations

/// u(x) = W₂ relu(W₁ x + b₁) + b₂ and a learned pairwise matrix A (Python's `EnergyNet`).
type EnergyNet(d: int, k: int, hidden: int) as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("energy_net")
    let body = torch.nn.Sequential (torch.nn.Linear (int64 d, int64 hidden), torch.nn.ReLU (), torch.nn.Linear (int64 hidden, int64 k))
    let pairwise = new Parameter (torch.zeros (int64 k, int64 k))
    do
        this.register_module ("body", body)
        this.register_parameter ("pairwise", pairwise)

    /// The unary scores u(x) [n, k].
    override _.forward (x: torch.Tensor) = body.forward x

    /// The pairwise matrix A.
    member _.Pairwise : torch.Tensor = pairwise

/// x ~ N(0, 1) [batch, d], y = 1{U(0, 1) > 0.7} [batch, k], the network with A copied from a
/// 1-row solver problem, Adam (lr 1e-3), torch seeded 0 first (`fenchel_young._training`).
let private trainingSetup (batch: int) (d: int) (k: int) (hidden: int) =
    torch.manual_seed 0L |> ignore
    let x = torch.randn ([| int64 batch; int64 d |])
    let y =
        use r = torch.rand ([| int64 batch; int64 k |])
        use above = r.gt ((0.7).ToScalar ())
        above.to_type torch.ScalarType.Float32
    let net = new EnergyNet (d, k, hidden)
    noGrad (fun () ->
        let u, a = problem 1 k
        net.Pairwise.copy_ a |> ignore
        u.Dispose ()
        a.Dispose ())
    let opt = torch.optim.Adam (net.parameters (), lr = 1e-3)
    x, y, net, opt

/// zero_grad, u = MLP(x), p̂ by `sweeps` parallel-ascent iterations on detached (u, Â), loss =
/// mean(Φ(u, p̂) − Ω(p̂) + Ω(y) − Φ(u, y)), backward, Adam (`fenchel_young.fy_train_step`).
let fyTrainCase (batch: int) (d: int) (k: int) (hidden: int) (sweeps: int) () =
    let x, y, net, opt = trainingSetup batch d k hidden
    Benchmark.case [ x; y; opt; net ] (fun () ->
        opt.zero_grad ()
        let omegaY = noGrad (fun () -> fermiDirac y)
        let u = net.forward x
        let ahat = interactions net.Pairwise
        let _, pHat, _ = parallelAscent (u.detach ()) (ahat.detach ()) sweeps 0.0
        let loss = (phi u ahat pHat - fermiDirac pHat + omegaY - phi u ahat y).mean ()
        loss.backward ()
        opt.step () |> ignore)

/// zero_grad, binary cross-entropy with logits summed over labels and divided by the batch,
/// backward, Adam (`fenchel_young.logistic_train_step`).
let logisticTrainCase (batch: int) (d: int) (k: int) (hidden: int) () =
    let x, y, net, opt = trainingSetup batch d k hidden
    Benchmark.case [ x; y; opt; net ] (fun () ->
        opt.zero_grad ()
        let loss = torch.nn.functional.binary_cross_entropy_with_logits (net.forward x, y, reduction = torch.nn.Reduction.Sum) / batch
        loss.backward ()
        opt.step () |> ignore)
