namespace EnergyFs.Sequences

open System
open TorchSharp
open EnergyFs

/// The scores θ of a batch of linear-chain models (Lafferty, McCallum & Pereira 2001, CRFs) over
/// label sequences y = (y₀, …, y_{n−1}) of B sentences padded to T positions with L labels:
///
///   s(y) = start[y₀] + Σₜ unary[t, yₜ] + Σ_{t≥1} pair_{t−1}[y_{t−1}, yₜ] + end[y_{n−1}].
///
/// Scores are "higher is better": the energy of a sequence is E(y) = −s(y). Shapes follow the
/// sequence convention of EnergyFs: unary [B, T, L], transitions [L, L] (from → to) shared by every
/// position, or [B, T − 1, L, L] per position (entry [b, t] scores the step from t to t + 1),
/// start and end [L] (optional).
type ChainScores =
    { /// Unary scores [B, T, L].
      Unary: Tensor
      /// Transition scores [L, L] (from → to), or per position [B, T − 1, L, L].
      Transitions: Tensor
      /// Scores of the first label [L], if any.
      Start: Tensor option
      /// Scores of the last label (at each sentence's own last word) [L], if any.
      End: Tensor option }

/// Constructors of ChainScores.
[<RequireQualifiedAccess>]
module ChainScores =

    /// Unary and transition scores, no start or end scores.
    let create (unary: Tensor) (transitions: Tensor) = { Unary = unary; Transitions = transitions; Start = None; End = None }

    /// The same scores with start and end scores [L].
    let withBoundaries (start: Tensor) (finish: Tensor) (scores: ChainScores) = { scores with Start = Some start; End = Some finish }

/// The best label sequences of a batch (`LinearChain.viterbi`).
type ViterbiResult =
    { /// The argmax sequences [B, T] (int64; 0 at padding).
      Tags: Tensor
      /// Their scores s(ŷ) = max_y s(y), [B].
      Score: Tensor }
    interface IDisposable with
        member r.Dispose() = r.Tags.Dispose(); r.Score.Dispose()

