namespace EnergyFs.Sequences

open System
open TorchSharp
open EnergyFs

/// Options of `SparseMap.solve`; start from `SparseMapOptions.defaults`.
type SparseMapOptions =
    { /// Maximum calls of the linear maximisation oracle (Viterbi), i.e. outer iterations.
      MaxIterations: int
      /// Stop when the Frank-Wolfe gap max_y ⟨θ − μ, φ(y) − μ⟩ is at most Tolerance·(1 + |τ|).
      Tolerance: float }

/// Defaults of SparseMapOptions.
[<RequireQualifiedAccess>]
module SparseMapOptions =
    /// 200 oracle calls, tolerance 1e-9.
    let defaults = { MaxIterations = 200; Tolerance = 1e-9 }

/// The SparseMAP solution of a batch: μ* and its decomposition into a few label sequences.
type SparseMapSolution =
    { /// Unary part of μ*, [B, T, L] (zero at padding).
      Unary: Tensor
      /// Pairwise part of μ*, [B, T − 1, L, L] (zero at padded steps).
      Pairwise: Tensor
      /// Per sentence, the sequences of the support with their weights α (positive, summing to 1):
      /// μ* = Σᵢ αᵢ φ(yᵢ).
      Support: (int[] * float)[][]
      /// Oracle calls made (the largest over the batch).
      Iterations: int
      /// The largest final Frank-Wolfe gap over the batch.
      Gap: float }
    interface IDisposable with
        member s.Dispose() = s.Unary.Dispose(); s.Pairwise.Dispose()

