// Where the CRF benchmark's EnergyFs side spends its time over the direct TorchSharp version
// (crf-forward-backward, EnergyFs.Bench/Groups/Sequences.fs): the loss and gradient on both sides,
// then EnergyFs's extra parts timed alone on the same batch (32 sentences of 25 words, 17 labels):
// `LinearChain.check`, the finite check of the scores (isfinite against one sum), the tag range
// check, `Diff.gradN` against `torch.autograd.grad` on a trivial sum, and the loss without the
// gradient. Medians of 7 × 400 calls, twice. After `./build.sh build`, on an idle machine:
//   ./build.sh fsi bench/checks/crfcost.fsx
#load "BenchAssemblies.fsx"
open System.Diagnostics
open TorchSharp
open EnergyFs
open EnergyFs.Sequences
open EnergyFs.Losses
open EnergyFs.Bench.Groups
Runtime.setThreads 1
type T = torch.Tensor
let unary, transitions, mask, tags = SequencesDirect.problem 32 25 17
let scores = ChainScores.create unary transitions
let time name (f: unit -> unit) =
    for _ in 1 .. 200 do f ()
    let runs = [ for _ in 1 .. 7 -> (let w = Stopwatch.StartNew () in (for _ in 1 .. 400 do f ()); w.Elapsed.TotalMilliseconds * 1000.0 / 400.0) ]
    printfn "%-40s %8.1f µs (min %.1f)" name (List.sort runs).[3] (List.min runs)
let scoped (f: unit -> unit) () = (use _ = torch.NewDisposeScope () in f ())
for _ in 1 .. 2 do
  time "crf + gradient (EnergyFs)" (scoped (fun () -> Diff.gradN (fun xs -> (SequenceFenchelYoung.crf mask (ChainScores.create xs[0] xs[1]) tags).sum ()) [ unary; transitions ] |> ignore))
  time "crf + gradient (direct)" (scoped (fun () ->
      let u = unary.detach().requires_grad_ true
      let p = transitions.detach().requires_grad_ true
      let loss = (SequencesDirect.logPartition u p mask - SequencesDirect.score u p mask tags).sum ()
      torch.autograd.grad ([| loss |], [| u; p |]) |> ignore))
  time "LinearChain.check (shapes, mask)" (scoped (fun () -> LinearChain.check mask scores |> ignore))
  time "finite check (isfinite.all x2, 1 read)" (scoped (fun () -> unary.isfinite().all().logical_and(transitions.isfinite().all()).item<bool> () |> ignore))
  time "tags check (masked_fill, min, max: 2 reads)" (scoped (fun () ->
      let safe = tags.to_type(torch.ScalarType.Int64).masked_fill (mask.logical_not (), 0L)
      safe.min().item<int64> () |> ignore; safe.max().item<int64> () |> ignore))
  time "finite by sums (1 read)" (scoped (fun () -> (unary.sum() + transitions.sum()).isfinite().item<bool> () |> ignore))
  time "Diff.gradN of sum" (scoped (fun () -> Diff.gradN (fun xs -> xs[0].sum () + xs[1].sum ()) [ unary; transitions ] |> ignore))
  time "autograd.grad of sum (direct)" (scoped (fun () ->
      let u = unary.detach().requires_grad_ true
      let p = transitions.detach().requires_grad_ true
      torch.autograd.grad ([| u.sum () + p.sum () |], [| u; p |]) |> ignore))
  time "crf loss only (EnergyFs)" (scoped (fun () -> SequenceFenchelYoung.crf mask scores tags |> ignore))
  time "crf loss only (direct)" (scoped (fun () -> (SequencesDirect.logPartition unary transitions mask - SequencesDirect.score unary transitions mask tags) |> ignore))
