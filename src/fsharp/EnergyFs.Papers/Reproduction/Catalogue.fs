namespace EnergyFs.Papers.Reproduction

open System
open EnergyFs
open EnergyFs.Papers.Reproduction
open EnergyFs.Papers.FenchelYoung
open EnergyFs.Papers.DualTraining
open EnergyFs.Papers.LearnedProposals
open EnergyFs.Papers.StructuredPrediction
/// The reproduction catalogue: every paper EnergyFs reproduces, with its experiments in the quick
/// configuration (all four papers in under 10 minutes on 2 CPU cores, still showing each paper's
/// headline) or the full one (the scale the papers' issues describe).
[<RequireQualifiedAccess>]
module Catalogue =

    /// The paper ids in report order.
    let paperIds = [ "fy"; "dual"; "regression"; "spen"; "pos" ]

    /// The papers in the quick or full configuration.
    let papers (quick: bool) : PaperSpec list =
        [ FenchelYoungPaper.spec quick; DualPaper.spec quick; RegressionPaper.spec quick; SpenPaper.spec quick; PosTaggingPaper.spec quick ]

    /// The papers selected by id ("all" for every one, or several ids separated by commas, such as
    /// "fy,dual,spen"), in catalogue order; fails naming the accepted ids.
    let select (quick: bool) (which: string) : PaperSpec list =
        match which.Trim().ToLowerInvariant() with
        | "all" | "" -> papers quick
        | text ->
            let ids = text.Split(',') |> Array.map (fun s -> s.Trim()) |> Array.filter (fun s -> s <> "") |> List.ofArray
            for id in ids do
                if not (List.contains id paperIds) then
                    Checks.fail "paper" (sprintf "unknown paper '%s' (expected all, %s, or several separated by commas)" id (String.concat ", " paperIds))
            papers quick |> List.filter (fun p -> List.contains p.Id ids)

    /// Whether an experiment id matches a pattern: the whole id, with `*` standing for any text
    /// (possibly empty); case-sensitive.
    let matches (pattern: string) (id: string) : bool =
        let regex = "^" + String.Join(".*", pattern.Split('*') |> Array.map System.Text.RegularExpressions.Regex.Escape) + "$"
        System.Text.RegularExpressions.Regex.IsMatch(id, regex)

    /// The papers restricted to the experiments whose id matches one of the comma-separated patterns
    /// (`matches`; for example `regression-yacht-joint-s07` or `regression-yacht-*-s0*`), papers left
    /// without experiments dropped. A paper's summary then sees only those experiments (the others
    /// count as not measured). Fails when nothing matches.
    let only (patterns: string) (papers: PaperSpec list) : PaperSpec list =
        let ps = patterns.Split(',') |> Array.map (fun s -> s.Trim()) |> Array.filter (fun s -> s <> "") |> List.ofArray
        if ps.IsEmpty then Checks.fail "only" "no pattern given (expected experiment ids or patterns with *, separated by commas)"
        let kept =
            papers
            |> List.map (fun p -> { p with Experiments = p.Experiments |> List.filter (fun e -> ps |> List.exists (fun pat -> matches pat e.Id)) })
            |> List.filter (fun p -> not p.Experiments.IsEmpty)
        if kept.IsEmpty then
            let ids = papers |> List.collect (fun p -> p.Experiments) |> List.map (fun e -> e.Id) |> List.truncate 8
            Checks.fail "only" (sprintf "no experiment matches '%s' (ids look like %s, …)" patterns (String.concat ", " ids))
        kept

    /// The experiment with this id in the quick or full catalogue; fails naming the ids that exist.
    let experiment (quick: bool) (id: string) : ExperimentSpec =
        let all = papers quick |> List.collect (fun p -> p.Experiments)
        match all |> List.tryFind (fun e -> e.Id = id) with
        | Some e -> e
        | None ->
            Checks.fail "experiment"
                (sprintf "no experiment '%s' in the %s catalogue (it has %s)" id (if quick then "quick" else "full") (String.concat ", " (all |> List.map (fun e -> e.Id))))
