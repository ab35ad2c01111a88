module EnergyFs.Tests.Learners.DualTests

open System
open Expecto
open TorchSharp
open EnergyFs
open EnergyFs.Energies
open EnergyFs.Projections
open EnergyFs.Samplers
open EnergyFs.Learners
open EnergyFs.Tests.Energies.ShallowTests

let relError (a: Tensor) (b: Tensor) =
    Scope.run (fun () -> Tensor.toScalar (Tensor.normDim 0 ((a - b).reshape -1L)) / Tensor.toScalar (Tensor.normDim 0 (b.reshape -1L)))

/// The GDA neuron gradient after one antithetic Langevin step from every data point, divided by η,
/// against the score-matching gradient; returns the relative errors (features projected, masses).
let limitErrors (e: ShallowSphere) (data: Tensor) (bandwidth: float) (eta: float) (seed: int64) =
    use rng = new Rng(seed, ctx.Device)
    use particles = Langevin.sphereStep rng { Step = eta; Antithetic = true } (Shallow.gradient e) data
    let gz, gw = Dual.mlGradient e data particles
    let sz, sw = Dual.smGradient bandwidth e data
    use pg = Sphere.tangent e.Features (gz / eta)
    use ps = Sphere.tangent e.Features sz
    let errors = relError pg ps, relError (gw / eta) sw
    Scope.disposeAll [ gz; gw; sz; sw ]
    errors

