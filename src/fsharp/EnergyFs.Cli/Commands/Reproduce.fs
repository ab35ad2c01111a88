/// `energyfs reproduce [all|fy|dual|regression|spen] [--quick] [--out DIR] [--seeds N] [--json]`: the
/// main job. Runs each paper's experiments through EnergyFs.Reproduction (cached per configuration
/// and seed under <out>/cache), shows a bar per experiment, and writes <out>/report.md and
/// <out>/report.html with the charts in <out>/charts.
module EnergyFs.Cli.Commands.Reproduce

open System
open System.Collections.Generic
open System.Text.Json
open Argu
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Learners

/// Arguments of `energyfs reproduce`.
type ReproduceArgs =
    | [<MainCommand>] Paper of paper: string
    | Quick
    | Out of dir: string
    | Seeds of int
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Paper _ -> "all (default), fy, dual, regression or spen"
            | Quick -> "the quick configuration: all papers in under 10 minutes on 2 cores"
            | Out _ -> "output folder (default reports/latest): report.md, report.html, charts/, cache/"
            | Seeds _ -> "seeds 0..N-1 per experiment (default 1 with --quick, 3 otherwise)"
            | Json -> "print a JSON summary (checks, metric means, report paths) as the last line"

/// Runs the command; returns 0 when every run succeeded, 1 otherwise.
let run (ctx: Context) (args: ParseResults<ReproduceArgs>) : int =
    let which = args.GetResult(Paper, defaultValue = "all")
    let quick = args.Contains Quick
    let seedCount = args.GetResult(Seeds, defaultValue = (if quick then 1 else 3))
    Checks.positiveInt "seeds" seedCount
    let out = IO.Path.GetFullPath(args.GetResult(Out, defaultValue = IO.Path.Combine("reports", "latest")))
    let papers = Catalogue.select quick which
    let options =
        { CacheDir = IO.Path.Combine(out, "cache"); Seeds = [ 0 .. seedCount - 1 ]; Context = ctx
          Bar = fun title work -> EnergyFs.Cli.Progress.withBar title work
          Log = fun line -> eprintfn "%s" line }
    let count = papers |> List.sumBy (fun p -> p.Experiments.Length)
    eprintfn "reproduce %s (%s): %d experiments × %d seed(s), %d thread(s), %s; output %s"
        which (if quick then "quick" else "full") count seedCount (Runtime.threads ()) (Context.describe ctx) out
    let watch = Diagnostics.Stopwatch.StartNew ()
    let results = Runner.run options papers
    let info =
        { Title = "EnergyFs reproduction report"
          Command = sprintf "energyfs reproduce %s%s --seeds %d" which (if quick then " --quick" else "") seedCount
          Mode = (if quick then "quick" else "full"); Date = DateTimeOffset.UtcNow; Seeds = options.Seeds
          Environment = About.describe ctx; WallSeconds = watch.Elapsed.TotalSeconds
          CpuSeconds = Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds }
    let md, html = Report.write out info results
    let passed, total = Report.tally results
    for p in results do
        match p.Summary with
        | Ok s -> for c in s.Checks do printfn "%s %s: %s (%s)" (Report.mark c.Passed) p.Paper.Id c.Claim c.Evidence
        | Error m -> printfn "✗ %s: summary failed: %s" p.Paper.Id m
    let failures = Report.failures results
    for where, m in failures do eprintfn "failed: %s: %s" where m
    printfn "headline checks passed: %d of %d; wall time %.1f s, CPU time %.1f s; report: %s and %s" passed total info.WallSeconds info.CpuSeconds md html
    if args.Contains Json then
        // Every key snake_case: the experiments as an array of {id, metrics} (ids are values).
        let experiments =
            [ for p in results do
                for e in p.Experiments ->
                    let names = Results.outcomes e |> List.truncate 1 |> List.collect (fun o -> o.Metrics |> List.map fst)
                    let means = [ for k in names do match Results.mean k e with Some v when Double.IsFinite v -> yield k, v | _ -> () ]
                    [ "id", box e.Spec.Id; "metrics", box means ] ]
        printfn "%s" (RunMetrics.json
            [ "passed", box passed; "checks", box total
              "failures", box (failures |> List.map (fun (w, m) -> sprintf "%s: %s" w m) |> Array.ofList)
              "wall_seconds", box info.WallSeconds; "cpu_seconds", box info.CpuSeconds
              "report_md", box md; "report_html", box html; "experiments", box experiments ])
    if Runner.anyFailure results then 1 else 0
