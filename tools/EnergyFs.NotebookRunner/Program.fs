module EnergyFs.NotebookRunner.Program

open System
open System.IO
open System.Threading.Tasks

let private usage =
    """EnergyFs.NotebookRunner [--root DIR] [--check] [--no-pack] [--jobs N] [--timeout SECONDS] [NOTEBOOK.ipynb ...]

Runs notebooks (default: every notebooks/*.ipynb) in the .NET Interactive kernel and writes each one's outputs into
its file (--check: run and report only). Packs EnergyFs, EnergyFs.CSharp and EnergyFs.Interactive into
artifacts/packages first (--no-pack: use what is there). Exit code 1 when a cell errors; the cell is named."""

[<EntryPoint>]
let main argv =
    let rec parse (args: string list) (root, check, pack, jobs, timeout, notebooks) =
        match args with
        | [] -> root, check, pack, jobs, timeout, List.rev notebooks
        | "--root" :: d :: rest -> parse rest (Path.GetFullPath d, check, pack, jobs, timeout, notebooks)
        | "--check" :: rest -> parse rest (root, true, pack, jobs, timeout, notebooks)
        | "--no-pack" :: rest -> parse rest (root, check, false, jobs, timeout, notebooks)
        | "--jobs" :: n :: rest -> parse rest (root, check, pack, int n, timeout, notebooks)
        | "--timeout" :: s :: rest -> parse rest (root, check, pack, jobs, float s, notebooks)
        | ("-h" | "--help") :: _ -> printfn "%s" usage; exit 0
        | nb :: rest when nb.EndsWith ".ipynb" -> parse rest (root, check, pack, jobs, timeout, Path.GetFullPath nb :: notebooks)
        | other :: _ -> eprintfn "unknown argument '%s'\n\n%s" other usage; exit 2
    let root, check, pack, jobs, timeout, notebooks = parse (List.ofArray argv) (Directory.GetCurrentDirectory(), false, true, 2, 300.0, [])
    let notebooks =
        if notebooks.IsEmpty then Directory.GetFiles(Path.Combine(root, "notebooks"), "*.ipynb") |> Array.sort |> List.ofArray
        else notebooks
    for nb in notebooks do if not (File.Exists nb) then (eprintfn "no such notebook: %s" nb; exit 2)
    if pack then KernelRun.pack root
    let packages = KernelRun.isolatedPackages ()
    try
        let failed = Collections.Concurrent.ConcurrentBag<string>()
        Parallel.ForEach(notebooks, ParallelOptions(MaxDegreeOfParallelism = max 1 jobs), fun nb ->
            let r = KernelRun.run root packages (TimeSpan.FromSeconds timeout) nb
            let name = Path.GetFileName nb
            lock failed (fun () ->
                if r.Errors.IsEmpty && r.Paths.IsEmpty then printfn "%-40s ok (%.0f s)" name r.Seconds
                else
                    failed.Add name
                    printfn "%-40s FAILED (%.0f s)" name r.Seconds
                    for cell, e in r.Errors do printfn "  %s: %s" cell e
                    for cell, p in r.Paths do printfn "  %s: machine path %s left in the outputs" cell p)
            match r.Merged with
            | Some merged when not check && r.Errors.IsEmpty && r.Paths.IsEmpty -> NotebookFile.save nb merged
            | _ -> ())
        |> ignore
        if failed.IsEmpty then 0 else 1
    finally
        try Directory.Delete(packages, true) with _ -> ()
