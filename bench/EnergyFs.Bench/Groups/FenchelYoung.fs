/// Generalized Fenchel-Young losses (Blondel, Llinares-López, Dadashi, Hussenot, Geist 2022, arXiv
/// 2205.09589): solves of the generalized conjugate max_{p ∈ [0,1]^k} ⟨u, p⟩ + ½⟨p, Â p⟩ − Ω(p)
/// with the Fermi-Dirac Ω, batch 1024, k = 14 (yeast) and k = 159 (bibtex), by closed-form
/// coordinate ascent (a fixed number of sweeps), parallel minorized ascent (a fixed number of
/// iterations) and projected gradient ascent (a fixed number of iterations, the library's
/// backtracking included); and a multilabel training step (one-hidden-layer MLP giving u, learned A,
/// generalized FY loss with the Danskin gradient, Adam; the inner solver the multilabel experiment
/// uses, parallel ascent) against the binary logistic step of the same MLP. Problems and batches
/// come from Experiments.FenchelYoungThroughput, the solves from Solvers.CoordinateAscent,
/// Solvers.ParallelAscent and Solvers.ProjectedGradient, the loss from Losses.GeneralizedFenchelYoung.
module EnergyFs.Bench.Groups.FenchelYoung

open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Regularizers
open EnergyFs.Solvers
open EnergyFs.Losses
open EnergyFs.Training
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners
open EnergyFs.Energies
open EnergyFs.Bench

/// Rows per solve (the issue's batch).
let private batch = 1024

/// Coordinate-ascent sweeps per solve (at k = 14, float32 reaches the exact fixed point after 8, and
/// tolerance 1e-4 after about 5) and projected-gradient iterations per solve.
let private sweeps, pgaIterations = 5, 50

/// Iterations of the parallel ascent solve (benchmark and training step): at tolerance 1e-4 (the
/// multilabel experiment's) it stops after 5 on these problems at k = 14 and k = 159, as coordinate
/// ascent does after 4 to 5 sweeps.
let private parallelIterations = 5

/// Iterations of the inner solve in the training step (parallel ascent, as the multilabel experiment).
let private trainSweeps = parallelIterations

/// Tolerance 0: the solvers stop only at the iteration cap (or at an exact fixed point, which the
/// set-up rules out by checking the iteration count). The concavity check (an eigendecomposition of
/// Â per solve) is switched off: the problem is concave by construction and the PyTorch side does
/// not check it either.
let private fixedWork (iterations: int) =
    { InnerOptions.defaults with Tolerance = 0.0; MaxIterations = iterations; StepSize = 1.0; AllowNonConcave = true }

let private solveCase (solver: InnerSolver<QuadraticInput>) (iterations: int) (k: int) () =
    let ctx = Context.cpu
    use rng = new Rng(0L, torch.CPU)
    let v = FenchelYoungThroughput.solverProblem rng ctx batch k
    let options = fixedWork iterations
    let used = Scope.run (fun () -> (solver options Quadratic.energy FermiDirac.regularizer v None).Iterations)
    if used <> iterations then
        failwithf "the solve stopped after %d of %d iterations: the work per call would not be fixed" used iterations
    Benchmark.case [ v.Unary; v.Pairwise ] (fun () ->
        solver options Quadratic.energy FermiDirac.regularizer v None |> ignore)

