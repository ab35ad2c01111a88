/// Runs the selected benchmarks at each thread count on every side (EnergyFs, the direct TorchSharp
/// version where there is one, PyTorch), alternating them round by round (Timing.Settings.Rounds) so that load drifts of a shared machine affect
/// both alike.
module EnergyFs.Bench.Runner

open System
open EnergyFs
open EnergyFs.Bench.Timing

/// The outcome of one benchmark at one thread count.
type Outcome =
    { Benchmark: Benchmark
      Threads: int
      /// EnergyFs per-call times; None when the EnergyFs side failed.
      EnergyFs: Summary option
      /// PyTorch per-call times; None without PyTorch, without a counterpart, or on failure.
      PyTorch: Summary option
      /// Per-call times of the direct TorchSharp version (`Benchmark.Direct`); None without one or on failure.
      Direct: Summary option
      /// Live TorchSharp tensors after the timed repetitions minus before: non-zero means the step
      /// leaks tensors across iterations.
      LeakedTensors: int64
      /// Failure messages of either side.
      Errors: string list }

    /// EnergyFs median / PyTorch median.
    member o.RatioMedian =
        match o.EnergyFs, o.PyTorch with
        | Some e, Some p when p.Median > 0.0 -> Some(e.Median / p.Median)
        | _ -> None

    /// EnergyFs median CPU time per call / PyTorch's (all threads of each process).
    member o.RatioCpu =
        match o.EnergyFs, o.PyTorch with
        | Some e, Some p when p.CpuMedian > 0.0 -> Some(e.CpuMedian / p.CpuMedian)
        | _ -> None

    /// EnergyFs minimum / PyTorch minimum (less sensitive to interference from other processes).
    member o.RatioMin =
        match o.EnergyFs, o.PyTorch with
        | Some e, Some p when p.Min > 0.0 -> Some(e.Min / p.Min)
        | _ -> None

    /// EnergyFs median / direct TorchSharp median: what EnergyFs's layer costs (or saves) over
    /// writing the same algorithm against TorchSharp.
    member o.RatioDirect =
        match o.EnergyFs, o.Direct with
        | Some e, Some d when d.Median > 0.0 -> Some(e.Median / d.Median)
        | _ -> None

    /// Direct TorchSharp median / PyTorch median: the same algorithm in TorchSharp 0.107 on
    /// libtorch 2.10 against PyTorch, with no EnergyFs code in the timed step.
    member o.RatioDirectPyTorch =
        match o.Direct, o.PyTorch with
        | Some d, Some p when p.Median > 0.0 -> Some(d.Median / p.Median)
        | _ -> None

/// The PyTorch side of one thread count, if any: the worker and torch's own description.
type PySide = { Worker: PyTorch.Worker; Info: Text.Json.Nodes.JsonObject }

let private log fmt = Printf.kprintf (fun s -> eprintfn "[bench] %s" s) fmt

let private firstLine (e: exn) = (e.Message.Split('\n')[0]).Trim()

/// One side of a measurement over the rounds: its calls per repetition (None once it failed) and
/// the samples gathered so far.
type private Side(inner: int option) =
    let wall, cpu = ResizeArray<float>(), ResizeArray<float>()
    let mutable inner = inner
    let mutable faults = 0L
    /// Calls per repetition; None when the side failed or has nothing to time.
    member _.Inner = inner
    /// Drops the side after a failure.
    member _.Fail() = inner <- None
    /// Adds one round's per-call wall and CPU times and its page faults (−1: unknown).
    member _.Add(w: float[], c: float[], f: int64) =
        wall.AddRange w
        cpu.AddRange c
        faults <- if faults < 0L || f < 0L then -1L else faults + f
    /// The statistics, when the side ran to the end.
    member _.Summary = inner |> Option.map (fun n -> summarize n faults (wall.ToArray()) (cpu.ToArray()))

