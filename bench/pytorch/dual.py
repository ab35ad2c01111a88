"""Dual training of shallow EBMs (counterpart of Groups/Dual.fs; Domingo-Enrich, Bietti, Gabrie,
Bruna, Vanden-Eijnden 2021, arXiv 2107.05134): a sphere Langevin step of 10^4 particles and one GDA
iteration for a 64-neuron ReLU energy on S^14, step for step as Samplers/Langevin.fs and
Learners/Dual.fs compute them (EnergyFs also copies the particles before the step; so does this)."""
import torch


def energy_gradient(x, z, cw):
    """Euclidean gradient of f(x) = (1/m) sum_i c_i w_i relu(<x, z_i>), per row of x."""
    t = x @ z.T
    return ((t > 0).to(x.dtype) * cw) @ z / z.shape[0]


def tangent(x, v):
    """(I - x x^T) v per row."""
    return v - x * (x * v).sum(1, keepdim=True)


def langevin_step_of(x, z, cw, eta, gen):
    """x <- normalize(x - eta grad_T f(x) + sqrt(2 eta) xi_T)."""
    g = tangent(x, energy_gradient(x, z, cw))
    xi = tangent(x, torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device))
    y = x - eta * g + (2.0 * eta) ** 0.5 * xi
    return y / y.norm(dim=1, keepdim=True)


def neuron_gradients(x, z, c, w):
    """m times the gradients of mean_x f(x) with respect to each feature and mass."""
    t = x @ z.T
    gz = ((t > 0).to(x.dtype).T @ x) / x.shape[0] * (c * w)[:, None]
    gw = torch.relu(t).mean(0) * c
    return gz, gw


def gda_step(data, particles, z, c, w, eta, alpha_z, alpha_w, beta, gen):
    """One Langevin step of the particles, then one neuron update (projected features, Fisher-Rao masses)."""
    particles = langevin_step_of(particles, z, c * w, eta, gen)
    dz, dw = neuron_gradients(data, z, c, w)
    pz, pw = neuron_gradients(particles, z, c, w)
    gz, gw = dz - pz, dw - pw
    z = z - alpha_z * tangent(z, gz)
    z = z / z.norm(dim=1, keepdim=True)
    w = w * torch.exp(-alpha_w * gw)
    mean = w.mean().item()
    if mean > beta:
        w = w * (beta / mean)
    return particles, z, w


def _setup(particles, neurons, dim):
    gen = torch.Generator()
    gen.manual_seed(0)
    x = torch.randn(neurons, dim, generator=gen)
    z = x / x.norm(dim=1, keepdim=True)
    c = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(neurons)])
    w = torch.ones(neurons)
    y = torch.randn(particles, dim, generator=gen)
    return gen, z, c, w, y / y.norm(dim=1, keepdim=True)


def langevin_step(particles, neurons, dim):
    """One sphere Langevin step of all particles (the same state every call)."""
    gen, z, c, w, x = _setup(particles, neurons, dim)

    def step():
        with torch.no_grad():
            langevin_step_of(x, z, c * w, 1e-2, gen)

    return step


def gda_iteration(particles, neurons, dim):
    """One GDA iteration: a Langevin step of the particles and one neuron update (the same state every call)."""
    gen, z, c, w, data = _setup(particles, neurons, dim)
    start = data[torch.randint(0, particles, (particles,), generator=gen)]

    def step():
        with torch.no_grad():
            gda_step(data, start.clone(), z, c, w, 1e-2, 1e-2, 1e-2, 10.0, gen)

    return step
