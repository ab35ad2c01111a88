/// Results: the table on stdout, bench/results/latest.md (table and machine description) and
/// bench/results/latest.json (every sample).
module EnergyFs.Bench.Report

open System
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open EnergyFs.Bench.Timing
open EnergyFs.Bench.Runner

/// Everything a results file holds besides the outcomes.
type RunInfo =
    { /// UTC time the run started.
      Started: DateTime
      /// "full" or "quick".
      Mode: string
      Settings: Settings
      ThreadCounts: int list
      /// Name/value pairs from Machine.describe.
      Machine: (string * string) list
      /// PyTorch version and Python version, or None when no interpreter had torch.
      PyTorch: (string * string) option
      /// Per thread count: torch's own report of its threads and build.
      PyTorchInfo: (int * JsonObject) list
      /// 1-minute load average at the start and the end of the run.
      LoadBefore: float option
      LoadAfter: float option
      /// Free-form notes (--note) and automatic ones (noisy machine, missing PyTorch).
      Notes: string list }

let private cell (f: Summary -> string) (s: Summary option) = s |> Option.map f |> Option.defaultValue "—"
let private ratio (r: float option) = r |> Option.map (sprintf "%.2f") |> Option.defaultValue "—"

let private faults (e: Summary option) (p: Summary option) =
    let one (s: Summary option) =
        match s with
        | Some s when not (Double.IsNaN s.FaultsPerCall) -> sprintf "%.0f" s.FaultsPerCall
        | _ -> "—"
    sprintf "%s / %s" (one e) (one p)

/// Rows of the results table.
let private rows (outcomes: Outcome list) =
    [ for o in outcomes ->
        [ o.Benchmark.Name
          string o.Threads
          cell (fun s -> formatSeconds s.Median) o.EnergyFs
          cell formatSpread o.EnergyFs
          cell (fun s -> formatSeconds s.Median) o.PyTorch
          cell formatSpread o.PyTorch
          ratio o.RatioMedian
          ratio o.RatioMin
          ratio o.RatioCpu
          faults o.EnergyFs o.PyTorch
          (if o.LeakedTensors <> 0L then sprintf "LEAK %d" o.LeakedTensors
           elif not o.Errors.IsEmpty then "error"
           else "") ] ]

let private header =
    [ "benchmark"; "threads"; "EnergyFs median"; "spread"; "PyTorch median"; "spread"; "ratio"; "ratio of mins"; "CPU-time ratio"; "page faults/call"; "" ]

let private directHeader =
    [ "benchmark"; "threads"; "EnergyFs median"; "TorchSharp median"; "spread"; "PyTorch median"; "EnergyFs / TorchSharp"; "TorchSharp / PyTorch"; "EnergyFs / PyTorch"; "page faults/call" ]

/// Rows of the split table: the benchmarks with a direct TorchSharp version.
let private directRows (outcomes: Outcome list) =
    [ for o in outcomes do
        if o.Direct.IsSome then
            [ o.Benchmark.Name
              string o.Threads
              cell (fun s -> formatSeconds s.Median) o.EnergyFs
              cell (fun s -> formatSeconds s.Median) o.Direct
              cell formatSpread o.Direct
              cell (fun s -> formatSeconds s.Median) o.PyTorch
              ratio o.RatioDirect
              ratio o.RatioDirectPyTorch
              ratio o.RatioMedian
              faults o.EnergyFs o.Direct ] ]

let private aligned (head: string list) (body: string list list) =
    let all = head :: body
    let widths = List.init head.Length (fun i -> all |> List.map (fun r -> r[i].Length) |> List.max)
    let line (r: string list) =
        List.mapi2 (fun i (w: int) (c: string) -> if i < 2 then c.PadRight w else c.PadLeft w) widths r
        |> String.concat "  "
    let sb = StringBuilder()
    sb.AppendLine(line head) |> ignore
    sb.AppendLine(String('-', (List.sum widths) + 2 * (widths.Length - 1))) |> ignore
    for r in body do sb.AppendLine(line r) |> ignore
    sb.ToString()

/// The table as aligned plain text, followed by the split table (EnergyFs, direct TorchSharp,
/// PyTorch) when some benchmark has a direct version.
let table (outcomes: Outcome list) =
    let split = directRows outcomes
    aligned header (rows outcomes) + (if split.IsEmpty then "" else "\n" + aligned directHeader split)

/// The automatic note about machine load, when the load average suggests other work was running.
let loadNote (cores: int) (before: float option) (after: float option) =
    let describe = function Some l -> sprintf "%.2f" l | None -> "unknown"
    match before, after with
    | Some b, Some a when max b a > 0.5 * float cores ->
        Some(sprintf "The machine was shared with other work during this run (1-minute load average %s at the start, %s at the end, on %d logical CPUs): timings are noisy, treat the ratios as indicative." (describe before) (describe after) cores)
    | _ -> None

