/// The benchmark program: `./build.sh bench [--quick] [--threads 1,2] [--filter NAME,...]`.
module EnergyFs.Bench.Program

open System
open System.IO
open Argu
open EnergyFs

type Args =
    | Root of path: string
    | Quick
    | Threads of counts: string
    | Filter of names: string
    | Repetitions of int
    | Target_Ms of float
    | Warmup_Ms of float
    | Rounds of int
    | No_Python
    | Out of dir: string
    | Name of stem: string
    | Note of text: string
    | List
    | Compare of old: string
    | Against of current: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Root _ -> "repository root (build.sh passes it); results go to <root>/bench/results"
            | Quick -> "about one minute: shorter warm-up, fewer and shorter repetitions"
            | Threads _ -> "comma-separated thread counts, set on both sides (default 1,2)"
            | Filter _ -> "comma-separated substrings of benchmark or group names (default: all)"
            | Repetitions _ -> "repetitions per benchmark and side (default 15, quick 6)"
            | Target_Ms _ -> "duration of one repetition in ms (default 80, quick 25)"
            | Warmup_Ms _ -> "warm-up per benchmark and side in ms (default 500, quick 150)"
            | Rounds _ -> "rounds alternating EnergyFs and PyTorch (default 3, quick 2)"
            | No_Python -> "EnergyFs side only"
            | Out _ -> "directory for the results files (default <root>/bench/results)"
            | Name _ -> "file name stem of the results files (default latest: latest.md, latest.json)"
            | Note _ -> "a note written into the results files (e.g. about the machine)"
            | List -> "list the benchmarks and exit"
            | Compare _ -> "print (and write to NAME-compare.md) each benchmark's change against an earlier results file"
            | Against _ -> "with --compare: compare with this results file instead of running the benchmarks"

let private splitList (s: string) =
    s.Split([| ','; ' ' |], StringSplitOptions.RemoveEmptyEntries) |> Array.map (fun x -> x.Trim()) |> List.ofArray

