"""A small implicit model that learns to solve dense systems ``A x = b`` (the core's demo).

The block sees the current residual ``r = b - A z`` (the "domain prior"), so iterating it
longer at inference refines the estimate; the update itself is learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..core import spectral_linear


@dataclass
class SystemBatch:
    """A: ``(B, n, n)``, b: ``(B, n)``."""

    A: Tensor
    b: Tensor


class ResidualBlock(nn.Module):
    """``z <- z + step * (r + g([z, r, b]))``, ``r = b - A z``, g a spectrally normalised MLP."""

    def __init__(self, n: int, *, hidden: int = 64, step: float = 0.5) -> None:
        super().__init__()
        self.inp = spectral_linear(3 * n, hidden)
        self.out = spectral_linear(hidden, n)
        self.step = step

    def forward(self, z: Tensor, ctx: SystemBatch) -> Tensor:
        r = ctx.b - torch.einsum("bij,bj->bi", ctx.A, z)
        h = torch.tanh(self.inp(torch.cat([z, r, ctx.b], dim=1)))
        return z + self.step * (r + self.out(h))

    def init(self, ctx: SystemBatch) -> Tensor:
        return torch.zeros_like(ctx.b)
