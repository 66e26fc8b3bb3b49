"""What a bad warm start costs Newton before the cold retry (the README's "a warm Newton solve
that stalls"): for 3 draws of navier-stokes and nonlinear-poisson, the cold solve from zero, then
a start = the answer plus Gaussian noise of ``scale`` times its largest value, solved by the SNES
backend (max_it 50), which retries from the cold guess where the warm solve fails. Prints the
start's residual relative to the zero guess's, the Newton steps in all and how the warm solve
ended. The residual does not tell a start that stalls from one that converges (navier-stokes'
hardest draw stalls from a start whose residual is 3% of the zero guess's, where
nonlinear-poisson converges from one at 1e5 times it), so no test of the start's residual
before the solve could decline the starts that stall. Not a bench figure::

    python benchmarks/newton_bad_start.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCALES = (0.01, 0.05, 0.1, 0.5, 3.0, 30.0)


def residual_norm(handles: dict, values: np.ndarray) -> float:
    """||F(values)|| by the problem's own SNES residual."""
    snes, x = handles["snes"], handles["x"]
    f = x.duplicate()
    try:
        x.array[:] = values
        snes.computeFunction(x, f)
        return float(f.norm())
    finally:
        f.destroy()


def main() -> int:
    import dolfinx_solver  # noqa: F401  before dolfinx

    from learned_solvers.backends.petsc import SNESBackend
    from learned_solvers.formats.dolfinx import petsc_handles
    from problems.registry import make_family

    be = SNESBackend(rtol=1e-8, max_it=50)
    print(f"  {'family':<18} {'cold':>4}  {'noise':>5}  {'residual/zero':>13}  steps in all  warm solve")
    for spec in ("navier-stokes", "nonlinear-poisson"):
        fam = make_family(spec)
        for inst in fam.sample(3, seed=7):
            prob, _ = fam.load(inst)
            handles = petsc_handles(prob)
            zero = np.zeros(handles["x"].getLocalSize())
            cold = be.solve(handles, cold_guess=zero)
            f_zero = residual_norm(handles, zero)
            rng = np.random.default_rng(0)
            for scale in SCALES:
                bad = cold.x + scale * np.abs(cold.x).max() * rng.standard_normal(cold.x.shape)
                ratio = residual_norm(handles, bad) / f_zero
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = be.solve(handles, guess=bad, cold_guess=zero)
                print(f"  {spec:<18} {cold.iterations:>4}  {scale:>5}  {ratio:>13.3g}  {res.iterations:>12}  "
                      f"{res.extra.get('fallback') or 'converged from the start'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
