namespace EnergyFs.Papers.FenchelYoung

open System.Diagnostics
open TorchSharp
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Learners
open EnergyFs.Regularizers
open EnergyFs.Energies
open EnergyFs.Solvers
open EnergyFs.Training

/// One throughput measurement.
type ThroughputResult =
    { /// What was timed, with its sizes: "solve <solver> k=… batch=…" or "train step <loss> d=… k=… batch=…".
      Name: string
      /// Solves (rows) per second, or training steps per second.
      PerSecond: float
      /// Mean inner iterations per call (0 for training steps).
      Iterations: float
      /// Wall-clock seconds of the timed calls (after one warm-up call; at least the requested
      /// minimum time and three calls).
      Seconds: float }

/// Throughput measurements for the generalized Fenchel-Young machinery (Blondel et al. 2022): inner
/// solves per second of the generalized conjugate of the quadratic energy for each solver, and the
/// cost of a multilabel training step with the quadratic energy relative to a binary logistic
/// (independent sigmoid) step. Meant for `energyfs fy bench`; the shared bench harness should call these.
[<RequireQualifiedAccess>]
module FenchelYoungThroughput =

    let private timeFor (minSeconds: float) (f: unit -> float) =
        f () |> ignore // warm-up
        let watch = Stopwatch.StartNew ()
        let mutable calls = 0
        let mutable iters = 0.0
        while watch.Elapsed.TotalSeconds < minSeconds || calls < 3 do
            iters <- iters + f ()
            calls <- calls + 1
        float calls, iters / float calls, watch.Elapsed.TotalSeconds

    /// The solver benchmark's problem: unary scores u ~ N(0, 1) of shape [batch, k] and a symmetric
    /// interaction matrix A [k, k] (Gaussian, symmetrized, scaled to spectral norm 0.5, so that
    /// Φ − Ω is concave for Fermi-Dirac). The caller owns both tensors.
    let solverProblem (rng: Rng) (ctx: Context) (batch: int) (k: int) : QuadraticInput =
        let u = Tensor.randn rng ctx [ int64 batch; int64 k ]
        let a =
            Scope.tensor (fun () ->
                let m = Tensor.randn rng Context.cpu64 [ int64 k; int64 k ]
                let s = (m + m.t ()) * 0.5
                Tensor.toContext ctx (s / (torch.linalg.eigvalsh s).abs().max () * 0.5))
        { Unary = u; Pairwise = a }

    /// The training benchmark's batch: features x ~ N(0, 1) [batch, d] and labels y ∈ {0, 1}
    /// [batch, k], each 1 with probability 0.3. The caller owns both tensors.
    let trainingBatch (rng: Rng) (ctx: Context) (batch: int) (d: int) (k: int) : Tensor * Tensor =
        let x = Tensor.randn rng ctx [ int64 batch; int64 d ]
        let y = Scope.tensor (fun () -> (Tensor.rand rng ctx [ int64 batch; int64 k ]).gt(Tensor.full ctx [ int64 batch; int64 k ] 0.7).to_type ctx.DType)
        x, y

    /// Solves per second for a batch of `batch` rows of k labels, Fermi-Dirac, each solver at
    /// tolerance 1e-4 (≤ 100 iterations); interactions of spectral norm 0.5 (concave problems).
    let solvers (ctx: Context) (batch: int) (k: int) (minSeconds: float) : ThroughputResult list =
        use rng = new Rng(0L, ctx.Device)
        let v = solverProblem rng ctx batch k
        use _u = v.Unary
        use _a = v.Pairwise
        let options = { InnerOptions.defaults with Tolerance = 1e-4; MaxIterations = 100 }
        [ for name, kind in SolverChoice.all ->
            let calls, iters, seconds =
                timeFor minSeconds (fun () ->
                    Scope.run (fun () ->
                        let sol = SolverChoice.run kind options Quadratic.energy FermiDirac.regularizer v None
                        float sol.Iterations))
            { Name = sprintf "solve %s k=%d batch=%d" name k batch; PerSecond = calls * float batch / seconds; Iterations = iters; Seconds = seconds } ]

    /// The smallest optimality measure each solver reaches on the solver benchmark's problem (batch
    /// rows, k labels, Fermi-Dirac) in the context's dtype: tolerance 0 and `cap` iterations, so the
    /// measure returned is the floor set by the precision (or by the cap). Returns (solver name,
    /// iterations used, final Gap) per solver; see each solver's doc for what its Gap measures.
    let achievableGaps (ctx: Context) (batch: int) (k: int) (cap: int) : (string * int * float) list =
        use rng = new Rng(0L, ctx.Device)
        let v = solverProblem rng ctx batch k
        use _u = v.Unary
        use _a = v.Pairwise
        let options = { InnerOptions.defaults with Tolerance = 0.0; MaxIterations = cap }
        [ for name, kind in SolverChoice.all ->
            Scope.run (fun () ->
                let sol = SolverChoice.run kind options Quadratic.energy FermiDirac.regularizer v None
                name, sol.Iterations, sol.Gap) ]

    /// Training steps per second of the multilabel network (d inputs, k labels, one hidden layer of
    /// 128) with the independent logistic loss and with the quadratic-energy generalized FY loss.
    let trainingSteps (ctx: Context) (batch: int) (d: int) (k: int) (minSeconds: float) : ThroughputResult list =
        use rng = new Rng(0L, ctx.Device)
        let x, y = trainingBatch rng ctx batch d k
        use x = x
        use y = y
        [ for loss in [ Independent; QuadraticEnergy ] ->
            let options = { MultilabelOptions.defaults with Loss = loss; Context = ctx }
            use net = EnergyMultilabelNet.create rng ctx d k 128
            use opt = Optimizer.create (OptimizerOptions.adam 1e-3) net
            let calls, _, seconds =
                timeFor minSeconds (fun () ->
                    Scope.run (fun () ->
                        opt.ZeroGrad ()
                        let l = Multilabel.loss options (Builtin net) x y
                        l.backward ()
                        opt.Step () |> ignore
                        0.0))
            { Name = sprintf "train step %A d=%d k=%d batch=%d" loss d k batch; PerSecond = calls / seconds; Iterations = 0.0; Seconds = seconds } ]

    /// The sizes `energyfs fy bench` times: conjugate solves at k = 14 and 159 labels, training
    /// steps at (d, k) = (103, 14) (yeast) and (1836, 159) (bibtex), batch 1024.
    let benchmarkSizes = [ 103, 14; 1836, 159 ]

    /// Every solver's solves per second at each k of `benchmarkSizes`, and the training steps per
    /// second of both losses at each (d, k), keyed by k; at least `minSeconds` per measurement.
    let benchmark (ctx: Context) (minSeconds: float) : ThroughputResult list * (int * ThroughputResult list) list =
        let solves = [ for _, k in benchmarkSizes do yield! solvers ctx 1024 k minSeconds ]
        let steps = [ for d, k in benchmarkSizes -> k, trainingSteps ctx 1024 d k minSeconds ]
        solves, steps

    /// The cost of a quadratic-energy generalized FY training step relative to a binary logistic
    /// one at each k: (logistic steps/s) / (FY steps/s), from `trainingSteps`' two results.
    let costRatios (steps: (int * ThroughputResult list) list) : (int * float) list =
        [ for k, rs in steps -> k, rs[0].PerSecond / rs[1].PerSecond ]

    /// The metrics of a benchmark, as `energyfs fy bench --json` prints them: each measurement's
    /// rate under its name made snake_case (`RunMetrics.snakeCase`, e.g.
    /// `solve_coordinate_k_14_batch_1024`), `fy_step_cost_ratio` (the first k) and
    /// `fy_step_cost_ratio_k<k>` for each k.
    let metrics (solves: ThroughputResult list, steps: (int * ThroughputResult list) list) : (string * float) list =
        let ratios = costRatios steps
        [ for r in solves -> RunMetrics.snakeCase r.Name, r.PerSecond ]
        @ [ for _, rs in steps do for r in rs -> RunMetrics.snakeCase r.Name, r.PerSecond ]
        @ [ "fy_step_cost_ratio", snd ratios[0] ]
        @ [ for k, ratio in ratios -> sprintf "fy_step_cost_ratio_k%d" k, ratio ]
