/// `energyfs dual teacher`: the teacher–student experiment of Domingo-Enrich et al. 2021
/// (arXiv 2107.05134, numerical experiments), single runs, sweeps and plots.
module EnergyFs.Cli.Commands.Dual

open System
open System.IO
open System.Text.Json
open Argu
open EnergyFs
open EnergyFs.Learners
open EnergyFs.Papers.Reports
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners
open EnergyFs.Metrics

/// Arguments of `dual teacher`.
type TeacherArgs =
    | Dim of int
    | Samples of int
    | Regime of string
    | Restart_Every of int
    | Restart_Probability of float
    | Method of string
    | Pcd_Steps of int
    | Seed of int64
    | Iterations of int
    | Particles of int
    | Particle_Step of float
    | Feature_Step of float
    | Mass_Step of float
    | Eval_Samples of int
    | Full
    | Sweep
    | Plot of string
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Dim _ -> "ambient dimension d (sphere S^(d-1)); default 15"
            | Samples _ -> "training-set size n; default 1000"
            | Regime _ -> "feature (default) or lazy"
            | Restart_Every _ -> "reset all particles to data samples every N iterations"
            | Restart_Probability _ -> "reset each particle with probability p per iteration"
            | Method _ -> "gda (default), pcd or sm (score matching)"
            | Pcd_Steps _ -> "Langevin steps per update for pcd; default 10"
            | Seed _ -> "random seed; default 0"
            | Iterations _ -> "training iterations (default: 4000 quick, 20000 with --full)"
            | Particles _ -> "number of Langevin particles"
            | Particle_Step _ -> "Langevin step size eta (default 0.02)"
            | Feature_Step _ -> "feature step size (default 0.02)"
            | Mass_Step _ -> "mass step size (default 0.02)"
            | Eval_Samples _ -> "teacher samples for the metrics (default 20000 quick, 100000 full)"
            | Full -> "the paper-scale configuration"
            | Sweep -> "sweep the feature/particle step ratio and the restart period, then feature vs lazy and GDA vs SM vs PCD"
            | Plot _ -> "write KL curves (and the S^2 view when d = 3) as HTML into this folder"
            | Json -> "last line of stdout: one JSON object of the final metrics"

/// Arguments of `dual throughput`.
type ThroughputArgs =
    | Particles of int
    | Steps of int
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Particles _ -> "particles (default 10000)"
            | Steps _ -> "timed steps (default 200)"
            | Json -> "last line of stdout: one JSON object"

/// Arguments of `dual`.
type DualArgs =
    | [<CliPrefix(CliPrefix.None)>] Teacher of ParseResults<TeacherArgs>
    | [<CliPrefix(CliPrefix.None)>] Throughput of ParseResults<ThroughputArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Throughput _ -> "Langevin particle-steps/s and GDA iterations/s (64 neurons, d = 15)"
            | Teacher _ -> "teacher-student experiment on the sphere (the paper's numerical experiments)"

let private configOf (args: ParseResults<TeacherArgs>) =
    let dim = args.GetResult(Dim, 15)
    let samples = args.GetResult(Samples, 1000)
    let c = if args.Contains Full then DualTeacherStudent.full dim samples else DualTeacherStudent.quick dim samples
    let regime =
        match args.GetResult(Regime, "feature").ToLowerInvariant() with
        | "feature" | "feature-learning" -> FeatureLearning
        | "lazy" -> Lazy
        | r -> Checks.fail "regime" (sprintf "unknown regime '%s' (expected feature or lazy)" r)
    let restart =
        match args.TryGetResult Restart_Every, args.TryGetResult Restart_Probability with
        | Some n, _ -> Every n
        | None, Some p -> WithProbability p
        | None, None -> NoRestart
    let meth =
        match args.GetResult(Method, "gda").ToLowerInvariant() with
        | "gda" -> Gda
        | "pcd" -> Pcd (args.GetResult(Pcd_Steps, 10))
        | "sm" | "score-matching" -> ScoreMatchingMethod
        | m -> Checks.fail "method" (sprintf "unknown method '%s' (expected gda, pcd or sm)" m)
    let o = c.Options
    { c with
        Method = meth
        Seed = args.GetResult(Seed, 0L)
        Iterations = args.GetResult(Iterations, c.Iterations)
        EvalSamples = args.GetResult(Eval_Samples, c.EvalSamples)
        Options =
            { o with
                Regime = regime; Restart = restart
                Particles = args.GetResult(TeacherArgs.Particles, o.Particles)
                ParticleStep = args.GetResult(Particle_Step, o.ParticleStep)
                FeatureStep = args.GetResult(Feature_Step, o.FeatureStep)
                MassStep = args.GetResult(Mass_Step, o.MassStep) } }

