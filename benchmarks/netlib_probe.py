"""Cold PDLP (1e-6) on every optimal Netlib LP under 400k rows x columns: which ones take at
least 1,000 iterations (the issue's bar for an `mps:` benchmark family).

Usage: python benchmarks/netlib_probe.py [--data ../shared/data/netlib] > probe.txt
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from learned_solvers.backends.pdlp import PDLPBackend
    from learned_solvers.formats.mps import read_problem

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/netlib")
    ap.add_argument("--max-size", type=int, default=400_000, help="rows x columns")
    a = ap.parse_args()
    rows = [r for r in csv.DictReader(open(Path(a.data) / "optima.csv"))
            if r["status"] == "Optimal" and int(r["rows"]) * int(r["cols"]) < a.max_size]
    backend = PDLPBackend(tol=1e-6, iteration_limit=60_000, time_limit=20)
    print("name rows cols status iterations seconds")
    for r in sorted(rows, key=lambda r: int(r["rows"]) * int(r["cols"])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            res = backend.solve(read_problem(Path(a.data) / f"{r['name']}.mps.gz"))
        print(r["name"], r["rows"], r["cols"], res.status, res.iterations, f"{time.perf_counter() - t0:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
