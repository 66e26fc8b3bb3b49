"""Where "warm ends as cold" stops holding: small Netlib LPs with one nonzero of A multiplied by
10^s, each solved cold and from a far start (``warm_solve``, as every warm solve runs) by each
backend. Counted per s: the warm status equal to the cold one, and, where both are optimal, the
backend's ``same_answer`` (objectives within its tolerance); then how the solves whose statuses
differ ended. The solvers' tolerances are relative to the data's norms, so on a matrix whose
nonzeros span many orders of magnitude two points a solver accepts can lie far apart
(docs/lp_qp.md, "Badly scaled data").

Usage: python benchmarks/ill_scaled_probe.py [--data ../shared/data] [--per-scale 40] [--seed 0]
       [--scales 0 4 6 8 10] > benchmarks/results/ill-scaled-probe.txt   (7 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILES = ("afiro", "sc50a", "sc50b", "blend", "kb2", "recipe", "sc105")
SOLVERS = ("highs", "pdlp", "osqp", "scs")


def main() -> int:
    from learned_solvers import read_problem
    from learned_solvers.backends import WarmStart, make_backend
    from learned_solvers.warmstart import warm_solve

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--per-scale", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scales", type=int, nargs="+", default=[0, 4, 6, 8, 10], help="the powers of 10 s")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    base = {f: read_problem(Path(args.data) / "netlib" / f"{f}.mps.gz") for f in FILES}
    print(f"# one nonzero of A times 10^s in a small Netlib LP ({', '.join(FILES)}); each solver cold and from a "
          f"far start (x, y ~ 100 N(0, 1)) through warm_solve; {args.per_scale} edits per s, seed {args.seed}")
    print("# columns per solver: warm status = cold status, and of the instances both solved optimal, same_answer")
    print(f"{'s':>3} {'range (median)':>15}  " + "  ".join(f"{s:>16}" for s in SOLVERS))
    t0, differ = time.perf_counter(), Counter()
    for s in args.scales:
        same_status, agree, both, ranges = Counter(), Counter(), Counter(), []
        for _ in range(args.per_scale):
            qp = base[FILES[rng.integers(len(FILES))]]
            A = qp.A.tocsr(copy=True)
            A.data[rng.integers(A.nnz)] *= 10.0 ** s
            edited = qp.with_data(A=A)
            ranges.append(np.abs(A.data[A.data != 0]).max() / np.abs(A.data[A.data != 0]).min())
            ws = WarmStart(x=100 * rng.standard_normal(qp.n), y=100 * rng.standard_normal(qp.m))
            for name in SOLVERS:
                be = make_backend(name, **({"time_limit": 10.0} if name == "pdlp" else {}))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cold, warm = be.solve(edited), warm_solve(be, edited, ws)
                same_status[name] += cold.status == warm.status
                if cold.status != warm.status:
                    differ[(s, name, cold.status, warm.status)] += 1
                if cold.status == warm.status == "optimal":
                    both[name] += 1
                    agree[name] += be.same_answer(warm, cold)
        n = args.per_scale
        print(f"{s:>3} {np.median(ranges):>15.1e}  "
              + "  ".join(f"{f'{same_status[k]}/{n}, {agree[k]}/{both[k]}':>16}" for k in SOLVERS), flush=True)
    print("# where the statuses differ (s, solver: cold -> warm, count)")
    for (s, name, c, w), k in sorted(differ.items()):
        print(f"{s:>3} {name}: {c} -> {w}, {k}")
    print(f"# {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