let private describe (c: TeacherStudentConfig) =
    sprintf "d=%d n=%d %A %A restart=%A eta=%g alpha_z=%g alpha_w=%g particles=%d iters=%d seed=%d"
        c.Dim c.Samples c.Method c.Options.Regime c.Options.Restart c.Options.ParticleStep c.Options.FeatureStep
        c.Options.MassStep c.Options.Particles c.Iterations c.Seed

let private runOne ctx (c: TeacherStudentConfig) =
    EnergyFs.Cli.Progress.withBar (sprintf "dual d=%d n=%d" c.Dim c.Samples) (fun report -> DualTeacherStudent.run ctx c report)

let private row (label: string) (r: TeacherStudentResult) =
    let m = Map (DualTeacherStudent.metrics r)
    sprintf "| %s | %.4f | %.4f | %.3f | %.2f | %.1f | %.1f |" label m["kl"] m["best_kl"] m["fisher"] m["tv"] m["angle_degrees"] r.WallSeconds

let private header = "| run | final KL | best KL | Fisher | TV | angle (deg) | wall (s) |\n|---|---|---|---|---|---|---|"

/// The paper's sweep (`DualPaper.sweep`), one table per section, and optionally the KL curves.
let private sweep ctx (c: TeacherStudentConfig) (plot: string option) =
    let runs =
        [ for i, (title, configs) in List.indexed (DualPaper.sweep c) do
            printfn "%s## %s\n%s" (if i = 0 then "" else "\n") title header
            for label, config in configs ->
                let r = runOne ctx config
                printfn "%s" (row label r)
                label, r ]
    plot |> Option.iter (fun dir ->
        DualTeacherStudent.klChart (sprintf "Teacher-student on S^%d, n = %d" (c.Dim - 1) c.Samples) runs
        |> fun chart -> Charts.saveHtml (Path.Combine(dir, sprintf "dual-sweep-d%d-n%d.html" c.Dim c.Samples)) chart)
    for _, r in runs do DualTeacherStudent.dispose r

/// Runs `dual teacher`; returns the exit code.
let run (ctx: Context) (args: ParseResults<DualArgs>) =
    match args.TryGetSubCommand () with
    | Some (Teacher t) ->
        let c = configOf t
        eprintfn "dual teacher: %s" (describe c)
        if t.Contains Sweep then
            sweep ctx c (t.TryGetResult Plot)
            0
        else
            let r = runOne ctx c
            printfn "| iteration | KL | Fisher | TV | angle (deg) |\n|---|---|---|---|---|"
            for m in r.History do printfn "| %d | %.4f | %.4f | %.3f | %.2f |" m.Iteration m.Kl m.Fisher m.Tv m.AngleDegrees
            t.TryGetResult Plot |> Option.iter (fun dir ->
                Charts.saveHtml (Path.Combine(dir, sprintf "dual-kl-d%d-n%d.html" c.Dim c.Samples)) (DualTeacherStudent.klChart "KL over iterations" [ "student", r ])
                if c.Dim = 3 then Charts.saveHtml (Path.Combine(dir, "dual-sphere-d3.html")) (DualTeacherStudent.sphereChart r 4000))
            if t.Contains TeacherArgs.Json then
                printfn "%s" (RunMetrics.json (
                    [ "dim", box c.Dim; "samples", box c.Samples; "method", box (sprintf "%A" c.Method)
                      "regime", box (sprintf "%A" c.Options.Regime); "iterations", box c.Iterations; "seed", box c.Seed ]
                    @ RunMetrics.boxed (DualTeacherStudent.metrics r) @ [ "wall_seconds", box r.WallSeconds ]))
            DualTeacherStudent.dispose r
            0
    | Some (Throughput t) ->
        let particles = t.GetResult(ThroughputArgs.Particles, 10_000)
        let steps = t.GetResult(Steps, 200)
        let metrics = DualThroughput.metrics ctx particles steps
        let rate = Map metrics
        printfn "Langevin on S^14 (%d particles, 64 neurons): %.3g particle-steps/s" particles rate["langevin_particle_steps_per_second"]
        printfn "GDA (%d particles, %d data, 64 neurons, d = 15): %.1f iterations/s" particles particles rate["gda_iterations_per_second"]
        if t.Contains ThroughputArgs.Json then
            printfn "%s" (RunMetrics.json ([ "particles", box particles ] @ RunMetrics.boxed metrics @ [ "threads", box (Runtime.threads ()) ]))
        0
    | _ ->
        eprintfn "energyfs dual: expected a subcommand (teacher or throughput)"
        2
