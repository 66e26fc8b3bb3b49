"""What a bad warm start costs Newton before the cold retry (the README's "a warm Newton solve
that stalls"): for 3 draws of navier-stokes and nonlinear-poisson, the cold solve from zero, then
a start = the answer plus Gaussian noise of ``scale`` times its largest value, solved by the SNES
backend (max_it 50), which retries from the cold guess where the warm solve fails. Prints the
Newton steps in all and how the warm solve ended. Not a bench figure::

    python benchmarks/newton_bad_start.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import dolfinx_solver  # noqa: F401  before dolfinx

    from learned_solvers.backends.petsc import SNESBackend
    from learned_solvers.formats.dolfinx import petsc_handles
    from problems.registry import make_family

    be = SNESBackend(rtol=1e-8, max_it=50)
    for spec in ("navier-stokes", "nonlinear-poisson"):
        fam = make_family(spec)
        for inst in fam.sample(3, seed=7):
            prob, _ = fam.load(inst)
            zero = np.zeros(petsc_handles(prob)["x"].getLocalSize())
            cold = be.solve(petsc_handles(prob), cold_guess=zero)
            rng = np.random.default_rng(0)
            for scale in (0.5, 3.0, 30.0):
                bad = cold.x + scale * np.abs(cold.x).max() * rng.standard_normal(cold.x.shape)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = be.solve(petsc_handles(prob), guess=bad, cold_guess=zero)
                print(f"  {spec:<18} cold {cold.iterations:>3}  noise {scale:>4}  steps in all {res.iterations:>3}  "
                      f"{res.extra.get('fallback') or 'converged from the start'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
