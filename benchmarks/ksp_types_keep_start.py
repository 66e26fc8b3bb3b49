"""Which PETSc KSP types keep the start they are given, as the start watch of
``backends.petsc._start_watched`` reads it: at the Krylov method's first iteration, has the
solution's object state moved, and do its values differ from the start? Each type solves a
Poisson problem (n x n unit square, P1, Dirichlet on two sides) from its solution times 1.001,
without and then with a KSPGuess set by a call (``setUseFischerGuess(1, 10)``, which replaces
any start). Not a bench figure::

    python benchmarks/ksp_types_keep_start.py [--n 16]

A type whose state moves with its values unchanged (ibcgs) keeps the start: the watch compares
values where the state moved. One whose values differ without a KSPGuess (gltr, a trust-region
method that starts from zero) drops it, and the watch says so at each solve.
"""

from __future__ import annotations

import argparse

import numpy as np

TYPES = ("cg", "gmres", "fgmres", "minres", "bcgs", "richardson", "cgne", "cgs", "tfqmr", "bicg", "cr", "gcr",
         "lgmres", "pipecg", "fcg", "bcgsl", "ibcgs", "dgmres", "pgmres", "symmlq", "lsqr", "gltr",
         "pipefgmres", "groppcg", "pipecr", "qmrcgs", "tcqmr", "fbcgs", "pipebcgs", "chebyshev")
"""chebyshev last: a process that has solved with it ends in a SEGV at exit (dolfinx 0.11, PETSc 3.25; also a
script's own ``problem.solve()`` with no start or monitor), and a solve after it had crashed"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=16)
    args = p.parse_args()

    from ksp_view_cost import poisson  # beside this script

    print(f"Poisson {args.n}x{args.n}, PC jacobi (lsqr: none); at the first iteration: state moved, values moved")
    for kind in TYPES:
        problem = poisson(args.n, f"keep_{kind}_", {"ksp_type": kind, "pc_type": "none" if kind == "lsqr" else "jacobi",
                                                    "ksp_rtol": 1e-8, "ksp_max_it": 20000})
        problem.solve()
        ksp, x, b = problem.solver, problem.x, problem.b
        start = 1.001 * x.getArray().copy()
        row = []
        for fischer in (False, True):
            if fischer:
                ksp.setUseFischerGuess(1, 10)
            x.setArray(start)
            x.ghostUpdate()
            ksp.setInitialGuessNonzero(True)
            before, seen = x.stateGet(), []

            def first(k, its, rnorm):
                if not seen:
                    sol = k.getSolution()
                    seen.append((its, sol.stateGet() != before, not np.array_equal(sol.getArray(), start)))

            ksp.setMonitor(first)
            ksp.solve(b, x)
            ksp.cancelMonitor()
            label = "with a Fischer guess" if fischer else "plain"
            row.append(f"{label}: " + ("no report at iteration 0" if not seen or seen[0][0] != 0 else
                                       f"{'yes' if seen[0][1] else 'no'}, {'yes' if seen[0][2] else 'no'}"))
        print(f"  {kind:<11} " + " | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
