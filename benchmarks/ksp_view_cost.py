"""What reading a KSP's KSPGuess costs, each time. petsc4py reads no KSPGuess back, so
``backends.petsc._viewed_guess_type`` finds one set by a call (``ksp.setUseFischerGuess``) in the
KSP's ASCII view, once per KSP, rather than before every solve, at this cost; one set by a call
after the KSP's first learned start is found at the solve it spoils, by comparing the solution
at the first Krylov iteration with the start (``backends.petsc._start_watched``). Not a bench
figure.

    python benchmarks/ksp_view_cost.py [--n 64] [--repeat 20]

A Poisson problem on an n x n unit square (P1, Dirichlet on two sides), CG with GAMG and with
Jacobi, solved once; then the median time of ``_viewed_guess_type`` with its kept answer
cleared, against the median of the problem's own ``solve()`` on the set-up KSP; and the median
of a KSP solve from a start 1% off the solution with ``_start_watched`` on and off, taken in turns.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def poisson(n: int, prefix: str, petsc_options: dict) -> object:
    """A ``LinearProblem``: -div grad u = 1 on an n x n unit square, P1, u = 0 on two sides."""
    import dolfinx_solver  # noqa: F401  before dolfinx
    import dolfinx
    import dolfinx.fem.petsc
    import ufl
    from mpi4py import MPI

    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    sides = dolfinx.fem.locate_dofs_geometrical(V, lambda x: np.isclose(x[0], 0) | np.isclose(x[0], 1))
    bc = dolfinx.fem.dirichletbc(0.0, sides, V)
    return dolfinx.fem.petsc.LinearProblem(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, v * ufl.dx, bcs=[bc],
                                           petsc_options_prefix=prefix, petsc_options=petsc_options)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()

    from learned_solvers.backends.petsc import _VIEWED_GUESS, _start_watched, _viewed_guess_type

    print(f"Poisson {args.n}x{args.n}, medians of {args.repeat}")
    for pc in ("gamg", "jacobi"):
        problem = poisson(args.n, f"view_{pc}_", {"ksp_type": "cg", "pc_type": pc, "ksp_rtol": 1e-8})
        problem.solve()
        ksp, viewed, solved = problem.solver, [], []
        for _ in range(args.repeat):
            ksp.setAttr(_VIEWED_GUESS, None)
            t0 = time.perf_counter()
            _viewed_guess_type(ksp)
            viewed.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            problem.solve()
            solved.append(time.perf_counter() - t0)
        print(f"  CG + {pc}: the view {1e3 * np.median(viewed):.2f} ms, the solve {1e3 * np.median(solved):.2f} ms "
              f"({ksp.getIterationNumber()} iterations)")
        x, b, start = problem.x, problem.b, 1.01 * problem.x.getArray().copy()
        timed: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):
            for watch in (False, True):
                x.setArray(start)
                x.ghostUpdate()
                ksp.setInitialGuessNonzero(True)
                t0 = time.perf_counter()
                with _start_watched(ksp, x, start if watch else None) as replaced:
                    ksp.solve(b, x)
                replaced()
                timed[watch].append(time.perf_counter() - t0)
        ksp.setInitialGuessNonzero(False)
        print(f"  CG + {pc} from a start 1% off ({ksp.getIterationNumber()} iterations): watched "
              f"{1e3 * np.median(timed[True]):.3f} ms, not watched {1e3 * np.median(timed[False]):.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
