"""Joint EBM + learned-proposal training (counterpart of Groups/Regression.fs).

The reference is the authors' released code for Gustafsson, Danelljan & Schön, "Learning Proposals for
Practical Energy-Based Regression" (AISTATS 2022): github.com/fregu856/ebms_proposals, toy set 1,
`1dregression_1/ebmdn_model_K4.py` (the network) and `1dregression_1/ebmdn4_train_K4.py` (the training
step). This file is written from that description, not copied:

- features h = relu(W2 relu(W1 x)), width H (their H = 10);
- proposal: three separate two-layer networks on h.detach(), H -> H (ReLU) -> K, giving the means,
  log sigma^2 and the weight logits (softmax) of a K-component Gaussian mixture;
- energy: e = relu(V2 relu(V1 y)); z = relu(A [h; e]); z = relu(B z) + z; f = c . z + d;
- one step on a batch of 32: sample M = 1024 values per example from q (torch.distributions.Normal
  samples of every component, a multinomial draw of the component, gather), evaluate q at the true y
  and at the samples as densities (exp of log_prob, weighted sum over K), f at the true y and at the
  samples (two passes of the energy), the NCE loss -mean(s0 - logsumexp([s0, s1..M])) with
  s = f - log q (q detached), the proposal loss mean(logsumexp(f.detach() - log q(samples)) - log M),
  their sum, zero_grad, backward, Adam(1e-3) step. The loss is read back each step (`.item()` here;
  the authors' `loss.data.cpu().numpy()`).
"""
import math

import torch
import torch.nn.functional as F


class PaperNet(torch.nn.Module):
    """The authors' toy network at width `hidden` with `components` mixture components (1-D x and y)."""

    def __init__(self, hidden, components):
        super().__init__()
        lin = torch.nn.Linear
        self.k = components
        self.feat1, self.feat2 = lin(1, hidden), lin(hidden, hidden)
        self.mean1, self.mean2 = lin(hidden, hidden), lin(hidden, components)
        self.var1, self.var2 = lin(hidden, hidden), lin(hidden, components)
        self.logit1, self.logit2 = lin(hidden, hidden), lin(hidden, components)
        self.y1, self.y2 = lin(1, hidden), lin(hidden, hidden)
        self.xy1, self.xy2, self.out = lin(2 * hidden, hidden), lin(hidden, hidden), lin(hidden, 1)

    def features(self, x):
        return F.relu(self.feat2(F.relu(self.feat1(x))))

    def proposal(self, h):
        means = self.mean2(F.relu(self.mean1(h)))
        log_var = self.var2(F.relu(self.var1(h)))
        weights = torch.softmax(self.logit2(F.relu(self.logit1(h))), dim=1)
        return means, log_var, weights

    def energy(self, h, y):
        """f for features h [B, H] and values y [B, S] -> [B, S] (h repeated over the S values)."""
        b, s = y.shape
        hx = h.view(b, 1, -1).expand(-1, s, -1).reshape(b * s, -1)
        e = F.relu(self.y2(F.relu(self.y1(y.reshape(b * s, 1)))))
        z = F.relu(self.xy1(torch.cat([hx, e], 1)))
        z = F.relu(self.xy2(z)) + z
        return self.out(z).view(b, s)


def paper_loss(net, x, y, samples):
    """The authors' joint loss on one batch x [B, 1], y [B, 1] with M = `samples`."""
    h = net.features(x)
    means, log_var, weights = net.proposal(h.detach())
    q = torch.distributions.normal.Normal(loc=means, scale=torch.exp(log_var / 2.0))
    q_y = torch.sum(weights.unsqueeze(0) * torch.exp(q.log_prob(y.t().unsqueeze(2))), dim=2).squeeze(0)  # [B]
    every = q.sample(sample_shape=torch.Size([samples]))                                                   # [M, B, K]
    which = torch.multinomial(weights, num_samples=samples, replacement=True).t().unsqueeze(2)             # [M, B, 1]
    ys = every.gather(2, which).squeeze(2).detach()                                                         # [M, B]
    q_ys = torch.sum(weights.unsqueeze(0) * torch.exp(q.log_prob(ys.unsqueeze(2))), dim=2)                 # [M, B]
    ys, q_ys = ys.t(), q_ys.t()                                                                             # [B, M]
    f0 = net.energy(h, y).squeeze(1)
    fs = net.energy(h, ys)
    s0 = f0 - torch.log(q_y.detach())
    ss = fs - torch.log(q_ys.detach())
    nce = -torch.mean(s0 - torch.logsumexp(torch.cat([s0.unsqueeze(1), ss], dim=1), dim=1))
    kl = torch.mean(torch.logsumexp(fs.detach() - torch.log(q_ys), dim=1) - math.log(samples))
    return nce + kl


def _toy1(n):
    """n points of toy set 1 (Sec. 5.1): x ~ U(-3, 3); x < 0: 0.8 N(sin x, 0.075^2) + 0.2 N(-sin x, 0.075^2);
    x >= 0: LogNormal(0, 0.25) - 1."""
    x = torch.rand(n) * 6 - 3
    flip = torch.where(torch.rand(n) < 0.8, 1.0, -1.0)
    left = flip * torch.sin(x) + 0.075 * torch.randn(n)
    right = torch.exp(0.25 * torch.randn(n)) - 1.0
    return x, torch.where(x < 0, left, right)


def joint_step(batch, samples, hidden, components):
    """One training step of the authors' toy-set-1 script. The batches are the consecutive batches of
    2000 points of toy set 1, in turn: a model trained on one fixed batch for thousands of steps drifts
    to values (vanishing densities, denormal floats) that no real run sees, and timings with it."""
    net = PaperNet(hidden, components)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xs, ys = _toy1(2000)
    batches = [(xs[i:i + batch].unsqueeze(1), ys[i:i + batch].unsqueeze(1)) for i in range(0, 2000 - batch + 1, batch)]
    turn = [0]

    def step():
        x, y = batches[turn[0] % len(batches)]
        turn[0] += 1
        loss = paper_loss(net, x, y, samples)
        loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def toy1_epoch(points, batch, samples, hidden, components):
    """One epoch of the authors' toy-set-1 script: `points` training points through a shuffling
    DataLoader in batches of `batch` (the last one partial), one step per batch."""
    net = PaperNet(hidden, components)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = torch.utils.data.TensorDataset(*_toy1(points))
    loader = torch.utils.data.DataLoader(dataset=data, batch_size=batch, shuffle=True)

    def epoch():
        for xs, ys in loader:
            loss = paper_loss(net, xs.unsqueeze(1), ys.unsqueeze(1), samples)
            loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


if __name__ == "__main__":
    # Whole runs for /usr/bin/time: python3 regression.py EPOCHS [HIDDEN] [THREADS]
    import sys
    import time
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    hidden = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    torch.manual_seed(0)
    run = toy1_epoch(2000, 32, 1024, hidden, 4)
    for e in range(epochs):
        t0 = time.perf_counter()
        run()
        print("epoch %d: %.3f s" % (e + 1, time.perf_counter() - t0), flush=True)
