"""The start watch (``backends.petsc._start_watched``) on the test suite's own linear dolfinx
problems (``tests/dolfinx_user_problem.py``: fieldsplit, nest, MINRES, HDG, curl-curl, surfaces,
...): each solved cold on its own KSP, then from the cold answer moved by 1e-3, and whether the
watch said PETSc replaced that start (it should not: none of these forms its own guess). Not a
bench figure::

    python benchmarks/start_watch_sweep.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUILDERS = ("build", "build_cube", "build_singular", "build_loose", "build_short", "build_absolute",
            "build_stokes_preconditioned", "build_stokes_fieldsplit", "build_stokes", "build_neumann",
            "build_stokes_nest", "build_stokes_blocks", "build_elasticity", "build_mixed_poisson", "build_dg_poisson",
            "build_hdg", "build_curl_curl", "build_surface", "build_finite_volume", "build_annulus", "build_interval",
            "build_diagonal_scale")


def main() -> int:
    import dolfinx_solver  # noqa: F401  before dolfinx

    from learned_solvers.backends.petsc import KSPBackend
    from learned_solvers.formats.dolfinx import petsc_handles
    from problems.registry import make_family

    flagged = 0
    for name in BUILDERS:
        fam = make_family(f"dolfinx:tests.dolfinx_user_problem:{name}")
        prob, _ = fam.load(fam.sample(1, seed=3)[0])
        be = KSPBackend(ksp_type=None, pc_type=None, rtol=1e-8, max_it=10000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cold = be.solve(petsc_handles(prob))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            warm = be.solve(petsc_handles(prob), guess=cold.x * (1 + 1e-3))
        said = any("over the start" in str(w.message) for w in seen)
        flagged += said
        print(f"  {name:<28} {prob.solver.getType():<7} cold {cold.iterations:>5}  warm {warm.iterations:>5}  "
              f"taken {warm.warm_start_accepted}  said replaced {said}", flush=True)
    print(f"{flagged} of {len(BUILDERS)} said replaced")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
