// Why `crf-forward-backward` is bimodal (2.5 or 4.5 ms per call in different runs, on the EnergyFs
// and the direct TorchSharp side alike, sometimes one side slow and the other fast in the same
// process). Is the mode a property of the input tensors (where their buffers lie), of the process,
// or of the moment? In one process: eight copies of the benchmark's problem, made between
// allocations of different sizes so that their buffers start at different addresses, each timed
// in round-robin (a round = 20 calls of each copy, the EnergyFs side and the direct side), rounds
// repeated; per copy the median per-call time and where its buffers start (address mod 4096).
// A copy slow in every round while the others are fast: the placement. Every copy slow in some
// rounds and fast in others: the moment (the VM). After `./build.sh build`, on an idle machine:
//   ./build.sh fsi bench/checks/crf-modes.fsx
#load "BenchAssemblies.fsx"

open System.Diagnostics
open TorchSharp
open EnergyFs
open EnergyFs.Sequences
open EnergyFs.Losses
open EnergyFs.Bench.Groups

Runtime.setThreads 1
type T = torch.Tensor

let copies, rounds, calls = 8, 12, 20
let spacers = ResizeArray<T> ()
let problems =
    [ for i in 0 .. copies - 1 ->
        // A spacer of 1 + 37 i KiB between copies moves the next buffers by an amount that is not a
        // multiple of the page size.
        spacers.Add (torch.zeros ([| int64 (256 + 37 * 256 * i) |]))
        let unary, transitions, mask, tags = SequencesDirect.problem 32 25 17
        unary.clone (), transitions.clone (), mask.clone (), tags.clone () ]

let energyFs (unary: T, transitions: T, mask: T, tags: T) () =
    use _ = torch.NewDisposeScope ()
    Diff.gradN (fun xs -> (SequenceFenchelYoung.crf mask (ChainScores.create xs[0] xs[1]) tags).sum ()) [ unary; transitions ] |> ignore

let direct (unary: T, transitions: T, mask: T, tags: T) () =
    use _ = torch.NewDisposeScope ()
    let u = unary.detach().requires_grad_ true
    let p = transitions.detach().requires_grad_ true
    let loss = (SequencesDirect.logPartition u p mask - SequencesDirect.score u p mask tags).sum ()
    torch.autograd.grad ([| loss |], [| u; p |]) |> ignore

let sides = [ "energyfs", energyFs; "direct", direct ]
// times.[side, copy, round]: ms per call.
let times = Array3D.zeroCreate<float> 2 copies rounds
for side, (_, run) in List.indexed sides do
    for p in problems do
        for _ in 1 .. 10 do run p ()
for r in 0 .. rounds - 1 do
    for side, (_, run) in List.indexed sides do
        for c, p in List.indexed problems do
            let watch = Stopwatch.StartNew ()
            for _ in 1 .. calls do run p ()
            times[side, c, r] <- watch.Elapsed.TotalMilliseconds / float calls

let median (xs: float seq) = let a = Array.sort (Array.ofSeq xs) in a[a.Length / 2]
let address (t: T) = t.storage<float32>().data_ptr().ToInt64() % 4096L
printfn "per copy: median ms per call over %d rounds (min–max), where unary's buffer starts mod 4096" rounds
for c, (unary, _, _, _) in List.indexed problems do
    let cells side = [ for r in 0 .. rounds - 1 -> times[side, c, r] ]
    printfn "copy %d  unary @%4d  %s" c (address unary)
        (String.concat "   " [ for s, (name, _) in List.indexed sides -> sprintf "%s %.2f (%.2f–%.2f)" name (median (cells s)) (List.min (cells s)) (List.max (cells s)) ])
printfn "per round: median over copies, ms per call"
for r in 0 .. rounds - 1 do
    printfn "round %2d  %s" r (String.concat "   " [ for s, (name, _) in List.indexed sides -> sprintf "%s %.2f" name (median [ for c in 0 .. copies - 1 -> times[s, c, r] ]) ])
