/// Dual training of shallow EBMs (Domingo-Enrich et al. 2021, arXiv 2107.05134) on S^14 (d = 15),
/// 64 ReLU neurons, 10⁴ particles: one sphere Langevin step of all particles (particle-steps per
/// second = 10⁴ / time per call) and one GDA iteration (Langevin step + maximum-likelihood neuron
/// update with 10⁴ data points). Each call starts from the same state, so nothing persists across
/// the harness's per-call dispose scopes.
module EnergyFs.Bench.Groups.Dual

open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Samplers
open EnergyFs.Learners
open EnergyFs.Bench

type private Shape = { Particles: int; Neurons: int; Dim: int }

let private shape = { Particles = 10_000; Neurons = 64; Dim = 15 }

let private args (s: Shape) = [ "particles", s.Particles; "neurons", s.Neurons; "dim", s.Dim ]

let private langevinCase (s: Shape) () =
    let ctx = Context.cpu
    let rng = new Rng(0L, torch.CPU)
    let e = Shallow.random rng ctx Relu s.Neurons s.Dim 1.0
    let x = SphereSampling.uniform rng ctx s.Particles s.Dim
    let options = { Step = 1e-2; Antithetic = false }
    Benchmark.case [ x; e.Features; e.Signs; e.Masses; rng ] (fun () ->
        Langevin.sphereStep rng options (Shallow.gradient e) x |> ignore)

let private gdaCase (s: Shape) () =
    let ctx = Context.cpu
    let rng = new Rng(0L, torch.CPU)
    let e = Shallow.random rng ctx Relu s.Neurons s.Dim 1.0
    let data = SphereSampling.uniform rng ctx s.Particles s.Dim
    let options = { Dual.defaults with Particles = s.Particles }
    let state = Dual.init rng options data e
    Shallow.dispose e
    let owned : System.IDisposable list =
        [ data; state.Particles; state.Energy.Features; state.Energy.Signs; state.Energy.Masses; rng ]
    Benchmark.case owned (fun () -> Dual.step rng options data state |> ignore)

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "dual" "dual-langevin-step" "sphere Langevin step, 10^4 particles, 64 ReLU neurons, d = 15" (langevinCase shape)
      |> Benchmark.versus "dual.langevin_step" (args shape)
      |> Benchmark.direct (DualDirect.langevinCase shape.Particles shape.Neurons shape.Dim)
      Benchmark.create "dual" "dual-gda-iteration" "GDA iteration: Langevin step + ML neuron update, 10^4 particles and data, 64 neurons, d = 15" (gdaCase shape)
      |> Benchmark.versus "dual.gda_iteration" (args shape)
      |> Benchmark.direct (DualDirect.gdaCase shape.Particles shape.Neurons shape.Dim) ]
