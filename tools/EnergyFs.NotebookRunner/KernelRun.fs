namespace EnergyFs.NotebookRunner

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.Json.Nodes

/// One notebook executed in the real .NET Interactive kernel: dotnet-repl (the version that
/// .config/dotnet-tools.json pins) runs it headlessly on this process's dotnet (the private runtime
/// under build.sh on Debian 12), with the notebook's folder as working directory, so the notebook's
/// first cell finds ../artifacts/packages. The kernel restores packages into a global-packages folder
/// of its own, whose entries link to the machine's except EnergyFs's: NuGet keeps a version once
/// restored, and the freshly packed 0.1.0 must not be shadowed by an older 0.1.0.
[<RequireQualifiedAccess>]
module KernelRun =

    /// The machine's NuGet global-packages folder.
    let machinePackages () =
        match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
        | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
        | p -> p

    /// The pinned dotnet-repl version and its dll, if restored (`dotnet tool restore`, which build.sh runs).
    let repl (root: string) : string * string option =
        use manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, ".config", "dotnet-tools.json")))
        let version = manifest.RootElement.GetProperty("tools").GetProperty("dotnet-repl").GetProperty("version").GetString()
        let tools = Path.Combine(machinePackages (), "dotnet-repl", version, "tools")
        version, (if Directory.Exists tools then Directory.GetFiles(tools, "dotnet-repl.dll", SearchOption.AllDirectories) |> Array.tryHead else None)

    /// Runs a process to completion; (exit code, stdout + stderr). Standard input is closed at once:
    /// a kernel that waits on a terminal would otherwise hang.
    let private exec (file: string) (args: string list) (dir: string) (env: (string * string) list) (timeout: TimeSpan) =
        let info = ProcessStartInfo(file, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = dir)
        for a in args do info.ArgumentList.Add a
        for k, v in env do info.Environment[k] <- v
        use p = Process.Start info
        p.StandardInput.Close()
        let out, err = p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()
        if p.WaitForExit(timeout) then p.ExitCode, out.Result + err.Result
        else
            p.Kill true
            -1, sprintf "timed out after %.0f s\n%s%s" timeout.TotalSeconds out.Result err.Result

    /// Packs EnergyFs, EnergyFs.CSharp and EnergyFs.Interactive (Release, no rebuild) into
    /// artifacts/packages, the folder the notebooks load them from.
    let pack (root: string) =
        let code, output =
            exec Environment.ProcessPath [ "pack"; Path.Combine(root, "EnergyFs.sln"); "-c"; "Release"; "--no-build"; "-v"; "q"; "-nologo"; "-o"; Path.Combine(root, "artifacts", "packages") ] root [] (TimeSpan.FromMinutes 5.0)
        if code <> 0 then failwithf "dotnet pack failed (build first: ./build.sh build):\n%s" output

    /// A fresh global-packages folder: links to the machine's package folders, except EnergyFs's own.
    let isolatedPackages () =
        let folder = Directory.CreateTempSubdirectory("energyfs-notebook-packages-").FullName
        let machine = machinePackages ()
        if Directory.Exists machine then
            for d in Directory.GetDirectories machine do
                let name = Path.GetFileName d
                if not (name.StartsWith("energyfs", StringComparison.OrdinalIgnoreCase)) then
                    Directory.CreateSymbolicLink(Path.Combine(folder, name), d) |> ignore
        folder

    /// The machine paths that may appear in outputs and what each becomes (longest first).
    let pathMap (root: string) (packages: string) : NotebookOutputs.PathMap =
        let trim (p: string) = p.TrimEnd('/')
        [ trim packages, "~/.nuget/packages"
          trim (machinePackages ()), "~/.nuget/packages"
          trim root, ".."
          trim (Environment.GetFolderPath Environment.SpecialFolder.UserProfile), "~"
          trim (Path.GetTempPath()), "$TMPDIR" ]
        |> List.filter (fun (p, _) -> p.Length > 1)
        |> List.sortByDescending (fun (p, _) -> p.Length)

    /// The outcome of one run.
    type Result =
        { Notebook: string
          /// The committed notebook with the new outputs merged in (None when the kernel wrote nothing).
          Merged: JsonObject option
          /// (cell, error) for each error output, or the kernel's own failure.
          Errors: (string * string) list
          /// Machine paths left in the outputs after replacement: (cell, path).
          Paths: (string * string) list
          Seconds: float }

    /// Runs one notebook (packages already packed) in the kernel with the given global-packages folder.
    let run (root: string) (packages: string) (timeout: TimeSpan) (notebook: string) : Result =
        let version, replDll = repl root
        let replDll = match replDll with Some r -> r | None -> failwithf "dotnet-repl %s is not restored: run `./build.sh build` (it runs dotnet tool restore)" version
        let started = Stopwatch.StartNew()
        let outDir = Directory.CreateTempSubdirectory("energyfs-notebook-run-").FullName
        try
            let output = Path.Combine(outDir, Path.GetFileName notebook)
            let code, log =
                exec Environment.ProcessPath
                    [ "exec"; replDll; "--run"; notebook; "--exit-after-run"; "--output-format"; "ipynb"; "--output-path"; output ]
                    (Path.GetDirectoryName notebook) [ "NUGET_PACKAGES", packages ] timeout
            let seconds = started.Elapsed.TotalSeconds
            let tail (s: string) = if s.Length > 3000 then s.Substring(s.Length - 3000) else s
            if not (File.Exists output) then
                { Notebook = notebook; Merged = None; Errors = [ "kernel", sprintf "dotnet-repl wrote no notebook (exit %d):\n%s" code (tail log) ]; Paths = []; Seconds = seconds }
            else
                let map = pathMap root packages
                let merged = NotebookOutputs.merge map (NotebookFile.load notebook) (NotebookFile.load output)
                let errors = NotebookOutputs.errors merged
                let errors = if code <> 0 && errors.IsEmpty then [ "kernel", sprintf "dotnet-repl exited with %d:\n%s" code (tail log) ] else errors
                { Notebook = notebook; Merged = Some merged; Errors = errors; Paths = NotebookOutputs.machinePaths (List.map fst map) merged; Seconds = seconds }
        finally
            Directory.Delete(outDir, true)
