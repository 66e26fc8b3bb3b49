"""What the `highs` backend's stop callback costs an LP solve. The backend gives HiGHS a callback
that its simplex and IPM call about once an iteration, which ends the run once a Ctrl-C has come
(``learned_solvers._interrupt.stop_asked``). Here HiGHS' own ``seconds`` (what the bench times)
with that callback against without it, on the same LPs, with the same iteration counts. Not a
bench figure.

    python benchmarks/highs_stop_cost.py [--instances 10] [--repeat 5]

On small Netlib LPs (``--data``) and generated random-lp instances; each figure is a median over
a group's instances of the fastest of ``--repeat`` solves, with and without taking turns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NETLIB = ("afiro", "sc50a", "sc105", "kb2", "blend", "scagr25", "sctap1", "share1b", "ship04s", "scsd6")


def main() -> int:
    import learned_solvers.backends.highs as highs
    from learned_solvers.formats.mps import read_problem
    from problems.registry import make_family

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", type=int, default=10, help="generated instances per size")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "netlib"))
    a = ap.parse_args()
    groups = {
        f"Netlib ({len(NETLIB)})": [read_problem(Path(a.data) / f"{n}.mps.gz") for n in NETLIB],
        f"random-lp:m=200,n=400 ({a.instances})": make_family("random-lp:m=200,n=400").sample(a.instances, seed=1),
        f"random-lp:m=500,n=1000 ({a.instances})": make_family("random-lp:m=500,n=1000").sample(a.instances, seed=1),
    }
    backend, with_stop = highs.HiGHSBackend(), highs._stop_on

    def fastest(qp) -> tuple[float, float, int]:
        """(HiGHS' seconds with the callback, without it, iterations), fastest of ``repeat``."""
        best = [np.inf, np.inf]
        iterations = set()
        for _ in range(a.repeat):
            for i, stop in enumerate((with_stop, lambda h, asked: None)):
                highs._stop_on = stop
                res = backend.solve(qp)
                assert res.status == "optimal", (qp.name, res.status, res.message)
                best[i] = min(best[i], res.seconds)
                iterations.add(res.iterations)
        highs._stop_on = with_stop
        assert len(iterations) == 1, (qp.name, iterations)  # the callback changes no step
        return best[0], best[1], iterations.pop()

    print(f"{'LPs':<32} {'iterations':>10} {'with, ms':>9} {'without, ms':>12} {'with / without':>15}")
    for name, qps in groups.items():
        got = np.array([fastest(qp) for qp in qps])
        per = got[:, 0] / got[:, 1]
        print(f"{name:<32} {np.median(got[:, 2]):>10.0f} {np.median(got[:, 0]) * 1e3:>9.2f} "
              f"{np.median(got[:, 1]) * 1e3:>12.2f} {np.median(per):>15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
