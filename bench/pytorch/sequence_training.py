"""One training step of inference networks on label sequences (counterpart of
Groups/SequenceTraining.fs): Tu & Gimpel 2018 (arXiv 1803.03376, sections 3 and 7) with the energy
of Tu, Pang & Gimpel 2020 (arXiv 2005.04231, section 3), written out with the arithmetic of
EnergyFs's InferenceNetworks.task: the BiLSTM inference network of BiLstmTagger / FunctionalLstm
(a Python loop over the time steps, PyTorch's gate order, the backward direction reading each
sentence reversed within its length), the linear-chain energy (LinearChainEnergy.ofScores), the
convolutional label energy (ConvolutionalLabelEnergy.energy: unfolded windows times the filters),
the Hamming cost, the masked entropy, the pull toward Phi0, and Step.descend for each group (zero the
gradients, finite check of the loss, backward, the loss read back, the global gradient norm, Adam).

The problem comes from one generator seeded 0, drawn in the order the F# side draws it (see
Groups/SequenceTraining.fs); `first_steps` gives the metrics of the first steps, to compare with
the F# side's `SequenceTraining.firstSteps`."""
import math

import torch
import torch.nn.functional as F

from sequences import _length


def _uniform(g, low, high, *shape):
    """Tensor.uniform: rand * (high - low) + low."""
    return torch.rand(*shape, generator=g) * (high - low) + low


def _lstm_blocks(g, inputs, hidden):
    """FunctionalLstm.create: W_ih [4h, in], W_hh [4h, h], b [4h] in +-1/sqrt(h)."""
    bound = 1.0 / math.sqrt(hidden)
    return [_uniform(g, -bound, bound, 4 * hidden, inputs), _uniform(g, -bound, bound, 4 * hidden, hidden),
            _uniform(g, -bound, bound, 4 * hidden)]


def _problem(batch, words, labels, inputs, hidden, filters, width):
    """Phi (8 blocks), theta (5 blocks) and the examples (x, features, one-hot y, mask), drawn as
    SequenceTraining.problem draws them."""
    g = torch.Generator().manual_seed(0)
    bound = 1.0 / math.sqrt(2 * hidden)
    phi = _lstm_blocks(g, inputs, hidden) + _lstm_blocks(g, inputs, hidden)
    phi += [_uniform(g, -bound, bound, labels, 2 * hidden), _uniform(g, -bound, bound, labels)]
    d = 2 * hidden + 1
    theta = [_uniform(g, -1.0 / math.sqrt(d), 1.0 / math.sqrt(d), labels, d), _uniform(g, -0.1, 0.1, labels, labels)]
    cb, ub = 1.0 / math.sqrt(labels * width), 1.0 / math.sqrt(filters)
    theta += [_uniform(g, -cb, cb, filters, labels, width), _uniform(g, -cb, cb, filters), _uniform(g, -ub, ub, filters)]
    lengths = torch.tensor([_length(i, words) for i in range(batch)]).unsqueeze(1)
    mask = torch.arange(words).unsqueeze(0) < lengths
    real = mask.to(torch.float32).unsqueeze(-1)
    x = torch.randn(batch, words, inputs, generator=g) * real
    features = torch.cat([_uniform(g, -1.0, 1.0, batch, words, 2 * hidden), torch.ones(batch, words, 1)], 2)
    tags = torch.randint(labels, (batch, words), generator=g)
    y = F.one_hot(tags, labels).to(torch.float32) * real
    return phi, theta, (x, features, y, mask)


