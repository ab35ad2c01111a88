namespace EnergyFs.Papers.Reproduction

open System
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open EnergyFs

/// One configuration of a sweep: its number, the values it sets, the experiment built with them.
type SweepConfiguration =
    { /// 1-based, in the plan's order.
      Index: int
      /// (settings path, value) as set.
      Values: (string * JsonNode) list
      /// The experiment with those settings (its own cache key).
      Spec: ExperimentSpec }

/// A configuration's results: every seed, and the mean of the selection metric (None when no seed
/// measured it).
type SweepRow =
    { /// The configuration.
      Configuration: SweepConfiguration
      /// Its runs.
      Result: ExperimentResult
      /// Mean of the selection metric over the seeds that succeeded.
      Score: float option }

/// A finished sweep: the plan, the base experiment, one row per configuration and the selected row.
type SweepResult =
    { /// The plan.
      Plan: SweepPlan
      /// The experiment as the catalogue defines it (the values not swept come from it).
      Base: ExperimentSpec
      /// One row per configuration, in order.
      Rows: SweepRow list
      /// The row with the best selection metric (on validation data); None when none was measured.
      Selected: SweepRow option }

/// Hyperparameter sweeps over an experiment of the catalogue: the configurations of a `SweepPlan`
/// are built by setting paths in the experiment's settings (`Experiment.withValues`), each
/// (configuration, seed) is a work unit of the result cache like a reproduction's (so `--shard K/N`,
/// `--jobs N` and `--report-only` work the same way), and the selection looks at the validation
/// metric only; the test metrics of the selected configuration are reported beside the whole table.
[<RequireQualifiedAccess>]
module Sweeps =

    /// The configurations of the plan applied to the base experiment.
    let configurations (plan: SweepPlan) (baseSpec: ExperimentSpec) : SweepConfiguration list =
        SweepPlan.configurations plan
        |> List.mapi (fun i values -> { Index = i + 1; Values = values; Spec = Experiment.withValues values baseSpec })

    /// The seeds of the plan.
    let seeds (plan: SweepPlan) = [ 0 .. plan.Seeds - 1 ]

    /// The work units: every configuration × seed, in order.
    let units (plan: SweepPlan) (configurations: SweepConfiguration list) : WorkUnit list =
        Shards.ofExperiments (configurations |> List.map (fun c -> c.Spec)) (seeds plan)

    /// The summary of computed results: the score of each configuration and the selection.
    let summarize (plan: SweepPlan) (baseSpec: ExperimentSpec) (rows: (SweepConfiguration * ExperimentResult) list) : SweepResult =
        let rows =
            [ for c, r in rows ->
                let score = Results.mean plan.Select r |> Option.filter Double.IsFinite
                { Configuration = c; Result = r; Score = score } ]
        let better (a: float) (b: float) = match plan.Goal with Maximize -> a > b | Minimize -> a < b
        let selected =
            rows |> List.fold (fun best row ->
                match row.Score, best with
                | Some s, Some b when better s b.Score.Value -> Some row
                | Some _, None -> Some row
                | _ -> best) None
        { Plan = plan; Base = baseSpec; Rows = rows; Selected = selected }

    /// Runs (or reads from the cache) every unit and summarises.
    let run (options: RunnerOptions) (plan: SweepPlan) (baseSpec: ExperimentSpec) (configurations: SweepConfiguration list) : SweepResult =
        let options = { options with Seeds = seeds plan }
        summarize plan baseSpec [ for c in configurations -> c, Runner.runExperiment options c.Spec ]

    /// Computes (or finds in the cache) one shard's units; no summary.
    let runShard (options: RunnerOptions) (shard: Shard) (plan: SweepPlan) (configurations: SweepConfiguration list) : (WorkUnit * RunRecord) list =
        units plan configurations |> Shards.select shard |> List.map (fun u -> u, Runner.runSeed options u.Spec u.Seed)

    let private valueText (v: JsonNode) = if isNull v then "null" else v.ToJsonString()

    let private metricNames (result: SweepResult) = result.Plan.Select :: (result.Plan.Report |> List.filter ((<>) result.Plan.Select))

    let private baseValues (result: SweepResult) =
        let leaves = Experiment.settings result.Base
        [ for path, _ in result.Plan.Parameters ->
            let v = leaves |> List.tryFind (fun l -> String.Equals(l.Path, path, StringComparison.OrdinalIgnoreCase))
            path, (match v with Some l -> l.Value | None -> "?") ]

    /// The sweep as Markdown: what was swept, the selection, and the whole table.
    let markdown (result: SweepResult) : string =
        let plan = result.Plan
        let sb = StringBuilder()
        let line (s: string) = sb.AppendLine s |> ignore
        line (sprintf "# Sweep %s" plan.Name)
        line ""
        line (sprintf "Experiment `%s` (%s), %s configuration; %d configurations × %d seed(s), %s; selected on `%s` (%s is better), a validation metric: the test metrics never take part in the choice."
                result.Base.Id result.Base.Title (if plan.Quick then "quick" else "full") result.Rows.Length plan.Seeds
                (match plan.Search with Grid -> "grid search" | RandomSearch (n, s) -> sprintf "random search (%d draws, seed %d)" n s)
                plan.Select (match plan.Goal with Maximize -> "larger" | Minimize -> "smaller"))
        line ""
        line (sprintf "Sweep file: `%s`. Base values: %s." (Path.GetFileName plan.File)
                (String.Join("; ", baseValues result |> List.map (fun (p, v) -> sprintf "`%s` = %s" p v))))
        line ""
        let metrics = metricNames result
        match result.Selected with
        | Some row ->
            line (sprintf "**Selected: configuration %d** (%s): %s."
                    row.Configuration.Index
                    (String.Join(", ", row.Configuration.Values |> List.map (fun (p, v) -> sprintf "`%s` = %s" p (valueText v))))
                    (String.Join(", ", metrics |> List.map (fun m -> sprintf "%s %s" m (Results.cell 3 m (Some row.Result))))))
        | None -> line "**No configuration measured the selection metric** (every run failed or lacks it)."
        line ""
        let header = [ "#" ] @ (plan.Parameters |> List.map fst) @ metrics @ [ "wall s" ]
        line ("| " + String.Join(" | ", header) + " |")
        line ("|" + String.replicate header.Length "---|")
        for row in result.Rows do
            let mark = if result.Selected |> Option.exists (fun s -> s.Configuration.Index = row.Configuration.Index) then " ★" else ""
            let seconds = row.Result.Runs |> List.sumBy (fun r -> if Double.IsFinite r.Seconds then r.Seconds else 0.0)
            let cells =
                [ sprintf "%d%s" row.Configuration.Index mark ]
                @ (row.Configuration.Values |> List.map (snd >> valueText))
                @ (metrics |> List.map (fun m -> Results.cell 3 m (Some row.Result)))
                @ [ sprintf "%.0f" seconds ]
            line ("| " + String.Join(" | ", cells) + " |")
        let failures = [ for row in result.Rows do for r in row.Result.Runs do match r.Error with Some e -> yield row.Configuration.Index, r.Seed, e | None -> () ]
        if not failures.IsEmpty then
            line ""
            for i, seed, e in failures do line (sprintf "- configuration %d seed %d failed: %s" i seed e)
        sb.ToString()

    /// The sweep as JSON (snake_case keys): the plan, every configuration's values and metric means,
    /// the selected configuration.
    let json (result: SweepResult) : string =
        let values (c: SweepConfiguration) =
            let o = JsonObject()
            for p, v in c.Values do o[p] <- (if isNull v then null else v.DeepClone())
            o
        let metrics (r: ExperimentResult) =
            let o = JsonObject()
            let names = Results.outcomes r |> List.truncate 1 |> List.collect (fun x -> x.Metrics |> List.map fst)
            for n in names do
                match Results.mean n r with
                | Some v when Double.IsFinite v -> o[n] <- JsonValue.Create v
                | _ -> ()
            o
        let rows = JsonArray()
        for row in result.Rows do
            let o = JsonObject()
            o["index"] <- JsonValue.Create row.Configuration.Index
            o["values"] <- values row.Configuration
            o["metrics"] <- metrics row.Result
            o["failed_seeds"] <- JsonValue.Create (row.Result.Runs |> List.filter (fun r -> r.Error.IsSome) |> List.length)
            rows.Add o
        let root = JsonObject()
        root["name"] <- JsonValue.Create result.Plan.Name
        root["experiment"] <- JsonValue.Create result.Base.Id
        root["configuration"] <- JsonValue.Create (if result.Plan.Quick then "quick" else "full")
        root["seeds"] <- JsonValue.Create result.Plan.Seeds
        root["select"] <- JsonValue.Create result.Plan.Select
        root["goal"] <- JsonValue.Create (match result.Plan.Goal with Maximize -> "max" | Minimize -> "min")
        root["selected"] <-
            match result.Selected with
            | Some row ->
                let o = JsonObject()
                o["index"] <- JsonValue.Create row.Configuration.Index
                o["values"] <- values row.Configuration
                o["metrics"] <- metrics row.Result
                o :> JsonNode
            | None -> null
        root["configurations"] <- rows
        root.ToJsonString(JsonSerializerOptions(WriteIndented = true))

    /// Writes `<out>/sweep.md` and `<out>/sweep.json`; returns their paths.
    let write (out: string) (result: SweepResult) : string * string =
        Directory.CreateDirectory out |> ignore
        let md, js = Path.Combine(out, "sweep.md"), Path.Combine(out, "sweep.json")
        File.WriteAllText(md, markdown result)
        File.WriteAllText(js, json result)
        md, js
