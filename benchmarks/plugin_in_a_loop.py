"""What making a cvxpy plugin inside a loop costs: cvxpy's Parameter idiom
(``tests/cvxpy_parametrized.py``) solved ``--solves`` times with ``LearnedOSQP`` made once
before the loop, made anew for every solve, and with ``cp.OSQP`` cold; mean milliseconds per
solve (compilation included, as a script sees it). Not a bench figure: it times the calls
around the solve, at the checkpoint's automatic k and at k = 1, which builds the network::

    python benchmarks/plugin_in_a_loop.py --dir runs/plugin_in_a_loop   # trains a tiny checkpoint once
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _per_solve(solve, count: int) -> float:
    """Mean milliseconds of ``solve(i)`` over ``count`` instances."""
    t = time.perf_counter()
    for i in range(count):
        solve(i)
    return 1e3 * (time.perf_counter() - t) / count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, default=Path("runs/plugin_in_a_loop"), help="where the checkpoint is kept")
    p.add_argument("--solves", type=int, default=20, help="solves per way (default 20)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    import cvxpy as cp

    from learned_solvers import as_qp, train
    from learned_solvers.cvxpy_plugin import LearnedOSQP
    from tests import cvxpy_parametrized as model

    ck = args.dir / "parametrized.safetensors"
    if not ck.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        snapshots = []
        for seed in range(30):
            model.build(np.random.default_rng(seed))
            snapshots.append(as_qp(model.problem))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # whether the start pays at this size is bench's question
            train(snapshots, solver="osqp", scheduler="serial", progress=False, out=ck)

    def draw(i: int) -> None:
        model.build(np.random.default_rng(100 + i))

    def each_way(k: int | None) -> tuple[float, float]:
        once = LearnedOSQP(ck, k=k)
        made_once = _per_solve(lambda i: (draw(i), model.problem.solve(solver=once)), args.solves)
        made_each = _per_solve(lambda i: (draw(i), model.problem.solve(solver=LearnedOSQP(ck, k=k))), args.solves)
        return made_once, made_each

    model.build(np.random.default_rng(0))
    model.problem.solve(solver=LearnedOSQP(ck, k=1))  # torch's import and first calls, out of the figures
    for k in (None, 1):
        once, each = each_way(k)
        cold = _per_solve(lambda i: (draw(i), model.problem.solve(solver=cp.OSQP)), args.solves)
        said = "the checkpoint's k" if k is None else f"k = {k}"
        print(f"{said}: plugin made once {once:.1f} ms per solve, made for each solve {each:.1f} ms; "
              f"cp.OSQP cold {cold:.1f} ms ({args.solves} solves each)")


if __name__ == "__main__":
    main()
