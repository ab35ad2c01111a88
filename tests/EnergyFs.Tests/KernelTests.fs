/// Every notebook of notebooks/ runs in the real .NET Interactive kernel (dotnet-repl, pinned in
/// .config/dotnet-tools.json and restored by build.sh), loading EnergyFs from freshly packed packages
/// as a user outside the repository would; a cell that errors fails the notebook's test and is named.
/// The committed outputs must be current: each code cell's outputs carry the stamp of the source they
/// came from (`./build.sh notebooks` writes them), with no error and no machine path among them.
module EnergyFs.Tests.KernelTests

open System
open System.IO
open Expecto
open EnergyFs.NotebookRunner
open EnergyFs.Tests.ReadmeTests

let private notebooks () =
    Directory.GetFiles(Path.Combine(repositoryRoot, "notebooks"), "*.ipynb") |> Array.sort

/// Packs the libraries into artifacts/packages once, and one global-packages folder for every run
/// (removed when the test process exits).
let private prepared =
    lazy (
        KernelRun.pack repositoryRoot
        let packages = KernelRun.isolatedPackages ()
        AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> try Directory.Delete(packages, true) with _ -> ())
        packages)

/// The failures of a notebook's outputs as lines naming the cells.
let private report (errors: (string * string) list) (paths: (string * string) list) =
    [ for cell, e in errors -> sprintf "%s: %s" cell e
      for cell, p in paths -> sprintf "%s: machine path %s in the outputs" cell p ]
    |> String.concat "\n"

[<Tests>]
let tests =
    testList "Notebooks" [
        testList "committed outputs" [
            for path in notebooks () do
                test (Path.GetFileNameWithoutExtension path) {
                    let nb = NotebookFile.load path
                    let stale =
                        NotebookFile.cells nb
                        |> List.indexed
                        |> List.filter (fun (_, c) -> NotebookFile.isCode c && NotebookFile.storedStamp c <> Some (NotebookFile.sourceStamp (NotebookFile.source c)))
                        |> List.map (fun (i, c) -> NotebookFile.describe i c)
                    Expect.isEmpty stale (sprintf "%s: outputs not produced from the current source; run ./build.sh notebooks" (Path.GetFileName path))
                    let paths = NotebookOutputs.machinePaths (KernelRun.pathMap repositoryRoot (KernelRun.machinePackages ()) |> List.map fst) nb
                    let failures = report (NotebookOutputs.errors nb) paths
                    Expect.equal failures "" (sprintf "%s: the stored outputs" (Path.GetFileName path))
                }
        ]
        testSequencedGroup "processes" <| testList "in the .NET Interactive kernel" [
            for path in notebooks () do
                test (Path.GetFileNameWithoutExtension path) {
                    let packages = prepared.Force()
                    let r = KernelRun.run repositoryRoot packages (TimeSpan.FromMinutes 4.0) path
                    let failures = report r.Errors r.Paths
                    Expect.equal failures "" (sprintf "%s ran in the kernel in %.0f s" (Path.GetFileName path) r.Seconds)
                }
        ]
    ]
