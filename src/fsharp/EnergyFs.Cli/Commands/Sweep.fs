/// `energyfs sweep <file> [--out DIR] [--jobs N | --shard K/N | --report-only] [--json]`: a
/// hyperparameter sweep (grid or random search, declared in a JSON file: `SweepPlan`) over one
/// experiment of the reproduction catalogue, cached per (configuration, seed) like `reproduce`,
/// selected on a validation metric, with the test metrics of the selected configuration beside the
/// whole table in <out>/sweep.md and <out>/sweep.json. `energyfs sweep --settings <experiment>
/// [--quick]` lists the paths a sweep file can set for an experiment.
module EnergyFs.Cli.Commands.Sweep

open System
open Argu
open EnergyFs
open EnergyFs.Papers.Reproduction

/// Arguments of `energyfs sweep`.
type SweepArgs =
    | [<MainCommand>] File of file: string
    | Out of dir: string
    | Jobs of int
    | Shard of shard: string
    | Report_Only
    | Claim
    | Settings of experiment: string
    | Quick
    | Json
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | File _ -> "the sweep file (JSON): experiment, parameters (grid or random), select (a validation metric), report"
            | Out _ -> "output folder (default reports/sweeps/<name>): sweep.md, sweep.json, cache/, logs/"
            | Jobs _ -> "run the (configuration, seed) units as N local worker processes, then report"
            | Shard _ -> "compute only shard K/N of the units into the cache (shared by all shards); no report"
            | Report_Only -> "build the report from the cache only; a unit missing from it is reported as failed"
            | Claim -> "with --shard: instead of the fixed slice, claim units one at a time from <out>/cache/claims, shared with the other workers (what --jobs runs)"
            | Settings _ -> "list the settings paths (type, current value) a sweep file can set for this experiment, and exit"
            | Quick -> "with --settings: the experiment's quick configuration"
            | Json -> "print a JSON summary (selected configuration, its metrics, report paths) as the last line"

let private listSettings (quick: bool) (id: string) : int =
    let spec = Catalogue.experiment quick id
    printfn "settings of %s (%s configuration): path : type = current value" spec.Id (if quick then "quick" else "full")
    for leaf in Experiment.settings spec do
        printfn "  %s : %s = %s" leaf.Path leaf.Type leaf.Value
    0

/// Runs the command; 0 when every unit succeeded and a configuration was selected.
let run (ctx: Context) (args: ParseResults<SweepArgs>) : int =
    match args.TryGetResult Settings with
    | Some id -> listSettings (args.Contains Quick) id
    | None ->
    let file = args.TryGetResult File |> Option.defaultWith (fun () -> Checks.fail "file" "name a sweep file (or --settings <experiment> to list what one can set)")
    let plan = SweepPlan.load file
    let baseSpec = Catalogue.experiment plan.Quick plan.Experiment
    let configurations = Sweeps.configurations plan baseSpec
    let out = IO.Path.GetFullPath(args.GetResult(Out, defaultValue = IO.Path.Combine("reports", "sweeps", plan.Name)))
    let jobs = args.GetResult(Jobs, defaultValue = 1)
    Checks.positiveInt "jobs" jobs
    let shard = args.TryGetResult Shard |> Option.map (Shards.parse "shard")
    let reportOnly = args.Contains Report_Only
    if shard.IsSome && (jobs > 1 || reportOnly) then
        Checks.fail "shard" "--shard computes one slice: it takes neither --jobs nor --report-only"
    if args.Contains Claim && shard.IsNone then Checks.fail "claim" "--claim goes with --shard K/N (a worker of --jobs)"
    let options =
        { CacheDir = IO.Path.Combine(out, "cache"); Seeds = Sweeps.seeds plan; Context = ctx
          Bar = fun title work -> EnergyFs.Cli.Progress.withBar title work
          Log = fun line -> eprintfn "%s" line
          CacheOnly = reportOnly }
    let units = Sweeps.units plan configurations
    match shard with
    | Some s ->
        let mine = Shards.select s units
        eprintfn "sweep %s, shard %s: %d of %d units, %d thread(s); cache %s" plan.Name (Shards.describe s) mine.Length units.Length (Runtime.threads ()) options.CacheDir
        let records = if args.Contains Claim then Runner.runClaimed options units else Sweeps.runShard options s plan configurations
        for u, r in records do
            let state = match r.Error with Some e -> "failed: " + e | None -> if r.Cached then "cached" else sprintf "computed in %.1f s" r.Seconds
            printfn "configuration %d seed %d: %s" (u.Position / plan.Seeds + 1) u.Seed state
        if records |> List.exists (fun (_, r) -> r.Error.IsSome) then 1 else 0
    | None ->
    eprintfn "sweep %s: %s, %d configurations × %d seed(s) = %d units, %s; output %s"
        plan.Name baseSpec.Id configurations.Length plan.Seeds units.Length
        (if reportOnly then "from the cache only" elif jobs > 1 then sprintf "%d worker processes" jobs else sprintf "%d thread(s)" (Runtime.threads ())) out
    let options = if jobs > 1 && not reportOnly then EnergyFs.Cli.LocalWorkers.computeInWorkers out jobs options else options
    let result = Sweeps.run options plan baseSpec configurations
    let md, js = Sweeps.write out result
    match result.Selected with
    | Some row ->
        let metrics = plan.Select :: plan.Report
        printfn "selected configuration %d of %d on %s: %s; %s"
            row.Configuration.Index result.Rows.Length plan.Select
            (String.Join(", ", row.Configuration.Values |> List.map (fun (p, v) -> sprintf "%s = %s" p (if isNull v then "null" else v.ToJsonString()))))
            (String.Join(", ", metrics |> List.distinct |> List.map (fun m -> sprintf "%s %s" m (Results.cell 3 m (Some row.Result)))))
    | None -> printfn "no configuration measured %s" plan.Select
    printfn "report: %s and %s" md js
    if args.Contains Json then
        printfn "%s" (RunMetrics.json
            [ "selected", box (result.Selected |> Option.map (fun r -> r.Configuration.Index) |> Option.defaultValue 0)
              "configurations", box result.Rows.Length
              "report_md", box md; "report_json", box js ])
    let failed = result.Rows |> List.exists (fun r -> Results.failed r.Result)
    if failed || result.Selected.IsNone then 1 else 0