def _run(ps, x):
    """FunctionalLstm.run: h_1 ... h_T [B, T, h], one time step at a time."""
    wih, whh, b = ps
    n, steps, h = x.shape[0], x.shape[1], whh.shape[1]
    inputs = F.linear(x, wih, b).unbind(1)
    whh_t = whh.t()
    h_prev = torch.zeros(n, h)
    c_prev = torch.zeros(n, h)
    outputs = []
    for t in range(steps):
        gates = inputs[t] + h_prev.matmul(whh_t)
        chunks = gates.chunk(4, 1)
        i, f, gg, o = chunks[0].sigmoid(), chunks[1].sigmoid(), chunks[2].tanh(), chunks[3].sigmoid()
        c_prev = f * c_prev + i * gg
        h_prev = o * c_prev.tanh()
        outputs.append(h_prev)
    return torch.stack(outputs, 1)


def _reverse_within(mask, x):
    """FunctionalLstm.reverseWithin: each sentence reversed within its length, padding in place."""
    steps = x.shape[1]
    lengths = mask.to(torch.int64).sum(1, keepdim=True)
    t = torch.arange(0, steps, dtype=torch.int64).unsqueeze(0)
    source = torch.where(t < lengths, lengths - 1 - t, t)
    index = source
    for _ in range(2, x.dim()):
        index = index.unsqueeze(-1)
    return x.gather(1, index.expand(x.shape))


def _predict(phi, mask, x):
    """StructuredOutputs.predict of the sequence outputs: softmax of BiLstmTagger.logits."""
    forward = _run(phi[0:3], x)
    backward = _reverse_within(mask, _run(phi[3:6], _reverse_within(mask, x)))
    h = torch.cat([forward, backward], 2)
    return F.softmax(F.linear(h, phi[6], phi[7]), -1)


def _linear_chain(theta, features, mask, y):
    """LinearChainEnergy.energy: -(sum_t m_t <U_t, y_t> + sum_{t>=1} m_t y_{t-1}^T W y_t), U = F B^T."""
    unary = features.matmul(theta[0].t())
    m = mask.to(y.dtype)
    local = ((unary * y).sum(-1) * m).sum(1)
    steps = y.shape[1]
    previous, nxt = y.narrow(1, 0, steps - 1), y.narrow(1, 1, steps - 1)
    pairs = (previous.matmul(theta[1]) * nxt).sum(-1) * m.narrow(1, 1, steps - 1)
    return -(local + pairs.sum(1))


def _convolutional(theta, mask, y):
    """ConvolutionalLabelEnergy.energy: sum over live windows of u^T softplus(C * window + b)."""
    c, b, u = theta
    k = c.shape[2]
    padded = F.pad(y * mask.to(y.dtype).unsqueeze(-1), [0, 0, k - 1, k - 1])
    windows = padded.unfold(1, k, 1)
    flat = windows.reshape(windows.shape[0], windows.shape[1], c.shape[1] * k)
    responses = flat.matmul(c.reshape(c.shape[0], c.shape[1] * k).t()) + b
    per_window = F.softplus(responses).matmul(u)
    window = torch.arange(0, per_window.shape[1], dtype=torch.int64).unsqueeze(0)
    live = window < (mask.to(torch.int64).sum(1).unsqueeze(1) + (k - 1))
    return (per_window * live.to(y.dtype)).sum(1)


def _energy(theta, features, mask, y):
    """SequenceEnergy.sum [linear chain; convolutional], weights 1."""
    return _linear_chain(theta[0:2], features, mask, y) + _convolutional(theta[2:5], mask, y)


def _hamming(mask, y_bar, y):
    """StructuredHinge.hammingCost: sum_t m_t |y_bar_t - y_t|_1 / 2."""
    return ((y_bar - y).abs().sum(-1) * mask.to(y_bar.dtype)).sum(1) * 0.5


def _entropy(mask, y_bar):
    """StructuredOutputs.sequenceEntropy: sum_t m_t H(y_bar_t), with log max(p, 1e-30)."""
    p = y_bar.clamp_min(0.0)
    h = -((p * p.clamp_min(1e-30).log()).sum(-1))
    return (h * mask.to(y_bar.dtype)).sum(1)


