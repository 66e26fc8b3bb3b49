"""Is HiGHS' QP solver safe to use? Cold HiGHS (the `highs` backend: its defaults, a time limit) on every
Maros-Meszaros QP that Clarabel solved for the reference: its status and, where it says optimal,
the relative error of its objective against the reference optimum (Clarabel 0.11,
``maros_meszaros/optima.csv``). The backend solves each QP in its child process
(``isolate_qp``, its default), so that a crash of the solver is recorded instead of ending the
probe.

Verdicts: ``right`` (optimal, within 1e-4 of the reference: some references differ from other
solvers' optima by about 1e-5), ``WRONG`` (optimal, further off), ``caught`` (HiGHS said optimal
and the backend's check found a feasible point with a lower objective: an ``error`` result),
``no answer`` (a time limit or HiGHS' "Solve error": the backend then says which solvers to
try), ``CRASH`` (the child process died), ``HANG`` (no answer at twice the time limit + 10 s:
the child was ended). ``checked``: whether the backend's check ran (HiGHS' pair not a KKT point
to ``QP_CHECK_TOL``) with that pair's relative KKT residual, and HiGHS' objective where it was caught.

Usage: python benchmarks/highs_qp_probe.py [--data ../shared/data/maros_meszaros]
       [--time-limit 30] [--max-size 40000] > benchmarks/results/highs-qp-probe.txt
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.formats.mat import read_mat

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/maros_meszaros")
    ap.add_argument("--time-limit", type=float, default=30.0, help="HiGHS' time limit per QP, seconds")
    ap.add_argument("--max-size", type=int, default=40_000, help="variables + constraints")
    a = ap.parse_args()
    with open(Path(a.data) / "optima.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "Solved" and int(r["n"]) + int(r["m"]) <= a.max_size]
    print(f"HiGHS (highs backend, time limit {a.time_limit:g} s) on {len(rows)} Maros-Meszaros QPs "
          f"(Clarabel's 'Solved' ones, n + m <= {a.max_size}), each in the backend's child process")
    print(f"{'name':<10} {'n':>6} {'m':>6} {'status':<9} {'objective':>22} {'reference':>22} {'rel. error':>10}  "
          "verdict  checked")
    backend = HiGHSBackend(time_limit=a.time_limit)
    verdicts: Counter[str] = Counter()
    for r in rows:
        res = backend.solve(read_mat(Path(a.data) / f"{r['name']}.mat"))
        ref = float(r["objective"])
        ended = res.extra.get("ended")
        status, obj = (ended or res.status), res.objective
        err = abs(obj - ref) / max(1.0, abs(ref)) if res.status == "optimal" else float("nan")
        check = res.extra.get("qp_check")
        caught = res.status == "error" and check is not None
        if ended:
            verdict = {"crash": "CRASH", "hang": "HANG"}[ended]
        elif caught:
            verdict = "caught"
        else:
            verdict = ("right" if err <= 1e-4 else "WRONG") if res.status == "optimal" else "no answer"
        verdicts[verdict] += 1
        said = f" (HiGHS: {res.message.split('(objective ')[1].split(',')[0]})" if caught else ""
        checked = f"yes, KKT {check['kkt_residual']:.1e}" if check else "no"
        print(f"{r['name']:<10} {r['n']:>6} {r['m']:>6} {status:<9} {obj:>22.12g} {ref:>22.12g} {err:>10.1e}  "
              f"{verdict:<9}  {checked}{said}", flush=True)
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
