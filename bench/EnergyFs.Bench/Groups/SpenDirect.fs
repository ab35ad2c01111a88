/// The PyTorch twin of the spen group (bench/pytorch/spen.py) written directly against TorchSharp,
/// line for line: the inner objective g(θ, ψ), the outer loss, the implicit hypergradient with its
/// Neumann and CG solvers (double backward for the Hessian-vector products, the same scalar reads
/// of norms and dot products) and the Hessian-vector product alone. No EnergyFs call: the third
/// side of the spen benchmarks (`Benchmark.direct`).
module EnergyFs.Bench.Groups.SpenDirect

open TorchSharp
open EnergyFs.Bench

type private Tensor = torch.Tensor
type private F = torch.nn.functional

/// Python's built-in `sum` over tensors, 0 + t₁ + t₂ + … (the first addition adds the int 0).
let pySum (ts: Tensor list) =
    match ts with
    | [] -> invalidArg "ts" "nothing to sum"
    | first :: rest -> List.fold (fun (acc: Tensor) t -> acc + t) (first + 0) rest

/// The inference network A_ψ(x): ReLU MLP over the (weight, bias) pairs of ψ, linear last layer.
let mlp (psi: Tensor list) (x: Tensor) =
    let layers = psi |> List.chunkBySize 2 |> List.map (fun l -> l[0], l[1])
    let mutable h = x
    for w, b in List.take (layers.Length - 1) layers do
        h <- F.relu (F.linear (h, w, b))
    let w, b = List.last layers
    F.linear (h, w, b)

/// E_θ(F, y) = −Σᵢ yᵢ bᵢᵀF + c₂ᵀ softplus(C₁y), one value per example.
let energy (theta: Tensor list) (features: Tensor) (y: Tensor) =
    let b, c1, c2 = theta[0], theta[1], theta[2]
    -((y * features.matmul (b.T)).sum 1L) + F.softplus(y.matmul (c1.T)).matmul c2

/// Binary entropy of the relaxed labels, summed over labels (clamped to [1e-7, 1 − 1e-7]).
let entropy (y: Tensor) =
    use lo = (1e-7).ToScalar ()
    use hi = (1.0 - 1e-7).ToScalar ()
    let p = y.clamp (lo, hi)
    -((torch.xlogy (p, p) + torch.xlogy (1.0 - p, 1.0 - p)).sum -1L)

/// A batch: inputs x, features F(x) (with the constant 1) and labels.
type Batch = { X: Tensor; Features: Tensor; Y: Tensor }

/// g(θ, ψ) = mean E_θ(F(x), σ(A_ψ(x))) + τ mean H + λ‖ψ − ψ₀‖² with τ = −1, λ = 1e-2.
let innerObjective (theta: Tensor list) (psi: Tensor list) (psi0: Tensor list) (batch: Batch) =
    let tau, lam = -1.0, 1e-2
    let y = torch.sigmoid (mlp psi batch.X)
    let g = (energy theta batch.Features y).mean () + (entropy y).mean () * tau
    g + pySum [ for p, p0 in List.zip psi psi0 -> (p - p0).square().sum () ] * lam

/// Mean binary cross-entropy of A_ψ on a batch.
let outerLoss (psi: Tensor list) (batch: Batch) =
    F.binary_cross_entropy_with_logits (mlp psi batch.X, batch.Y)

let private uniform (lo: float) (hi: float) (shape: int64 list) =
    torch.rand (Array.ofList shape) * (hi - lo) + lo

/// The twin's `_setup` at bibtex's size: θ, ψ (requiring gradients), ψ₀ and two batches.
let setup () =
    let inputs, labels, hidden, globalHidden, batch = 1836L, 159L, 150L, 16L, 32L
    let psi =
        [ for fanIn, fanOut in [ inputs, hidden; hidden, hidden; hidden, labels ] do
              let bound = float fanIn ** -0.5
              yield (uniform -bound bound [ fanOut; fanIn ]).requires_grad_ ()
              yield (uniform -bound bound [ fanOut ]).requires_grad_ () ]
    let d = float (hidden + 1L)
    let theta =
        [ (uniform (-(d ** -0.5)) (d ** -0.5) [ labels; hidden + 1L ]).requires_grad_ ()
          (uniform (-(float labels ** -0.5)) (float labels ** -0.5) [ globalHidden; labels ]).requires_grad_ ()
          (uniform -0.1 0.1 [ globalHidden ]).requires_grad_ () ]
    let example () =
        let x = torch.rand([| batch; inputs |]).lt((0.02).ToScalar ()).float ()
        let y = torch.rand([| batch; labels |]).lt((0.02).ToScalar ()).float ()
        let f = torch.cat ([| F.relu (torch.randn ([| batch; hidden |])); torch.ones ([| batch; 1L |]) |], 1L)
        { X = x; Features = f; Y = y }
    let psi0 = [ for p in psi -> p.detach().clone () ]
    theta, psi, psi0, example (), example ()

/// Σ ⟨aᵢ, bᵢ⟩ read back as a float (one scalar read per block).
let dot (a: Tensor list) (b: Tensor list) =
    List.fold2 (fun acc (x: Tensor) (y: Tensor) -> acc + float ((x * y).sum().item<float32> ())) 0.0 a b

