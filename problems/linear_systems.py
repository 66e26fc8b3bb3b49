"""`linear-systems`: small dense systems ``A x = b`` with ``A = I + S``, the core demo's family.

Parameters: ``n`` (unknowns), ``coupling`` (spectral norm of the symmetric ``S``, < 1 keeps
``A`` well conditioned), ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LinearSystems", "generate"]


@dataclass(frozen=True)
class LinearSystems:
    """A: ``(N, n, n)``, b: ``(N, n)``, x: ``(N, n)`` exact solutions."""

    A: torch.Tensor
    b: torch.Tensor
    x: torch.Tensor


def generate(count: int, *, n: int = 8, coupling: float = 0.6, seed: int = 0) -> LinearSystems:
    """Draw ``count`` systems; the exact solutions come from a dense LU."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(count, n, n, generator=g)
    s = 0.5 * (s + s.transpose(1, 2))
    s = coupling * s / torch.linalg.matrix_norm(s, ord=2)[:, None, None]
    a = torch.eye(n) + s
    b = torch.randn(count, n, generator=g)
    x = torch.linalg.solve(a, b)
    return LinearSystems(A=a, b=b, x=x)
