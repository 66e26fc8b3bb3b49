"""What the `highs` backend's child process costs a QP solve: the wall time of
``HiGHSBackend().solve(qp)`` with ``isolate_qp`` (the default: the QP goes to a child process and
its result comes back) against ``isolate_qp=False`` (solved here), and HiGHS' own ``seconds``,
which the bench times and which the child does not change. Not a bench figure: a user's wait.

    python benchmarks/highs_child_cost.py [--instances 30] [--repeat 3]

On generated portfolios (100 and 1,000 assets) and eight small Maros-Meszaros QPs that HiGHS
solves (``--data``); each figure is a median over the instances of the fastest of ``--repeat``
solves, after one solve that starts the child.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# small QPs HiGHS solves right (benchmarks/results/highs-qp-probe.txt), 2 to 271 variables
MAROS = ("HS21", "HS35", "HS76", "QAFIRO", "DUALC2", "QADLITTL", "CVXQP2_S", "QRECIPE")


def _fastest(backend, qp, repeat: int) -> tuple[float, float]:
    """(wall seconds, HiGHS' seconds) of the fastest of ``repeat`` solves."""
    best = (np.inf, np.inf)
    for _ in range(repeat):
        t = time.perf_counter()
        res = backend.solve(qp)
        wall = time.perf_counter() - t
        assert res.status == "optimal", (qp.name, res.status, res.message)
        best = min(best, (wall, res.seconds))
    return best


def main() -> int:
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.formats.mat import read_mat
    from problems.registry import make_family

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", type=int, default=30, help="generated instances per family")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "maros_meszaros"))
    a = ap.parse_args()
    groups = {
        f"portfolio ({a.instances})": make_family("portfolio").sample(a.instances, seed=1),
        f"portfolio:assets=1000,factors=30 ({a.instances})":
            make_family("portfolio:assets=1000,factors=30").sample(a.instances, seed=1),
        f"Maros-Meszaros ({len(MAROS)})": [read_mat(Path(a.data) / f"{n}.mat") for n in MAROS],
    }
    child, here = HiGHSBackend(), HiGHSBackend(isolate_qp=False)
    child.solve(groups[next(iter(groups))][0])  # starts the child (about a second), as a session's first QP does
    print(f"{'QPs':<42} {'wall, child ms':>15} {'wall, here ms':>14} {'HiGHS s, child ms':>18} "
          f"{'HiGHS s, here ms':>17}")
    for name, qps in groups.items():
        c = np.array([_fastest(child, qp, a.repeat) for qp in qps])
        h = np.array([_fastest(here, qp, a.repeat) for qp in qps])
        med = lambda v: float(np.median(v)) * 1e3  # noqa: E731
        print(f"{name:<42} {med(c[:, 0]):>15.2f} {med(h[:, 0]):>14.2f} {med(c[:, 1]):>18.2f} {med(h[:, 1]):>17.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