let private parseThreads (s: string) =
    splitList s
    |> List.map (fun t ->
        match Int32.TryParse t with
        | true, n when n > 0 -> n
        | _ -> failwithf "--threads: '%s' is not a positive integer" t)

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<Args>(programName = "EnergyFs.Bench", errorHandler = ProcessExiter())
    let args = parser.ParseCommandLine argv
    let root = args.TryGetResult Root |> Option.defaultValue (Directory.GetCurrentDirectory())
    let filters = args.TryGetResult Filter |> Option.map splitList |> Option.defaultValue []
    let benchmarks = Registry.select filters
    // Read the earlier results first: a wrong path fails before minutes of benchmarks, not after.
    let earlier = args.TryGetResult Compare |> Option.map (fun f -> f, Comparison.tryLoad f)
    let against = args.TryGetResult Against |> Option.map (fun f -> f, Comparison.tryLoad f)
    match earlier, against with
    | Some (_, Error e), _ | _, Some (_, Error e) ->
        eprintfn "EnergyFs.Bench: --compare: %s" e
        2
    | Some (old, Ok oldDoc), Some (current, Ok currentDoc) ->
        printf "%s" (Comparison.table (Path.GetFileName old) (Path.GetFileName current) (Comparison.rows (old, oldDoc) (current, currentDoc)))
        0
    | None, Some _ ->
        eprintfn "EnergyFs.Bench: --against needs --compare OLD.json"
        2
    | _ ->
    let earlier = earlier |> Option.map (fun (f, r) -> f, Result.defaultWith (fun _ -> null) r)
    if args.Contains List then
        for b in Registry.all do
            let py = b.Python |> Option.map (fun p -> p.Snippet) |> Option.defaultValue "(EnergyFs only)"
            printfn "%-22s %-12s %-32s %s" b.Name b.Group py b.Description
        0
    elif benchmarks.IsEmpty then
        eprintfn "EnergyFs.Bench: no benchmark matches --filter %s (see --list)" (String.Join(",", filters))
        2
    else
    let quick = args.Contains Quick
    let basis = if quick then Timing.quick else Timing.standard
    let settings =
        { basis with
            Repetitions = args.GetResult(Repetitions, basis.Repetitions)
            TargetRepSeconds = args.TryGetResult Target_Ms |> Option.map (fun ms -> ms / 1e3) |> Option.defaultValue basis.TargetRepSeconds
            WarmupSeconds = args.TryGetResult Warmup_Ms |> Option.map (fun ms -> ms / 1e3) |> Option.defaultValue basis.WarmupSeconds
            Rounds = args.GetResult(Rounds, basis.Rounds) }
    let threadCounts = args.TryGetResult Threads |> Option.map parseThreads |> Option.defaultValue [ 1; 2 ]
    let started = DateTime.UtcNow
    let loadBefore = Machine.loadAverage ()
    let python =
        if args.Contains No_Python then None
        else
            match PyTorch.findInterpreter () with
            | Some(exe, version) ->
                eprintfn "[bench] PyTorch %s found" version
                Some exe
            | None ->
                eprintfn "[bench] no Python with torch among %s: running the EnergyFs side only (install python3-torch or set ENERGYFS_PYTHON)"
                    (String.Join(", ", PyTorch.candidates ()))
                None
    let machine = Machine.describe ()
    eprintfn "[bench] %d benchmark(s), threads %s, %s mode, EnergyFs %s, TorchSharp %s, libtorch %s"
        benchmarks.Length (String.Join(",", threadCounts)) (if quick then "quick" else "full")
        Runtime.version Runtime.torchSharpVersion (Runtime.libtorchVersion ())
    let outcomes, pyInfos = Runner.runAll settings threadCounts python (Path.Combine(root, "bench", "pytorch")) benchmarks
    let loadAfter = Machine.loadAverage ()
    let pyVersions =
        pyInfos
        |> List.tryHead
        |> Option.map (fun (_, i) -> i["torch"].GetValue<string>(), i["python"].GetValue<string>())
    let notes =
        [ yield! args.GetResults Note
          match Report.loadNote Environment.ProcessorCount loadBefore loadAfter with
          | Some n -> n
          | None -> ()
          if python.IsNone then "PyTorch was not available: EnergyFs side only."
          match pyVersions with
          | Some(t, _) when not (t.StartsWith(Runtime.libtorchVersion ())) ->
              sprintf "PyTorch %s and libtorch %s differ in version (and possibly in BLAS: see the MKL/oneDNN flags below), so ratios mix wrapper overhead with library differences." t (Runtime.libtorchVersion ())
          | _ -> () ]
    let info : Report.RunInfo =
        { Started = started
          Mode = if quick then "quick" else "full"
          Settings = settings
          ThreadCounts = threadCounts
          Machine = machine
          PyTorch = pyVersions
          PyTorchInfo = pyInfos
          LoadBefore = loadBefore
          LoadAfter = loadAfter
          Notes = notes }
    printfn ""
    printf "%s" (Report.table outcomes)
    let dir = args.TryGetResult Out |> Option.defaultValue (Path.Combine(root, "bench", "results"))
    let md, js = Report.write dir (args.GetResult(Name, "latest")) info outcomes
    eprintfn "[bench] wrote %s and %s (%.0f s)" md js (DateTime.UtcNow - started).TotalSeconds
    match earlier with
    | Some (old, oldDoc) ->
        let text = Comparison.table (Path.GetFileName old) (Path.GetFileName js) (Comparison.rows (old, oldDoc) (js, Comparison.load js))
        printfn ""
        printf "%s" text
        let path = Path.Combine(dir, args.GetResult(Name, "latest") + "-compare.md")
        File.WriteAllText(path, text)
        eprintfn "[bench] wrote %s" path
    | None -> ()
    if outcomes |> List.exists (fun o -> not o.Errors.IsEmpty || o.LeakedTensors <> 0L) then 1 else 0
