"""What the PETSc backends' stop monitors cost a solve. ``ksp`` and ``snes`` put a Python
monitor on the problem's KSP (and SNES) for each solve, which ends the solve at its next
iteration once a Ctrl-C has come (``learned_solvers.backends.petsc.stopping_early``). Here the
backends' own ``seconds`` (what the bench times) with those monitors against without them, on
the same instances, with the same iteration counts. Not a bench figure.

    python benchmarks/petsc_stop_cost.py [--instances 5] [--repeat 50]

On darcy (64x64, CG with GAMG and with Jacobi, rtol 1e-8) and nonlinear-poisson (Newton); each
figure is a median over a group's instances of the fastest of ``--repeat`` solves, with and
without taking turns.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import learned_solvers.backends.petsc as petsc
    from learned_solvers.formats.dolfinx import petsc_handles
    from problems.registry import make_family

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", type=int, default=5, help="instances per group")
    ap.add_argument("--repeat", type=int, default=50)
    a = ap.parse_args()
    darcy, poisson = make_family("darcy"), make_family("nonlinear-poisson")
    groups = {
        "darcy, CG + GAMG": (darcy, petsc.KSPBackend(pc_type="gamg")),
        "darcy, CG + Jacobi": (darcy, petsc.KSPBackend(pc_type="jacobi")),
        "nonlinear-poisson, Newton": (poisson, petsc.SNESBackend()),
    }
    with_stop = petsc.stopping_early

    def fastest(fam, backend, inst) -> tuple[float, float, int]:
        """(the backend's seconds with the monitors, without them, iterations), fastest of ``repeat``."""
        best = [np.inf, np.inf]
        iterations = set()
        for _ in range(a.repeat):
            for i, stop in enumerate((with_stop, lambda *args: contextlib.nullcontext())):
                petsc.stopping_early = stop
                prob, _ = fam.load(inst)
                res = backend.solve(petsc_handles(prob), cold_guess=fam.cold_guess(prob.x.getLocalSize()))
                assert res.status == "optimal", (inst.name, res.status, res.message)
                best[i] = min(best[i], res.seconds)
                iterations.add(res.iterations)
        petsc.stopping_early = with_stop
        assert len(iterations) == 1, (inst.name, iterations)  # the monitors change no step
        return best[0], best[1], iterations.pop()

    print(f"{'instances':<32} {'iterations':>10} {'with, ms':>9} {'without, ms':>12} {'with / without':>15}")
    for name, (fam, backend) in groups.items():
        got = np.array([fastest(fam, backend, inst) for inst in fam.sample(a.instances, seed=1)])
        per = got[:, 0] / got[:, 1]
        print(f"{name + f' ({a.instances})':<32} {np.median(got[:, 2]):>10.0f} {np.median(got[:, 0]) * 1e3:>9.2f} "
              f"{np.median(got[:, 1]) * 1e3:>12.2f} {np.median(per):>15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
