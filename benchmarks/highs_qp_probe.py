"""Is HiGHS' QP solver safe to use? Cold HiGHS (the `highs` backend: its defaults, a time limit) on every
Maros-Meszaros QP that Clarabel solved for the reference, each in its own process so that a
crash of the solver is recorded instead of ending the probe: its status and, where it says
optimal, the relative error of its objective against the reference optimum (Clarabel 0.11,
``maros_meszaros/optima.csv``).

Verdicts: ``right`` (optimal, within 1e-4 of the reference: some references differ from other
solvers' optima by about 1e-5), ``WRONG`` (optimal, further off), ``no answer`` (a time limit or
HiGHS' "Solve error": the backend then says which solvers to try), ``CRASH`` (the process died),
``HANG`` (still running at twice the time limit + 60 s: killed).

Usage: python benchmarks/highs_qp_probe.py [--data ../shared/data/maros_meszaros]
       [--time-limit 30] [--max-size 40000] > benchmarks/results/highs-qp-probe.txt
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one(path: str, time_limit: float) -> None:
    """The child: solve one file and print ``status objective seconds``."""
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.formats.mps import read_problem

    res = HiGHSBackend(time_limit=time_limit).solve(read_problem(path))
    print(f"RESULT {res.status} {res.objective!r} {res.seconds:.2f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/maros_meszaros")
    ap.add_argument("--time-limit", type=float, default=30.0, help="HiGHS' time limit per QP, seconds")
    ap.add_argument("--max-size", type=int, default=40_000, help="variables + constraints")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        one(a.one, a.time_limit)
        return 0
    with open(Path(a.data) / "optima.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "Solved" and int(r["n"]) + int(r["m"]) <= a.max_size]
    print(f"HiGHS (highs backend, time limit {a.time_limit:g} s) on {len(rows)} Maros-Meszaros QPs "
          f"(Clarabel's 'Solved' ones, n + m <= {a.max_size}), each in its own process")
    print(f"{'name':<10} {'n':>6} {'m':>6} {'status':<9} {'objective':>22} {'reference':>22} {'rel. error':>10}  "
          "verdict")
    verdicts: Counter[str] = Counter()
    for r in rows:
        try:
            proc = subprocess.run([sys.executable, __file__, "--one", str(Path(a.data) / f"{r['name']}.mat"),
                                   "--time-limit", str(a.time_limit)], capture_output=True, text=True,
                                  timeout=a.time_limit * 2 + 60)
        except subprocess.TimeoutExpired:
            proc = None
        line = proc and next((ln.split() for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        ref = float(r["objective"])
        if proc is None:
            status, obj, err, verdict = "killed", float("nan"), float("nan"), "HANG"
        elif line is None:
            status, obj, err, verdict = f"rc{proc.returncode}", float("nan"), float("nan"), "CRASH"
        else:
            status, obj = line[1], float(line[2])
            err = abs(obj - ref) / max(1.0, abs(ref)) if status == "optimal" else float("nan")
            verdict = ("right" if err <= 1e-4 else "WRONG") if status == "optimal" else "no answer"
        verdicts[verdict] += 1
        print(f"{r['name']:<10} {r['n']:>6} {r['m']:>6} {status:<9} {obj:>22.12g} {ref:>22.12g} {err:>10.1e}  "
              f"{verdict}", flush=True)
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
