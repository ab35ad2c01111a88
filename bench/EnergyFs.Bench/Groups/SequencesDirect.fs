/// The PyTorch twin of the sequences group (bench/pytorch/sequences.py) written directly against
/// TorchSharp, line for line: the batch-first masked forward algorithm and gold score of the CRF
/// loss with its gradient, and Viterbi decoding under no_grad with the backtracking on the host (the
/// twin's Python lists become .NET arrays). No EnergyFs call: the third side of the sequence
/// benchmarks (`Benchmark.direct`).
module EnergyFs.Bench.Groups.SequencesDirect

open TorchSharp
open EnergyFs.Bench

type private Tensor = torch.Tensor

/// The length of sentence i: 25, 20, 15, 10, 5, 21, 16, … (the twin's `_length`).
let private length (i: int) (words: int) = words - (i * 5) % 21

/// Unary [B, T, L] and transition [L, L] scores, the mask of the lengths and gold tags (0 at
/// padding), drawn from one generator seeded 0 in the twin's order.
let problem (batch: int) (words: int) (labels: int) =
    let b, t, l = int64 batch, int64 words, int64 labels
    use g = new torch.Generator (0UL)
    let unary = torch.randn ([| b; t; l |], generator = g)
    let transitions = torch.randn ([| l; l |], generator = g) * 0.5
    let lengths = torch.tensor [| for i in 0 .. batch - 1 -> int64 (length i words) |]
    let mask = torch.arange(t).unsqueeze(0L).lt (lengths.unsqueeze 1L)
    let tags = torch.randint(l, [| b; t |], generator = g).masked_fill (mask.bitwise_not (), 0)
    unary, transitions, mask, tags

/// Unary scores with padding zeroed.
let foldedUnary (unary: Tensor) (mask: Tensor) = unary.masked_fill (mask.unsqueeze(2L).bitwise_not (), 0.0)

/// log Z by the forward algorithm, αₜ = logsumexpᵢ(αₜ₋₁[i] + pair[i, j]) + uₜ[j], frozen at padding.
let logPartition (unary: Tensor) (transitions: Tensor) (mask: Tensor) =
    let u = (foldedUnary unary mask).unbind 1L
    let real = mask.unsqueeze(2L).unbind 1L
    let mutable alpha = u[0]
    for t in 1 .. u.Length - 1 do
        let next = (alpha.unsqueeze 2L + transitions).logsumexp 1L + u[t]
        alpha <- torch.where (real[t], next, alpha)
    alpha.logsumexp 1L

/// s(y) = Σₜ uₜ[yₜ] + Σ_{t≥1} pair[yₜ₋₁, yₜ] over real positions (pairs read from the flattened
/// transitions).
let score (unary: Tensor) (transitions: Tensor) (mask: Tensor) (tags: Tensor) =
    let l = unary.shape[2]
    let u = foldedUnary unary mask
    let unaryPart = u.gather(2L, tags.unsqueeze 2L).squeeze(2L).sum 1L
    let index = tags[torch.TensorIndex.Colon, torch.TensorIndex.Slice (stop = -1L)] * l + tags[torch.TensorIndex.Colon, torch.TensorIndex.Slice 1L]
    let steps = transitions.reshape(l * l).take index
    unaryPart + (steps * mask[torch.TensorIndex.Colon, torch.TensorIndex.Slice 1L].to_type steps.dtype).sum 1L

/// `crf_forward_backward`: (log Z − s(y)).sum() and its gradient in detached copies of the scores.
let crfForwardBackward (batch: int) (words: int) (labels: int) () =
    let unary, transitions, mask, tags = problem batch words labels
    Benchmark.case [ unary; transitions; mask; tags ] (fun () ->
        let u = unary.detach().requires_grad_ true
        let p = transitions.detach().requires_grad_ true
        let loss = (logPartition u p mask - score u p mask tags).sum ()
        torch.autograd.grad ([| loss |], [| u; p |]) |> ignore)

/// Viterbi tags [B, T] (0 at padding) and best scores [B]: the max-product recursion with
/// backpointers (the identity at padding) under no_grad, backtracking on the host.
let viterbi (unary: Tensor) (transitions: Tensor) (mask: Tensor) =
    use _ = torch.no_grad ()
    let folded = foldedUnary unary mask
    let b, t, l = folded.shape[0], int folded.shape[1], folded.shape[2]
    let u = folded.unbind 1L
    let columns = mask.unsqueeze(2L).unbind 1L
    let identity = torch.arange(l).unsqueeze(0L).expand (b, l)
    let mutable delta = u[0]
    let pointers = ResizeArray<Tensor> ()
    for i in 1 .. t - 1 do
        let struct (best, arg) = (delta.unsqueeze 2L + transitions).max 1L
        let real = columns[i]
        delta <- torch.where (real, best + u[i], delta)
        pointers.Add (torch.where (real, arg, identity))
    let struct (score, last) = delta.max 1L
    let back = torch.stack(pointers, 1L).data<int64>().ToArray ()
    let last = last.data<int64>().ToArray ()
    let lengths = mask.sum(1L).data<int64>().ToArray ()
    let rows, l = int b, int l
    let tags = Array.init rows (fun _ -> Array.zeroCreate<int64> t)
    for row in 0 .. rows - 1 do
        let mutable tag = last[row]
        tags[row][t - 1] <- tag
        for i in t - 1 .. -1 .. 1 do
            tag <- back[(row * (t - 1) + i - 1) * l + int tag]
            tags[row][i - 1] <- tag
        for i in int lengths[row] .. t - 1 do
            tags[row][i] <- 0L
    torch.tensor(Array.concat tags).reshape (int64 rows, int64 t), score.detach ()

/// `viterbi_decode`: `viterbi` on the problem (its results freed by the harness's scope).
let viterbiDecode (batch: int) (words: int) (labels: int) () =
    let unary, transitions, mask, tags = problem batch words labels
    Benchmark.case [ unary; transitions; mask; tags ] (fun () -> viterbi unary transitions mask |> ignore)
