"""A real SIGINT sent from inside a SNES solve, for the Ctrl-C tests (in-process and under mpirun)."""

import os
import signal
from collections.abc import Callable


def sigint_in_residual(snes, at_call: int = 2, *, here: bool = True) -> Callable[[], None]:
    """Wrap ``snes``'s residual so that its ``at_call``-th evaluation (the 2nd: inside SNESSolve, its
    residual at the start) sends SIGINT to this process, where ``here``; returns what puts the
    problem's own residual back. ``calls`` on the returned function counts the evaluations."""
    f, (assemble, args, kwargs) = snes.getFunction()
    calls = []

    def residual(*a):
        calls.append(1)
        if len(calls) == at_call and here:
            os.kill(os.getpid(), signal.SIGINT)
        assemble(*a, *args, **kwargs)

    snes.setFunction(residual, f)

    def restore() -> None:
        snes.setFunction(assemble, f, args=args, kargs=kwargs)

    restore.calls = calls
    return restore


def long_poisson(comm, prefix: str):
    """A Poisson LinearProblem on 48 x 48 (u = 0 on one side) that CG with Jacobi takes about 200
    iterations to solve, long enough to interrupt: the problem, its KSP limit 5000."""
    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import numpy as np
    import ufl

    msh = dolfinx.mesh.create_unit_square(comm, 48, 48)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    facets = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.isclose(x[0], 0.0))
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    return dolfinx.fem.petsc.LinearProblem(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, v * ufl.dx, bcs=[bc],
                                           petsc_options_prefix=prefix, petsc_options={"ksp_max_it": 5000})
