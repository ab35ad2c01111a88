"""Single library calls (counterpart of Groups/Library.fs): one tiny op, the BLAS kernels behind
the benchmarks' layers, vectorized elementwise math and the autograd engine's fixed cost."""
import torch


def add(n):
    x, y = torch.randn(n), torch.randn(n)

    def step():
        x.add(y)

    return step


def mv(rows, cols):
    w, v = torch.randn(rows, cols), torch.randn(cols)

    def step():
        w.mv(v)

    return step


def mv_t(rows, cols):
    w, u = torch.randn(rows, cols), torch.randn(rows)

    def step():
        w.t().mv(u)

    return step


def mm(n, d, h):
    x, w = torch.randn(n, d), torch.randn(d, h)

    def step():
        x.mm(w)

    return step


def mm_tn(n, d, h):
    x, g = torch.randn(n, d), torch.randn(n, h)

    def step():
        x.t().mm(g)

    return step


def mul(n):
    x, y = torch.randn(n), torch.randn(n)

    def step():
        x.mul(y)

    return step


def tanh(n):
    x = torch.randn(n)

    def step():
        x.tanh()

    return step


def exp(n):
    x = torch.randn(n)

    def step():
        x.exp()

    return step


def autograd_small(n):
    x = torch.randn(n)

    def step():
        xv = x.detach().requires_grad_(True)
        torch.autograd.grad((xv * xv).sum(), xv)

    return step
