namespace EnergyFs.Papers.Reproduction

open System
open System.Diagnostics
open EnergyFs

/// How a reproduction run executes: where the cache lives, which seeds, on which device, and how
/// progress is shown.
type RunnerOptions =
    { /// The cache folder (`<out>/cache` for the CLI).
      CacheDir: string
      /// The seeds every experiment runs with.
      Seeds: int list
      /// Device and dtype handed to every experiment.
      Context: Context
      /// Wraps the computation of one (experiment, seed): `Bar title work` runs `work report`, where
      /// `report (fraction, text)` updates a progress display (the CLI draws a bar with ETA).
      Bar: string -> ((float * string -> unit) -> RunOutcome) -> RunOutcome
      /// Told about each (experiment, seed) answered from the cache, and each failure.
      Log: string -> unit
      /// Build the results from the cache only: a unit missing from it is recorded as failed
      /// (`--report-only`, after shards have filled a shared cache).
      CacheOnly: bool }

/// Defaults for RunnerOptions.
[<RequireQualifiedAccess>]
module RunnerOptions =
    /// Cache in `cache`, seed 0, CPU float32, no progress display, no log.
    let defaults =
        { CacheDir = "cache"; Seeds = [ 0 ]; Context = Context.cpu; Bar = (fun _ work -> work ignore); Log = ignore; CacheOnly = false }

/// Runs a catalogue of papers: each experiment once per seed, answered from the result cache when
/// a finished run with the same configuration and seed is stored there, computed (and stored)
/// otherwise. An exception in one run is recorded with the run and does not stop the others.
[<RequireQualifiedAccess>]
module Runner =

    /// The experiment as the cache keys it: its configuration plus the device and dtype it runs on
    /// (a CUDA run does not reuse a CPU result).
    let keyed (options: RunnerOptions) (spec: ExperimentSpec) : ExperimentSpec =
        { spec with Config = sprintf "%s | context %s" spec.Config (Context.describe options.Context) }

    /// One (experiment, seed): from the cache, or computed and cached; failures captured.
    let runSeed (options: RunnerOptions) (spec: ExperimentSpec) (seed: int) : RunRecord =
        let spec = keyed options spec
        match ResultCache.tryLoad options.CacheDir spec seed with
        | Some cached ->
            options.Log (sprintf "%s seed %d: cached (%.1f s when computed)" spec.Id seed cached.Seconds)
            { Seed = seed; Outcome = Some cached.Outcome; Seconds = cached.Seconds; CpuSeconds = cached.CpuSeconds; Cached = true; Error = None }
        | None when options.CacheOnly ->
            let message = sprintf "not in the cache %s (compute it first: `reproduce --shard K/N` for its shard, or without --report-only)" options.CacheDir
            options.Log (sprintf "%s seed %d: %s" spec.Id seed message)
            { Seed = seed; Outcome = None; Seconds = nan; CpuSeconds = nan; Cached = false; Error = Some message }
        | None ->
            let watch = Stopwatch.StartNew ()
            let cpu0 = Process.GetCurrentProcess().TotalProcessorTime
            let cpu () = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds
            try
                let title = if options.Seeds.Length > 1 then sprintf "%s seed %d" spec.Id seed else spec.Id
                let outcome = options.Bar title (fun report -> spec.Run options.Context seed report)
                let seconds, cpuSeconds = watch.Elapsed.TotalSeconds, cpu ()
                ResultCache.store options.CacheDir spec seed { Outcome = outcome; Seconds = seconds; CpuSeconds = cpuSeconds }
                { Seed = seed; Outcome = Some outcome; Seconds = seconds; CpuSeconds = cpuSeconds; Cached = false; Error = None }
            with e ->
                let e = match e with :? AggregateException as a when a.InnerExceptions.Count = 1 -> a.InnerException | e -> e
                let message = sprintf "%s: %s" (e.GetType().Name) e.Message
                options.Log (sprintf "%s seed %d failed: %s" spec.Id seed message)
                { Seed = seed; Outcome = None; Seconds = watch.Elapsed.TotalSeconds; CpuSeconds = cpu (); Cached = false; Error = Some message }

    /// Every seed of one experiment.
    let runExperiment (options: RunnerOptions) (spec: ExperimentSpec) : ExperimentResult =
        { Spec = spec; Runs = [ for seed in options.Seeds -> runSeed options spec seed ] }

    /// Summarises a paper's results (an exception while summarising becomes Error).
    let summarize (paper: PaperSpec) (results: ExperimentResult list) : PaperResult =
        let summary =
            try Ok (paper.Summarize results)
            with e -> Error (sprintf "%s: %s" (e.GetType().Name) e.Message)
        { Paper = paper; Experiments = results; Summary = summary }

    /// Runs every experiment of every paper, in order, and summarises each paper.
    let run (options: RunnerOptions) (papers: PaperSpec list) : PaperResult list =
        if options.Seeds.IsEmpty then Checks.fail "Seeds" "at least one seed is needed"
        papers |> List.map (fun paper -> summarize paper (paper.Experiments |> List.map (runExperiment options)))

    /// Computes (or finds in the cache) the units of one shard and stores them; no summaries (those
    /// come from `run` with CacheOnly once every shard is done). Returns each unit's record.
    let runShard (options: RunnerOptions) (shard: Shard) (papers: PaperSpec list) : (WorkUnit * RunRecord) list =
        if options.Seeds.IsEmpty then Checks.fail "Seeds" "at least one seed is needed"
        Shards.units papers options.Seeds
        |> Shards.select shard
        |> List.map (fun u -> u, runSeed options u.Spec u.Seed)

    /// The folder of claim files under the cache (`claims/`), which `runClaimed` workers share.
    let claimsDir (options: RunnerOptions) = IO.Path.Combine(options.CacheDir, "claims")

    /// Computes units claimed one at a time, so that workers sharing a cache share the work whatever
    /// each unit costs (fixed `Shards` slices can leave one worker with all the long units while the
    /// others idle). Each worker walks the units in order; a unit already in the cache is taken from
    /// it, and any other is computed only by the worker that first creates its claim file
    /// `<CacheDir>/claims/<unit>.claim` (an atomic create-new), skipped by the rest. Returns the units
    /// this worker computed or found cached. A worker killed mid-unit leaves its claim: clear the
    /// claims folder before starting workers again (`--jobs` does).
    let runClaimed (options: RunnerOptions) (units: WorkUnit list) : (WorkUnit * RunRecord) list =
        let dir = claimsDir options
        IO.Directory.CreateDirectory dir |> ignore
        [ for u in units do
            let spec = keyed options u.Spec
            match ResultCache.tryLoad options.CacheDir spec u.Seed with
            | Some _ -> yield u, runSeed options u.Spec u.Seed
            | None ->
                let claim = IO.Path.Combine(dir, IO.Path.GetFileName(ResultCache.path options.CacheDir spec u.Seed) + ".claim")
                let mine =
                    try
                        use f = new IO.FileStream(claim, IO.FileMode.CreateNew, IO.FileAccess.Write)
                        true
                    with :? IO.IOException -> false
                if mine then yield u, runSeed options u.Spec u.Seed ]

    /// Whether any run of any experiment failed, or a summary could not be computed.
    let anyFailure (results: PaperResult list) : bool =
        results |> List.exists (fun p -> Result.isError p.Summary || p.Experiments |> List.exists Results.failed)
