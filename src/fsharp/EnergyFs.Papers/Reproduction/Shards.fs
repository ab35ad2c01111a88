namespace EnergyFs.Papers.Reproduction

open System
open EnergyFs

/// One slice of a reproduction: shard `Index` of `Count` (1-based), as `--shard K/N` names it.
type Shard =
    { /// Which shard, 1 ≤ Index ≤ Count.
      Index: int
      /// How many shards the work is cut into.
      Count: int }

/// A work unit of a reproduction: one experiment with one seed (the unit the result cache stores).
type WorkUnit =
    { /// The experiment.
      Spec: ExperimentSpec
      /// The seed.
      Seed: int
      /// Its position in the catalogue's fixed order (papers, experiments, seeds), from 0.
      Position: int }

/// Cutting a reproduction into shards: the units are enumerated in a fixed order (papers in catalogue
/// order, each paper's experiments in run order, seeds ascending), and unit i belongs to shard
/// (i mod N) + 1, so every shard gets every N-th unit whatever machine computes it. Each unit depends
/// only on its configuration and seed, so a sharded run stores the same results in the shared cache
/// as a single process would, and `--report-only` builds the same report from them.
[<RequireQualifiedAccess>]
module Shards =

    /// The whole work as one shard.
    let whole = { Index = 1; Count = 1 }

    /// Parses `K/N` (1 ≤ K ≤ N); an error names the argument and the expected form.
    let parse (argument: string) (text: string) : Shard =
        let fail () = Checks.fail argument (sprintf "'%s' is not a shard: expected K/N with 1 ≤ K ≤ N, for example 2/8" text)
        match (if isNull text then [||] else text.Split('/')) with
        | [| k; n |] ->
            match Int32.TryParse(k.Trim()), Int32.TryParse(n.Trim()) with
            | (true, k), (true, n) when n >= 1 && k >= 1 && k <= n -> { Index = k; Count = n }
            | _ -> fail ()
        | _ -> fail ()

    /// `K/N`.
    let describe (shard: Shard) = sprintf "%d/%d" shard.Index shard.Count

    /// Every unit of the experiments for the seeds, in the fixed order (experiments in order, seeds
    /// ascending within each).
    let ofExperiments (experiments: ExperimentSpec list) (seeds: int list) : WorkUnit list =
        [ for e in experiments do
            for s in seeds -> e, s ]
        |> List.mapi (fun i (e, s) -> { Spec = e; Seed = s; Position = i })

    /// Every unit of the papers for the seeds, in the fixed order.
    let units (papers: PaperSpec list) (seeds: int list) : WorkUnit list =
        ofExperiments (papers |> List.collect (fun p -> p.Experiments)) seeds

    /// Whether a unit belongs to a shard.
    let owns (shard: Shard) (unit: WorkUnit) = unit.Position % shard.Count = shard.Index - 1

    /// The units of one shard, in order.
    let select (shard: Shard) (units: WorkUnit list) = units |> List.filter (owns shard)
