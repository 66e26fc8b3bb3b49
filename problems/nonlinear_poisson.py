"""`nonlinear-poisson`: -div((1 + u^2) grad u) = f on the unit square, u = g on the boundary,
P1 elements, Newton (SNES).

f = amplitude * sum_{i,j<=modes} c_ij sin(i pi x) sin(j pi y), c_ij ~ N(0, 1) / (i^2 + j^2);
g = g0 + g1 x + g2 y with g_k ~ U(-1, 1). Parameters: ``n`` cells per side (default 32), ``mesh``
(``structured`` or ``unstructured``, as in ``darcy``), ``modes`` (3), ``amplitude`` (150: u of
order one to three, so the nonlinearity matters; cold Newton takes 5-8 steps).
The cold guess is zero (dolfinx's default ``u``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from learned_solvers._interrupt import held_interrupts

from .pde_common import check_mesh, dolfinx, mesh_spec, smooth_field, unique_prefix, unit_square


@dataclass(frozen=True)
class NLPoissonInstance:
    coeffs: np.ndarray  # (modes, modes) source coefficients
    g: np.ndarray  # (3,) boundary data g0 + g1 x + g2 y
    name: str


@dataclass(kw_only=True)
class NonlinearPoisson:
    n: int = 32
    modes: int = 3
    amplitude: float = 150.0
    mesh: str = "structured"
    name: str = "nonlinear-poisson"
    kind: str = "nonlinear"
    _live: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.n < 2 or self.modes < 1 or not np.isfinite(self.amplitude):
            raise ValueError(f"nonlinear-poisson needs n >= 2, modes >= 1 and a finite amplitude, got n={self.n}, "
                             f"modes={self.modes}, amplitude={self.amplitude}")
        check_mesh(self.mesh)

    @property
    def quasilinear(self) -> tuple[float, float, float]:
        """k(u) = 1 + u^2: the model feeds back this problem's exact residual (PDEData.quasilinear)."""
        return (1.0, 0.0, 1.0)

    def spec(self) -> str:
        return f"nonlinear-poisson:n={self.n},modes={self.modes},amplitude={self.amplitude}" + mesh_spec(self.mesh)

    def family_key(self) -> str:
        return f"nonlinear-poisson:modes={self.modes},amplitude={self.amplitude}"

    def sample(self, count: int, *, seed: int) -> list[NLPoissonInstance]:
        rng = np.random.default_rng(seed)
        k = np.arange(1, self.modes + 1)
        decay = 1.0 / (k[:, None] ** 2 + k[None, :] ** 2)
        return [NLPoissonInstance(coeffs=self.amplitude * decay * rng.standard_normal((self.modes, self.modes)),
                                  g=rng.uniform(-1, 1, 3), name=f"nonlinear-poisson[{seed}:{i}]")
                for i in range(count)]

    def problem(self, *, petsc_options: dict[str, Any] | None = None):
        if "problem" not in self._live:
            dfx = dolfinx()
            import ufl
            from mpi4py import MPI

            msh = unit_square(MPI.COMM_WORLD, self.n, mesh=self.mesh)
            V = dfx.fem.functionspace(msh, ("Lagrange", 1))
            u = dfx.fem.Function(V, name="u")
            f = dfx.fem.Function(V, name="f")
            g = dfx.fem.Function(V, name="g")
            v = ufl.TestFunction(V)
            F = (1 + u ** 2) * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx - f * v * ufl.dx
            fdim = msh.topology.dim - 1
            facets = dfx.mesh.locate_entities_boundary(msh, fdim, lambda x: np.full(x.shape[1], True))
            bc = dfx.fem.dirichletbc(g, dfx.fem.locate_dofs_topological(V, fdim, facets))
            with held_interrupts():  # its options prefix is pushed and popped: a Ctrl-C between left it pushed
                prob = dfx.fem.petsc.NonlinearProblem(
                    F, u, bcs=[bc], petsc_options_prefix=unique_prefix(self.name),
                    petsc_options=petsc_options or {"snes_type": "newtonls", "ksp_type": "preonly", "pc_type": "lu"})
            self._live.update(problem=prob, u=u, f=f, g=g)
        return self._live["problem"]

    def load(self, inst: NLPoissonInstance):
        """Put ``inst`` into the live problem with u = cold guess; returns (problem, fields)."""
        prob = self.problem()
        lv = self._live
        lv["f"].interpolate(lambda x: smooth_field(inst.coeffs, x))
        lv["g"].interpolate(lambda x: inst.g[0] + inst.g[1] * x[0] + inst.g[2] * x[1])
        lv["u"].x.array[:] = 0.0
        return prob, {"f": lv["f"], "g": lv["g"]}

    def cold_guess(self, n_owned: int) -> np.ndarray:
        return np.zeros(n_owned)