/// The Markdown results document.
let markdown (info: RunInfo) (outcomes: Outcome list) =
    let sb = StringBuilder()
    let add (s: string) = sb.AppendLine s |> ignore
    add "# EnergyFs benchmark results"
    add ""
    add (sprintf "Run of %s UTC, %s mode (`./build.sh bench%s`). Times are per call: median over %d repetitions (each about %.0f ms of back-to-back calls, after %.2f s of warm-up), taken in %d rounds alternating EnergyFs and PyTorch. *Spread* is half the interquartile range relative to the median. *Ratio* is EnergyFs median / PyTorch median (below 1: EnergyFs faster); *ratio of mins* compares the fastest repetitions, which interference from other processes affects least. *CPU-time ratio* compares the median process CPU time per call (all threads of each process); at one thread it is the steadiest number on a busy machine, at two threads it also counts time the worker threads spin. *Page faults/call* (EnergyFs / PyTorch) counts minor page faults of the whole process per call: a large number means freed buffers went back to the OS and are faulted in (and zeroed) again on every call."
            (info.Started.ToString "yyyy-MM-dd HH:mm") info.Mode (if info.Mode = "quick" then " --quick" else "")
            info.Settings.Repetitions (info.Settings.TargetRepSeconds * 1e3) info.Settings.WarmupSeconds info.Settings.Rounds)
    add ""
    for n in info.Notes do
        add (sprintf "> **Note.** %s" n)
        add ""
    let all = header :: rows outcomes
    let mdRow (r: string list) = "| " + String.Join(" | ", r) + " |"
    add (mdRow all.Head)
    add ("|" + String.Join("|", all.Head |> List.mapi (fun i _ -> if i < 2 then "---" else "---:")) + "|")
    for r in all.Tail do add (mdRow r)
    let split = directRows outcomes
    if not split.IsEmpty then
        add ""
        add "## Where the time goes: EnergyFs, the same algorithm in TorchSharp directly, PyTorch"
        add ""
        add "The benchmarks below also time a *direct* version: the PyTorch twin's algorithm written against TorchSharp with no EnergyFs call in the timed step, measured in the same rounds. *EnergyFs / TorchSharp* is what EnergyFs's layer costs (above 1) or saves (below 1) over that; *TorchSharp / PyTorch* is the same algorithm in TorchSharp 0.107 on libtorch 2.10 against PyTorch, with EnergyFs out of the picture: a ratio above 1 there is the libraries' (wrapper, dispatcher, kernels, BLAS), not EnergyFs's. Page faults are EnergyFs / direct."
        add ""
        add (mdRow directHeader)
        add ("|" + String.Join("|", directHeader |> List.mapi (fun i _ -> if i < 2 then "---" else "---:")) + "|")
        for r in split do add (mdRow r)
    add ""
    add "## Benchmarks"
    add ""
    for b in outcomes |> List.map (fun o -> o.Benchmark) |> List.distinctBy (fun b -> b.Name) do
        let py = b.Python |> Option.map (fun p -> sprintf " — PyTorch: `%s`" p.Snippet) |> Option.defaultValue " — EnergyFs only"
        add (sprintf "- `%s` (%s): %s%s" b.Name b.Group b.Description py)
    let errors = outcomes |> List.filter (fun o -> not o.Errors.IsEmpty)
    if not errors.IsEmpty then
        add ""
        add "## Errors"
        add ""
        for o in errors do
            for e in o.Errors do add (sprintf "- `%s` (threads %d): %s" o.Benchmark.Name o.Threads e)
    add ""
    add "## Machine and software"
    add ""
    add "| | |"
    add "|---|---|"
    for k, v in info.Machine do add (sprintf "| %s | %s |" k v)
    match info.PyTorch with
    | Some(torchVersion, pythonVersion) ->
        add (sprintf "| PyTorch | %s (Python %s) |" torchVersion pythonVersion)
    | None -> add "| PyTorch | not available (EnergyFs side only) |"
    for t, i in info.PyTorchInfo do
        let flag (k: string) = match i[k] with null -> "?" | n -> string n
        add (sprintf "| PyTorch at %d thread(s) | torch.get_num_threads() = %s, BLAS %s, MKL %s, oneDNN %s, OpenMP %s, allocator %s |"
                t (flag "threads") (flag "blas") (flag "mkl") (flag "mkldnn") (flag "openmp") (flag "allocator"))
    add (sprintf "| EnergyFs allocator | %s |"
            (match EnergyFs.Runtime.allocatorTuning () with
             | Ok [ name, 1 ] when name.EndsWith "malloc" -> name + " (preloaded)"
             | Ok settings -> "glibc " + String.concat ", " [ for k, v in settings -> sprintf "%s %d" k v ]
             | Error why -> "glibc defaults (" + why + ")"))
    add (sprintf "| thread counts | %s (set on both sides: Runtime.setThreads / torch.set_num_threads, and OMP_NUM_THREADS for the PyTorch process) |"
            (info.ThreadCounts |> List.map string |> String.concat ", "))
    let load = function Some (l: float) -> sprintf "%.2f" l | None -> "unknown"
    add (sprintf "| load average (1 min) | %s at start, %s at end |" (load info.LoadBefore) (load info.LoadAfter))
    sb.ToString()

