"""`navier-stokes`: steady incompressible lid-driven cavity on the unit square, Taylor-Hood
(P2 velocity, P1 pressure), Newton (SNES).

(1/Re) (grad u, grad v) + ((grad u) u, v) - (p, div v) - (q, div u) = 0; u = (lid, 0) on the
top wall, u = 0 on the others, p = 0 at the corner (0, 0). Each instance draws the Reynolds
number uniformly in [re_min, re_max] (default [100, 1200]) and the lid speed profile
lid(x) = 1 + s sin(pi x) with s ~ U(-0.3, 0.3). Parameters: ``n`` cells per side (16), ``mesh``
(``structured`` or ``unstructured``, as in ``darcy``). The cold guess is zero. The linear solves
are LU with a nonzero-pivot shift (PETSc's own LU meets the zero pressure block of the saddle
point).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from learned_solvers._interrupt import held_interrupts

from .pde_common import check_mesh, dolfinx, mesh_spec, unique_prefix, unit_square


@dataclass(frozen=True)
class CavityInstance:
    re: float
    lid_shape: float
    name: str


@dataclass(kw_only=True)
class NavierStokes:
    n: int = 16
    re_min: float = 100.0
    re_max: float = 1200.0
    mesh: str = "structured"
    name: str = "navier-stokes"
    kind: str = "nonlinear"
    _live: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.n < 2 or not 0 < self.re_min <= self.re_max < np.inf:
            raise ValueError(f"navier-stokes needs n >= 2 and 0 < re_min <= re_max (finite), got n={self.n}, "
                             f"re_min={self.re_min}, re_max={self.re_max}")
        check_mesh(self.mesh)

    def spec(self) -> str:
        return f"navier-stokes:n={self.n},re_min={self.re_min},re_max={self.re_max}" + mesh_spec(self.mesh)

    def family_key(self) -> str:
        return f"navier-stokes:re_min={self.re_min},re_max={self.re_max}"

    def sample(self, count: int, *, seed: int) -> list[CavityInstance]:
        rng = np.random.default_rng(seed)
        return [CavityInstance(re=float(rng.uniform(self.re_min, self.re_max)), lid_shape=float(rng.uniform(-0.3, 0.3)),
                               name=f"navier-stokes[{seed}:{i}]") for i in range(count)]

    def problem(self):
        if "problem" not in self._live:
            dfx = dolfinx()
            import basix.ufl
            import ufl
            from mpi4py import MPI
            from petsc4py import PETSc

            msh = unit_square(MPI.COMM_WORLD, self.n, mesh=self.mesh)
            cell = msh.basix_cell()
            W = dfx.fem.functionspace(msh, basix.ufl.mixed_element([
                basix.ufl.element("Lagrange", cell, 2, shape=(2,)), basix.ufl.element("Lagrange", cell, 1)]))
            V0, _ = W.sub(0).collapse()
            Q0, _ = W.sub(1).collapse()
            w = dfx.fem.Function(W, name="w")
            u, p = ufl.split(w)
            v, q = ufl.TestFunctions(W)
            re = dfx.fem.Constant(msh, PETSc.ScalarType(100.0))
            F = ((1 / re) * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + ufl.inner(ufl.grad(u) * u, v) * ufl.dx
                 - p * ufl.div(v) * ufl.dx - q * ufl.div(u) * ufl.dx)
            lid = dfx.fem.Function(V0)
            walls = lambda x: np.isclose(x[0], 0) | np.isclose(x[0], 1) | np.isclose(x[1], 0)  # noqa: E731
            top = lambda x: np.isclose(x[1], 1)  # noqa: E731
            loc = lambda f: dfx.fem.locate_dofs_topological((W.sub(0), V0), 1,  # noqa: E731
                                                            dfx.mesh.locate_entities_boundary(msh, 1, f))
            bcs = [dfx.fem.dirichletbc(dfx.fem.Function(V0), loc(walls), W.sub(0)),
                   dfx.fem.dirichletbc(lid, loc(top), W.sub(0)),
                   dfx.fem.dirichletbc(dfx.fem.Function(Q0), dfx.fem.locate_dofs_geometrical(
                       (W.sub(1), Q0), lambda x: np.isclose(x[0], 0) & np.isclose(x[1], 0)), W.sub(1))]
            with held_interrupts():  # its options prefix is pushed and popped: a Ctrl-C between left it pushed
                prob = dfx.fem.petsc.NonlinearProblem(
                    F, w, bcs=bcs, petsc_options_prefix=unique_prefix(self.name),
                    petsc_options={"snes_type": "newtonls", "ksp_type": "preonly", "pc_type": "lu",
                                   "pc_factor_shift_type": "nonzero"})
            self._live.update(problem=prob, w=w, re=re, lid=lid)
        return self._live["problem"]

    def load(self, inst: CavityInstance):
        prob = self.problem()
        lv = self._live
        lv["re"].value = inst.re
        s = inst.lid_shape
        lv["lid"].interpolate(lambda x: np.stack([1 + s * np.sin(np.pi * x[0]), np.zeros(x.shape[1])]))
        lv["w"].x.array[:] = 0.0
        return prob, {"re": inst.re / self.re_max, "lid_shape": s}

    def continuation(self, inst: CavityInstance, backend: Any):
        """Reference solve by Reynolds continuation (for labels where Newton from zero fails)."""
        from learned_solvers.formats.dolfinx import petsc_handles

        prob, _ = self.load(inst)
        guess = None
        for re in np.geomspace(min(self.re_min, inst.re), inst.re, 6):
            self._live["re"].value = re
            res = backend.solve(petsc_handles(prob), guess=guess)
            if res.status != "optimal":
                return res
            guess = res.x
        return res

    def cold_guess(self, n_owned: int) -> np.ndarray:
        return np.zeros(n_owned)