/// z = α Σ_{j<K} (I − αH)ʲ b (K − 1 HVPs), then the relative residual ‖Hz − b‖/‖b‖ (one more).
let neumann (hvp: Tensor list -> Tensor list) (b: Tensor list) (terms: int) (alpha: float) =
    let bNorm = dot b b ** 0.5
    let mutable p = [ for t in b -> t.clone () ]
    let mutable acc = [ for t in b -> t.clone () ]
    for _ in 1 .. terms - 1 do
        let hp = hvp p
        p <- List.map2 (fun (pi: Tensor) (hpi: Tensor) -> (pi - hpi * alpha).detach ()) p hp
        acc <- List.map2 (fun (a: Tensor) (pi: Tensor) -> (a + pi).detach ()) acc p
    let z = [ for a in acc -> a * alpha ]
    let r = List.map2 (fun (hz: Tensor) (bi: Tensor) -> hz - bi) (hvp z) b
    let residual = dot r r ** 0.5
    z, residual / bNorm

/// CG on H z = b for exactly `iterations` iterations (stops only at non-positive curvature).
let conjugateGradient (hvp: Tensor list -> Tensor list) (b: Tensor list) (iterations: int) =
    let bNorm = dot b b ** 0.5
    let mutable z = [ for t in b -> torch.zeros_like t ]
    let mutable r = [ for t in b -> t.clone () ]
    let mutable p = [ for t in b -> t.clone () ]
    let mutable rr = bNorm * bNorm
    let mutable i, stopped = 0, false
    while not stopped && i < iterations do
        let hp = hvp p
        let curvature = dot p hp
        if not (curvature > 0.0) then
            stopped <- true
        else
            let a = rr / curvature
            z <- List.map2 (fun (zi: Tensor) (pi: Tensor) -> (zi + pi * a).detach ()) z p
            r <- List.map2 (fun (ri: Tensor) (hpi: Tensor) -> (ri - hpi * a).detach ()) r hp
            let rrNew = dot r r
            p <- List.map2 (fun (ri: Tensor) (pi: Tensor) -> (ri + pi * (rrNew / rr)).detach ()) r p
            rr <- rrNew
            i <- i + 1
    z, rr ** 0.5 / bNorm

/// (H + 10 I) v from H v.
let damped (hvp: Tensor list -> Tensor list) (vs: Tensor list) =
    List.map2 (fun (hv: Tensor) (v: Tensor) -> hv + v * 10.0) (hvp vs) vs

/// dL/dθ = ∂L/∂θ − ∂²g/∂θ∂ψ z with z = solve(H, ∇_ψ L): the outer loss read back, its gradient,
/// ∇_ψ g with its graph, the solve by double-backward HVPs, one mixed product.
let implicitHypergradient solve (theta: Tensor list) (psi: Tensor list) psi0 inner outer =
    let loss = outerLoss psi outer
    loss.item<float32> () |> ignore
    // The twin asks for the gradient in θ @ ψ with allow_unused and gets None (zeros) for θ, which the
    // outer loss never reaches; TorchSharp would return empty-handle placeholders that its live-tensor
    // count never releases (a "leak" for the harness), so ψ alone is asked for: the same backward pass.
    let rhs = torch.autograd.grad ([| loss |], Array.ofList psi) |> List.ofSeq
    let direct = [ for t in theta -> torch.zeros_like t ]
    let innerGrad =
        torch.autograd.grad ([| innerObjective theta psi psi0 inner |], Array.ofList psi, retain_graph = true, create_graph = true)
        |> List.ofSeq
    let hvp (vs: Tensor list) =
        torch.autograd.grad ([| pySum (List.map2 (fun (g: Tensor) (v: Tensor) -> (g * v).sum ()) innerGrad vs) |], Array.ofList psi, retain_graph = true)
        |> List.ofSeq
    let z, _ = solve hvp rhs
    let pairing = pySum (List.map2 (fun (g: Tensor) (zi: Tensor) -> (g * zi.detach ()).sum ()) innerGrad z)
    let mixed = torch.autograd.grad ([| pairing |], Array.ofList theta) |> List.ofSeq
    List.map2 (fun (a: Tensor) (m: Tensor) -> (a - m).detach ()) direct mixed

let private owned (theta: Tensor list) psi psi0 (batches: Batch list) : System.IDisposable list =
    [ for t in theta @ psi @ psi0 -> t
      for b in batches do
          yield b.X
          yield b.Features
          yield b.Y ]

/// `hypergradient_neumann`: K = `k` terms, α = 0.01 (K HVPs with the residual).
let hypergradientNeumann (k: int) () =
    let theta, psi, psi0, inner, outer = setup ()
    Benchmark.case (owned theta psi psi0 [ inner; outer ]) (fun () ->
        implicitHypergradient (fun hvp b -> neumann hvp b k 0.01) theta psi psi0 inner outer |> ignore)

/// `hypergradient_cg`: `k` CG iterations on (H + 10 I) z = b.
let hypergradientCg (k: int) () =
    let theta, psi, psi0, inner, outer = setup ()
    Benchmark.case (owned theta psi psi0 [ inner; outer ]) (fun () ->
        implicitHypergradient (fun hvp b -> conjugateGradient (damped hvp) b k) theta psi psi0 inner outer |> ignore)

/// `hvp`: one ∂²g/∂ψ² v (v = ones) through a gradient graph built once.
let hvp () =
    let theta, psi, psi0, inner, _ = setup ()
    let g =
        torch.autograd.grad ([| innerObjective theta psi psi0 inner |], Array.ofList psi, retain_graph = true, create_graph = true)
        |> List.ofSeq
    let vs = [ for p in psi -> torch.ones_like p ]
    Benchmark.case (owned theta psi psi0 [ inner ] @ [ for t in g @ vs -> t ]) (fun () ->
        torch.autograd.grad ([| pySum (List.map2 (fun (gi: Tensor) (v: Tensor) -> (gi * v).sum ()) g vs) |], Array.ofList psi, retain_graph = true)
        |> ignore)
