"""Newton (``SNESBackend``, rtol 1e-8) from a cold guess at or near the answer, as a script that
keeps ``u`` from its last solve starts: the problem solved again (the answer), or its answer
moved by a relative ``eps`` (a small change of the data), against the zero guess. Per family and
start: the status, Newton steps and milliseconds (median of ``--repeats``; the backend's call,
the tolerance's residual evaluations included). Not a bench figure::

    python benchmarks/newton_near_answer.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("dolfinx:tests.dolfinx_user_problem:build_semilinear",
            "dolfinx:tests.dolfinx_user_problem:build_coupled_blocks", "nonlinear-poisson:n=32", "navier-stokes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="solves per start (default 5; the median is reported)")
    p.add_argument("--families", nargs="+", default=list(FAMILIES))
    p.add_argument("--seed", type=int, default=0, help="the draw of each family (default 0)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    import dolfinx_solver  # noqa: F401  (before dolfinx and petsc4py)

    from learned_solvers.backends.petsc import SNESBackend
    from learned_solvers.formats.dolfinx import petsc_handles
    from problems.registry import make_family

    print("| family | cold guess | status | Newton steps | ms |")
    print("|---|---|---|---|---|")
    for spec in args.families:
        fam = make_family(spec)
        prob, _ = fam.load(fam.sample(1, seed=args.seed)[0])
        h = petsc_handles(prob)
        n = h["x"].getLocalSize()
        be = SNESBackend(rtol=1e-8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            answer = be.solve(h).x[:n]
            moved = np.random.default_rng(0).standard_normal(n) * np.abs(answer).max()
            for what, cold in (("zero", np.zeros(n)), ("the answer", answer),
                               ("the answer moved by 1e-6", answer + 1e-6 * moved),
                               ("the answer moved by 1e-3", answer + 1e-3 * moved)):
                runs = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    res = be.solve(h, cold_guess=cold)
                    runs.append((time.perf_counter() - t, res))
                secs, res = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
                step = " (by the step test)" if res.extra.get("step_converged") else ""
                print(f"| {spec} | {what} | {res.status}{step} | {res.iterations} | {1e3 * secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
