namespace EnergyFs.Papers.DualTraining

open System.Diagnostics
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Energies
open EnergyFs.Samplers
open EnergyFs.Learners

/// Throughput of the dual-training kernels, for the benchmark harness (`./build.sh bench`): sphere
/// Langevin particle-steps per second and GDA iterations per second, on the issue's reference size
/// (10⁴ particles, 64 neurons, d = 15). `bench/pytorch/dual.py` runs the same algorithm in PyTorch (benchmark group "dual").
[<RequireQualifiedAccess>]
module DualThroughput =

    /// Particle-steps per second of `Langevin.sphereStep` on a random 64-neuron ReLU energy:
    /// `particles` particles in dimension `dim`, timed over `steps` steps after 5 warm-up steps.
    let langevinParticleStepsPerSecond (ctx: Context) (particles: int) (neurons: int) (dim: int) (steps: int) =
        use rng = new Rng(0L, ctx.Device)
        let e = Shallow.random rng ctx Relu neurons dim 1.0
        let options = { Step = 1e-2; Antithetic = false }
        let mutable x = SphereSampling.uniform rng ctx particles dim
        let advance () =
            let next = Langevin.sphereStep rng options (Shallow.gradient e) x
            x.Dispose ()
            x <- next
        for _ in 1 .. 5 do advance ()
        let watch = Stopwatch.StartNew ()
        for _ in 1 .. steps do advance ()
        Scope.run (fun () -> Tensor.toScalar (Tensor.sum x)) |> ignore // synchronise (CUDA)
        let seconds = watch.Elapsed.TotalSeconds
        x.Dispose ()
        Shallow.dispose e
        float particles * float steps / seconds

    /// GDA iterations per second (`Dual.step`: one Langevin step of the particles and one neuron
    /// update) with `particles` particles and `samples` uniform data points.
    let gdaIterationsPerSecond (ctx: Context) (particles: int) (samples: int) (neurons: int) (dim: int) (iterations: int) =
        use rng = new Rng(0L, ctx.Device)
        let e = Shallow.random rng ctx Relu neurons dim 1.0
        use data = SphereSampling.uniform rng ctx samples dim
        let options = { Dual.defaults with Particles = particles }
        let mutable state = Dual.init rng options data e
        let advance () =
            let next = Dual.step rng options data state
            Dual.dispose state
            state <- next
        for _ in 1 .. 5 do advance ()
        let watch = Stopwatch.StartNew ()
        for _ in 1 .. iterations do advance ()
        Shallow.totalVariation state.Energy |> ignore // synchronise (CUDA)
        let seconds = watch.Elapsed.TotalSeconds
        Dual.dispose state
        Shallow.dispose e
        float iterations / seconds

    /// The metrics of `energyfs dual throughput --json`: Langevin particle-steps per second
    /// (`langevin_particle_steps_per_second`) and GDA iterations per second
    /// (`gda_iterations_per_second`, as many data points as particles), 64 neurons, d = 15, timed
    /// over `steps` steps.
    let metrics (ctx: Context) (particles: int) (steps: int) : (string * float) list =
        [ "langevin_particle_steps_per_second", langevinParticleStepsPerSecond ctx particles 64 15 steps
          "gda_iterations_per_second", gdaIterationsPerSecond ctx particles particles 64 15 steps ]