let private summaryJson (s: Summary option) : JsonNode =
    match s with
    | None -> null
    | Some s ->
        let o = JsonObject()
        o["median_s"] <- JsonValue.Create s.Median
        o["min_s"] <- JsonValue.Create s.Min
        o["max_s"] <- JsonValue.Create s.Max
        o["q1_s"] <- JsonValue.Create s.Q1
        o["q3_s"] <- JsonValue.Create s.Q3
        o["iqr_s"] <- JsonValue.Create s.Iqr
        o["inner_calls"] <- JsonValue.Create s.Inner
        o["cpu_median_s"] <- JsonValue.Create s.CpuMedian
        o["cpu_samples_s"] <- JsonArray(s.CpuSamples |> Array.map (fun x -> JsonValue.Create x :> JsonNode))
        o["minor_faults_per_call"] <- (if Double.IsNaN s.FaultsPerCall then null else JsonValue.Create s.FaultsPerCall)
        o["samples_s"] <- JsonArray(s.Samples |> Array.map (fun x -> JsonValue.Create x :> JsonNode))
        o

let private optFloat (x: float option) : JsonNode = x |> Option.map (fun v -> JsonValue.Create v :> JsonNode) |> Option.toObj

/// The JSON results document.
let json (info: RunInfo) (outcomes: Outcome list) =
    let root = JsonObject()
    root["date_utc"] <- JsonValue.Create(info.Started.ToString "yyyy-MM-ddTHH:mm:ssZ")
    root["mode"] <- JsonValue.Create info.Mode
    let settings = JsonObject()
    settings["warmup_s"] <- JsonValue.Create info.Settings.WarmupSeconds
    settings["min_warmup_calls"] <- JsonValue.Create info.Settings.MinWarmupCalls
    settings["target_rep_s"] <- JsonValue.Create info.Settings.TargetRepSeconds
    settings["repetitions"] <- JsonValue.Create info.Settings.Repetitions
    settings["rounds"] <- JsonValue.Create info.Settings.Rounds
    root["settings"] <- settings
    root["threads"] <- JsonArray(info.ThreadCounts |> List.map (fun t -> JsonValue.Create t :> JsonNode) |> Array.ofList)
    let machine = JsonObject()
    for k, v in info.Machine do machine[k] <- JsonValue.Create v
    root["machine"] <- machine
    root["load_average_before"] <- optFloat info.LoadBefore
    root["load_average_after"] <- optFloat info.LoadAfter
    match info.PyTorch with
    | Some(t, p) ->
        let o = JsonObject()
        o["torch"] <- JsonValue.Create t
        o["python"] <- JsonValue.Create p
        let per = JsonObject()
        for threads, i in info.PyTorchInfo do per[string threads] <- i.DeepClone()
        o["per_thread_count"] <- per
        root["pytorch"] <- o
    | None -> root["pytorch"] <- null
    root["notes"] <- JsonArray(info.Notes |> List.map (fun n -> JsonValue.Create n :> JsonNode) |> Array.ofList)
    let results = JsonArray()
    for o in outcomes do
        let r = JsonObject()
        r["benchmark"] <- JsonValue.Create o.Benchmark.Name
        r["group"] <- JsonValue.Create o.Benchmark.Group
        r["description"] <- JsonValue.Create o.Benchmark.Description
        r["pytorch_snippet"] <- (o.Benchmark.Python |> Option.map (fun p -> JsonValue.Create p.Snippet :> JsonNode) |> Option.toObj)
        r["threads"] <- JsonValue.Create o.Threads
        r["energyfs"] <- summaryJson o.EnergyFs
        r["pytorch"] <- summaryJson o.PyTorch
        r["ratio_median"] <- optFloat o.RatioMedian
        r["ratio_min"] <- optFloat o.RatioMin
        r["ratio_cpu"] <- optFloat o.RatioCpu
        r["torchsharp_direct"] <- summaryJson o.Direct
        r["ratio_energyfs_torchsharp"] <- optFloat o.RatioDirect
        r["ratio_torchsharp_pytorch"] <- optFloat o.RatioDirectPyTorch
        r["leaked_tensors"] <- JsonValue.Create o.LeakedTensors
        r["errors"] <- JsonArray(o.Errors |> List.map (fun e -> JsonValue.Create e :> JsonNode) |> Array.ofList)
        results.Add r
    root["results"] <- results
    root.ToJsonString(JsonSerializerOptions(WriteIndented = true))

/// Writes NAME.md and NAME.json into `dir` (created if needed); returns their paths.
let write (dir: string) (name: string) (info: RunInfo) (outcomes: Outcome list) =
    Directory.CreateDirectory dir |> ignore
    let md = Path.Combine(dir, name + ".md")
    let js = Path.Combine(dir, name + ".json")
    File.WriteAllText(md, markdown info outcomes)
    File.WriteAllText(js, json info outcomes + "\n")
    md, js
