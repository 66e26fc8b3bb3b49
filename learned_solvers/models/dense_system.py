"""A small implicit model that learns to solve dense systems ``A x = b`` (the core's demo).

The block sees the current residual ``b - A z`` (the "domain prior"), so iterating it longer
at inference refines the estimate.
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
    """``z <- (1 - a) z + a * g([z, b - A z, b])`` with spectrally normalised layers."""

    def __init__(self, n: int, *, hidden: int = 64, mix: float = 0.5) -> None:
        super().__init__()
        self.inp = spectral_linear(3 * n, hidden)
        self.out = spectral_linear(hidden, n)
        self.mix = mix

    def forward(self, z: Tensor, ctx: SystemBatch) -> Tensor:
        r = ctx.b - torch.einsum("bij,bj->bi", ctx.A, z)
        h = torch.tanh(self.inp(torch.cat([z, r, ctx.b], dim=1)))
        return (1 - self.mix) * z + self.mix * (z + r + self.out(h)) / 2

    def init(self, ctx: SystemBatch) -> Tensor:
        return torch.zeros_like(ctx.b)
