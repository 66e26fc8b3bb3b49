"""Shared pieces of the PDE families: a live dolfinx problem per family, rebuilt per process."""

from __future__ import annotations

import itertools

import numpy as np

_COUNTER = itertools.count()


def dolfinx():
    import dolfinx_solver  # noqa: F401  (PyPI wheel: before dolfinx)
    import dolfinx
    import dolfinx.fem.petsc

    return dolfinx


def unique_prefix(name: str) -> str:
    """PETSc options prefixes must not collide between problems of one process."""
    return f"ls_{name.replace('-', '_')}_{next(_COUNTER)}_"


def smooth_field(coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_ij coeffs[i, j] sin((i+1) pi x) sin((j+1) pi y) at points x (3, N)."""
    k = coeffs.shape[0]
    sx = np.sin(np.pi * np.arange(1, k + 1)[:, None] * x[0][None, :])
    sy = np.sin(np.pi * np.arange(1, k + 1)[:, None] * x[1][None, :])
    return np.einsum("ij,in,jn->n", coeffs, sx, sy)
