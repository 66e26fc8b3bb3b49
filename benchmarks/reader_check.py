"""Every file of the shared benchmark sets read by ``read_problem`` and solved from its canonical
form, against the set's reference figure: the check that the adapters read these files as the
references did (bounds, ranges, signs, objective offsets, integrality).

- ``netlib/``: HiGHS on the canonical LP, against ``optima.csv`` (HiGHS simplex on the file);
- ``maros_meszaros/``: Clarabel at 1e-9 on the canonical QP, against ``optima.csv`` (Clarabel
  0.11 at its defaults); where the two differ by more than the tolerance, our answer's relative
  KKT residuals say how far it is from an optimum of the canonical form (HiGHS's QP solver is no
  second reading: it calls some wrong answers optimal, docs/lp_qp.md "HiGHS on QPs");
- ``miplib3/``: HiGHS on the LP relaxation (integrality dropped), against ``catalogue.csv``'s
  LP relaxation value (given to 5-11 digits, cut short: agreement to one unit of the last), and the
  integer count against its ``int_vars``;
- where an LP's figure differs, SCIP reads the file with its own reader and solves it (the
  relaxation) for a second figure.

Usage: python benchmarks/reader_check.py [--data ../shared/data] [--sets netlib,maros_meszaros,miplib3]
       [--tol 1e-6] > benchmarks/results/reader-check.txt
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETS = ("netlib", "maros_meszaros", "miplib3")


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def _scip_objective(path: Path) -> float:
    """SCIP's own reader and LP solve of the file (integrality dropped): a second reading."""
    import pyscipopt

    m = pyscipopt.Model()
    m.hideOutput()
    m.readProblem(str(path))
    for v in m.getVars():
        if v.vtype() != "CONTINUOUS":
            m.chgVarType(v, "C")
    m.optimize()
    return m.getObjVal() if m.getStatus() == "optimal" else float("nan")


def main() -> int:
    from learned_solvers._provenance import provenance
    from learned_solvers.backends.clarabel import ClarabelBackend
    from learned_solvers.backends.base import Status
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.canonical.qp import kkt_residuals
    from learned_solvers.formats.mps import read_problem

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--tol", type=float, default=1e-6, help="relative objective difference read as agreement")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per solve")
    a = ap.parse_args()
    sets = a.sets.split(",")
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        ap.error(f"unknown set(s) {unknown}; choose from {list(SETS)}")
    prov = provenance()
    print(f"# commit {prov['commit']} (code changed since: {prov['code_changed']}), written {prov['written_utc']}, "
          f"{prov['machine']['platform']}")
    totals = []
    for name in sets:
        root = Path(a.data) / name
        ref_file = root / ("catalogue.csv" if name == "miplib3" else "optima.csv")
        rows = list(csv.DictReader(open(ref_file)))
        cut = ", or to one unit of the reference's last printed digit" if name == "miplib3" else ""
        print(f"\n## {name}: {len(rows)} files against {ref_file.name} (relative difference: at most {a.tol:g} agrees"
              f"{cut})")
        print("name status objective reference rel_diff verdict seconds")
        agree = differ = other = 0
        for r in rows:
            path = root / (f"{r['name']}.mat" if name == "maros_meszaros" else f"{r['name']}.mps.gz")
            if not path.is_file():
                other += 1
                print(f"{r['name']} - - - - no comparison (listed in {ref_file.name}, no file) -")
                continue
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    qp = read_problem(path)
                except Exception as exc:  # a file the reader refuses is a finding, and the others still run
                    differ += 1
                    print(f"{r['name']} - - - - DIFFERS (not read: {type(exc).__name__}: {exc}) -", flush=True)
                    continue
                note, tol = "", a.tol
                if name == "miplib3":
                    n_int = int(qp.integrality.sum()) if qp.integrality is not None else 0
                    note = f" integers {n_int}/{r['int_vars']}"
                    qp = qp.relaxation()
                    ref = float(r["lp_relaxation"])
                    # the catalogue cuts its figures short (48.7999 for 48.79999856): one unit of the last digit
                    digits = len(r["lp_relaxation"].partition(".")[2])
                    tol = max(a.tol, 10.0 ** -digits / max(1.0, abs(ref)))
                else:
                    ref = float(r["objective"]) if r["status"] in ("Optimal", "Solved") else float("nan")
                backend = (ClarabelBackend(time_limit=a.time_limit) if name == "maros_meszaros"
                           else HiGHSBackend(time_limit=a.time_limit))
                res = backend.solve(qp)
                rel = _rel(res.objective, ref) if res.status == Status.OPTIMAL else float("nan")
                if name == "maros_meszaros" and res.status == Status.OPTIMAL and not rel <= tol:
                    k = kkt_residuals(qp, res.x, res.y)
                    note += f" ours: relative KKT residuals primal {k.primal:.1e} dual {k.dual:.1e} gap {k.gap:.1e}"
                elif res.status == Status.OPTIMAL and not rel <= tol:
                    scip = _scip_objective(path)
                    note += f" scip {scip!r} (rel to ours {_rel(scip, res.objective):.1e})"
            if name == "miplib3" and n_int != int(r["int_vars"]):
                verdict = "DIFFERS"
            elif rel <= tol:
                verdict = "agrees"
            elif not math.isnan(rel):
                verdict = "DIFFERS"
            else:
                verdict = f"no comparison (reference {r.get('status', '?')}, ours {res.status})"
            agree += verdict == "agrees"
            differ += verdict == "DIFFERS"
            other += verdict.startswith("no")
            print(f"{r['name']} {res.status} {res.objective!r} {ref!r} {rel:.1e} {verdict} "
                  f"{time.perf_counter() - t0:.2f}{note}", flush=True)
        totals.append(f"{name}: {agree} agree, {differ} differ, {other} without a comparison")
        print(totals[-1])
    print("\n# " + "; ".join(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
