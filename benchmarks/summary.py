"""Print the guides' markdown tables from benchmarks/results/*.json: the LP/QP runs
(docs/lp_qp.md), then the PDE runs (docs/pde.md).

    python benchmarks/summary.py [RESULTS_DIR] [--plot] [--write]

--plot also draws the guides' overview figures, RESULTS_DIR/overview_lp_qp.png and
overview_pde.png: every run's median iteration and time ratios, from the same reports.
--write also puts the two tables in place of the guides' own (tests/test_docs.py checks that
they are these).
"""

import json
import sys
from pathlib import Path

from targets import NOT_BENCH  # this script's directory is on sys.path

FLAGS = ("--plot", "--write")
args = [a for a in sys.argv[1:] if a not in FLAGS]
root = Path(args[0] if args else "benchmarks/results")
lp, pde = [], []
reports = {"lp_qp": {}, "pde": {}}
for p in sorted(root.glob("*.json")):
    if p.name.startswith(NOT_BENCH):
        continue
    r = json.loads(p.read_text())
    reports["pde" if r["solver"] in ("ksp", "snes") else "lp_qp"][p.stem] = r
    f = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    if r["solver"] in ("ksp", "snes"):
        opts = r["solver_options"]
        how = f"{opts['ksp_type']}+{opts['pc_type']}" if r["solver"] == "ksp" else "newton"
        pde.append(f"| {p.stem} | {how} | {r['cold']['iterations_median']:.1f} | {r['warm']['iterations_median']:.1f} | "
                   f"{r['iteration_ratio']:.3f} | {f(r['nearest_iteration_ratio'], '.3f')} | {r['time_ratio']:.3f} | "
                   f"{f(r.get('nearest_time_ratio'), '.3f')} | {f(r.get('oracle_time_ratio'), '.3f')} | "
                   f"{r['warm']['inference_seconds_median'] * 1e3:.1f} | "
                   f"{f(ext if (ext := r['warm'].get('extraction_seconds_median')) is None else ext * 1e3, '.1f')} | "
                   f"{r['prediction_rel_l2_median']:.1e} | {f(r.get('start_residual_median'), '.2g')} | "
                   f"{r['k']} | "
                   f"{r['same_answer']:.2f} | {r['cold_converged']}/{r['warm_converged_without_fallback']} |")
        continue
    lp.append(
        f"| {p.stem} | {r['cold']['iterations_median']:.0f} | {r['warm']['iterations_median']:.0f} | "
        f"{r['iteration_ratio']:.3f} | {r['nearest_iteration_ratio']:.3f} | {r['nearest_polished_iteration_ratio']:.3f} | "
        f"{r['time_ratio']:.3f} | {'0 (no network)' if r['k'] == 0 else r['k']} | "
        f"{('on' if r['polish'] else 'off') + (' (auto)' if r.get('polish_automatic') else '')} | "
        f"{r['same_answer']:.2f} | {f(r.get('raw_prediction_error_median'), '.2g')}{(' (linear anchor)' if r.get('anchor') == 'linear' else ' (nearest)') if r['k'] == 0 else ''} | "
        + ("-" if r.get("active_mismatch_median") is None else
           f"{r['active_mismatch_median']:.0f} / {f(r['nearest_active_mismatch_median'], '.0f')} of "
           f"{r['constraints']:.0f}")
        + " |"
    )
tables = {
    "lp_qp.md": "\n".join(["| run | cold iters | warm iters | iteration_ratio | nearest ratio | nearest+polish ratio "
                           "| time_ratio | k | polish | same_answer | network error | active set off: learned / nearest |",
                           "|---|---|---|---|---|---|---|---|---|---|---|---|", *lp]),
    "pde.md": "\n".join(["| run | solver | cold iters | warm iters | iteration_ratio | nearest ratio | time_ratio "
                         "| nearest time | time floor | inference ms | extraction ms | prediction error "
                         "| start residual | k | same_answer | converged cold/warm |",
                         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", *pde]),
}
print(tables["lp_qp.md"])
print()
print(tables["pde.md"])

if "--write" in sys.argv[1:]:
    docs = Path(__file__).resolve().parent.parent / "docs"
    for guide, table in tables.items():
        lines = (docs / guide).read_text().split("\n")
        header = table.split("\n", 1)[0]
        if header not in lines:
            sys.exit(f"docs/{guide}: no table of runs to replace (no line is its header); paste the table printed "
                     "above where it belongs, then --write keeps it current")
        start = lines.index(header)  # the guide's table of runs: its header, then its rows up to the first other line
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("|")), len(lines))
        (docs / guide).write_text("\n".join(lines[:start] + table.split("\n") + lines[end:]))
        print(f"table written to docs/{guide}", file=sys.stderr)

if "--plot" in sys.argv[1:]:
    from learned_solvers.bench.plots import plot_overview

    for kind, reps in reports.items():
        if reps:
            print(f"plot written to {plot_overview(reps, root / f'overview_{kind}.png')}", file=sys.stderr)
