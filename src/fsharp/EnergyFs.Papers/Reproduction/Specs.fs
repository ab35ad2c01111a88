namespace EnergyFs.Papers.Reproduction

open System
open EnergyFs
open EnergyFs.Papers.Reports
open Plotly.NET

/// A named curve an experiment records for the report's charts (for example KL over iterations).
type Series =
    { /// The curve's name (the key a paper's summary looks it up by).
      Name: string
      /// Abscissae (for example iterations).
      X: float[]
      /// Ordinates, one per abscissa.
      Y: float[] }

/// What one run (one experiment, one seed) produces: named scalar metrics and curves. This is what
/// the result cache stores, so a report can be rebuilt from the cache alone.
type RunOutcome =
    { /// Named scalar metrics, in the order the experiment reports them.
      Metrics: (string * float) list
      /// Curves for the charts.
      Series: Series list }

/// One experiment of a paper: an id (also the cache file's prefix), a title, the canonical text of
/// its configuration (hashed with the seed to key the cache) and the function that runs one seed.
/// `Run context seed progress` reports (fraction done, short description) through `progress`.
type ExperimentSpec =
    { /// Unique id, safe in a file name (for example `fy-multilabel-yeast-quadratic`).
      Id: string
      /// What the experiment is, in words (shown in the report's run table).
      Title: string
      /// Canonical text of the configuration (`ResultCache.describe`): a change recomputes.
      Config: string
      /// Runs one seed on a context, reporting (fraction done, text) as it goes.
      Run: Context -> int -> (float * string -> unit) -> RunOutcome
      /// The settings the experiment was built from, as named parts, and how to rebuild it from
      /// changed ones (what `energyfs sweep` varies); None for an experiment that offers none.
      Settings: ExperimentSettings option }

/// The settings of an experiment as named parts (for example "data", "setup", "settings"), each an
/// F# value (records, unions, options, lists, numbers), and the function that builds the
/// experiment again from changed parts (`SettingPaths` reads and changes them by dotted path).
and ExperimentSettings =
    { /// The parts, in order: name, declared type (a None part is null), value.
      Parts: (string * Type * obj) list
      /// The experiment built from parts of the same names and types.
      Rebuild: obj list -> ExperimentSpec }

/// One seed of an experiment as it happened: its outcome, or the error that stopped it.
type RunRecord =
    { /// The seed of this run.
      Seed: int
      /// The outcome, None when the run failed.
      Outcome: RunOutcome option
      /// Wall time of the computation (for a cached run: of the run that filled the cache).
      Seconds: float
      /// CPU time of this process during the computation (all threads; NaN when not recorded).
      CpuSeconds: float
      /// Whether the outcome was read from the cache instead of computed.
      Cached: bool
      /// The exception's type and message when the run failed.
      Error: string option }

/// All seeds of one experiment.
type ExperimentResult =
    { /// The experiment.
      Spec: ExperimentSpec
      /// One record per seed, in seed order.
      Runs: RunRecord list }

/// A table of the report: a caption, column headers and rows of cells (already formatted).
type ResultTable =
    { /// A sentence above the table saying what it shows.
      Caption: string
      /// Column headers.
      Columns: string list
      /// Rows of formatted cells, as many as columns.
      Rows: string list list }

/// A paper's qualitative headline as a check computed from the measured numbers: the claim, the
/// numbers it was decided on, and the verdict (None when the numbers are missing, e.g. a run failed).
type HeadlineCheck =
    { /// The paper's claim as checked here.
      Claim: string
      /// The measured numbers the verdict rests on (or which are missing).
      Evidence: string
      /// Some true (✓), Some false (✗), None (not measured).
      Passed: bool option }

/// What a paper's section of the report shows, computed from its experiments' results.
type PaperSummary =
    { /// Results beside the published numbers (one or more tables).
      Tables: ResultTable list
      /// The paper's headline claims, each checked (✓/✗) against the measured numbers.
      Checks: HeadlineCheck list
      /// Charts (file stem, chart); written as self-contained HTML next to the report.
      Charts: (string * GenericChart) list
      /// Free-text remarks (settings, known differences from the paper).
      Notes: string list }

