/// deploy/slurm for real: deploy/slurm/local-cluster-test.sh installs slurm-wlm and munge when absent,
/// starts a single-node Slurm from a generated slurm.conf, submits a sharded reproduction (an array of
/// shards and the merge job that depends on it) and compares the merged results with a single-process
/// run; every daemon it started must be gone afterwards.
module EnergyFs.Tests.Deploy.SlurmTests

open System
open System.Diagnostics
open System.IO
open Expecto
open EnergyFs.Tests.ReadmeTests

/// Runs a command; (exit code, stdout + stderr).
let private run (file: string) (args: string list) (timeout: TimeSpan) =
    let info = ProcessStartInfo(file, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = repositoryRoot)
    for a in args do info.ArgumentList.Add a
    use p = Process.Start info
    p.StandardInput.Close()
    let out, err = p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()
    if p.WaitForExit timeout then p.ExitCode, out.Result + err.Result
    else
        p.Kill true
        -1, sprintf "timed out after %.0f s\n%s%s" timeout.TotalSeconds out.Result err.Result

[<Tests>]
let tests =
    testSequencedGroup "processes" <| testList "Deploy.Slurm" [
        test "two shards of `reproduce dual --quick` on a single-node Slurm equal one process, and the daemons stop" {
            let script = Path.Combine(repositoryRoot, "deploy", "slurm", "local-cluster-test.sh")
            let code, output = run "bash" [ script; "2"; "dual"; "--quick" ] (TimeSpan.FromMinutes 8.0)
            if code = 3 then skiptestf "Slurm cannot be set up here: %s" (output.Trim())
            Expect.equal code 0 (sprintf "the sharded run on Slurm equals the single-process one:\n%s" output)
            Expect.stringContains output "sharded on Slurm == single process: 4 experiments" "the comparison ran"
            let _, left = run "pgrep" [ "-af"; "energyfs-slurm\\." ] (TimeSpan.FromSeconds 10.0)
            Expect.equal (left.Trim()) "" "no slurmctld, slurmd or munged of the test is left running"
        }
    ]
