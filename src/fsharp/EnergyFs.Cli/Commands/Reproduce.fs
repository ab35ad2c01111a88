/// `energyfs reproduce [all|fy|dual|regression|spen] [--quick] [--out DIR] [--seeds N] [--json]
/// [--only PATTERNS] [--jobs N | --shard K/N | --report-only]`: the main job. Runs each paper's experiments through
/// EnergyFs.Reproduction (cached per configuration and seed under <out>/cache), shows a bar per
/// experiment, and writes <out>/report.md and <out>/report.html with the charts in <out>/charts.
/// `--shard K/N` computes one deterministic slice of the (experiment, seed) units into the cache and
/// writes no report; `--jobs N` runs the N shards as local worker processes, then reports;
/// `--report-only` builds the report from the cache without computing anything; `--only` keeps the
/// experiments whose id matches (`Catalogue.only`).
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
    | Jobs of int
    | Shard of shard: string
    | Report_Only
    | Claim
    | Only of patterns: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Paper _ -> "all (default), fy, dual, regression, spen or pos, or several separated by commas (fy,dual,spen)"
            | Quick -> "the quick configuration: all papers in under 10 minutes on 2 cores"
            | Out _ -> "output folder (default reports/latest): report.md, report.html, charts/, cache/"
            | Seeds _ -> "seeds 0..N-1 per experiment (default 1 with --quick, 3 otherwise)"
            | Json -> "print a JSON summary (checks, metric means, report paths) as the last line"
            | Jobs _ -> "run the work as N local worker processes (shards 1/N..N/N, 1 libtorch thread each unless the global --threads says otherwise), then report"
            | Shard _ -> "compute only shard K/N of the (experiment, seed) units into the cache (shared by all shards); no report"
            | Report_Only -> "build the report from the cache only; a unit missing from it is reported as failed"
            | Only _ -> "only the experiments whose id matches one of these comma-separated patterns (* for any text), for example regression-yacht-joint-s07 or 'regression-yacht-*'; the summaries count the others as not measured"
            | Claim -> "with --shard: instead of the fixed slice, claim units one at a time from <out>/cache/claims, shared with the other workers (what --jobs runs)"

/// `--shard K/N`: computes the shard's units into the cache; prints one line per unit and a summary;
/// 0 when every unit succeeded.
let private runShard (options: RunnerOptions) (shard: EnergyFs.Papers.Reproduction.Shard) (claim: bool) (papers: PaperSpec list) (which: string) : int =
    let units = Shards.units papers options.Seeds
    let mine = Shards.select shard units
    eprintfn "reproduce %s, shard %s: %s of %d units, %d thread(s), %s; cache %s"
        which (Shards.describe shard) (if claim then "claimed" else string mine.Length) units.Length (Runtime.threads ()) (Context.describe options.Context) options.CacheDir
    let records = if claim then Runner.runClaimed options units else Runner.runShard options shard papers
    for u, r in records do
        let state = match r.Error with Some e -> "failed: " + e | None -> if r.Cached then "cached" else sprintf "computed in %.1f s" r.Seconds
        printfn "%s seed %d: %s" u.Spec.Id u.Seed state
    let failed = records |> List.filter (fun (_, r) -> r.Error.IsSome) |> List.length
    let cached = records |> List.filter (fun (_, r) -> r.Cached) |> List.length
    printfn "shard %s: %d units, %d computed, %d cached, %d failed" (Shards.describe shard) records.Length (records.Length - cached - failed) cached failed
    if failed > 0 then 1 else 0

/// Runs the command; returns 0 when every run succeeded, 1 otherwise.
let run (ctx: Context) (args: ParseResults<ReproduceArgs>) : int =
    let which = args.GetResult(Paper, defaultValue = "all")
    let quick = args.Contains Quick
    let seedCount = args.GetResult(Seeds, defaultValue = (if quick then 1 else 3))
    Checks.positiveInt "seeds" seedCount
    let out = IO.Path.GetFullPath(args.GetResult(Out, defaultValue = IO.Path.Combine("reports", "latest")))
    let papers = Catalogue.select quick which
    let papers = match args.TryGetResult Only with Some patterns -> Catalogue.only patterns papers | None -> papers
    let jobs = args.GetResult(Jobs, defaultValue = 1)
    Checks.positiveInt "jobs" jobs
    let shard = args.TryGetResult Shard |> Option.map (Shards.parse "shard")
    let reportOnly = args.Contains Report_Only
    if shard.IsSome && (jobs > 1 || reportOnly) then
        Checks.fail "shard" "--shard computes one slice: it takes neither --jobs nor --report-only"
    if args.Contains Claim && shard.IsNone then Checks.fail "claim" "--claim goes with --shard K/N (a worker of --jobs)"
    let options =
        { CacheDir = IO.Path.Combine(out, "cache"); Seeds = [ 0 .. seedCount - 1 ]; Context = ctx
          Bar = fun title work -> EnergyFs.Cli.Progress.withBar title work
          Log = fun line -> eprintfn "%s" line
          CacheOnly = reportOnly }
    let count = papers |> List.sumBy (fun p -> p.Experiments.Length)
    let watch = Diagnostics.Stopwatch.StartNew ()
    match shard with
    | Some s -> runShard options s (args.Contains Claim) papers which
    | None ->
    eprintfn "reproduce %s (%s): %d experiments × %d seed(s), %s; %s; output %s"
        which (if quick then "quick" else "full") count seedCount
        (if reportOnly then "from the cache only" elif jobs > 1 then sprintf "%d worker processes" jobs else sprintf "%d thread(s)" (Runtime.threads ()))
        (Context.describe ctx) out
    let options = if jobs > 1 && not reportOnly then EnergyFs.Cli.LocalWorkers.computeInWorkers out jobs options else options
    let results = Runner.run options papers
    let info =
        { Title = "EnergyFs reproduction report"
          Command =
            sprintf "energyfs reproduce %s%s --seeds %d%s%s" which (if quick then " --quick" else "") seedCount
                (match args.TryGetResult Only with Some p -> sprintf " --only %s" p | None -> "")
                (if reportOnly then " --report-only" elif jobs > 1 then sprintf " --jobs %d" jobs else "")
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