/// Exact inference for the linear chain, batched over sentences and masked, in log space: the
/// forward algorithm (log-partition), Viterbi, marginals, and the score and features of given
/// sequences (Lafferty et al. 2001; Rabiner 1989 for the recursions). `mask` is [B, T] bool, true at
/// real words, each row a prefix of trues of length ≥ 1; padded positions change no result (their
/// scores are ignored, their marginals and features are zero).
///
/// Start and end scores are folded into the unary scores first (start at position 0, end at each
/// sentence's last word), so every algorithm runs on (unary, pairwise) only: these two are the
/// coordinates θ = (θ_U, θ_V) of the marginal polytope M = conv{φ(y)}, φ(y) = (one-hot labels
/// [T, L], one-hot label pairs [T − 1, L, L]), with s(y) = ⟨θ, φ(y)⟩.
[<RequireQualifiedAccess>]
module LinearChain =

    /// Checks shapes and the mask; returns (B, T, L).
    let check (mask: Tensor) (scores: ChainScores) : int64 * int64 * int64 =
        let u = scores.Unary
        Checks.rank "unary" 3 u
        Checks.nonEmpty "unary" u
        let b, t, l = u.shape[0], u.shape[1], u.shape[2]
        Checks.rank "mask" 2 mask
        if mask.dtype <> torch.ScalarType.Bool then
            Checks.fail "mask" (sprintf "mask must be a bool tensor [B, T], got dtype %O (shape %s)" mask.dtype (Checks.shapeText mask.shape))
        if mask.shape <> [| b; t |] then
            Checks.fail "mask" (sprintf "mask has shape %s but unary has shape %s; the mask must be [B, T] = [%d, %d]" (Checks.shapeText mask.shape) (Checks.shapeText u.shape) b t)
        let tr = scores.Transitions
        if not (tr.shape = [| l; l |] || tr.shape = [| b; t - 1L; l; l |]) then
            Checks.fail "transitions" (sprintf "transitions must be [L, L] = [%d, %d] or [B, T − 1, L, L] = [%d, %d, %d, %d] for unary %s, got %s" l l b (t - 1L) l l (Checks.shapeText u.shape) (Checks.shapeText tr.shape))
        for name, v in [ "start", scores.Start; "end", scores.End ] do
            match v with
            | Some s when s.shape <> [| l |] -> Checks.fail name (sprintf "%s scores must be [L] = [%d], got %s" name l (Checks.shapeText s.shape))
            | _ -> ()
        Scope.run (fun () ->
            let first = mask.select (1L, 0L)
            let gaps = if t > 1L then Some (mask.narrow(1L, 1L, t - 1L).logical_and (mask.narrow(1L, 0L, t - 1L).logical_not ())) else None
            // One host read when the mask is valid (the common case); the details only on failure.
            let invalid = match gaps with Some g -> first.logical_not().any().logical_or (g.any ()) | None -> first.logical_not().any ()
            if invalid.item<bool> () then
                if not (first.all().item<bool> ()) then
                    let row = first.logical_not().nonzero().cpu().data<int64>().ToArray()[0]
                    Checks.fail "mask" (sprintf "sentence %d of the batch has length 0 (mask[%d, 0] is false); every sentence needs at least one word" row row)
                match gaps with
                | Some g ->
                    let at = g.nonzero().cpu().data<int64>().ToArray()
                    Checks.fail "mask" (sprintf "row %d of the mask is not a prefix of trues (true at position %d after a false): padding must come at the end" at[0] (at[1] + 1L))
                | None -> ())
        b, t, l

    /// Each sentence's length, [B] int64.
    let lengths (mask: Tensor) : Tensor = mask.sum (1L, false, torch.ScalarType.Int64)

    /// The unary scores with padding zeroed and start/end folded in: start added at position 0, end
    /// at each sentence's last word. [B, T, L], differentiable in the scores.
    let foldedUnary (mask: Tensor) (scores: ChainScores) : Tensor =
        Scope.tensor (fun () ->
            let u = scores.Unary.masked_fill (mask.logical_not().unsqueeze (2L), Pinned.scalar 0.0)
            let t = scores.Unary.shape[1]
            let withStart =
                match scores.Start with
                | Some s ->
                    let first = torch.zeros ([| t |], dtype = u.dtype, device = u.device)
                    first[0L] <- torch.tensor (1.0, dtype = u.dtype)
                    u + first.unsqueeze(0L).unsqueeze(2L) * s
                | None -> u
            match scores.End with
            | Some e ->
                let last = torch.nn.functional.one_hot ((lengths mask).sub (Pinned.intScalar 1L), t) |> fun h -> h.to_type u.dtype
                withStart + last.unsqueeze (2L) * e
            | None -> withStart)

    /// The pairwise scores of every step t → t + 1 (index t): the shared [L, L] matrix, or the
    /// slices [B, L, L] of per-position transitions (one `unbind` call, whose backward is one
    /// `stack`, rather than T − 1 `select`s, each of whose backward is a zero-filled tensor of
    /// the whole input).
    let private stepPairs (transitions: Tensor) (t: int64) : Tensor[] =
        if transitions.dim () = 2L then Array.create (int (max 0L (t - 1L))) transitions else transitions.unbind 1L

    /// The [B, 1] column of the mask at every position, from one `unbind`.
    let private maskColumns (mask: Tensor) : Tensor[] = mask.unsqueeze(2L).unbind 1L

    /// The values of an int64 tensor on the host, by one block copy of its bytes (TorchSharp's
    /// `data<int64>().ToArray()` copies element by element: ~0.3–0.9 ms for the 13,056 backpointers
    /// of a 32 × 25 × 17 batch).
    let private hostInt64 (t: Tensor) : int64[] =
        use c = t.cpu().contiguous ()
        if c.NumberOfElements = 0L then [||]
        else System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int64>(System.Span<byte>.op_Implicit c.bytes).ToArray()

    /// The pairwise scores of every step, [B, T − 1, L, L] (transitions repeated over positions
    /// when shared; padded steps keep their scores, which the mask ignores).
    let pairwise (mask: Tensor) (scores: ChainScores) : Tensor =
        let b, t, l = check mask scores
        if scores.Transitions.dim () = 4L then scores.Transitions.alias ()
        else scores.Transitions.expand([| b; t - 1L; l; l |]).contiguous ()

    /// log Z(θ) = log Σ_y exp s(y) per sentence, [B], by the forward algorithm in log space:
    ///   α₀ = unary₀,  αₜ[j] = log Σᵢ exp(α_{t−1}[i] + pair_{t−1}[i, j]) + unaryₜ[j],
    ///   log Z = log Σⱼ exp α_{n−1}[j]
    /// (α frozen at padded positions). Differentiable: ∇_θ log Z = the marginals E_p[φ(y)].
    let rec logPartition (mask: Tensor) (scores: ChainScores) : Tensor =
        let _, t, _ = check mask scores
        forward t mask scores

    /// The forward algorithm of `logPartition` for arguments already checked (`check` gave T).
    and internal forward (t: int64) (mask: Tensor) (scores: ChainScores) : Tensor =
        Scope.tensor (fun () ->
            let u = (foldedUnary mask scores).unbind 1L
            let pairs = stepPairs scores.Transitions t
            let real = maskColumns mask
            let mutable alpha = u[0]
            for i in 1 .. int t - 1 do
                let next = (alpha.unsqueeze (2L) + pairs[i - 1]).logsumexp (1L, false) + u[i]
                alpha <- torch.where (real[i], next, alpha)
            alpha.logsumexp (1L, false))

    /// The best sequence ŷ = argmax_y s(y) of every sentence and its score, by Viterbi's recursion
    /// with backpointers (max in place of the forward algorithm's log-sum-exp), backtracked on the
    /// host. Ties go to the lowest label. Not differentiable (the score is detached).
    let viterbi (mask: Tensor) (scores: ChainScores) : ViterbiResult =
        let b, t, l = check mask scores
        let score, backpointers, last =
            Diff.noGrad (fun () ->
                Scope.run (fun () ->
                    let folded = foldedUnary mask scores
                    let u = folded.unbind 1L
                    let pairs = stepPairs scores.Transitions t
                    let columns = maskColumns mask
                    let identity = torch.arange(l, dtype = torch.ScalarType.Int64, device = folded.device).unsqueeze(0L).expand ([| b; l |])
                    let mutable delta = u[0]
                    let pointers = ResizeArray<Tensor>()
                    for i in 1 .. int t - 1 do
                        let struct (best, arg) = (delta.unsqueeze (2L) + pairs[i - 1]).max (1L, false)
                        let real = columns[i]
                        delta <- torch.where (real, best + u[i], delta)
                        pointers.Add (torch.where (real, arg, identity))
                    let struct (score, last) = delta.max (1L, false)
                    let pointersOnHost = if pointers.Count = 0 then [||] else hostInt64 (torch.stack (pointers, 1L))
                    score.detach().MoveToOuterDisposeScope (), pointersOnHost, hostInt64 last))
        let lengthsOnHost = Scope.run (fun () -> hostInt64 (lengths mask))
        let tags = Array.zeroCreate<int64> (int (b * t))
        let tt, ll = int t, int l
        for row in 0 .. int b - 1 do
            let mutable tag = last[row]
            tags[row * tt + tt - 1] <- tag
            for i in tt - 1 .. -1 .. 1 do
                tag <- backpointers[(row * (tt - 1) + (i - 1)) * ll + int tag]
                tags[row * tt + i - 1] <- tag
            for i in int lengthsOnHost[row] .. tt - 1 do tags[row * tt + i] <- 0L
        { Tags = torch.tensor(tags, dtype = torch.ScalarType.Int64, device = scores.Unary.device).reshape [| b; t |]
          Score = score }

    /// Requires label sequences [B, T] of integers in 0 .. L − 1 at the real positions (padded
    /// positions may hold anything); returns them with padding set to 0, int64.
    let private checkedTags (mask: Tensor) (l: int64) (tags: Tensor) : Tensor =
        Checks.sameShape "mask" mask "tags" tags
        if tags.is_floating_point () || tags.dtype = torch.ScalarType.Bool then
            Checks.fail "tags" (sprintf "tags must be an integer tensor [B, T], got dtype %O" tags.dtype)
        Scope.tensor (fun () ->
            let safe = tags.to_type(torch.ScalarType.Int64).masked_fill (mask.logical_not (), Pinned.intScalar 0L)
            let lo, hi = safe.min().item<int64> (), safe.max().item<int64> ()
            if lo < 0L || hi >= l then
                Checks.fail "tags" (sprintf "tags must lie in 0 .. %d at real positions, got values in [%d, %d]" (l - 1L) lo hi)
            safe)

    /// φ(y) = (one-hot labels [B, T, L], one-hot label pairs [B, T − 1, L, L]) of label sequences
    /// `tags` [B, T] (int; padding ignored), zero at padding, in the dtype and on the device of the
    /// scores (whose L they take): the vertex of the marginal polytope with s(y) = ⟨θ, φ(y)⟩.
    let features (mask: Tensor) (scores: ChainScores) (tags: Tensor) : Tensor * Tensor =
        let b, t, l = check mask scores
        Scope.tensor2 (fun () ->
            let safe = checkedTags mask l tags
            let dtype = scores.Unary.dtype
            let real = mask.to_type dtype
            let unary = torch.nn.functional.one_hot(safe, l).to_type dtype * real.unsqueeze 2L
            let pairs =
                if t = 1L then torch.zeros ([| b; 0L; l; l |], dtype = dtype, device = scores.Unary.device)
                else
                    let index = safe.narrow(1L, 0L, t - 1L).mul(Pinned.intScalar l) + safe.narrow (1L, 1L, t - 1L)
                    let hot = torch.nn.functional.one_hot(index, l * l).to_type dtype
                    (hot * real.narrow(1L, 1L, t - 1L).unsqueeze 2L).reshape [| b; t - 1L; l; l |]
            unary, pairs)

    /// s(y) = ⟨θ, φ(y)⟩ of label sequences `tags` [B, T] (int; padding ignored), [B];
    /// differentiable in the scores.
    let rec score (mask: Tensor) (scores: ChainScores) (tags: Tensor) : Tensor =
        goldScore (check mask scores) mask scores tags

    /// `score` for arguments already checked (`check` gave (B, T, L)); the tags are still checked.
    and internal goldScore (b: int64, t: int64, l: int64) (mask: Tensor) (scores: ChainScores) (tags: Tensor) : Tensor =
        Scope.tensor (fun () ->
            let safe = checkedTags mask l tags
            let u = foldedUnary mask scores
            let unaryPart = u.gather(2L, safe.unsqueeze 2L).squeeze(2L).sum (1L, false)
            if t = 1L then unaryPart
            else
                let index = safe.narrow(1L, 0L, t - 1L).mul(Pinned.intScalar l) + safe.narrow (1L, 1L, t - 1L)
                // Shared transitions are read straight from [L·L] (no [B, T − 1, L, L] copy to gather
                // from, and none in the backward pass); per-position ones are gathered per step.
                let steps =
                    if scores.Transitions.dim () = 2L then scores.Transitions.reshape([| l * l |]).take index
                    else scores.Transitions.reshape([| b; t - 1L; l * l |]).gather(2L, index.unsqueeze 2L).squeeze 2L
                let real = mask.narrow(1L, 1L, t - 1L).to_type steps.dtype
                unaryPart + (steps * real).sum (1L, false))

    /// The marginals μ = ∇_θ log Z(θ) = E_{p_θ}[φ(y)] with p_θ(y) ∝ exp s(y): unary p(yₜ = j),
    /// [B, T, L], and pairwise p(yₜ = i, y_{t+1} = j), [B, T − 1, L, L], zero at padding (the
    /// forward–backward quantities, obtained by differentiating the forward algorithm). Constants:
    /// they are not differentiable in the scores.
    let marginals (mask: Tensor) (scores: ChainScores) : Tensor * Tensor =
        check mask scores |> ignore
        Scope.tensor2 (fun () ->
            let u = Diff.noGrad (fun () -> foldedUnary mask scores)
            let p = Diff.noGrad (fun () -> (pairwise mask scores).detach().contiguous ())
            match Diff.gradN (fun xs -> (logPartition mask (ChainScores.create xs[0] xs[1])).sum ()) [ u.detach (); p ] with
            | [ gu; gp ] -> gu, gp
            | _ -> invalidOp "gradN returned another number of gradients")
