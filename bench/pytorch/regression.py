"""Joint EBM + proposal training step (counterpart of Groups/Regression.fs).

The same model as EnergyFs.Learners.Regression (method joint): x-net and y-net 1 -> h -> h with ReLU,
a head ReLU(W_h h + b + W_e e) -> h -> 1, and a K-component Gaussian mixture head on the detached
x-features. One step: M samples per example from q (no gradient), ranking NCE with the true y first,
the importance-sampling proposal loss with f detached, backward, Adam (lr 1e-3).
"""
import math

import torch
import torch.nn.functional as F


class Joint(torch.nn.Module):
    def __init__(self, hidden, components):
        super().__init__()
        self.k = components
        self.x_net = torch.nn.Sequential(torch.nn.Linear(1, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU())
        self.y_net = torch.nn.Sequential(torch.nn.Linear(1, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU())
        self.head_x = torch.nn.Linear(hidden, hidden)
        self.head_y = torch.nn.Linear(hidden, hidden, bias=False)
        self.head_out = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        self.proposal = torch.nn.Linear(hidden, 3 * components)

    def score(self, h, y):
        z = F.relu(self.head_x(h).unsqueeze(1) + self.head_y(self.y_net(y)))
        return self.head_out(z).squeeze(-1)

    def mixture(self, h):
        raw = self.proposal(h)
        k = self.k
        log_w = F.log_softmax(raw[:, :k], dim=1)
        mu = raw[:, k:2 * k].unsqueeze(-1)
        log_sd = raw[:, 2 * k:].clamp(-7.0, 5.0).unsqueeze(-1)
        return log_w, mu, log_sd


def log_density(log_w, mu, log_sd, y):
    z = (y.unsqueeze(2) - mu.unsqueeze(1)) * torch.exp(-log_sd).unsqueeze(1)
    per_dim = -0.5 * z * z - log_sd.unsqueeze(1) - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(per_dim.sum(3) + log_w.unsqueeze(1), dim=2)


def sample(log_w, mu, log_sd, m):
    with torch.no_grad():
        b, _, d = mu.shape
        idx = torch.multinomial(log_w.exp(), m, replacement=True)
        index = idx.unsqueeze(-1).expand(b, m, d)
        eps = torch.randn(b, m, d)
        return mu.gather(1, index) + log_sd.exp().gather(1, index) * eps


def joint_step(batch, samples, hidden, components):
    """zero_grad (in place), sample q, NCE + proposal loss, backward, Adam step."""
    model = Joint(hidden, components)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1) * 6 - 3
    y = torch.sin(x) + 0.1 * torch.randn(batch, 1)

    def step():
        opt.zero_grad(set_to_none=False)
        h = model.x_net(x)
        log_w, mu, log_sd = model.mixture(h.detach())
        ys = sample(log_w, mu, log_sd, samples)
        cand = torch.cat([y.unsqueeze(1), ys], 1)
        f = model.score(h, cand)
        log_q = log_density(log_w, mu, log_sd, cand)
        s = f - log_q.detach()
        nce = (torch.logsumexp(s, 1) - s[:, 0]).mean()
        kl = (torch.logsumexp(f[:, 1:].detach() - log_q[:, 1:], 1) - math.log(samples)).mean()
        (nce + kl).backward()
        opt.step()

    return step
