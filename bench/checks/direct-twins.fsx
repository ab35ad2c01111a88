// Checks that the direct TorchSharp versions of the spen, sequences and regression benchmarks
// (EnergyFs.Bench/Groups/*Direct.fs) compute what the other sides compute: the CRF loss, its gradient
// and the Viterbi tags against EnergyFs on the same inputs; the SPEN objectives, hypergradients
// (Neumann, CG) and HVP against EnergyFs on SpenCost's set-up; the regression step's first losses
// against the PyTorch twin, both seeded 0 (same draws). After `./build.sh build`:
//   ./build.sh fsi bench/checks/direct-twins.fsx
#load "BenchAssemblies.fsx"

open System
open System.Diagnostics
open System.IO


open TorchSharp
open EnergyFs
open EnergyFs.Implicit
open EnergyFs.Learners
open EnergyFs.Losses
open EnergyFs.Sequences
open EnergyFs.Papers.StructuredPrediction
open EnergyFs.Bench.Groups

Runtime.setThreads 1
type T = torch.Tensor
let diff (a: T) (b: T) = (a.double () - b.double ()).abs().max().item<float> ()
let report name (a: T list) (b: T list) = printfn "%-32s max |difference| %.2e" name (List.map2 diff a b |> List.max)

// Sequences: EnergyFs's loss, gradient and Viterbi on the direct version's problem.
let unary, transitions, mask, tags = SequencesDirect.problem 32 25 17
let crf (xs: T list) = (SequenceFenchelYoung.crf mask (ChainScores.create xs[0] xs[1]) tags).sum ()
let u, p = unary.detach().requires_grad_ true, transitions.detach().requires_grad_ true
let loss = (SequencesDirect.logPartition u p mask - SequencesDirect.score u p mask tags).sum ()
report "crf loss" [ crf [ unary; transitions ] ] [ loss ]
report "crf gradient" (Diff.gradN crf [ unary; transitions ]) (List.ofSeq (torch.autograd.grad ([| loss |], [| u; p |])))
let viterbi = LinearChain.viterbi mask (ChainScores.create unary transitions)
let directTags, directScore = SequencesDirect.viterbi unary transitions mask
report "viterbi tags, score" [ viterbi.Tags; viterbi.Score ] [ directTags; directScore ]

// SPEN: the direct functions on EnergyFs's set-up (θ, ψ, ψ₀ and both batches).
let theta, psi, problem, (_, psi0, inner, outer) = SpenCost.setup Context.cpu 0L
let th, ps = Structured.tensors theta, Structured.tensors psi
let batchOf (e: LabelledExamples) : SpenDirect.Batch = { X = e.Inputs; Features = e.Features; Y = e.Labels }
report "inner objective" [ problem.Inner th ps ] [ SpenDirect.innerObjective th ps psi0 (batchOf inner) ]
report "outer loss" [ problem.Outer th ps ] [ SpenDirect.outerLoss ps (batchOf outer) ]
let hypergradient name solver solve =
    let hvps = ref 0
    let counted hvp b = solve (fun v -> hvps.Value <- hvps.Value + 1; hvp v) b
    let direct = SpenDirect.implicitHypergradient counted th ps psi0 (batchOf inner) (batchOf outer)
    report (sprintf "%s hypergradient (%d HVPs)" name hvps.Value) (Hypergradient.implicit solver problem th ps).Gradient direct
hypergradient "neumann" (LinearSolvers.neumann { LinearSolvers.neumannDefaults with Terms = 10; Alpha = 0.01; CheckResidual = true }) (fun hvp b -> SpenDirect.neumann hvp b 10 0.01)
hypergradient "cg" (LinearSolvers.damped 10.0 (LinearSolvers.conjugateGradient { Iterations = 10; Tolerance = 0.0 })) (fun hvp b -> SpenDirect.conjugateGradient (SpenDirect.damped hvp) b 10)
let g = Diff.gradients { CreateGraph = true; RetainGraph = true; Unused = FailOnUnused } (problem.Inner th ps) ps
let vs = ps |> List.map torch.ones_like
let hv = torch.autograd.grad ([| SpenDirect.pySum (List.map2 (fun (gi: T) (v: T) -> (gi * v).sum ()) g vs) |], Array.ofList ps, retain_graph = true)
report "hvp" (Diff.hvpParams g ps vs) (List.ofSeq hv)

// Regression: the first three losses of the direct step and of the PyTorch twin, both seeded 0.
let directLosses =
    torch.manual_seed 0L |> ignore
    use net = new RegressionDirect.PaperNet (10, 4)
    use opt = torch.optim.Adam (net.Parameters, lr = 1e-3)
    let xs, ys = RegressionDirect.toy1 2000
    [ for i in 0L .. 2L do
          let x, y = xs.narrow(0L, 32L * i, 32L).unsqueeze 1L, ys.narrow(0L, 32L * i, 32L).unsqueeze 1L
          let loss = RegressionDirect.paperLoss net x y 1024
          yield float (loss.item<float32> ())
          opt.zero_grad ()
          loss.backward ()
          opt.step () |> ignore ]
let pythonLosses =
    let exe = match Environment.GetEnvironmentVariable "ENERGYFS_PYTHON" with null | "" -> "/usr/bin/python3" | e -> e
    let code =
        "import torch, regression as r\ntorch.set_num_threads(1); torch.manual_seed(0)\nnet = r.PaperNet(10, 4); opt = torch.optim.Adam(net.parameters(), lr=1e-3)\nxs, ys = r._toy1(2000)\n"
        + "for i in range(3):\n    loss = r.paper_loss(net, xs[32*i:32*i+32].unsqueeze(1), ys[32*i:32*i+32].unsqueeze(1), 1024)\n    print(loss.item())\n    opt.zero_grad(); loss.backward(); opt.step()\n"
    let info = ProcessStartInfo (exe, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = Path.Combine (__SOURCE_DIRECTORY__, "..", "pytorch"))
    info.ArgumentList.Add "-c"
    info.ArgumentList.Add code
    use proc = Process.Start info
    let out = proc.StandardOutput.ReadToEnd ()
    proc.WaitForExit ()
    out.Split ('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.map float |> List.ofArray
List.iteri2 (fun i d p -> printfn "regression loss, step %d   direct %.6f  PyTorch %.6f" (i + 1) d p) directLosses pythonLosses
