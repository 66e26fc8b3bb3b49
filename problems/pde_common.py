"""Shared pieces of the PDE families: a live dolfinx problem per family, rebuilt per process."""

from __future__ import annotations

import itertools

import numpy as np

from learned_solvers._fenicsx import import_dolfinx as dolfinx  # the families import it from here

_COUNTER = itertools.count()


def unique_prefix(name: str) -> str:
    """PETSc options prefixes must not collide between problems of one process."""
    return f"ls_{name.replace('-', '_')}_{next(_COUNTER)}_"


MESHES = ("structured", "unstructured")
"""the kinds of unit-square mesh a PDE family's ``mesh=`` parameter names"""


def check_mesh(kind: str) -> None:
    if kind not in MESHES:
        raise ValueError(f"mesh={kind!r} is not a kind of mesh here; choose one of {', '.join(MESHES)}")


def jittered_square_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(points (V, 2), triangles (C, 3)): a Delaunay triangulation of the unit square with n
    boundary edges per side and (n - 1)^2 interior points, each moved from its grid position by up
    to 0.35 h (h = 1/n) in each coordinate. Its connectivity is irregular (vertex degrees vary)
    and the same for one n in every process (the jitter's seed is n)."""
    from scipy.spatial import Delaunay

    t = np.linspace(0.0, 1.0, n + 1)
    ij = np.stack(np.meshgrid(t[1:-1], t[1:-1], indexing="ij"), axis=-1).reshape(-1, 2)
    inner = ij + np.random.default_rng(n).uniform(-0.35, 0.35, ij.shape) / n
    edge = t[:-1]
    boundary = np.concatenate([np.stack([edge, np.zeros(n)], 1), np.stack([np.ones(n), edge], 1),
                               np.stack([1.0 - edge, np.ones(n)], 1), np.stack([np.zeros(n), 1.0 - edge], 1)])
    points = np.concatenate([boundary, inner])
    return points, Delaunay(points).simplices.astype(np.int64)


def mesh_spec(kind: str) -> str:
    """What a family's spec adds for its mesh kind: nothing for the default, so that the specs
    recorded in earlier checkpoints and reports stay as they were."""
    return "" if kind == "structured" else f",mesh={kind}"


def unit_square(comm, n: int, *, mesh: str = "structured"):
    """The unit square with n cells per side as a dolfinx mesh of triangles: dolfinx's own
    structured one (``create_unit_square``), or ``jittered_square_points``'s unstructured one,
    built on rank 0 and distributed by dolfinx's partitioner."""
    check_mesh(mesh)
    dfx = dolfinx()
    if mesh == "structured":
        return dfx.mesh.create_unit_square(comm, n, n)
    import basix.ufl
    import ufl

    if comm.rank == 0:
        points, cells = jittered_square_points(n)
    else:
        points, cells = np.empty((0, 2)), np.empty((0, 3), dtype=np.int64)
    return dfx.mesh.create_mesh(comm, cells, ufl.Mesh(basix.ufl.element("Lagrange", "triangle", 1, shape=(2,))),
                                points)


def smooth_field(coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_ij coeffs[i, j] sin((i+1) pi x) sin((j+1) pi y) at points x (3, N)."""
    k = coeffs.shape[0]
    sx = np.sin(np.pi * np.arange(1, k + 1)[:, None] * x[0][None, :])
    sy = np.sin(np.pi * np.arange(1, k + 1)[:, None] * x[1][None, :])
    return np.einsum("ij,in,jn->n", coeffs, sx, sy)
