"""Why an `mps:` family drops instances as unbounded: each draw solved cold by HiGHS, PDLP, SCS
and Clarabel (their statuses counted), and for each draw HiGHS finds unbounded, HiGHS's primal
ray d (A d within the rows' recession cone, d within the bounds') and its cost under the file's
own costs and under the draw's. A ray whose cost changes sign is a direction of small net cost
that the draw's independent cost factors tipped downhill (docs/lp_qp.md).

Usage: python benchmarks/unbounded_probe.py [--family mps:../shared/data/netlib/blend.mps.gz]
       [--draws 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SOLVERS = ("highs", "pdlp", "scs", "clarabel")


def highs_ray(qp) -> np.ndarray | None:
    """HiGHS's primal ray of an unbounded LP (simplex, no presolve, so that it has one), on the
    model the project's HiGHS backend builds."""
    from learned_solvers.backends.highs import HiGHSBackend

    h = HiGHSBackend(method="simplex", presolve=False)._highs(qp)
    h.run()
    *_, has, ray = h.getPrimalRay()
    return np.asarray(ray) if has else None


def main() -> int:
    from learned_solvers.backends import make_backend
    from problems.registry import make_family

    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="mps:../shared/data/netlib/blend.mps.gz")
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    fam = make_family(a.family)
    draws = fam.sample(a.draws, seed=a.seed)
    status: dict[str, list[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a solver's note on an unbounded draw: the status says it
        for name in SOLVERS:
            backend = make_backend(name)
            status[name] = [str(backend.solve(q).status) for q in draws]
    print(f"{a.family}: {a.draws} draws at seed {a.seed}")
    for name in SOLVERS:
        print(f"  {name:9s}", ", ".join(f"{s} {n}" for s, n in sorted(Counter(status[name]).items())))
    agree = sum(len({status[s][i] for s in SOLVERS}) == 1 for i in range(a.draws))
    print(f"  the four agree on {agree} of {a.draws}")
    base = getattr(fam, "base", None)
    print("unbounded for HiGHS: draw, ray support, |A d| max, ray cost under the file's costs, under the draw's")
    for q, s in zip(draws, status["highs"]):
        if s != "unbounded":
            continue
        d = highs_ray(q)
        if d is None:
            print(f"  {q.name}: HiGHS gives no ray")
            continue
        own = f"{float(base.c @ d):.3g}" if base is not None else "-"
        print(f"  {q.name}: {int((np.abs(d) > 1e-9).sum())} columns, {float(np.abs(q.A @ d).max(initial=0.0)):.1e}, "
              f"{own}, {float(q.c @ d):.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
