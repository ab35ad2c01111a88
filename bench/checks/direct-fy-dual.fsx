// Checks that the direct TorchSharp versions of the fenchel-young and dual benchmarks
// (EnergyFs.Bench/Groups/FenchelYoungDirect.fs, DualDirect.fs) compute what EnergyFs computes on the
// same inputs: each solver's value and argmax, the generalized FY loss and its parameter gradients,
// and one Langevin step and one GDA iteration drawing from generators with the same seed.
// After `./build.sh build`:  ./build.sh fsi bench/checks/direct-fy-dual.fsx
#load "BenchAssemblies.fsx"

open System.IO


open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Regularizers
open EnergyFs.Solvers
open EnergyFs.Losses
open EnergyFs.Samplers
open EnergyFs.Learners
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Bench.Groups

Runtime.setThreads 1

/// max |a − b| / max(1, max |b|).
let gap (a: torch.Tensor) (b: torch.Tensor) =
    (a - b).abs().max().ToDouble () / max 1.0 (b.abs().max().ToDouble ())

let mutable worst = 0.0
let report (name: string) (value: float) =
    worst <- max worst value
    printfn "%-44s %10.2e" name value

let fixedWork n = { InnerOptions.defaults with Tolerance = 0.0; MaxIterations = n; StepSize = 1.0; AllowNonConcave = true }

for k in [ 14; 159 ] do
    use rng = new Rng (0L, torch.CPU)
    let v = FenchelYoungThroughput.solverProblem rng Context.cpu 1024 k
    let ahat = FenchelYoungDirect.interactions v.Pairwise
    let compare name (solver: InnerSolver<QuadraticInput>) n (value: torch.Tensor, p: torch.Tensor, it: int) =
        let s = solver (fixedWork n) Quadratic.energy FermiDirac.regularizer v None
        if it <> s.Iterations then failwithf "%s: %d vs %d iterations" name it s.Iterations
        report (sprintf "k=%d %s value" k name) (gap value s.Value)
        report (sprintf "k=%d %s argmax" k name) (gap p s.Argmax)
    compare "coordinate" CoordinateAscent.solve 5 (FenchelYoungDirect.coordinateAscent v.Unary ahat 5 0.0)
    compare "parallel" ParallelAscent.solve 5 (FenchelYoungDirect.parallelAscent v.Unary ahat 5 0.0)
    compare "pga" ProjectedGradient.solve 50 (FenchelYoungDirect.projectedGradient v.Unary ahat 50 1.0 0.0)

// The generalized FY loss of the training step and its gradients, on EnergyFs's network.
for d, k in [ 103, 14; 1836, 159 ] do
    use rng = new Rng (0L, torch.CPU)
    let x, y = FenchelYoungThroughput.trainingBatch rng Context.cpu 1024 d k
    let net = EnergyMultilabelNet.create rng Context.cpu d k 128
    let problem = FenchelYoungThroughput.solverProblem rng Context.cpu 1 k
    Diff.noGrad (fun () -> net.Pairwise.copy_ problem.Pairwise |> ignore)
    let parameters = net.parameters () |> Seq.map (fun p -> p :> torch.Tensor) |> Seq.toArray
    let grads (loss: torch.Tensor) = torch.autograd.grad ([| loss |], parameters) |> Seq.toArray
    let library = GeneralizedFenchelYoung.meanLoss ParallelAscent.solve (fixedWork 5) Quadratic.energy FermiDirac.regularizer (net.Input x) y
    let direct =
        let fd = FenchelYoungDirect.fermiDirac
        let omegaY = (use _ = torch.no_grad () in fd y)
        let u = net.forward x
        let ahat = FenchelYoungDirect.interactions net.Pairwise
        let _, pHat, _ = FenchelYoungDirect.parallelAscent (u.detach ()) (ahat.detach ()) 5 0.0
        (FenchelYoungDirect.phi u ahat pHat - fd pHat + omegaY - FenchelYoungDirect.phi u ahat y).mean ()
    report (sprintf "d=%d k=%d FY loss" d k) (gap direct library)
    Array.zip (grads direct) (grads library)
    |> Array.iteri (fun i (a, b) -> report (sprintf "d=%d k=%d FY loss gradient %d" d k i) (gap a b))

// Dual: the same state and noise (generators seeded 7 on both sides).
let particles, neurons, dim = 10_000, 64, 15
let z, c, w, data, start =
    use rng = new Rng (0L, torch.CPU)
    let e = Shallow.random rng Context.cpu Relu neurons dim 1.0
    let data = SphereSampling.uniform rng Context.cpu particles dim
    let start = Dual.sampleRows rng particles data
    e.Features, e.Signs, e.Masses, data, start
let energy = { Features = z; Signs = c; Masses = w; Activation = Relu }
do
    use rng = new Rng (7L, torch.CPU)
    use gen = new torch.Generator (7UL, torch.CPU)
    let library = Langevin.sphereStep rng { Step = 1e-2; Antithetic = false } (Shallow.gradient energy) start
    let direct = (use _ = torch.no_grad () in DualDirect.langevinStepOf start z (c * w) 1e-2 gen)
    report "langevin step particles" (gap direct library)
do
    use rng = new Rng (7L, torch.CPU)
    use gen = new torch.Generator (7UL, torch.CPU)
    let options = { Dual.defaults with Particles = particles }
    let next = Dual.step rng options data { Energy = energy; Particles = start; Iteration = 0 }
    let p, z', w' = (use _ = torch.no_grad () in DualDirect.gdaStep data (start.clone ()) z c w 1e-2 1e-2 1e-2 10.0 gen)
    report "gda particles" (gap p next.Particles)
    report "gda features" (gap z' next.Energy.Features)
    report "gda masses" (gap w' next.Energy.Masses)

printfn "worst relative difference: %.2e" worst
if worst > 1e-4 then exit 1