/// The training step with the generalized FY loss (`generalized` = true) or the binary logistic
/// loss (the classic FY loss of Fermi-Dirac) on the same network. A starts from the solver
/// benchmark's interactions (spectral norm 0.5) rather than 0, so that the inner solve has work to do.
let private trainCase (generalized: bool) (d: int) (k: int) () =
    let ctx = Context.cpu
    use rng = new Rng(0L, torch.CPU)
    let x, y = FenchelYoungThroughput.trainingBatch rng ctx batch d k
    let net = EnergyMultilabelNet.create rng ctx d k 128
    Scope.run (fun () ->
        let v = FenchelYoungThroughput.solverProblem rng ctx 1 k
        Diff.noGrad (fun () -> net.Pairwise.copy_ v.Pairwise |> ignore))
    let opt = Optimizer.create (OptimizerOptions.adam 1e-3) net
    let options = fixedWork trainSweeps
    let mutable calls, shortSolves = 0, 0
    // The library's parallel ascent (the multilabel experiment's solver), counting solves that
    // stopped before the cap.
    let solver : InnerSolver<QuadraticInput> = fun o e r v init ->
        let s = ParallelAscent.solve o e r v init
        calls <- calls + 1
        if s.Iterations <> trainSweeps then shortSolves <- shortSolves + 1
        s
    let case =
        Benchmark.case [ x; y; opt; net ] (fun () ->
            opt.ZeroGrad ()
            let loss =
                if generalized then GeneralizedFenchelYoung.meanLoss solver options Quadratic.energy FermiDirac.regularizer (net.Input x) y
                else Tensor.mean (FenchelYoung.loss FermiDirac.regularizer (net.forward x) y)
            loss.backward ()
            opt.Step () |> ignore)
    { case with
        Release = fun () ->
            if shortSolves > 0 then eprintfn "fy-train-step: %d of %d inner solves stopped before %d sweeps" shortSolves calls trainSweeps
            case.Release () }

let private solveArgs k iterations = [ "batch", batch; "k", k; "iterations", iterations ]

let private trainArgs d k = [ "batch", batch; "d", d; "k", k; "hidden", 128; "sweeps", trainSweeps ]

/// The benchmarks of this group.
let benchmarks =
    [ for k in [ 14; 159 ] do
        Benchmark.create "fenchel-young" (sprintf "fy-coordinate-k%d" k)
            (sprintf "CoordinateAscent.solve, quadratic energy + Fermi-Dirac on [0,1]^%d, batch %d, %d sweeps (rows/s = %d / time)" k batch sweeps batch)
            (solveCase CoordinateAscent.solve sweeps k)
        |> Benchmark.versus "fenchel_young.coordinate_solve" (solveArgs k sweeps)
        |> Benchmark.direct (FenchelYoungDirect.coordinateCase batch k sweeps)
        Benchmark.create "fenchel-young" (sprintf "fy-parallel-k%d" k)
            (sprintf "ParallelAscent.solve (one p Â product per iteration, step μ/(μ + L) with L from eigvalsh), same problem, batch %d, %d iterations" batch parallelIterations)
            (solveCase ParallelAscent.solve parallelIterations k)
        |> Benchmark.versus "fenchel_young.parallel_solve" (solveArgs k parallelIterations)
        |> Benchmark.direct (FenchelYoungDirect.parallelCase batch k parallelIterations)
        Benchmark.create "fenchel-young" (sprintf "fy-pga-k%d" k)
            (sprintf "ProjectedGradient.solve (backtracking as in the library), same problem, batch %d, %d iterations" batch pgaIterations)
            (solveCase ProjectedGradient.solve pgaIterations k)
        |> Benchmark.versus "fenchel_young.pga_solve" (solveArgs k pgaIterations)
        |> Benchmark.direct (FenchelYoungDirect.pgaCase batch k pgaIterations)
      for d, k in [ 103, 14; 1836, 159 ] do
        Benchmark.create "fenchel-young" (sprintf "fy-train-step-k%d" k)
            (sprintf "MLP %d-128-%d + learned A, generalized FY loss (%d parallel-ascent iterations, Danskin), backward, Adam; batch %d" d k trainSweeps batch)
            (trainCase true d k)
        |> Benchmark.versus "fenchel_young.fy_train_step" (trainArgs d k)
        |> Benchmark.direct (FenchelYoungDirect.fyTrainCase batch d k 128 trainSweeps)
        Benchmark.create "fenchel-young" (sprintf "fy-logistic-step-k%d" k)
            (sprintf "the same MLP with the binary logistic loss (no A, no solve), backward, Adam; batch %d" batch)
            (trainCase false d k)
        |> Benchmark.versus "fenchel_young.logistic_train_step" (trainArgs d k)
        |> Benchmark.direct (FenchelYoungDirect.logisticTrainCase batch d k 128) ]