[<Tests>]
let tests =
    testList "Learners.Dual" [
        testCase "restarting every step is score matching: GDA update / η → score-matching gradient" <| fun () ->
            use rng = new Rng(31L, ctx.Device)
            // Each point twice: rows i and i + n get the antithetic noises ξ and −ξ.
            use half = SphereSampling.uniform rng ctx 100_000 4
            use data = Tensor.cat 0 [ half; half ]
            let e = randomEnergy 5L Softplus 6 4
            let coarse = limitErrors e data 0.0 1e-1 1L
            let fine = limitErrors e data 0.0 1e-3 1L
            Shallow.dispose e
            Expect.isLessThan (fst fine) 0.05 (sprintf "features at η = 1e-3 (coarse %A)" coarse)
            Expect.isLessThan (fst coarse) 0.5 "features at η = 0.1"
            Expect.isLessThan (snd fine) 0.05 "masses at η = 1e-3"
            Expect.isLessThan (fst fine + snd fine) (fst coarse + snd coarse) "error shrinks with η"

        // For ReLU the per-particle feature term jumps when a particle crosses a kink, so the
        // estimator's variance grows like η^(-3/2) and only the mass gradient is checked here.
        testCase "the limit holds for ReLU masses including the great-circle term (h = √(2η))" <| fun () ->
            use rng = new Rng(32L, ctx.Device)
            use half = SphereSampling.uniform rng ctx 200_000 3
            use data = Tensor.cat 0 [ half; half ]
            let e = randomEnergy 6L Relu 4 3
            let eta = 1e-2
            let _, ew = limitErrors e data (sqrt (2.0 * eta)) eta 2L
            let _, ewWithoutCircle = limitErrors e data 1e-6 eta 2L
            Shallow.dispose e
            Expect.isLessThan ew 0.15 "masses"
            Expect.isGreaterThan ewWithoutCircle 0.5 "dropping the great-circle term (tiny bandwidth) breaks the match"

        testCase "a neuron update keeps unit features and mean(w) ≤ β; lazy freezes features" <| fun () ->
            use rng = new Rng(2L, ctx.Device)
            use data = SphereSampling.uniform rng ctx 200 3
            let e = randomEnergy 2L Relu 8 3
            let options = { Dual.defaults with TvBound = 1.0; MassStep = 5.0; Particles = 50 }
            let s0 = Dual.init rng options data e
            let s1 = Dual.step rng options data s0
            Expect.isLessThan (Sphere.deviation s1.Energy.Features) 1e-9 "unit features"
            Expect.isLessThanOrEqual (Shallow.totalVariation s1.Energy) (1.0 + 1e-9) "TV bound"
            let lazyState = Dual.step rng { options with Regime = Lazy } data s0
            Expect.equal (Tensor.maxAbsDiff lazyState.Energy.Features e.Features) 0.0 "lazy: features frozen"
            List.iter Dual.dispose [ s0; s1; lazyState ]
            Shallow.dispose e

        testCase "GDA learns a teacher on S², is reproducible, and holds memory flat" <| fun () ->
            let c = EnergyFs.Papers.DualTraining.DualTeacherStudent.quick 3 500
            let c = { c with Iterations = 300; EvalEvery = 100; EvalSamples = 5000; Options = { c.Options with Particles = 200 } }
            let r1 = EnergyFs.Papers.DualTraining.DualTeacherStudent.run Context.cpu c ignore
            let r2 = EnergyFs.Papers.DualTraining.DualTeacherStudent.run Context.cpu c ignore
            Expect.isLessThan r1.Final.Kl (0.5 * r1.History.Head.Kl) "KL at least halves in 300 iterations"
            Expect.equal r1.Final.Kl r2.Final.Kl "same seed, same result"
            EnergyFs.Papers.DualTraining.DualTeacherStudent.dispose r1
            EnergyFs.Papers.DualTraining.DualTeacherStudent.dispose r2
            use rng = new Rng(1L, Context.cpu.Device)
            use data = SphereSampling.uniform rng Context.cpu 500 3
            let e = Shallow.random rng Context.cpu Relu 16 3 1.0
            let s0 = Dual.init rng Dual.defaults data e
            let s = Dual.run rng Dual.defaults data 20 ignore s0
            Dual.dispose s
            let before = NativeMemory.liveTensors ()
            let s = Dual.run rng Dual.defaults data 200 ignore s0
            Dual.dispose s
            Expect.isLessThanOrEqual (NativeMemory.liveTensors ()) before "no tensors leak per iteration"
            Dual.dispose s0
            Shallow.dispose e

        testCase "restarts: every N resets all particles to data rows at multiples of N; probability p resets a fraction p" <| fun () ->
            use rng = new Rng(9L, ctx.Device)
            use data = SphereSampling.uniform rng ctx 50 3
            use particles = SphereSampling.uniform rng ctx 2000 3
            let fromData (x: Tensor) =
                // fraction of rows equal to some data row
                Scope.run (fun () ->
                    let nearest = Tensor.maxDim 1 (-(torch.cdist (x, data)))
                    Tensor.toScalar (Tensor.mean ((nearest.gt (Scalar.op_Implicit -1e-6)).to_type ctx.DType)))
            let every = { Dual.defaults with Restart = Every 5 }
            use r0 = Dual.restart rng every data 10 particles
            use r1 = Dual.restart rng every data 11 particles
            Expect.equal (fromData r0) 1.0 "iteration 10: all from data"
            Expect.equal (Tensor.maxAbsDiff r1 particles) 0.0 "iteration 11: unchanged"
            use rp = Dual.restart rng { Dual.defaults with Restart = WithProbability 0.3 } data 0 particles
            Expect.floatClose { absolute = 0.04; relative = 0.0 } (fromData rp) 0.3 "about 30 % restarted"

        testCase "bad input: wrong data dimension, off-sphere data, non-positive step" <| fun () ->
            use rng = new Rng(1L, ctx.Device)
            let e = randomEnergy 1L Relu 4 3
            use wrongDim = SphereSampling.uniform rng ctx 10 4
            let ex = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Dual.init rng Dual.defaults wrongDim e |> Dual.dispose)
            Expect.stringContains ex.Message "3 columns" "dimension named"
            use off = Tensor.ones ctx [ 10L; 3L ]
            let ex = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Dual.init rng Dual.defaults off e |> Dual.dispose)
            Expect.stringContains ex.Message "unit sphere" "off sphere"
            use good = SphereSampling.uniform rng ctx 10 3
            let ex = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Dual.init rng { Dual.defaults with ParticleStep = -1.0 } good e |> Dual.dispose)
            Expect.equal ex.ParamName "ParticleStep" "step named"
            Shallow.dispose e
    
        testCase "advance: reports every ReportEvery iterations, stops at the last completed iteration when cancelled" <| fun () ->
            use rng = new Rng(3L, ctx.Device)
            use data = SphereSampling.uniform rng ctx 60 3
            let e = randomEnergy 3L Relu 6 3
            let s0 = Dual.init rng { Dual.defaults with Particles = 20 } data e
            use cts = new System.Threading.CancellationTokenSource()
            let reports = ResizeArray<int * (string * float) list>()
            let monitor = { Training.FitMonitor.none with OnEpoch = (fun i row -> reports.Add((i, row)); if reports.Count = 2 then cts.Cancel ()); Cancellation = cts.Token }
            let options = { Dual.defaults with Particles = 20; ReportEvery = 5 }
            let s, completed = Dual.advance monitor rng options data 100 s0
            Expect.isFalse completed "cancelled"
            Expect.equal s.Iteration 10 "the state of the last completed iteration (the second report)"
            Expect.equal (reports |> Seq.map fst |> List.ofSeq) [ 4; 9 ] "0-based iteration of each report"
            Expect.equal (snd reports[1] |> List.map fst) [ "iteration"; "total_variation"; "data_energy"; "particle_energy" ] "report columns"
            Expect.equal (snd reports[1] |> List.head |> snd) 10.0 "the row's iteration"
            Expect.equal s0.Iteration 0 "initial left intact"
            let none, completed = Dual.advance monitor rng options data 5 s0
            Expect.isFalse completed "a cancelled token: no iteration"
            Expect.equal (Tensor.maxAbsDiff none.Particles s0.Particles) 0.0 "a copy of the initial state"
            let all, completed = Dual.advance Training.FitMonitor.none rng options data 7 s
            Expect.isTrue completed "no token: all iterations"
            Expect.equal all.Iteration 17 "iterations continue from the given state"
            List.iter Dual.dispose [ s0; s; none; all ]
            Shallow.dispose e

        testCase "DualFile: energy and trainer state round trips; another kind and NaN data are refused" <| fun () ->
            use rng = new Rng(4L, ctx.Device)
            use data = SphereSampling.uniform rng ctx 40 3
            let e = { randomEnergy 4L Relu 5 3 with Activation = SmoothedRelu 0.2 }
            let options = { Dual.defaults with Particles = 10; Restart = Every 3; Estimator = ScoreMatching 0.1; ReportEvery = 7 }
            let runOptions = { options with Estimator = MaximumLikelihood }
            let s0 = Dual.init rng runOptions data e
            let s = Dual.run rng runOptions data 4 ignore s0
            Dual.dispose s0
            use dir = new EnergyFs.Tests.Data.Fixtures.TempDir()
            let energyPath = IO.Path.Combine(dir.Path, "energy.model")
            let statePath = IO.Path.Combine(dir.Path, "sub", "state.model")
            DualFile.saveEnergy energyPath s.Energy
            DualFile.saveState statePath options s
            let e2 = DualFile.loadEnergy energyPath ctx.Device
            Expect.equal e2.Activation (SmoothedRelu 0.2) "activation"
            Expect.equal (Tensor.maxAbsDiff e2.Features s.Energy.Features + Tensor.maxAbsDiff e2.Masses s.Energy.Masses + Tensor.maxAbsDiff e2.Signs s.Energy.Signs) 0.0 "tensors"
            let o2, s2 = DualFile.loadState statePath ctx.Device
            Expect.equal o2 options "options"
            Expect.equal s2.Iteration 4 "iteration"
            Expect.equal (Tensor.maxAbsDiff s2.Particles s.Particles) 0.0 "particles"
            let ex = EnergyFs.Tests.Expectations.raisesOf<IO.InvalidDataException> (fun () -> DualFile.loadEnergy statePath ctx.Device |> Shallow.dispose)
            Expect.stringContains ex.Message statePath "names the file"
            Expect.stringContains ex.Message "dual-trainer" "names the kind found"
            use nanData = data.clone ()
            nanData[0L, 0L] <- torch.tensor (nan, dtype = ctx.DType)
            let ex = EnergyFs.Tests.Expectations.raisesOf<ArgumentException> (fun () -> Dual.init rng options nanData e |> Dual.dispose)
            Expect.stringContains ex.Message "non-finite" "NaN data refused"
            Dual.dispose s
            Dual.dispose s2
            Shallow.dispose e2
            Shallow.dispose e
    ]
