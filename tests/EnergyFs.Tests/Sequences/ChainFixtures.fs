/// Small random linear-chain problems and their brute-force answers (every label sequence
/// enumerated on the host), shared by the tests of exact inference and of the sequence losses.
module EnergyFs.Tests.Sequences.ChainFixtures

open System
open TorchSharp
open EnergyFs
open EnergyFs.Sequences

let ctx = Context.cpu64

/// A random problem: B sentences of lengths 1..T padded to T, L labels, host copies of the scores.
type ChainCase =
    { B: int; T: int; L: int
      Lengths: int[]
      /// [b][t][l]
      Unary: float[][][]
      /// [b][t][i][j] per step (the shared matrix repeated when Shared).
      Pair: float[][][][]
      Shared: bool
      Start: float[] option
      End: float[] option }

/// A random case drawn from `seed` (B ≤ 3, T ≤ 4, L ≤ 3 unless given).
let randomCase (seed: int64) (maxT: int) (maxL: int) : ChainCase =
    let r = Random(int seed)
    let b, t, l = r.Next(1, 4), r.Next(1, maxT + 1), r.Next(1, maxL + 1)
    let lengths = Array.init b (fun i -> if i = 0 then t else r.Next(1, t + 1))
    let g () = r.NextDouble() * 4.0 - 2.0
    let shared = r.Next 2 = 0
    let m = Array.init l (fun _ -> Array.init l (fun _ -> g ()))
    let boundaries = r.Next 2 = 0
    { B = b; T = t; L = l; Lengths = lengths
      Unary = Array.init b (fun _ -> Array.init t (fun _ -> Array.init l (fun _ -> g ())))
      Pair = Array.init b (fun _ -> Array.init (max 0 (t - 1)) (fun _ -> if shared then m else Array.init l (fun _ -> Array.init l (fun _ -> g ()))))
      Shared = shared
      Start = (if boundaries then Some (Array.init l (fun _ -> g ())) else None)
      End = (if boundaries then Some (Array.init l (fun _ -> g ())) else None) }

let private tensorOf (values: float[]) (shape: int64[]) = torch.tensor(values, dtype = ctx.DType).reshape shape

/// The case's mask [B, T].
let maskOf (c: ChainCase) : Tensor =
    torch.tensor(Array.init (c.B * c.T) (fun k -> k % c.T < c.Lengths[k / c.T])).reshape [| int64 c.B; int64 c.T |]

/// The case's scores as tensors.
let scoresOf (c: ChainCase) : ChainScores =
    let l = int64 c.L
    let unary = tensorOf (c.Unary |> Array.collect (Array.collect id)) [| int64 c.B; int64 c.T; l |]
    let transitions =
        if c.Shared && c.T > 1 then tensorOf (Array.collect id (c.Pair[0][0])) [| l; l |]
        elif c.Shared then tensorOf (Array.zeroCreate (c.L * c.L)) [| l; l |]
        else tensorOf (c.Pair |> Array.collect (Array.collect (Array.collect id))) [| int64 c.B; int64 (c.T - 1); l; l |]
    { Unary = unary; Transitions = transitions
      Start = c.Start |> Option.map (fun s -> tensorOf s [| l |])
      End = c.End |> Option.map (fun s -> tensorOf s [| l |]) }

/// Every label sequence of length n over L labels.
let sequences (n: int) (l: int) : int[][] =
    let rec go k = if k = 0 then [ [] ] else [ for rest in go (k - 1) do for y in 0 .. l - 1 -> y :: rest ]
    go n |> List.map Array.ofList |> Array.ofList

/// s(y) of sentence b, from the host copies.
let hostScore (c: ChainCase) (b: int) (y: int[]) : float =
    let n = y.Length
    let mutable s = 0.0
    for t in 0 .. n - 1 do s <- s + c.Unary.[b].[t].[y.[t]]
    for t in 1 .. n - 1 do s <- s + c.Pair.[b].[t - 1].[y.[t - 1]].[y.[t]]
    c.Start |> Option.iter (fun st -> s <- s + st.[y.[0]])
    c.End |> Option.iter (fun e -> s <- s + e.[y.[n - 1]])
    s

/// log Σ exp of the values.
let logSumExp (xs: float[]) = let m = Array.max xs in m + log (xs |> Array.sumBy (fun x -> exp (x - m)))

/// log Z of sentence b by enumeration.
let bruteLogPartition (c: ChainCase) (b: int) =
    sequences c.Lengths[b] c.L |> Array.map (hostScore c b) |> logSumExp

/// The best sequence of sentence b and its score by enumeration.
let bruteArgmax (c: ChainCase) (b: int) =
    sequences c.Lengths[b] c.L |> Array.map (fun y -> y, hostScore c b y) |> Array.maxBy snd

/// Unary [T][L] and pairwise [T−1][L][L] marginals of sentence b by enumeration (zero at padding).
let bruteMarginals (c: ChainCase) (b: int) =
    let ys = sequences c.Lengths[b] c.L
    let logZ = bruteLogPartition c b
    let unary = Array.init c.T (fun _ -> Array.zeroCreate<float> c.L)
    let pair = Array.init (max 0 (c.T - 1)) (fun _ -> Array.init c.L (fun _ -> Array.zeroCreate<float> c.L))
    for y in ys do
        let p = exp (hostScore c b y - logZ)
        for t in 0 .. y.Length - 1 do unary.[t].[y.[t]] <- unary.[t].[y.[t]] + p
        for t in 1 .. y.Length - 1 do pair.[t - 1].[y.[t - 1]].[y.[t]] <- pair.[t - 1].[y.[t - 1]].[y.[t]] + p
    unary, pair

/// Random gold sequences of the case (0 at padding), as host arrays and as a [B, T] int64 tensor.
let randomTags (seed: int64) (c: ChainCase) : int[][] * Tensor =
    let r = Random(int seed + 17)
    let tags = Array.init c.B (fun b -> Array.init c.T (fun t -> if t < c.Lengths[b] then r.Next c.L else 0))
    tags, torch.tensor(tags |> Array.collect (Array.map int64), dtype = torch.ScalarType.Int64).reshape [| int64 c.B; int64 c.T |]
