// Checks that the PyTorch twin of the infnet-step benchmark (bench/pytorch/sequence_training.py)
// computes what EnergyFs computes: the problem's checksums and the metrics of the first three steps
// (hinge, network_loss, grad_norm of θ) of both sides, with their relative differences. After
// `./build.sh build`:  ./build.sh fsi bench/checks/infnet-step-twin.fsx
// (the Python interpreter: $ENERGYFS_PYTHON, else the system python3, which needs torch).
#load "BenchAssemblies.fsx"

open System
open System.Diagnostics
open System.IO


open EnergyFs
open EnergyFs.Bench.Groups

Runtime.setThreads 1

let sum (t: TorchSharp.torch.Tensor) = t.to_type(TorchSharp.torch.ScalarType.Float64).sum().item<float> ()

let fsharpLines =
    let phi, theta, data = SequenceTraining.problem ()
    let sums =
        [ yield! phi |> List.mapi (fun i p -> sprintf "phi[%d]" i, sum p)
          yield! theta |> List.mapi (fun i p -> sprintf "theta[%d]" i, sum p)
          for n, t in [ "inputs", data.Inputs; "features", data.Features; "labels", data.Labels; "mask", data.Mask.Value ] -> n, sum t ]
    let steps = SequenceTraining.firstSteps 3 |> List.mapi (fun i ms -> ms |> List.map (fun (n, v) -> sprintf "step %d %s" (i + 1) n, v)) |> List.concat
    steps @ sums

let pythonLines =
    // As the harness (PyTorch.candidates): $ENERGYFS_PYTHON, the system interpreter, python3.
    let exe =
        match Environment.GetEnvironmentVariable "ENERGYFS_PYTHON" with
        | null | "" -> if File.Exists "/usr/bin/python3" then "/usr/bin/python3" else "python3"
        | p -> p
    let psi = ProcessStartInfo (exe, RedirectStandardOutput = true, UseShellExecute = false,
                                WorkingDirectory = Path.Combine (__SOURCE_DIRECTORY__, "..", "pytorch"))
    psi.ArgumentList.Add "sequence_training.py"
    psi.Environment["OMP_NUM_THREADS"] <- "1"
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEnd ()
    p.WaitForExit ()
    if p.ExitCode <> 0 then failwithf "%s sequence_training.py exited with %d" exe p.ExitCode
    out.Split ('\n', StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun line -> let i = line.LastIndexOf ' ' in line.Substring (0, i), float (line.Substring (i + 1)))
    |> Map.ofArray

printfn "%-22s %16s %16s %10s" "quantity" "EnergyFs" "PyTorch" "rel. diff"
let mutable worst = 0.0
for name, v in fsharpLines do
    let w = pythonLines[name]
    let rel = abs (v - w) / max 1e-30 (max (abs v) (abs w))
    worst <- max worst rel
    printfn "%-22s %16.9g %16.9g %10.2e" name v w rel
printfn "largest relative difference: %.2e" worst
