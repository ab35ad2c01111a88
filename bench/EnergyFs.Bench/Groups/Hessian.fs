/// Differentiation of a scalar energy of a 1000-dim vector, f(x) = Σ softplus(W₂ tanh(W₁x + b₁) + b₂)
/// with W₁: 256×1000, W₂: 64×256: the gradient (Diff.grad) and the Hessian-vector product
/// (Diff.hvp, double backward) against PyTorch's torch.autograd.grad and
/// torch.autograd.functional.hvp.
module EnergyFs.Bench.Groups.Hessian

open TorchSharp
open EnergyFs
open EnergyFs.Bench

type private Shape = { Dim: int; Hidden: int; Out: int }

let private shape = { Dim = 1000; Hidden = 256; Out = 64 }

let private args (s: Shape) = [ "dim", s.Dim; "hidden", s.Hidden; "out", s.Out ]

/// The energy's parameters (constants) and f.
let private energy (s: Shape) =
    let ctx = Context.cpu
    use rng = new Rng(0L, torch.CPU)
    let w1 = Scope.tensor (fun () -> Tensor.randn rng ctx [ int64 s.Hidden; int64 s.Dim ] / sqrt (float s.Dim))
    let b1 = Scope.tensor (fun () -> Tensor.randn rng ctx [ int64 s.Hidden ] * 0.1)
    let w2 = Scope.tensor (fun () -> Tensor.randn rng ctx [ int64 s.Out; int64 s.Hidden ] / sqrt (float s.Hidden))
    let b2 = Scope.tensor (fun () -> Tensor.randn rng ctx [ int64 s.Out ] * 0.1)
    let f (x: Tensor) = Tensor.softplus(w2.matmul(Tensor.tanh (w1.matmul x + b1)) + b2) |> Tensor.sum
    let x = Tensor.randn rng ctx [ int64 s.Dim ]
    let v = Tensor.randn rng ctx [ int64 s.Dim ]
    f, x, v, [ w1; b1; w2; b2; x; v ]

let private gradCase (s: Shape) () =
    let f, x, _, owned = energy s
    Benchmark.case (owned |> List.map (fun t -> t :> System.IDisposable)) (fun () -> Diff.grad f x |> ignore)

let private hvpCase (s: Shape) () =
    let f, x, v, owned = energy s
    Benchmark.case (owned |> List.map (fun t -> t :> System.IDisposable)) (fun () -> Diff.hvp f x v |> ignore)

/// The direct TorchSharp versions (no EnergyFs call in the step): the PyTorch twin's code line for
/// line, `torch.autograd.grad` on a detached copy of x that requires grad.
let private directEnergy (s: Shape) =
    let w1 = torch.randn ([| int64 s.Hidden; int64 s.Dim |]) / sqrt (float s.Dim)
    let b1 = torch.randn ([| int64 s.Hidden |]) * 0.1
    let w2 = torch.randn ([| int64 s.Out; int64 s.Hidden |]) / sqrt (float s.Hidden)
    let b2 = torch.randn ([| int64 s.Out |]) * 0.1
    let f (x: torch.Tensor) = torch.nn.functional.softplus(w2.matmul(torch.tanh (w1.matmul x + b1)) + b2).sum ()
    let x = torch.randn ([| int64 s.Dim |])
    let v = torch.randn ([| int64 s.Dim |])
    f, x, v, [ w1; b1; w2; b2; x; v ]

let private directGradCase (s: Shape) () =
    let f, x, _, owned = directEnergy s
    Benchmark.case (owned |> List.map (fun t -> t :> System.IDisposable)) (fun () ->
        let xv = x.detach().requires_grad_ true
        torch.autograd.grad ([| f xv |], [| xv |]) |> ignore)

let private directHvpCase (s: Shape) () =
    let f, x, v, owned = directEnergy s
    Benchmark.case (owned |> List.map (fun t -> t :> System.IDisposable)) (fun () ->
        let xv = x.detach().requires_grad_ true
        let g = torch.autograd.grad ([| f xv |], [| xv |], retain_graph = true, create_graph = true)
        torch.autograd.grad ([| g[0] |], [| xv |], [| v |]) |> ignore)

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "hessian" "grad-1000" "Diff.grad of f: R^1000 -> R (MLP 1000-256-64, softplus, sum)" (gradCase shape)
      |> Benchmark.versus "hessian.grad" (args shape)
      |> Benchmark.direct (directGradCase shape)
      Benchmark.create "hessian" "hvp-1000" "Diff.hvp of the same f vs double backward (torch.autograd.grad twice)" (hvpCase shape)
      |> Benchmark.versus "hessian.hvp_double_backward" (args shape)
      |> Benchmark.direct (directHvpCase shape)
      Benchmark.create "hessian" "hvp-1000-functional" "Diff.hvp vs torch.autograd.functional.hvp" (hvpCase shape)
      |> Benchmark.versus "hessian.hvp_functional" (args shape) ]
