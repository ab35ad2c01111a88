namespace EnergyFs.Papers.DualTraining

open System
open System.Diagnostics
open TorchSharp
open Plotly.NET
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Data
open EnergyFs.Metrics
open EnergyFs.Energies
open EnergyFs.Samplers
open EnergyFs.Learners

/// The training method of a teacher–student run.
type DualMethod =
    /// Two-time-scale GDA (one Langevin step per neuron update).
    | Gda
    /// Persistent contrastive divergence with K Langevin steps per neuron update.
    | Pcd of steps: int
    /// Exact score matching on the sphere (no particles).
    | ScoreMatchingMethod

/// Settings of the teacher–student experiment (Domingo-Enrich et al. 2021, arXiv 2107.05134).
type TeacherStudentConfig =
    { /// Ambient dimension d (sphere S^(d−1)); the paper uses 15 and 3.
      Dim: int
      /// Training-set size n (paper: 10², 10³, 10⁴).
      Samples: int
      /// Teacher samples for the metrics (paper: 10⁵).
      EvalSamples: int
      /// Teacher neurons (paper: 2) and their mass β (paper: 10, signs −1).
      TeacherNeurons: int
      /// Mass β of each teacher neuron (cᵢ wᵢ = −β, so the teacher f = −(β/m) Σᵢ σ(⟨x, zᵢ⟩) has a
      /// well at each feature; the paper and `quick`: 10). Larger β makes the teacher more peaked.
      Beta: float
      /// Student neurons (paper: 64).
      StudentNeurons: int
      /// Initial student mass per neuron.
      InitialMass: float
      /// The training method: GDA, PCD-K or exact score matching (`quick`: GDA); it overrides the
      /// matching fields of `Options` (LangevinSteps and Restart for PCD; the estimator for score
      /// matching).
      Method: DualMethod
      /// The dual trainer's step sizes η, α_z, α_w, TV bound, regime and particle count (`quick`:
      /// η = α_z = α_w = 0.02, 500 particles; `full`: 2000 particles).
      Options: DualOptions
      /// Neuron updates (outer iterations) of the run (`quick`: 4000; `full`: 20 000).
      Iterations: int
      /// Metrics every this many iterations.
      EvalEvery: int
      /// Seeds one Rng split into independent streams for the teacher's features, the training and
      /// evaluation samples, the student's initialisation and the training (Langevin noise, restarts).
      Seed: int64 }

/// One row of metrics over iterations.
type TeacherStudentMetrics =
    { /// Neuron updates done when the metrics were taken (0: the initial student).
      Iteration: int
      /// KL(teacher ‖ student) by reweighting teacher samples.
      Kl: float
      /// Fisher divergence E_teacher‖∇_T f_teacher − ∇_T f_student‖².
      Fisher: float
      /// Total-variation norm mean(w) of the student.
      Tv: float
      /// Mean over teacher neurons of the angle (degrees) to the nearest negative student neuron.
      AngleDegrees: float }

/// The outcome of a run.
type TeacherStudentResult =
    { /// Metrics at iteration 0, then every `EvalEvery` iterations and at the last one, in order.
      History: TeacherStudentMetrics list
      /// The metrics at the last iteration (the last entry of `History`).
      Final: TeacherStudentMetrics
      /// Wall-clock seconds of the run (sampling, training and metrics).
      WallSeconds: float
      /// Final student, teacher and particles (owned by the result; dispose with `DualTeacherStudent.dispose`).
      Student: ShallowSphere
      /// The teacher energy the training samples were drawn from (owned by the result).
      Teacher: ShallowSphere
      /// The final Langevin particles [Options.Particles, d] on S^(d−1) (owned by the result; one
      /// particle for score matching, which uses none).
      Particles: Tensor }

