/// Single library calls, timed in TorchSharp (0.107, libtorch 2.10) and in PyTorch with no EnergyFs
/// code on either side: the per-call cost of a tiny op (managed wrapper or Python binding, the
/// dispatcher, allocation), the BLAS kernels behind the models' layers (libtorch's MKL against the
/// BLAS PyTorch loads), vectorized elementwise math, and the autograd engine's fixed cost. Where a
/// benchmark's direct TorchSharp version is slower than PyTorch (the split table), these say which
/// part of the libraries accounts for it.
module EnergyFs.Bench.Groups.Library

open TorchSharp
open EnergyFs.Bench

let private randn (shape: int list) = torch.randn (shape |> List.map int64 |> Array.ofList, dtype = torch.ScalarType.Float32)

/// x + y on n values: at n = 16 the cost of one call.
let private add (n: int) () =
    let x, y = randn [ n ], randn [ n ]
    Benchmark.case [ x; y ] (fun () -> x.add y |> ignore)

/// W v, W of rows × cols (a layer's forward on one vector).
let private mv (rows: int) (cols: int) () =
    let w, v = randn [ rows; cols ], randn [ cols ]
    Benchmark.case [ w; v ] (fun () -> w.mv v |> ignore)

/// Wᵀ u, W of rows × cols (the same layer's backward to its input).
let private mvT (rows: int) (cols: int) () =
    let w, u = randn [ rows; cols ], randn [ rows ]
    Benchmark.case [ w; u ] (fun () -> w.t().mv u |> ignore)

/// X W, X of n × d, W of d × h (a batch through a layer).
let private mm (n: int) (d: int) (h: int) () =
    let x, w = randn [ n; d ], randn [ d; h ]
    Benchmark.case [ x; w ] (fun () -> x.mm w |> ignore)

/// Xᵀ G, X of n × d, G of n × h (the layer's weight gradient).
let private mmTN (n: int) (d: int) (h: int) () =
    let x, g = randn [ n; d ], randn [ n; h ]
    Benchmark.case [ x; g ] (fun () -> x.t().mm g |> ignore)

/// x · y elementwise on n values (the HVPs' products of a gradient block with a direction).
let private mul (n: int) () =
    let x, y = randn [ n ], randn [ n ]
    Benchmark.case [ x; y ] (fun () -> x.mul y |> ignore)

let private tanh (n: int) () =
    let x = randn [ n ]
    Benchmark.case [ x ] (fun () -> x.tanh () |> ignore)

let private exp (n: int) () =
    let x = randn [ n ]
    Benchmark.case [ x ] (fun () -> x.exp () |> ignore)

/// torch.autograd.grad of sum(x · x), x of n values: at n = 16 the engine's fixed cost (graph
/// task, ready queue, thread-local state) and two small ops each way.
let private autogradSmall (n: int) () =
    let x = randn [ n ]
    Benchmark.case [ x ] (fun () ->
        let xv = x.detach().requires_grad_ true
        torch.autograd.grad ([| (xv * xv).sum () |], [| xv |]) |> ignore)

let private bench name description snippet args setup =
    Benchmark.create "library" name description setup |> Benchmark.versus snippet args

/// The benchmarks of this group (sizes of the paper benchmarks' layers: grad-1000's 256 × 1000,
/// the multilabel MLPs' 1024 × 103 × 128 and 1024 × 1836 × 128).
let benchmarks =
    [ bench "lib-add-16" "x + y on 16 float32: the cost of one call" "library.add" [ "n", 16 ] (add 16)
      bench "lib-mv-256x1000" "W v, W 256 x 1000 (grad-1000's first layer, forward)" "library.mv" [ "rows", 256; "cols", 1000 ] (mv 256 1000)
      bench "lib-mv-t-256x1000" "W^T u, W 256 x 1000 (the same layer's backward to x)" "library.mv_t" [ "rows", 256; "cols", 1000 ] (mvT 256 1000)
      bench "lib-mm-1024x103x128" "X W, X 1024 x 103, W 103 x 128 (fy k14 MLP's first layer)" "library.mm" [ "n", 1024; "d", 103; "h", 128 ] (mm 1024 103 128)
      bench "lib-mm-tn-1024x103x128" "X^T G, X 1024 x 103, G 1024 x 128 (its weight gradient)" "library.mm_tn" [ "n", 1024; "d", 103; "h", 128 ] (mmTN 1024 103 128)
      bench "lib-mm-1024x1836x128" "X W, X 1024 x 1836, W 1836 x 128 (fy k159 MLP's first layer)" "library.mm" [ "n", 1024; "d", 1836; "h", 128 ] (mm 1024 1836 128)
      bench "lib-mm-tn-1024x1836x128" "X^T G, X 1024 x 1836, G 1024 x 128 (its weight gradient)" "library.mm_tn" [ "n", 1024; "d", 1836; "h", 128 ] (mmTN 1024 1836 128)
      bench "lib-mm-32x1836x150" "X W, X 32 x 1836, W 1836 x 150 (the SPEN feature network's first layer, batch 32)" "library.mm" [ "n", 32; "d", 1836; "h", 150 ] (mm 32 1836 150)
      bench "lib-mm-tn-32x1836x150" "X^T G, X 32 x 1836, G 32 x 150 (its weight gradient)" "library.mm_tn" [ "n", 32; "d", 1836; "h", 150 ] (mmTN 32 1836 150)
      bench "lib-mul-275400" "x * y on 275,400 float32 (a 1836 x 150 weight block times a direction, as in SPEN's HVPs)" "library.mul" [ "n", 275400 ] (mul 275400)
      bench "lib-tanh-1e6" "tanh of 10^6 float32 (vectorized math)" "library.tanh" [ "n", 1_000_000 ] (tanh 1_000_000)
      bench "lib-exp-1e6" "exp of 10^6 float32" "library.exp" [ "n", 1_000_000 ] (exp 1_000_000)
      bench "lib-autograd-16" "torch.autograd.grad of sum(x * x), x of 16 float32: the autograd engine's fixed cost" "library.autograd_small" [ "n", 16 ] (autogradSmall 16) ]
