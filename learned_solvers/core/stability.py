"""Keeping a block contractive, and measuring how contractive it is."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["spectral_linear", "jacobian_penalty", "estimate_lipschitz_z"]


def spectral_linear(in_features: int, out_features: int, *, bias: bool = True) -> nn.Module:
    """A ``Linear`` whose weight has spectral norm <= 1 (``torch.nn.utils.parametrizations``)."""
    return nn.utils.parametrizations.spectral_norm(nn.Linear(in_features, out_features, bias=bias))


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
