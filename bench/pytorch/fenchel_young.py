"""Generalized Fenchel-Young losses (counterpart of Groups/FenchelYoung.fs; Blondel, Llinares-Lopez,
Dadashi, Hussenot, Geist 2022, arXiv 2205.09589).

The inner problem max_{p in [0,1]^k} <u, p> + 1/2 <p, A_hat p> - Omega(p), Omega the Fermi-Dirac
negentropy sum_j p_j log p_j + (1 - p_j) log(1 - p_j), A_hat = sym(A) with zero diagonal, solved
step for step as EnergyFs.Solvers.CoordinateAscent, ParallelAscent and ProjectedGradient do it
(tolerance 0, so a fixed number of sweeps / iterations; the same per-iteration reads of the stopping
measure), and the multilabel training step of EnergyFs.Experiments.Multilabel (generalized FY loss
with the Danskin gradient) against a binary logistic step of the same MLP.
"""
import torch
import torch.nn.functional as F


def interactions(a):
    k = a.shape[-1]
    return (a + a.transpose(-1, -2)) * 0.5 * (1.0 - torch.eye(k, dtype=a.dtype))


def fermi_dirac(p):
    return (torch.special.xlogy(p, p) + torch.special.xlogy(1.0 - p, 1.0 - p)).sum(1)


def fermi_dirac_grad(p):
    q = p.clamp(1e-30, 1.0 - 1e-16)
    return q.log() - (1.0 - q).clamp_min(1e-30).log()


def phi(u, ahat, p):
    return (u * p).sum(1) + 0.5 * (p * (p @ ahat)).sum(1)


def objective(u, ahat, p):
    return phi(u, ahat, p) - fermi_dirac(p)


def project_interior(z, eps=1e-6):
    return z.clamp(0.0, 1.0).clamp(eps, 1.0 - eps)


def coordinate_ascent(u, ahat, sweeps, tol=0.0):
    """Gauss-Seidel: p_j <- sigmoid(u_j + sum_i A_hat_ji p_i), all rows at once; stops when the
    largest change of a sweep is <= tol or after `sweeps` sweeps."""
    with torch.no_grad():
        n, k = u.shape
        p = torch.full((n, k), 0.5, dtype=u.dtype)
        gap, it = float("inf"), 0
        while gap > tol and it < sweeps:
            change = torch.zeros(1, dtype=u.dtype)
            for j in range(k):
                c = u[:, j:j + 1] + p @ ahat[:, j:j + 1]
                pj = torch.sigmoid(c)
                change = torch.maximum(change, (pj - p[:, j:j + 1]).abs().max())
                p[:, j:j + 1].copy_(pj)
            gap = change.item()
            it += 1
        return objective(u, ahat, p), p, it


def parallel_ascent(u, ahat, iterations, tol=0.0):
    """Parallel minorized ascent (EnergyFs.Solvers.ParallelAscent, Fermi-Dirac): eta = mu / (mu + L),
    mu = 4, L = max(0, -lambda_min(A_hat)); z <- (1 - eta) z + eta (u + p A_hat), p = sigmoid(z), from
    z = u; stops when max_rows |p+ - p|_inf / eta <= tol or after `iterations` iterations."""
    with torch.no_grad():
        eta = 4.0 / (4.0 + torch.linalg.eigvalsh(ahat).min().neg().clamp_min(0.0).reshape(1, 1))
        z = u.clone()
        p = torch.sigmoid(z)
        gap, it = float("inf"), 0
        while gap > tol and it < iterations:
            c = torch.addmm(u, p, ahat)
            z = torch.lerp(z, c, eta)
            q = torch.sigmoid(z)
            gap = ((q - p).abs().amax(1, keepdim=True) / eta).max().item()
            p = q
            it += 1
        return objective(u, ahat, p), p, it


