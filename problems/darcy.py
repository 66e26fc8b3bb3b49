"""`darcy`: -div(a grad u) = f on the unit square, u = 0 on the boundary, P1 elements.

As in the FNO Darcy benchmark (its ``GRF.m``): ``a`` is a mean-zero Gaussian random field with
covariance (-Laplacian + tau^2)^(-alpha) under zero Neumann conditions (alpha = 2, tau = 3; a
cosine series without its constant term), thresholded: ``high`` (12) where it is non-negative
and ``low`` (3) elsewhere, drawn on a ``field_res`` x ``field_res`` grid and sampled at the
cells (so the same instance can be meshed finer, or unstructured); f = 1. The constant term
must go: with it, about a quarter of the fields had one sign everywhere, so one value of ``a``
on the whole square, and every such held-out instance repeated a training one. Parameters:
``n`` cells per side (default 64; triangles), ``mesh`` (``structured``, dolfinx's; or
``unstructured``, a Delaunay triangulation of jittered points: ``pde_common.unit_square``),
``field_res`` (64), ``alpha``, ``tau``, ``high``, ``low``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from learned_solvers._interrupt import held_interrupts

from .pde_common import check_mesh, dolfinx, mesh_spec, unique_prefix, unit_square


@dataclass(frozen=True)
class DarcyInstance:
    field: np.ndarray  # (field_res, field_res) coefficient values on the grid
    name: str


@dataclass(kw_only=True)
class Darcy:
    n: int = 64
    field_res: int = 64
    alpha: float = 2.0
    tau: float = 3.0
    high: float = 12.0
    low: float = 3.0
    mesh: str = "structured"
    name: str = "darcy"
    kind: str = "linear"
    _live: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.n < 2 or self.field_res < 2:
            raise ValueError("darcy needs n >= 2 and field_res >= 2")
        # a positive coefficient keeps the operator symmetric positive definite
        if not (0 < self.low < np.inf and 0 < self.high < np.inf and 0 < self.alpha < np.inf
                and 0 <= self.tau < np.inf):
            raise ValueError(f"darcy needs finite high, low, alpha > 0 and tau >= 0, got high={self.high}, "
                             f"low={self.low}, alpha={self.alpha}, tau={self.tau}")
        check_mesh(self.mesh)

    def spec(self) -> str:
        return (f"darcy:n={self.n},field_res={self.field_res},alpha={self.alpha},tau={self.tau},high={self.high},"
                f"low={self.low}" + mesh_spec(self.mesh))

    def family_key(self) -> str:
        """What checkpoints match on: the field's law, not the mesh (its size or kind)."""
        # grf=: the field's generator; a checkpoint trained on the earlier one (with a constant
        # term) is refused rather than run on another law
        return (f"darcy:grf=neumann-mean0,field_res={self.field_res},alpha={self.alpha},tau={self.tau},"
                f"high={self.high},low={self.low}")

    def sample(self, count: int, *, seed: int) -> list[DarcyInstance]:
        from scipy.fft import idctn

        rng = np.random.default_rng(seed)
        s = self.field_res
        k = np.arange(s)
        # square roots of the covariance's eigenvalues on the Neumann cosine modes; only the
        # field's sign is used, so its overall scale does not matter
        amp = (np.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2) + self.tau ** 2) ** (-self.alpha / 2)
        amp[0, 0] = 0.0  # mean zero: no field of one sign everywhere
        out = []
        for i in range(count):
            g = idctn(amp * rng.standard_normal((s, s)), norm="ortho")
            out.append(DarcyInstance(field=np.where(g >= 0, self.high, self.low), name=f"darcy[{seed}:{i}]"))
        return out

    # -- the live dolfinx problem (one per process) -------------------------------------------
    def problem(self, *, petsc_options: dict[str, Any] | None = None):
        if "problem" not in self._live:
            dfx = dolfinx()
            import ufl
            from mpi4py import MPI
            from petsc4py import PETSc

            msh = unit_square(MPI.COMM_WORLD, self.n, mesh=self.mesh)
            V = dfx.fem.functionspace(msh, ("Lagrange", 1))
            Q = dfx.fem.functionspace(msh, ("DG", 0))
            a = dfx.fem.Function(Q, name="a")
            u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
            f = dfx.fem.Constant(msh, PETSc.ScalarType(1.0))
            fdim = msh.topology.dim - 1
            facets = dfx.mesh.locate_entities_boundary(msh, fdim, lambda x: np.full(x.shape[1], True))
            bc = dfx.fem.dirichletbc(PETSc.ScalarType(0.0), dfx.fem.locate_dofs_topological(V, fdim, facets), V)
            with held_interrupts():  # its options prefix is pushed and popped: a Ctrl-C between left it pushed
                prob = dfx.fem.petsc.LinearProblem(
                    ufl.inner(a * ufl.grad(u), ufl.grad(v)) * ufl.dx, f * v * ufl.dx, bcs=[bc],
                    petsc_options_prefix=unique_prefix(self.name),
                    petsc_options=petsc_options or {"ksp_type": "cg", "pc_type": "gamg"})
            cells = Q.tabulate_dof_coordinates()[:, :2]
            idx = np.clip((cells * self.field_res).astype(int), 0, self.field_res - 1)
            self._live.update(problem=prob, a=a, cell_index=idx)
        return self._live["problem"]

    def load(self, inst: DarcyInstance):
        """Put ``inst`` into the live problem; returns (problem, fields for the adapter)."""
        prob = self.problem()
        i, j = self._live["cell_index"].T
        self._live["a"].x.array[:] = inst.field[i, j]
        return prob, {"a": self._live["a"]}

    def cold_guess(self, n_owned: int) -> np.ndarray:
        return np.zeros(n_owned)
