/// `reproduce --jobs N` (and `sweep --jobs N`): N worker processes on this machine, each this same
/// program with `--shard K/N --claim` (one libtorch thread each unless `--threads` says otherwise:
/// on a few shared cores, libtorch's OpenMP threads mostly spin against each other), all writing to
/// one result cache; the parent then builds the report from the cache.
module EnergyFs.Cli.LocalWorkers

open System
open System.Diagnostics
open System.IO
open System.Threading.Tasks

/// This program's command line for worker `shard` of `count`: the parent's arguments without
/// `--jobs N` and `--threads T`, with `--threads <threads>` first (a global option) and
/// `--shard K/N --claim` last (the subcommand comes last on the command line): each worker claims
/// units one at a time from the shared cache (`Runner.runClaimed`), so the workers share the work
/// whatever each unit costs.
let workerArguments (parentArgs: string list) (threads: int) (shard: int) (count: int) : string list =
    let rec strip (args: string list) =
        match args with
        | ("--jobs" | "--threads") :: _ :: rest -> strip rest
        | a :: rest when a.StartsWith "--jobs=" || a.StartsWith "--threads=" -> strip rest
        | a :: rest -> a :: strip rest
        | [] -> []
    [ "--threads"; string threads ] @ strip parentArgs @ [ "--shard"; sprintf "%d/%d" shard count; "--claim" ]

/// Runs the N workers (at most N at a time), each logging to `<logDir>/shard-K-of-N.log`, and
/// reports each one's end through `log`; returns the exit codes in shard order.
let run (logDir: string) (parentArgs: string list) (threads: int) (count: int) (log: string -> unit) : int list =
    Directory.CreateDirectory logDir |> ignore
    // The program as it was started: `dotnet EnergyFs.Cli.dll` (this runtime, the private one under build.sh).
    let entry = Environment.GetCommandLineArgs()[0]
    let program, prefix =
        if entry.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) then Environment.ProcessPath, [ entry ]
        else Environment.ProcessPath, []
    let worker (k: int) =
        task {
            let logPath = Path.Combine(logDir, sprintf "shard-%d-of-%d.log" k count)
            let info = ProcessStartInfo(program, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false)
            for a in prefix @ workerArguments parentArgs threads k count do info.ArgumentList.Add a
            let watch = Stopwatch.StartNew()
            use p = Process.Start info
            p.StandardInput.Close()
            use logFile = new StreamWriter(logPath)
            let copy (reader: StreamReader) =
                task {
                    let mutable line = reader.ReadLine()
                    while not (isNull line) do
                        lock logFile (fun () -> logFile.WriteLine line)
                        line <- reader.ReadLine()
                }
            let out, err = copy p.StandardOutput, copy p.StandardError
            do! p.WaitForExitAsync()
            do! out
            do! err
            log (sprintf "shard %d/%d: exit %d after %.1f s (log %s)" k count p.ExitCode watch.Elapsed.TotalSeconds logPath)
            return p.ExitCode
        }
    let workers: Task<int>[] = [| for k in 1 .. count -> Task.Run<int>(Func<Task<int>>(fun () -> worker k)) |]
    (Task.WhenAll workers).Result |> List.ofArray

/// The `--jobs N` step of `reproduce` and `sweep`: clears stale claims, runs this program's command
/// line as N claiming workers (at the global `--threads`, 1 by default), logs to `<out>/logs`, and
/// returns the options that then build the report from the shared cache only.
let computeInWorkers (out: string) (jobs: int) (options: EnergyFs.Papers.Reproduction.RunnerOptions) : EnergyFs.Papers.Reproduction.RunnerOptions =
    let parentArgs = Environment.GetCommandLineArgs() |> Array.skip 1 |> List.ofArray
    let threads =
        parentArgs |> List.pairwise |> List.tryPick (fun (a, b) -> if a = "--threads" then Some (int b) else None) |> Option.defaultValue 1
    let claims = EnergyFs.Papers.Reproduction.Runner.claimsDir options
    if Directory.Exists claims then Directory.Delete(claims, true)
    let logs = Path.Combine(out, "logs")
    let codes = run logs parentArgs threads jobs (fun line -> eprintfn "%s" line)
    if codes |> List.exists ((<>) 0) then eprintfn "some shards failed; their units are reported as missing (see %s)" logs
    { options with CacheOnly = true }