def projected_gradient(u, ahat, iterations, step=1.0, tol=0.0):
    """p+ = proj(p + eta grad F(p)) with per-row backtracking (eta halved until
    F(p+) >= F(p) + <g, p+ - p> - |p+ - p|^2 / (2 eta)), then eta *= 1.25; stops when
    max_rows |p - proj(p + grad F(p))| <= tol or after `iterations` steps."""
    with torch.no_grad():
        n, k = u.shape
        p = torch.full((n, k), 0.5, dtype=u.dtype)
        eta = torch.full((n, 1), step, dtype=u.dtype)
        it = 0
        while True:
            g = u + p @ ahat - fermi_dirac_grad(p)
            measure = (p - project_interior(p + g)).norm(dim=1).max().item()
            if measure <= tol or it >= iterations:
                break
            fp = objective(u, ahat, p)
            slack = 2e-7
            tries = 0
            while True:
                q = project_interior(p + eta * g)
                d = 0.5 * ((q - p) ** 2).sum(1)
                lower = fp + (g * (q - p)).sum(1) - d / eta.squeeze(1)
                ok = objective(u, ahat, q) >= lower - (fp.abs() + 1.0) * slack
                tries += 1
                if ok.all().item() or tries >= 40:
                    break
                eta = torch.where(ok.unsqueeze(1), eta, eta * 0.5)
            p = q
            eta = (eta * 1.25).clamp_max(1e6 * step)
            it += 1
        return objective(u, ahat, p), p, it


def _problem(batch, k):
    """u ~ N(0, 1) [batch, k]; A Gaussian, symmetrized, scaled to spectral norm 0.5 (as
    FenchelYoungThroughput.solverProblem)."""
    u = torch.randn(batch, k)
    m = torch.randn(k, k, dtype=torch.float64)
    s = (m + m.T) * 0.5
    a = (s / torch.linalg.eigvalsh(s).abs().max() * 0.5).float()
    return u, a


def _solve_benchmark(solver, batch, k, iterations):
    """A step running `solver` for exactly `iterations` on a fixed problem of `batch` rows (checked once)."""
    u, a = _problem(batch, k)
    ahat = interactions(a)
    assert solver(u, ahat, iterations)[2] == iterations

    def step():
        solver(u, ahat, iterations)

    return step


def coordinate_solve(batch, k, iterations):
    """One coordinate-ascent solve of `batch` rows with `iterations` sweeps."""
    return _solve_benchmark(coordinate_ascent, batch, k, iterations)


def parallel_solve(batch, k, iterations):
    """One parallel-ascent solve of `batch` rows with `iterations` iterations."""
    return _solve_benchmark(parallel_ascent, batch, k, iterations)


def pga_solve(batch, k, iterations):
    """One projected-gradient solve of `batch` rows with `iterations` iterations."""
    return _solve_benchmark(projected_gradient, batch, k, iterations)


class EnergyNet(torch.nn.Module):
    """u(x) = W2 relu(W1 x + b1) + b2 and a learned pairwise matrix A."""

    def __init__(self, d, k, hidden):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k))
        self.pairwise = torch.nn.Parameter(torch.zeros(k, k))

    def forward(self, x):
        return self.body(x)


def _training(batch, d, k, hidden):
    x = torch.randn(batch, d)
    y = (torch.rand(batch, k) > 0.7).float()
    net = EnergyNet(d, k, hidden)
    with torch.no_grad():
        net.pairwise.copy_(_problem(1, k)[1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    return x, y, net, opt


def fy_train_step(batch, d, k, hidden, sweeps):
    """zero_grad, u = MLP(x), p_hat by parallel ascent (`sweeps` iterations) without grad, loss = mean(Phi(u, p_hat) -
    Omega(p_hat) + Omega(y) - Phi(u, y)), backward (Danskin: p_hat constant), Adam."""
    x, y, net, opt = _training(batch, d, k, hidden)

    def step():
        opt.zero_grad(set_to_none=False)
        with torch.no_grad():
            omega_y = fermi_dirac(y)
        u = net(x)
        ahat = interactions(net.pairwise)
        _, p_hat, _ = parallel_ascent(u.detach(), ahat.detach(), sweeps)
        loss = (phi(u, ahat, p_hat) - fermi_dirac(p_hat) + omega_y - phi(u, ahat, y)).mean()
        loss.backward()
        opt.step()

    return step


def logistic_train_step(batch, d, k, hidden, sweeps):
    """zero_grad, u = MLP(x), binary logistic loss summed over labels and averaged over rows
    (the FY loss of Fermi-Dirac), backward, Adam."""
    x, y, net, opt = _training(batch, d, k, hidden)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.binary_cross_entropy_with_logits(net(x), y, reduction="sum") / batch
        loss.backward()
        opt.step()

    return step