/// A paper in the reproduction catalogue: its experiments and how their results are summarised
/// beside the published numbers.
type PaperSpec =
    { /// Short id used on the command line: fy, dual, regression, spen.
      Id: string
      /// The paper's title as the report heads its section.
      Title: string
      /// Authors, year, venue and arXiv id.
      Reference: string
      /// The experiments, in run order.
      Experiments: ExperimentSpec list
      /// Tables, checks and charts from the results (robust to missing or failed experiments).
      Summarize: ExperimentResult list -> PaperSummary }

/// The results of one paper after a reproduction run.
type PaperResult =
    { /// The paper.
      Paper: PaperSpec
      /// The results of its experiments.
      Experiments: ExperimentResult list
      /// The summary, or the error raised while summarising.
      Summary: Result<PaperSummary, string> }

/// Helpers over experiment results: metric statistics across seeds, formatting, checks.
[<RequireQualifiedAccess>]
module Results =

    /// The outcomes of the seeds that succeeded.
    let outcomes (r: ExperimentResult) : RunOutcome list = r.Runs |> List.choose (fun run -> run.Outcome)

    /// Whether any seed of the experiment failed.
    let failed (r: ExperimentResult) = r.Runs |> List.exists (fun run -> run.Error.IsSome)

    /// The values of a metric over the successful seeds (seeds lacking it are skipped).
    let values (name: string) (r: ExperimentResult) : float list =
        outcomes r |> List.choose (fun o -> o.Metrics |> List.tryFind (fst >> (=) name) |> Option.map snd)

    /// Mean and sample standard deviation (`Statistics.meanStd`: n − 1; 0 for one value) of a
    /// metric over seeds; None when no seed has it.
    let stat (name: string) (r: ExperimentResult) : (float * float) option =
        match values name r with
        | [] -> None
        | vs -> Some (EnergyFs.Metrics.Statistics.meanStd vs)

    /// The mean of a metric over seeds, if measured.
    let mean (name: string) (r: ExperimentResult) : float option = stat name r |> Option.map fst

    /// The result of the experiment with this id, if it is in the list.
    let find (id: string) (results: ExperimentResult list) : ExperimentResult option =
        results |> List.tryFind (fun r -> r.Spec.Id = id)

    /// The mean of metric `name` of experiment `id`, if measured.
    let meanOf (id: string) (name: string) (results: ExperimentResult list) : float option =
        find id results |> Option.bind (mean name)

    /// "m ± s" with `digits` decimals (just "m" for one seed), "—" when not measured, "failed" when
    /// every seed failed.
    let cell (digits: int) (name: string) (r: ExperimentResult option) : string =
        match r with
        | None -> "—"
        | Some r ->
            match stat name r, values name r with
            | Some (m, _), [ _ ] -> sprintf "%.*f" digits m
            | Some (m, s), _ -> sprintf "%.*f ± %.*f" digits m digits s
            | None, _ when failed r -> "failed"
            | None, _ -> "—"

    /// A check decided by `decide` on the means of the named metrics (experiment id, metric);
    /// Passed = None when any is missing. `evidence` formats the numbers.
    let check (claim: string) (inputs: (string * string) list) (decide: float list -> bool) (evidence: float list -> string) (results: ExperimentResult list) : HeadlineCheck =
        let vs = inputs |> List.map (fun (id, name) -> meanOf id name results)
        if vs |> List.forall Option.isSome then
            let xs = vs |> List.map Option.get
            { Claim = claim; Evidence = evidence xs; Passed = Some (decide xs) }
        else
            let missing = List.zip inputs vs |> List.filter (snd >> Option.isNone) |> List.map (fun ((id, n), _) -> sprintf "%s/%s" id n)
            { Claim = claim; Evidence = "not measured: " + String.Join(", ", missing); Passed = None }

    /// The curves named `name` of the first successful seed of an experiment.
    let series (name: string) (r: ExperimentResult option) : Series option =
        r |> Option.bind (fun r -> outcomes r |> List.tryHead) |> Option.bind (fun o -> o.Series |> List.tryFind (fun s -> s.Name = name))