/// The teacher–student experiment of arXiv 2107.05134 (numerical experiments): a 2-neuron ReLU teacher with c = −β on
/// S^(d−1), a 64-neuron student trained by GDA / PCD / score matching on n teacher samples, with
/// KL, Fisher divergence, TV norm and neuron angles over iterations.
[<RequireQualifiedAccess>]
module DualTeacherStudent =

    /// The quick configuration (CLI default, < 2 min on one core): 4000 GDA iterations, 500
    /// particles, 2·10⁴ evaluation samples; η = α_z = α_w = 0.02 (equal time scales), β = 10.
    let quick (dim: int) (samples: int) =
        { Dim = dim; Samples = samples; EvalSamples = 20_000; TeacherNeurons = 2; Beta = 10.0; StudentNeurons = 64
          InitialMass = 1.0; Method = Gda
          Options = { Dual.defaults with ParticleStep = 0.02; FeatureStep = 0.02; MassStep = 0.02; Particles = 500 }
          Iterations = 4000; EvalEvery = 200; Seed = 0L }

    /// The paper-scale configuration: 10⁵ evaluation samples, 2000 particles, 20 000 iterations.
    let full (dim: int) (samples: int) =
        { quick dim samples with EvalSamples = 100_000; Iterations = 20_000; EvalEvery = 500
                                 Options = { (quick dim samples).Options with Particles = 2000 } }

    /// All divergences of a student from the teacher at an iteration (`ShallowSphereDivergence.all`).
    let measure (teacher: ShallowSphere) (teacherSamples: Tensor) (iteration: int) (student: ShallowSphere) =
        let d = ShallowSphereDivergence.all teacher teacherSamples student
        { Iteration = iteration; Kl = d.Kl; Fisher = d.Fisher; Tv = d.Tv; AngleDegrees = d.AngleDegrees }

    /// Teacher samples by rejection (`ShallowSphereDivergence.sample`).
    let teacherSamples (rng: Rng) (ctx: Context) (teacher: ShallowSphere) (n: int) = ShallowSphereDivergence.sample rng ctx teacher n

    /// Runs one configuration; `progress` receives (fraction, description). Deterministic given the seed.
    let run (ctx: Context) (config: TeacherStudentConfig) (progress: float * string -> unit) =
        Checks.require "Dim" (config.Dim >= 2) (sprintf "dim must be ≥ 2, got %d" config.Dim)
        Checks.positiveInt "Samples" config.Samples
        Checks.positiveInt "EvalSamples" config.EvalSamples
        Checks.positiveInt "Iterations" config.Iterations
        Checks.positiveInt "EvalEvery" config.EvalEvery
        let options =
            match config.Method with
            | Gda -> config.Options
            | Pcd k -> { config.Options with LangevinSteps = k; Restart = NoRestart }
            | ScoreMatchingMethod ->
                { config.Options with Estimator = Estimator.ScoreMatching (sqrt (2.0 * config.Options.ParticleStep)); Particles = 1 }
        Dual.validate options
        let watch = Stopwatch.StartNew ()
        use rng = new Rng(config.Seed, ctx.Device)
        use teacherRng = rng.Split ()
        use dataRng = rng.Split ()
        use studentRng = rng.Split ()
        use trainRng = rng.Split ()
        let teacher = Shallow.teacher teacherRng ctx config.TeacherNeurons config.Dim config.Beta
        let data = teacherSamples dataRng ctx teacher config.Samples
        let evalSamples = teacherSamples dataRng ctx teacher config.EvalSamples
        let student = Shallow.random studentRng ctx Relu config.StudentNeurons config.Dim config.InitialMass
        let history = ResizeArray [ measure teacher evalSamples 0 student ]
        let state0 = Dual.init trainRng options data student
        Shallow.dispose student
        let final =
            Dual.run trainRng options data config.Iterations (fun s ->
                if s.Iteration % config.EvalEvery = 0 || s.Iteration = config.Iterations then
                    let m = measure teacher evalSamples s.Iteration s.Energy
                    history.Add m
                    progress (float s.Iteration / float config.Iterations, sprintf "KL %.4f  TV %.2f" m.Kl m.Tv)) state0
        Dual.dispose state0
        Scope.disposeAll [ data; evalSamples ]
        let history = List.ofSeq history
        { History = history; Final = List.last history; WallSeconds = watch.Elapsed.TotalSeconds
          Student = final.Energy; Teacher = teacher; Particles = final.Particles }

    /// The metrics of a run, as the reproduction cache stores them and `energyfs dual teacher --json`
    /// prints them: the final `kl`, the lowest KL along training `best_kl`, the final `fisher`
    /// divergence, `tv` norm and `angle_degrees` to the teacher's neurons.
    let metrics (r: TeacherStudentResult) : (string * float) list =
        let f = r.Final
        [ "kl", f.Kl; "best_kl", (r.History |> List.map (fun m -> m.Kl) |> List.min); "fisher", f.Fisher
          "tv", f.Tv; "angle_degrees", f.AngleDegrees ]

    /// The KL curve of a run: (iterations, KL) at every evaluation.
    let klCurve (r: TeacherStudentResult) : float[] * float[] =
        (r.History |> List.map (fun m -> float m.Iteration) |> Array.ofList), (r.History |> List.map (fun m -> m.Kl) |> Array.ofList)

    /// Frees the tensors a result owns.
    let dispose (result: TeacherStudentResult) =
        Shallow.dispose result.Student
        Shallow.dispose result.Teacher
        result.Particles.Dispose ()

    /// KL curves (log y) of several labelled runs.
    let klChart (title: string) (runs: (string * TeacherStudentResult) list) =
        runs
        |> List.map (fun (name, r) ->
            name, (r.History |> List.map (fun m -> float m.Iteration) |> Array.ofList), (r.History |> List.map (fun m -> max 1e-6 m.Kl) |> Array.ofList))
        |> List.map (fun (name, xs, ys) -> Chart.Line(x = xs, y = ys, Name = name, ShowMarkers = false))
        |> Chart.combine
        |> Chart.withTitle title
        |> Chart.withXAxisStyle "iteration"
        |> Chart.withYAxisStyle "KL(teacher ‖ student)"
        |> Chart.withYAxis (LayoutObjects.LinearAxis.init (AxisType = StyleParam.AxisType.Log))

    /// A 3-D view on S²: the sphere coloured by the student energy (Fibonacci grid of `grid`
    /// points), the particles, and the teacher and student features (d = 3 only).
    let sphereChart (result: TeacherStudentResult) (grid: int) =
        Checks.require "result" (result.Student.Dim = 3) (sprintf "the 3-D view needs d = 3, got d = %d" result.Student.Dim)
        let golden = Math.PI * (3.0 - sqrt 5.0)
        let points =
            Array.init grid (fun i ->
                let y = 1.0 - 2.0 * (float i + 0.5) / float grid
                let r = sqrt (1.0 - y * y)
                [| r * cos (golden * float i); y; r * sin (golden * float i) |])
        let ctx = { Device = result.Student.Features.device; DType = result.Student.Features.dtype }
        let energies = Scope.run (fun () -> Tensor.toArray (Shallow.energy result.Student (Tensor.ofRows ctx points)))
        let triples (rows: float[][]) (scale: float) = rows |> Array.map (fun p -> p[0] * scale, p[1] * scale, p[2] * scale)
        let rowsOf (t: Tensor) = let a = Tensor.toArray2D t in Array.init (Array2D.length1 a) (fun i -> Array.init 3 (fun j -> a[i, j]))
        let particles = rowsOf result.Particles |> Array.truncate 2000
        [ Chart.Point3D(xyz = triples points 1.0, Name = "student energy", MarkerColor = Color.fromColorScaleValues energies,
                        MarkerColorScale = StyleParam.Colorscale.Viridis)
          Chart.Point3D(xyz = triples particles 1.02, Name = "particles", MarkerColor = Color.fromString "black")
          Chart.Point3D(xyz = triples (rowsOf result.Teacher.Features) 1.15, Name = "teacher features", MarkerColor = Color.fromString "red")
          Chart.Point3D(xyz = triples (rowsOf result.Student.Features) 1.1, Name = "student features", MarkerColor = Color.fromString "orange") ]
        |> Chart.combine
        |> Chart.withTitle "Student energy, particles and features on S²"
