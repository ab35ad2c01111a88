/// Exact inference on the linear chain (Lafferty, McCallum & Pereira 2001; Rabiner 1989 for the
/// recursions), at the shapes of a tagger's training batch: 32 sentences padded to 25 words, 17
/// labels (the UPOS tags), lengths 5 … 25 so that the masks matter. `crf-forward-backward` is the
/// CRF loss of a batch, log Z(θ) − s(y) summed over sentences (`SequenceFenchelYoung.crf`: the
/// forward algorithm `LinearChain.logPartition` and the gold score `LinearChain.score`), and its
/// gradient with respect to the unary scores [B, T, L] and the transitions [L, L] (`Diff.gradN`,
/// one backward pass through the recursion); `viterbi-decode` is `LinearChain.viterbi` (max-product
/// recursion with backpointers, backtracking on the host). The PyTorch twins (bench/pytorch/
/// sequences.py) follow the same arithmetic step by step: the batch-first masked log-space
/// recursion of `LinearChain`, which is that of pytorch-crf (kmkurn/pytorch-crf,
/// `CRF._compute_normalizer` and `CRF._viterbi_decode`) without start and end scores.
module EnergyFs.Bench.Groups.Sequences

open TorchSharp
open EnergyFs
open EnergyFs.Sequences
open EnergyFs.Losses
open EnergyFs.Bench

/// Sentences, padded length and labels: a tagger's batch on UD English EWT (17 UPOS tags).
let private batch, words, labels = 32, 25, 17

/// The length of sentence i: 25, 20, 15, 10, 5, 21, 16, … (every length in 5 … 25 cycles), the
/// same on the PyTorch side.
let lengthOf (i: int) = words - (i * 5) % 21

/// Random float32 scores (unary [B, T, L], transitions [L, L]), the mask of `lengthOf` and random
/// gold tags [B, T] (int64, 0 at padding).
let private problem () =
    use rng = new Rng(0L, torch.CPU)
    let b, t, l = int64 batch, int64 words, int64 labels
    let unary = torch.randn([| b; t; l |], dtype = torch.ScalarType.Float32, generator = rng.Generator)
    let transitions = Scope.run (fun () -> (torch.randn([| l; l |], dtype = torch.ScalarType.Float32, generator = rng.Generator) * 0.5).MoveToOuterDisposeScope ())
    let mask = Scope.run (fun () ->
        let positions = torch.arange(t, dtype = torch.ScalarType.Int64).unsqueeze 0L
        let lengths = torch.tensor(Array.init batch (int64 << lengthOf)).unsqueeze 1L
        positions.lt(lengths).MoveToOuterDisposeScope ())
    let tags = Scope.run (fun () ->
        torch.randint(l, [| b; t |], dtype = torch.ScalarType.Int64, generator = rng.Generator).masked_fill(mask.logical_not (), (0L).ToScalar()).MoveToOuterDisposeScope ())
    unary, transitions, mask, tags

let private crfForwardBackward () =
    let unary, transitions, mask, tags = problem ()
    Benchmark.case [ unary; transitions; mask; tags ] (fun () ->
        Diff.gradN (fun xs -> (SequenceFenchelYoung.crf mask (ChainScores.create xs[0] xs[1]) tags).sum ()) [ unary; transitions ]
        |> ignore)

let private viterbiDecode () =
    let unary, transitions, mask, tags = problem ()
    Benchmark.case [ unary; transitions; mask; tags ] (fun () ->
        use result = LinearChain.viterbi mask (ChainScores.create unary transitions)
        ())

let private args = [ "batch", batch; "words", words; "labels", labels ]

/// The benchmarks of this group.
let benchmarks =
    [ Benchmark.create "sequences" "crf-forward-backward"
        "CRF loss log Z - s(y) of a batch (SequenceFenchelYoung.crf: forward algorithm in log space + gold score), summed, and its gradient in the unary [32, 25, 17] and transition [17, 17] scores (Diff.gradN); masks of lengths 5..25. Twin: the same masked batch-first recursion in torch (as pytorch-crf's _compute_normalizer / _compute_score), torch.autograd.grad"
        crfForwardBackward
      |> Benchmark.versus "sequences.crf_forward_backward" args
      |> Benchmark.direct (SequencesDirect.crfForwardBackward batch words labels)
      Benchmark.create "sequences" "viterbi-decode"
        "LinearChain.viterbi on the same batch: max-product recursion with backpointers (torch.where on the mask), backtracking on the host, tags [32, 25]. Twin: the same recursion in torch (as pytorch-crf's _viterbi_decode, batched), backtracking over Python lists"
        viterbiDecode
      |> Benchmark.versus "sequences.viterbi_decode" args
      |> Benchmark.direct (SequencesDirect.viterbiDecode batch words labels) ]
