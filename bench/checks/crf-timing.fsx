// Two measurements behind the `crf-forward-backward` benchmark (EnergyFs.Bench/Groups/Sequences.fs:
// the CRF loss of a batch of 32 sentences of 25 words, 17 labels, and its gradient). After
// `./build.sh build`, on an idle machine:
//   ./build.sh fsi bench/checks/crf-timing.fsx
//
// 1. Where the EnergyFs side spends its time over the direct TorchSharp version: both sides, then
//    EnergyFs's extra parts alone on the same batch (`LinearChain.check`, the finite check of the
//    scores by isfinite and by one sum, the tag range check, `Diff.gradN` against
//    `torch.autograd.grad` of a trivial sum, the loss without the gradient). Medians of 7 × 400
//    calls, twice.
// 2. Why the benchmark looked bimodal (2.5 or 4.5 ms per call in different runs, on either side): is
//    the mode a property of the input tensors (where their buffers lie), of the process, or of the
//    moment? Eight copies of the problem, made between allocations of different sizes so that their
//    buffers start at different addresses, timed in round-robin (a round = 20 calls of each copy on
//    each side), 12 rounds; per copy the median per-call time and where its buffers start (address
//    mod 4096). A copy slow in every round while the others are fast: the placement. Every copy
//    slow in some rounds and fast in others: the moment (the VM).
#load "BenchAssemblies.fsx"

open System.Diagnostics
open TorchSharp
open EnergyFs
open EnergyFs.Sequences
open EnergyFs.Losses
open EnergyFs.Bench.Groups

Runtime.setThreads 1
type T = torch.Tensor

/// The benchmark's EnergyFs step and its direct TorchSharp version on one problem.
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
let median (xs: float seq) = let a = Array.sort (Array.ofSeq xs) in a[a.Length / 2]

// ---- 1. EnergyFs's parts -------------------------------------------------------------------------
let problem = SequencesDirect.problem 32 25 17
let unary, transitions, mask, tags = problem
let scores = ChainScores.create unary transitions
let time name (f: unit -> unit) =
    for _ in 1 .. 200 do f ()
    let runs = [ for _ in 1 .. 7 -> (let w = Stopwatch.StartNew () in (for _ in 1 .. 400 do f ()); w.Elapsed.TotalMilliseconds * 1000.0 / 400.0) ]
    printfn "%-44s %8.1f µs (min %.1f)" name (median runs) (List.min runs)
let scoped (f: unit -> unit) () = (use _ = torch.NewDisposeScope () in f ())
for _ in 1 .. 2 do
    for name, run in sides do time (sprintf "crf + gradient (%s)" name) (run problem)
    time "LinearChain.check (shapes, mask)" (scoped (fun () -> LinearChain.check mask scores |> ignore))
    time "finite check (isfinite.all x2, 1 read)" (scoped (fun () -> unary.isfinite().all().logical_and(transitions.isfinite().all()).item<bool> () |> ignore))
    time "finite check (Checks.allFinite: 1 sum, 1 read)" (fun () -> Checks.allFinite [ "unary", unary; "transitions", transitions ])
    time "tags check (masked_fill, min, max: 2 reads)" (scoped (fun () ->
        let safe = tags.to_type(torch.ScalarType.Int64).masked_fill (mask.logical_not (), 0L)
        safe.min().item<int64> () |> ignore; safe.max().item<int64> () |> ignore))
    time "Diff.gradN of sum" (scoped (fun () -> Diff.gradN (fun xs -> xs[0].sum () + xs[1].sum ()) [ unary; transitions ] |> ignore))
    time "torch.autograd.grad of sum (direct)" (scoped (fun () ->
        let u = unary.detach().requires_grad_ true
        let p = transitions.detach().requires_grad_ true
        torch.autograd.grad ([| u.sum () + p.sum () |], [| u; p |]) |> ignore))
    time "crf loss only (EnergyFs)" (scoped (fun () -> SequenceFenchelYoung.crf mask scores tags |> ignore))
    time "crf loss only (direct)" (scoped (fun () -> (SequencesDirect.logPartition unary transitions mask - SequencesDirect.score unary transitions mask tags) |> ignore))

// ---- 2. Placement or moment ----------------------------------------------------------------------
let copies, rounds, calls = 8, 12, 20
let spacers = ResizeArray<T> ()
let problems =
    [ for i in 0 .. copies - 1 ->
        // A spacer of 1 + 37 i KiB between copies moves the next buffers by an amount that is not a
        // multiple of the page size.
        spacers.Add (torch.zeros ([| int64 (256 + 37 * 256 * i) |]))
        let unary, transitions, mask, tags = SequencesDirect.problem 32 25 17
        unary.clone (), transitions.clone (), mask.clone (), tags.clone () ]

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

let address (t: T) = t.storage<float32>().data_ptr().ToInt64() % 4096L
printfn "per copy: median ms per call over %d rounds (min–max), where unary's buffer starts mod 4096" rounds
for c, (unary, _, _, _) in List.indexed problems do
    let cells side = [ for r in 0 .. rounds - 1 -> times[side, c, r] ]
    printfn "copy %d  unary @%4d  %s" c (address unary)
        (String.concat "   " [ for s, (name, _) in List.indexed sides -> sprintf "%s %.2f (%.2f–%.2f)" name (median (cells s)) (List.min (cells s)) (List.max (cells s)) ])
printfn "per round: median over copies, ms per call"
for r in 0 .. rounds - 1 do
    printfn "round %2d  %s" r (String.concat "   " [ for s, (name, _) in List.indexed sides -> sprintf "%s %.2f" name (median [ for c in 0 .. copies - 1 -> times[s, c, r] ]) ])