/// SparseMAP for the linear chain (Niculae, Martins, Blondel & Cardie 2018, arXiv 1802.04223):
///
///   μ*(θ) = argmax_{μ ∈ M} ⟨θ, μ⟩ − ½‖μ‖²,   M = conv{φ(y)} the marginal polytope,
///
/// with the squared norm over both the unary and the pairwise coordinates (the paper also uses a
/// unary-only variant; the full norm makes Ω strongly convex on M, so μ* is unique and
/// Ω*(θ) = ⟨θ, μ*⟩ − ½‖μ*‖² is differentiable with ∇Ω* = μ*). μ* is a sparse combination of
/// sequences, found by the paper's active-set method (§3.2; Nocedal & Wright 2006, §16.5) on
/// α ∈ Δ over an active set of sequences: on the active set, the equality-constrained problem
/// min ½αᵀQα − cᵀα s.t. 1ᵀα = 1 (Q = Gram matrix ⟨φ(yᵢ), φ(yⱼ)⟩, c = scores s(yᵢ)) is solved by
/// its KKT system; a negative weight triggers a step back and a drop; otherwise the linear
/// maximisation oracle — Viterbi (`LinearChain.viterbi`) on the scores θ − μ, batched over the
/// sentences — adds the most violating sequence, until the Frank-Wolfe gap is below tolerance.
/// The small dense algebra runs on the host in float64.
[<RequireQualifiedAccess>]
module SparseMap =

    /// ⟨φ(y), φ(y')⟩: positions with the same label plus steps with the same label pair.
    let private overlap (y: int[]) (z: int[]) =
        let mutable k = 0
        for t in 0 .. y.Length - 1 do
            if y[t] = z[t] then
                k <- k + 1
                if t > 0 && y[t - 1] = z[t - 1] then k <- k + 1
        float k

    /// Solves [Q + εI, 1; 1ᵀ, 0] [β; τ] = [c; 1] by Gaussian elimination with partial pivoting.
    let private solveKkt (q: float[,]) (c: float[]) : float[] * float =
        let n = c.Length
        let a = Array2D.init (n + 1) (n + 2) (fun i j ->
            if i < n && j < n then q[i, j] + (if i = j then 1e-12 else 0.0)
            elif i < n && j = n then 1.0
            elif i < n then c[i]
            elif j < n then 1.0
            elif j = n then 0.0
            else 1.0)
        for col in 0 .. n do
            let pivot = seq { col .. n } |> Seq.maxBy (fun r -> abs a[r, col])
            for j in 0 .. n + 1 do
                let tmp = a[col, j]
                a[col, j] <- a[pivot, j]
                a[pivot, j] <- tmp
            for r in 0 .. n do
                if r <> col && a[col, col] <> 0.0 then
                    let f = a[r, col] / a[col, col]
                    if f <> 0.0 then for j in col .. n + 1 do a[r, j] <- a[r, j] - f * a[col, j]
        let x = Array.init (n + 1) (fun i -> a[i, n + 1] / a[i, i])
        x[0 .. n - 1], x[n]

    /// The active set of one sentence: sequences, weights, scores and the Gram matrix.
    type private ActiveSet(score: int[] -> float) =
        let sequences = ResizeArray<int[]>()
        let weights = ResizeArray<float>()
        member _.Sequences = sequences
        member _.Weights = weights
        member _.Contains(y: int[]) = sequences |> Seq.exists (fun z -> z = y)
        member _.Add(y: int[], weight: float) = sequences.Add y; weights.Add weight
        /// Re-solves the weights on the active set (stepping back and dropping sequences while a
        /// weight would go negative); returns τ.
        member _.Reoptimize() : float =
            let mutable result = None
            while result.IsNone do
                let n = sequences.Count
                let q = Array2D.init n n (fun i j -> overlap sequences[i] sequences[j])
                let c = Array.init n (fun i -> score sequences[i])
                let beta, tau = solveKkt q c
                if beta |> Array.forall (fun b -> b >= 0.0) then
                    for i in 0 .. n - 1 do weights[i] <- beta[i]
                    result <- Some tau
                else
                    let gamma =
                        Seq.init n id |> Seq.filter (fun i -> beta[i] < 0.0)
                        |> Seq.map (fun i -> weights[i] / (weights[i] - beta[i])) |> Seq.min
                    for i in 0 .. n - 1 do weights[i] <- weights[i] + gamma * (beta[i] - weights[i])
                    let blocking = Seq.init n id |> Seq.filter (fun i -> beta[i] < 0.0) |> Seq.minBy (fun i -> weights[i])
                    weights[blocking] <- 0.0
                    for i in n - 1 .. -1 .. 0 do
                        if weights[i] <= 1e-15 then sequences.RemoveAt i; weights.RemoveAt i
            result.Value

    /// μ* and its support for the scores of a batch (see the module doc). Not differentiable: the
    /// loss built on it (`SequenceFenchelYoung.sparseMap`) gets its gradient by Danskin's theorem.
    let solve (options: SparseMapOptions) (mask: Tensor) (scores: ChainScores) : SparseMapSolution =
        Checks.positiveInt "MaxIterations" options.MaxIterations
        Checks.nonNegative "Tolerance" options.Tolerance
        let b, t, l = LinearChain.check mask scores
        let bi, ti, li = int b, int t, int l
        Diff.noGrad (fun () ->
            Scope.keeping (fun (s: SparseMapSolution) -> seq { s.Unary :> IDisposable; s.Pairwise }) (fun () ->
                let unary = LinearChain.foldedUnary mask scores |> fun u -> u.detach ()
                let pairwise = LinearChain.pairwise mask scores |> fun p -> p.detach ()
                let host (x: Tensor) = Tensor.toArray x
                let u, p = host unary, host pairwise
                let lengths = (LinearChain.lengths mask).cpu().data<int64>().ToArray() |> Array.map int
                let scoreOf row (y: int[]) =
                    let mutable s = 0.0
                    for i in 0 .. y.Length - 1 do
                        s <- s + u[(row * ti + i) * li + y[i]]
                        if i > 0 then s <- s + p[((row * (ti - 1) + i - 1) * li + y[i - 1]) * li + y[i]]
                    s
                let sets = Array.init bi (fun row -> ActiveSet(scoreOf row))
                let mu = Array.zeroCreate<float> (bi * ti * li)
                let nu = Array.zeroCreate<float> (bi * max 0 (ti - 1) * li * li)
                let fillMarginals () =
                    Array.Clear mu
                    Array.Clear nu
                    for row in 0 .. bi - 1 do
                        for y, w in Seq.zip sets[row].Sequences sets[row].Weights do
                            for i in 0 .. y.Length - 1 do
                                mu[(row * ti + i) * li + y[i]] <- mu[(row * ti + i) * li + y[i]] + w
                                if i > 0 then
                                    let k = ((row * (ti - 1) + i - 1) * li + y[i - 1]) * li + y[i]
                                    nu[k] <- nu[k] + w
                let oracle () =
                    Scope.run (fun () ->
                        let shaped (values: float[]) (like: Tensor) = torch.tensor(values, dtype = like.dtype, device = like.device).reshape like.shape
                        use best = LinearChain.viterbi mask (ChainScores.create (unary - shaped mu unary) (pairwise - shaped nu pairwise))
                        let tags = best.Tags.cpu().data<int64>().ToArray()
                        Array.init bi (fun row -> Array.init lengths[row] (fun i -> int tags[row * ti + i])))
                let taus = Array.zeroCreate<float> bi
                let active = Array.create bi true
                let mutable gap = infinity
                let mutable iterations = 0
                let first = oracle ()
                for row in 0 .. bi - 1 do sets[row].Add(first[row], 1.0)
                iterations <- 1
                while iterations < options.MaxIterations && (active |> Array.exists id) do
                    for row in 0 .. bi - 1 do
                        if active[row] then taus[row] <- sets[row].Reoptimize()
                    fillMarginals ()
                    let candidates = oracle ()
                    iterations <- iterations + 1
                    gap <- 0.0
                    for row in 0 .. bi - 1 do
                        if active[row] then
                            let y = candidates[row]
                            // ⟨θ − μ, φ(y)⟩ − τ, with ⟨θ − μ, μ⟩ = τ at the re-optimised weights.
                            let muDot =
                                Seq.zip sets[row].Sequences sets[row].Weights |> Seq.sumBy (fun (z, w) -> w * overlap y z)
                            let g = scoreOf row y - muDot - taus[row]
                            gap <- max gap g
                            if g <= options.Tolerance * (1.0 + abs taus[row]) || sets[row].Contains y then active[row] <- false
                            else sets[row].Add(y, 0.0)
                for row in 0 .. bi - 1 do
                    if active[row] then taus[row] <- sets[row].Reoptimize()
                fillMarginals ()
                { Unary = torch.tensor(mu, dtype = unary.dtype, device = unary.device).reshape unary.shape
                  Pairwise = torch.tensor(nu, dtype = unary.dtype, device = unary.device).reshape pairwise.shape
                  Support = sets |> Array.map (fun s -> Array.zip (s.Sequences.ToArray()) (s.Weights.ToArray()))
                  Iterations = iterations
                  Gap = gap }))
