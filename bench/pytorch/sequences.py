"""Exact inference on the linear chain (counterpart of Groups/Sequences.fs): the CRF loss of a
batch with its gradient, and Viterbi decoding, written out with the arithmetic of EnergyFs's
LinearChain (batch-first, log space, padded positions frozen with torch.where), which is the
recursion of pytorch-crf (kmkurn/pytorch-crf, CRF._compute_normalizer, _compute_score and
_viterbi_decode) without start and end scores."""
import torch


def _length(i, words):
    """The length of sentence i: 25, 20, 15, 10, 5, 21, 16, ... (as lengthOf in Sequences.fs)."""
    return words - (i * 5) % 21


def _problem(batch, words, labels):
    g = torch.Generator().manual_seed(0)
    unary = torch.randn(batch, words, labels, generator=g)
    transitions = torch.randn(labels, labels, generator=g) * 0.5
    lengths = torch.tensor([_length(i, words) for i in range(batch)])
    mask = torch.arange(words).unsqueeze(0) < lengths.unsqueeze(1)
    tags = torch.randint(labels, (batch, words), generator=g).masked_fill(~mask, 0)
    return unary, transitions, mask, tags


def _folded_unary(unary, mask):
    """Unary scores with padding zeroed (LinearChain.foldedUnary without start/end scores)."""
    return unary.masked_fill(~mask.unsqueeze(2), 0.0)


def _log_partition(unary, transitions, mask):
    """log Z by the forward algorithm: alpha_t = logsumexp_i(alpha_{t-1}[i] + pair[i, j]) + u_t[j],
    frozen at padded positions (LinearChain.logPartition)."""
    u = _folded_unary(unary, mask).unbind(1)
    real = mask.unsqueeze(2).unbind(1)
    alpha = u[0]
    for t in range(1, len(u)):
        nxt = (alpha.unsqueeze(2) + transitions).logsumexp(1) + u[t]
        alpha = torch.where(real[t], nxt, alpha)
    return alpha.logsumexp(1)


def _score(unary, transitions, mask, tags):
    """s(y) = sum_t u_t[y_t] + sum_{t>=1} pair[y_{t-1}, y_t] over real positions (LinearChain.score:
    the pairs read from the flattened [L*L] transitions)."""
    b, t, l = unary.shape
    u = _folded_unary(unary, mask)
    unary_part = u.gather(2, tags.unsqueeze(2)).squeeze(2).sum(1)
    index = tags[:, :-1] * l + tags[:, 1:]
    steps = transitions.reshape(l * l).take(index)
    return unary_part + (steps * mask[:, 1:].to(steps.dtype)).sum(1)


def crf_forward_backward(batch, words, labels):
    """(log Z - s(y)).sum() and its gradient in the unary and transition scores, on detached
    copies (what Diff.gradN does)."""
    unary, transitions, mask, tags = _problem(batch, words, labels)

    def step():
        u = unary.detach().requires_grad_(True)
        p = transitions.detach().requires_grad_(True)
        loss = (_log_partition(u, p, mask) - _score(u, p, mask, tags)).sum()
        torch.autograd.grad(loss, [u, p])

    return step


def viterbi_decode(batch, words, labels):
    """Viterbi: delta_t = max_i(delta_{t-1}[i] + pair[i, j]) + u_t[j] with backpointers (the
    identity at padded positions), under no_grad; backtracking on the host over Python lists
    (LinearChain.viterbi backtracks over .NET arrays)."""
    unary, transitions, mask, _ = _problem(batch, words, labels)

    def step():
        with torch.no_grad():
            folded = _folded_unary(unary, mask)
            b, t, l = folded.shape
            u = folded.unbind(1)
            columns = mask.unsqueeze(2).unbind(1)
            identity = torch.arange(l).unsqueeze(0).expand(b, l)
            delta = u[0]
            pointers = []
            for i in range(1, t):
                best, arg = (delta.unsqueeze(2) + transitions).max(1)
                real = columns[i]
                delta = torch.where(real, best + u[i], delta)
                pointers.append(torch.where(real, arg, identity))
            score, last = delta.max(1)
            back = torch.stack(pointers, 1).tolist()
            last = last.tolist()
            lengths = mask.sum(1).tolist()
            tags = [[0] * t for _ in range(b)]
            for row in range(b):
                tag = last[row]
                tags[row][t - 1] = tag
                for i in range(t - 1, 0, -1):
                    tag = back[row][i - 1][tag]
                    tags[row][i - 1] = tag
                for i in range(lengths[row], t):
                    tags[row][i] = 0
            torch.tensor(tags).reshape(b, t)
            score.detach()

    return step