def _descend(optimizer, params, loss):
    """Step.descend: zero the gradients, finite check, backward, the loss read back, the global
    gradient norm (Optimizer.GradientNorm), and the Adam step when the norm is finite."""
    optimizer.zero_grad(set_to_none=False)
    if not torch.isfinite(loss).all().item():
        raise RuntimeError("loss is not finite")
    loss.backward()
    value = loss.item()
    norm = torch.stack([p.grad.norm() for p in params if p.grad is not None]).norm().item()
    if math.isfinite(norm):
        optimizer.step()
    return value, norm


def _prepare(batch, words, labels, inputs, hidden, filters, width):
    phi, theta, data = _problem(batch, words, labels, inputs, hidden, filters, width)
    for p in phi + theta:
        p.requires_grad_(True)
    phi0 = [p.detach().clone() for p in phi]
    theta_opt = torch.optim.Adam(theta, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    phi_opt = torch.optim.Adam(phi, lr=5e-4, betas=(0.9, 0.999), eps=1e-8)
    idx = torch.arange(batch, dtype=torch.int64)
    tau, lam = 0.1, 1e-3

    def step():
        # Structured.select: the rows of idx, cut to the longest sentence (read back).
        x, features, y, mask = (t.index_select(0, idx) for t in data)
        longest = max(mask.sum(1, dtype=torch.int64).max().item(), 1)
        if longest < mask.shape[1]:
            x, features, y, mask = (t.narrow(1, 0, longest) for t in (x, features, y, mask))
        # Phi: -mean violation + lam |Phi - Phi0|^2 + tau mean H (InferenceNetworks.networkLoss).
        th = [t.detach() for t in theta]
        y_bar = _predict(phi, mask, x)
        violation = _hamming(mask, y_bar, y) - _energy(th, features, mask, y_bar) + _energy(th, features, mask, y)
        pull = sum((((p - p0.detach()).square().sum()) for p, p0 in zip(phi[1:], phi0[1:])), (phi[0] - phi0[0].detach()).square().sum())
        loss = -violation.mean() + pull * lam
        loss = loss + _entropy(mask, y_bar).mean() * tau
        network_loss, _ = _descend(phi_opt, phi, loss)
        # theta: mean hinge at y_bar = A_Phi(x) under no_grad (InferenceNetworks.energyLoss).
        with torch.no_grad():
            y_bar = _predict(phi, mask, x)
        hinge = F.relu(_hamming(mask, y_bar, y) - _energy(theta, features, mask, y_bar) + _energy(theta, features, mask, y)).mean()
        hinge_value, norm = _descend(theta_opt, theta, hinge)
        return [("hinge", hinge_value), ("network_loss", network_loss), ("grad_norm", norm)]

    return step


def infnet_step(batch, words, labels, inputs, hidden, filters, width):
    """One step of Phi then theta on the whole batch (parameters keep training from call to call)."""
    step = _prepare(batch, words, labels, inputs, hidden, filters, width)
    return lambda: step()


def first_steps(n=3, batch=32, words=25, labels=17, inputs=180, hidden=100, filters=50, width=3):
    """The metrics (hinge, network_loss, grad_norm of theta) of the first n steps, and checksums
    (float64 sums) of the problem's tensors."""
    phi, theta, data = _problem(batch, words, labels, inputs, hidden, filters, width)
    sums = [("phi[%d]" % i, p.double().sum().item()) for i, p in enumerate(phi)]
    sums += [("theta[%d]" % i, p.double().sum().item()) for i, p in enumerate(theta)]
    sums += [(n, t.double().sum().item()) for n, t in zip(["inputs", "features", "labels", "mask"], data)]
    step = _prepare(batch, words, labels, inputs, hidden, filters, width)
    return [step() for _ in range(n)], sums


if __name__ == "__main__":
    steps, sums = first_steps()
    for i, metrics in enumerate(steps):
        for name, value in metrics:
            print("step %d %s %.9g" % (i + 1, name, value))
    for name, value in sums:
        print("%s %.9g" % (name, value))
