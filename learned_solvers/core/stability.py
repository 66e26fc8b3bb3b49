"""Keeping a block contractive, and measuring how contractive it is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor, nn

__all__ = ["spectral_linear", "counting_parameters", "jacobian_penalty", "estimate_lipschitz_z"]

_PLAIN_LINEAR: ContextVar[bool] = ContextVar("learned_solvers_plain_linear", default=False)


def spectral_linear(in_features: int, out_features: int, *, bias: bool = True) -> nn.Module:
    """A ``Linear`` whose weight has spectral norm <= 1 (``torch.nn.utils.parametrizations``);
    a plain one inside ``counting_parameters``."""
    lin = nn.Linear(in_features, out_features, bias=bias)
    return lin if _PLAIN_LINEAR.get() else nn.utils.parametrizations.spectral_norm(lin)


@contextmanager
def counting_parameters() -> Iterator[None]:
    """Inside, ``spectral_linear`` makes a plain ``Linear``: the same weight and bias, without the
    norm's two vectors. For counting a model's weights on torch's meta device, where the norm's
    start (random vectors, power iterations) runs through torch's Python references, whose
    first call imports torch._dynamo: 2-3 s of every checkpoint load, for a count."""
    token = _PLAIN_LINEAR.set(True)
    try:
        yield
    finally:
        _PLAIN_LINEAR.reset(token)


def jacobian_penalty(f: Callable[[Tensor], Tensor], z: Tensor, *, samples: int = 1) -> Tensor:
    """Hutchinson estimate of ``|J_f(z)|_F^2 / D`` per batch, averaged (a scalar).

    Add ``weight * jacobian_penalty(...)`` to the loss to keep the block contractive
    (Bai et al., "Stabilizing equilibrium models by Jacobian regularization").
    z: ``(B, *S)``; the penalty is differentiable w.r.t. the block's parameters.
    """
    z = z.detach().requires_grad_()
    fz = f(z)
    total = z.new_zeros(())
    for _ in range(samples):
        v = torch.randn_like(fz)
        (jtv,) = torch.autograd.grad(fz, z, v, create_graph=True, retain_graph=True)
        total = total + jtv.pow(2).sum() / fz.numel()
    return total / samples


@torch.no_grad()
def estimate_lipschitz_z(f: Callable[[Tensor], Tensor], z: Tensor, *, iters: int = 20) -> Tensor:
    """Power-iteration estimate of ``|J_f(z)|_2`` per batch element, ``(B,)``.

    A value below 1 means the block is locally contractive at ``z``.
    """
    with torch.enable_grad():
        z = z.detach().requires_grad_()
        fz = f(z)
        v = torch.randn_like(z)
        sigma = torch.zeros(z.shape[0], device=z.device, dtype=z.dtype)
        for _ in range(iters):
            v = v / v.reshape(z.shape[0], -1).norm(dim=1).clamp_min(1e-30).view(-1, *[1] * (z.dim() - 1))
            u = torch.zeros_like(fz, requires_grad=True)
            (jtu,) = torch.autograd.grad(fz, z, u, create_graph=True)
            (jv,) = torch.autograd.grad(jtu, u, v, retain_graph=True)  # J v via double-vjp
            (jtjv,) = torch.autograd.grad(fz, z, jv, retain_graph=True)
            sigma = jv.reshape(z.shape[0], -1).norm(dim=1)
            v = jtjv
    return sigma