/// Measures one benchmark at the current thread count.
let measure (settings: Settings) (threads: int) (py: PySide option) (b: Benchmark) : Outcome =
    let id = sprintf "%s@%d" b.Name threads
    let errors = ResizeArray<string>()
    let attempt (label: string) (f: unit -> 'T) =
        try Some(f ())
        with e ->
            errors.Add(sprintf "%s: %s" label (firstLine e))
            None
    // Set-up of every side.
    let case = attempt "EnergyFs set-up" b.Setup
    let directCase = b.Direct |> Option.bind (attempt "TorchSharp (direct) set-up")
    let pyCase =
        match py, b.Python with
        | Some p, Some snippet -> attempt "PyTorch set-up" (fun () -> PyTorch.setup p.Worker id snippet; p.Worker)
        | _ -> None
    try
        // Warm-up and calibration; a side that fails here is dropped.
        let local (label: string) (case: Case option) =
            let step = case |> Option.map (fun c -> fun () -> Scope.run c.Step)
            let inner =
                step |> Option.bind (fun s ->
                    attempt label (fun () ->
                        GC.Collect()
                        GC.WaitForPendingFinalizers()
                        warmUp settings s
                        calibrate settings s))
            step, Side inner
        let fsStep, fs = local "EnergyFs" case
        let directStep, direct = local "TorchSharp (direct)" directCase
        let pySide = Side(pyCase |> Option.bind (fun w -> attempt "PyTorch" (fun () -> PyTorch.warmUpAndCalibrate w id settings)))
        let live0 = NativeMemory.liveTensors ()
        let take (label: string) (side: Side) (run: int -> float[] * float[] * int64) =
            match side.Inner with
            | Some n ->
                match attempt label (fun () -> run n) with
                | Some r -> side.Add r
                | None -> side.Fail()
            | None -> ()
        let timeLocal (step: unit -> unit) (reps: int) (n: int) =
            let f0 = minorFaults ()
            let wall, cpu = sample n reps step
            wall, cpu, (if f0 < 0L then -1L else minorFaults () - f0)
        for r in 0 .. max 1 settings.Rounds - 1 do
            let reps = repsInRound settings r
            fsStep |> Option.iter (fun s -> take "EnergyFs" fs (timeLocal s reps))
            directStep |> Option.iter (fun s -> take "TorchSharp (direct)" direct (timeLocal s reps))
            pyCase |> Option.iter (fun w -> take "PyTorch" pySide (fun n -> PyTorch.sample w id n reps))
        let leaked = NativeMemory.liveTensors () - live0
        { Benchmark = b
          Threads = threads
          EnergyFs = fs.Summary
          PyTorch = pySide.Summary
          Direct = direct.Summary
          LeakedTensors = leaked
          Errors = List.ofSeq errors }
    finally
        case |> Option.iter (fun c -> try c.Release () with _ -> ())
        directCase |> Option.iter (fun c -> try c.Release () with _ -> ())
        pyCase |> Option.iter (fun w -> try PyTorch.teardown w id with _ -> ())

/// Describes an outcome in one line (progress on stderr).
let private report (o: Outcome) =
    let side (s: Summary option) = s |> Option.map (fun s -> formatSeconds s.Median) |> Option.defaultValue "—"
    let ratio = o.RatioMedian |> Option.map (sprintf "%.2fx") |> Option.defaultValue "—"
    let direct = match o.Direct with Some _ -> sprintf "  TorchSharp %s" (side o.Direct) | None -> ""
    log "%-22s t=%d  EnergyFs %s%s  PyTorch %s  ratio %s%s" o.Benchmark.Name o.Threads (side o.EnergyFs) direct (side o.PyTorch) ratio
        (if o.LeakedTensors <> 0L then sprintf "  LEAK %d tensors" o.LeakedTensors else "")
    for e in o.Errors do log "  error: %s" e

/// Runs every benchmark at every thread count. `python` is the interpreter with torch (None: EnergyFs
/// only). Returns the outcomes and, per thread count, torch's own description.
let runAll (settings: Settings) (threadCounts: int list) (python: string option) (pyScripts: string) (benchmarks: Benchmark list) =
    let outcomes = ResizeArray<Outcome>()
    let pyInfos = ResizeArray<int * Text.Json.Nodes.JsonObject>()
    for threads in threadCounts do
        Runtime.setThreads threads
        log "threads = %d (libtorch reports %d)" threads (Runtime.threads ())
        let py =
            python
            |> Option.bind (fun exe ->
                try
                    let w = new PyTorch.Worker(exe, pyScripts, threads)
                    let info = PyTorch.info w
                    pyInfos.Add((threads, info))
                    Some { Worker = w; Info = info }
                with e ->
                    log "PyTorch worker failed to start: %s" (firstLine e)
                    None)
        try
            for b in benchmarks do
                let o = measure settings threads py b
                report o
                outcomes.Add o
        finally
            py |> Option.iter (fun p -> (p.Worker :> IDisposable).Dispose())
    List.ofSeq outcomes, List.ofSeq pyInfos
