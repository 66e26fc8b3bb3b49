"""Print the README's tables of the acceptance targets, read from the committed reports
(benchmarks/results/NAME.json): the LP/QP and PDE issues' from the bench reports, the
foundation issue's (the implicit-model core) from the `scaling` and `paper-lp` reports. So the
README quotes what the reports say, and whether a target is met is computed from them, not
claimed.

    python benchmarks/targets.py [RESULTS_DIR] [--readme]

--readme writes the tables into README.md, between its <!-- targets --> markers, and the table
of where each report comes from into docs/targets.md, between its <!-- provenance --> markers,
instead of printing them.

Each row's code names the reports it reads. tests/test_docs.py checks that the README's tables
are this script's output: rerun a report, and the README must be regenerated with it. docs/targets.md gives
each row's reading in full (the reruns, and the reasons where a target is missed), and ends with
the commit and hour of every report the tables read or the page names (``provenance``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from learned_solvers.bench.plots import short_of_optimum

ROOT = Path(__file__).parent / "results"  # main() takes another
# reports in results/ that are not `bench` runs (summary.py skips them too)
NOT_BENCH = ("scaling", "sensitivity", "paper_lp", "gpu_check")
_cache: dict[str, dict] = {}
_read: set[str] = set()  # the reports the tables quote (provenance lists them)


def _load(name: str) -> dict:
    if name not in _cache:
        _cache[name] = json.loads((ROOT / f"{name}.json").read_text())
    return _cache[name]


def R(name: str) -> dict:
    """The committed report NAME.json, one the tables quote."""
    _read.add(name)
    return _load(name)


def it(name: str) -> float:
    return R(name)["iteration_ratio"]


def tr(name: str) -> float:
    return R(name)["time_ratio"]


def f3(v: float) -> str:
    return "0" if v == 0 else f"{v:.3f}"


def sci(v: float) -> str:
    """1.2e-2, not 1.2e-02."""
    m, _, x = f"{v:.1e}".partition("e")
    return f"{m}e{int(x)}"


def mesh(name: str) -> str:
    """'darcy 128x128 (trained on 64x64)' from a report's families."""
    opts = lambda fam: dict(kv.split("=") for kv in fam.split(":", 1)[1].split(","))  # noqa: E731
    test, train = opts(R(name)["family"]), opts(R(name)["train_family"])
    kind = "unstructured " if test.get("mesh") == "unstructured" else ""
    return (f"{R(name)['family'].split(':')[0]} {kind}{test['n']}x{test['n']} "
            f"(trained on {train['n']}x{train['n']})")


def how(names: list[str]) -> str:
    """'the automatic k = 0 (the polished linear anchor, no network)' where the reports agree."""
    ks = {(R(n)["k"], bool(R(n).get("k_automatic")), R(n).get("anchor"), R(n).get("polish")) for n in names}
    if len(ks) > 1:
        return "k = " + ", ".join(str(R(n)["k"]) for n in names)
    k, auto, anchor, polish = ks.pop()
    what = f"the automatic k = {k}" if auto else f"k = {k}"
    if k == 0:
        what += f" (the {'polished ' if polish else ''}{anchor} anchor, no network)"
    return what


def yes(ok: bool, otherwise: str = "no") -> str:
    return "yes" if ok else otherwise


def _baseline_short(rep: dict) -> bool:
    """A bench report (from when they were counted) where the learned or the nearest start's solves
    did not all end at the solver's optimum from that start."""
    conv, ran = rep.get("converged") or {}, rep["n_test"] - rep.get("n_failed", 0)
    return any(conv.get(s) is not None and conv[s] < ran for s in ("warm", "nearest"))


def bench_reports() -> list[str]:
    return sorted(p.stem for p in ROOT.glob("*.json") if not p.name.startswith(NOT_BENCH))


def rows() -> list[tuple[str, str, str]]:
    out = []
    names = bench_reports()
    worst = min(_load(n)["same_answer"] for n in names)  # every report: too many to list in provenance
    out.append(("`same_answer == 1.0` on every run (LP/QP and PDE)",
                f"{worst:.2f} on every one of the {len(names)} bench reports" if worst == 1
                else f"lowest {worst:.2f}", yes(worst == 1)))

    netlib = ["sc205-pdlp", "kb2-pdlp", "sc105-pdlp"]
    passing = [n for n in netlib
               if R(n)["cold"]["iterations_median"] >= 1000 and it(n) <= 0.25 and tr(n) <= 0.5]
    out.append(("PDLP iteration_ratio <= 0.25 and time_ratio <= 0.5 on three Netlib families (cold >= 1,000 "
                "iterations)",
                ", ".join(f"{n.split('-')[0]} {f3(it(n))} / {f3(tr(n))} (cold {R(n)['cold']['iterations_median']:,.0f})"
                          for n in netlib)
                + f" at {how(netlib)}; the network's start (`--k 1`): "
                + ", ".join(f"{f3(it(n + '-k1'))} / {f3(tr(n + '-k1'))}" for n in netlib),
                yes(len(passing) >= 3)))

    lp = "random-lp-200x400-pdlp"
    tol = R(lp)["solver_options"].get("tol", R(lp)["solver_options"].get("eps_rel"))
    out.append(("the same on random-lp 200x400",
                f"{f3(it(lp))} / {f3(tr(lp))}: its start is {R(lp)['prediction_error_median']:.2f} off, its relative "
                f"KKT residual {sci(R(lp)['start_kkt_median'])} (the nearest training optimum's "
                f"{sci(R(lp)['nearest_start_kkt_median'])}) against PDLP's {tol:g}; PDLP gains from a start within "
                "about 1e-3 (`sensitivity-random-lp`)", yes(it(lp) <= 0.25 and tr(lp) <= 0.5)))

    fams = netlib + [lp]
    short = [n for n in fams if it(n) > 0.7 * R(n)["nearest_iteration_ratio"]]
    # a baseline whose solves did not all end at the optimum from its start is not the baseline's gain
    unsure = [n.removesuffix("-pdlp") for n in fams if _baseline_short(R(n))]
    out.append(("PDLP learned <= 0.7 x nearest on those families",
                ", ".join(f"{n.removesuffix('-pdlp')} {f3(it(n))} against {f3(R(n)['nearest_iteration_ratio'])}"
                          for n in fams)
                + (f"; not every solve ended at the optimum from its start on {', '.join(unsure)}" if unsure else ""),
                yes(not short and not unsure,
                    "no (" + ", ".join([n.removesuffix("-pdlp") for n in short]
                                       + [f"{u}: not every solve at the optimum" for u in unsure]) + ")")))

    osqp = {"portfolio": "portfolio-osqp", "mpc": "mpc-osqp"}
    floor = R("mpc-osqp")["oracle_iteration_ratio"]
    missed = [f + (", at its floor" if it(n) <= R(n)["oracle_iteration_ratio"] else "")
              for f, n in osqp.items() if it(n) > 0.33]
    out.append(("OSQP iteration_ratio <= 0.33 on portfolio and mpc (defaults; pinned: adaptive rho off)",
                "; ".join(f"{f} {f3(it(n))} (pinned {f3(it(n + '-pinned'))})" for f, n in osqp.items())
                + f"; mpc's floor, the exact optimum's own ratio, is {f3(floor)} (OSQP checks termination first at "
                f"iteration 25, the cold solve takes {R('mpc-osqp')['cold']['iterations_median']:.0f}); mpc with 40 "
                f"states {f3(it('mpc-40x16-osqp'))}",
                yes(not missed, "defaults: no (" + "; ".join(missed) + "); pinned: "
                    + yes(all(it(n + "-pinned") <= 0.33 for n in osqp.values())))))

    scs = ["portfolio-scs", "mpc-scs"]
    out.append(("SCS iteration_ratio <= 0.5 on one family",
                ", ".join(f"{n.removesuffix('-scs')} {f3(it(n))}" for n in scs), yes(min(map(it, scs)) <= 0.5)))

    ns, nlp, nlp1 = ("navier_stokes_snes_kernel", "nonlinear_poisson_snes_state_kernel_checkpoint",
                     "nonlinear_poisson_snes_state_kernel_k1")
    top = R(ns)["top_re_quartile"]
    out.append(("Newton iteration_ratio <= 0.5 (nonlinear-poisson, navier-stokes); at the top of the Reynolds range "
                "the warm start converges as often as the cold",
                f"navier-stokes {f3(it(ns))} at k = {R(ns)['k']} in {f3(tr(ns))}x the cold time; nonlinear-poisson "
                f"{f3(it(nlp))} at k = {R(nlp)['k']} in {f3(tr(nlp))}x, {f3(it(nlp1))} at k = 1 in {f3(tr(nlp1))}x "
                f"(the {R(nlp)['anchor']} anchor); Reynolds >= {top['re_from']:.0f}: warm converges on "
                f"{top['warm_converged_without_fallback']} of {top['n']}, cold on {top['cold_converged']}",
                yes(max(it(ns), it(nlp)) <= 0.5 and top["warm_converged_without_fallback"] >= top["cold_converged"])))

    for pc, goal, runs in (("GAMG", 0.7, ["darcy_ksp_gamg_kernel", "darcy_ksp_gamg_kernel_k1", "darcy_ksp_gamg_k4",
                                          "darcy_ksp_gamg_k16"]),
                           ("Jacobi", 0.5, ["darcy_ksp_jacobi_kernel", "darcy_ksp_jacobi_kernel_k1",
                                            "darcy_ksp_jacobi_k8", "darcy_ksp_jacobi_k16"])):
        ok = [n for n in runs if it(n) <= goal]
        at = " and ".join(str(R(n)["k"]) for n in ok)
        out.append((f"darcy CG+{pc} <= {goal}",
                    ", ".join(f"{f3(it(n))} at k = {R(n)['k']}" for n in runs)
                    + f" (time_ratio {', '.join(f3(tr(n)) for n in runs)})",
                    f"at k = {at} only, in {' and '.join(f3(tr(n)) for n in ok)}x the cold time" if ok else "no"))

    g, j = "darcy_ksp_gamg_kernel", "darcy_ksp_jacobi_kernel"
    darcy = [n for n in names if n.startswith("darcy_")]
    under = [n for n in darcy if tr(n) < 1]
    rg, rj = R(g), R(j)
    out.append(("darcy time_ratio < 1 (GAMG and Jacobi)",
                f"at {how([g, j])}: GAMG {f3(tr(g))}, Jacobi {f3(tr(j))} (nearest "
                f"{f3(rg['nearest_time_ratio'])}, {f3(rj['nearest_time_ratio'])}); that start is "
                f"{sci(rg['prediction_rel_l2_median'])} off in L2, but its residual is "
                f"{rg['start_residual_median']:.2f} times the right-hand side's (the zero guess's: 1), so CG's "
                f"iterations go {rg['cold']['iterations_median']:.0f} -> {rg['warm']['iterations_median']:.0f} (GAMG) "
                f"and {rj['cold']['iterations_median']:.1f} -> {rj['warm']['iterations_median']:.1f} (Jacobi; medians)"
                "; "
                f"the exact solution made at no cost gives {f3(rg['oracle_time_ratio'])} and "
                f"{f3(rj['oracle_time_ratio'])}, so a start must cost under "
                f"{rg['start_budget_seconds_median'] * 1e3:.2f} and {rj['start_budget_seconds_median'] * 1e3:.2f} ms, "
                f"and the network's k = 1 costs {R(g + '_k1')['warm']['inference_seconds_median'] * 1e3:.1f} and "
                f"{R(j + '_k1')['warm']['inference_seconds_median'] * 1e3:.1f} ms",
                "no" if not under else "only " + ", ".join(under)))

    e = lambda n: f"{sci(R(n)['prediction_rel_l2_median'])} (k = {R(n)['k']})"  # noqa: E731
    out.append(("darcy prediction error beside the FNO literature's ~1e-2 at 85x85",
                f"64x64: {e('darcy_ksp_gamg_kernel_k1')}, {e('darcy_ksp_gamg_k4')}, {e('darcy_ksp_gamg_k16')}; "
                f"on 85x85 nodes, the model trained on 64x64: {e('darcy_ksp_gamg_refined84')}, "
                f"{e('darcy_ksp_gamg_refined84_k4')}", "reported"))

    finer = ["darcy_ksp_gamg_refined128", "darcy_ksp_gamg_refined128_k16", "darcy_ksp_gamg_unstructured",
             "nonlinear_poisson_snes_state_kernel_refined96", "nonlinear_poisson_snes_state_kernel_refined256",
             "nonlinear_poisson_snes_state_unstructured"]
    out.append(("a model trained on one mesh, on a finer or an unstructured one: iteration_ratio < 1",
                ", ".join(f"{mesh(n)} {f3(it(n))} (k = {R(n)['k']})" for n in finer),
                yes(all(it(n) < 1 for n in finer))))
    return out


# the foundation issue's sweeps: 100 held-out instances, raw starts (no polish), per LP/QP family
SWEEPS = {"sc105": "sc105-pdlp", "kb2": "kb2-pdlp", "share1b": "share1b-pdlp", "portfolio": "portfolio-osqp",
          "mpc": "mpc-osqp", "random-lp-200x400": "random-lp-200x400-pdlp", "lasso": "lasso-osqp"}
PDE_SWEEPS = {"darcy": "scaling_darcy", "nonlinear-poisson": "scaling_nonlinear_poisson_state",
              "navier-stokes": "scaling_navier_stokes"}


def _by_k(name: str, key: str) -> dict[int, float]:
    return {r["k"]: r[key] for r in R(name)["rows"] if r["k"] >= 1}


def _worst_rise(errors: dict[int, float]) -> float:
    """The largest rise of the error over its least at any smaller k (0: never rises)."""
    ks = sorted(errors)
    return max([errors[k] / min(errors[j] for j in ks[:i]) - 1 for i, k in enumerate(ks) if i] + [0.0])


def _none_risen(rise: dict[str, float]) -> str:
    """No sweep rises by 0.1%: which rise at all, by how much at most."""
    up = sorted((f for f, v in rise.items() if v > 0), key=lambda f: -rise[f])
    if not up:
        return "none rises"
    return f"{', '.join(up)} by {max(rise.values()):.3%} at most, the other {len(rise) - len(up)} never"


def core_rows() -> list[tuple[str, str, str]]:
    out = []
    sweeps = {f: f"scaling-{f}-test100" for f in SWEEPS} | PDE_SWEEPS
    rise = {f: _worst_rise(_by_k(n, "error_median")) for f, n in sweeps.items()}
    risen = [f"{f} +{v:.1%}" for f, v in sorted(rise.items(), key=lambda kv: -kv[1]) if v >= 1e-3]
    rest = "never rise" if all(v == 0 or v >= 1e-3 for v in rise.values()) else "rise by less than 0.1% or not at all"
    out.append(("error non-increasing in k (2% noise) on every family",
                f"all {len(sweeps)} families' `scaling` sweeps: "
                + (", ".join(risen) + f" at most; the others {rest}" if risen else _none_risen(rise)),
                yes(max(rise.values()) <= 0.02)))

    its = {f: _by_k(n, "iterations_median") for f, n in sweeps.items()}
    moved = [f"{f} {v[1]:,.0f} -> {v[64]:,.0f}" for f, v in its.items() if v[64] != v[1]]
    # a sweep whose solves did not all end at the optimum counts the solver's effort there, not the start's gain
    short = [f for f, n in sweeps.items() if short_of_optimum(R(n))]
    out.append(("solver iterations at k = 64 <= at k = 1",
                ", ".join(moved) + f", the other {len(its) - len(moved)} equal"
                + (f"; not every solve ended at the optimum on {', '.join(short)}" if short else ""),
                yes(all(v[64] <= v[1] for v in its.values()) and not short)))

    lip = {f: _by_k(f"scaling-{f}-test100", "lipschitz_local") for f in SWEEPS}
    grow = sorted(((v[64] / v[1], f) for f, v in lip.items() if v[1] > 0), reverse=True)
    flat = [f for f, v in lip.items() if v[1] == 0 or v[64] == v[1]]
    out.append(("Lipschitz estimate grows with k on one family",
                "local estimate, k = 1 to 64: " + ", ".join(f"{f} {g:.1f}x" for g, f in grow if g > 1)
                + (f"; flat on {', '.join(flat)} (the network returns its anchor)" if flat else ""),
                yes(any(g > 1 for g, _ in grow))))

    rows = R("paper_lp")["rows"]
    err = {(r["kind"], r["width"]): r["test_error_mean"] for r in rows}
    widths = sorted({w for _, w in err})
    out.append(("paper Table 1: implicit beats explicit at every width, width 16 <= 0.16",
                f"widths {', '.join(map(str, widths))}: " + " / ".join(f"{err['implicit', w]:.3f}" for w in widths)
                + " against " + " / ".join(f"{err['explicit', w]:.3f}" for w in widths),
                yes(all(err["implicit", w] < err["explicit", w] for w in widths) and err["implicit", 16] <= 0.16)))

    mem = {m["k"]: m for m in R("scaling-sc105-test100")["training_memory"]}
    mib = lambda k, kind: mem[k][f"{kind}_saved_bytes"] / 2 ** 20  # noqa: E731
    implicit = ", ".join(f"{mib(k, 'implicit'):.2f}" for k in sorted(mem))
    out.append(("training memory at k = 64 <= 1.2x k = 4 (implicit); unrolled grows",
                f"sc105: implicit {implicit} MiB at k = {', '.join(map(str, sorted(mem)))}; unrolled "
                f"{mib(4, 'unrolled'):.1f} -> {mib(64, 'unrolled'):.0f} MiB",
                yes(mib(64, "implicit") <= 1.2 * mib(4, "implicit") and mib(64, "unrolled") > mib(4, "unrolled"))))

    # as the product runs each family: with the polish where its bench report's automatic choice has it
    auto = {f: R(f"scaling-{f}-test100" + ("-polish" if R(b)["polish"] else ""))["auto_k_time_over_best"]
            for f, b in SWEEPS.items()} | {f: R(n)["auto_k_time_over_best"] for f, n in PDE_SWEEPS.items()}
    # None: the sweep's --ks leave the automatic k out, so it is not compared
    unswept = [f for f, v in auto.items() if v is None]
    off = {f: v for f, v in auto.items() if v is not None and round(v, 2) != 1}
    rest = (f"1.00x on the other {len(auto) - len(off) - len(unswept)}" if off or unswept
            else f"1.00x on all {len(auto)}")
    out.append(("automatic k within 10% of the best fixed k (total time)",
                ", ".join([f"{v:.2f}x on {f}" for f, v in off.items()] + [rest]
                          + [f"not swept at its automatic k on {', '.join(unswept)}"] * bool(unswept)),
                yes(not unswept and max(auto.values()) <= 1.1)))
    return out


# each row's reading in full: its section of docs/targets.md, in the order of rows() and core_rows()
SECTIONS = ["same-answer", "pdlp-on-netlib", "pdlp-on-random-lp", "learned-against-nearest", "osqp", "scs",
            "newton", "darcy-with-gamg", "darcy-with-jacobi", "darcy-time", "darcy-prediction-error", "finer-meshes"]
CORE_SECTIONS = ["error-against-k", "solver-iterations-against-k", "lipschitz-estimate", "paper-table-1",
                 "training-memory", "automatic-k"]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings() -> dict[str, str]:
    """docs/targets.md's section headings by their GitHub anchor."""
    text = (Path(__file__).parents[1] / "docs" / "targets.md").read_text()
    return {slug(h): h.strip() for h in re.findall(r"^### (.+)$", text, flags=re.M)}


def _lines(rows_: list[tuple[str, str, str]], sections: list[str]) -> list[str]:
    assert len(rows_) == len(sections)
    heads = _headings()
    return (["| target | measured (benchmarks/results) | met | in full |", "|---|---|---|---|"]
            + [f"| {t} | {m} | {ok} | [{heads[s]}](docs/targets.md#{s}) |" for (t, m, ok), s in zip(rows_, sections)])


def table() -> str:
    return "\n".join(_lines(rows(), SECTIONS) + [
        "", "The foundation issue's targets (the implicit-model core), from the `scaling` and `paper-lp` reports "
        "([test-time compute](docs/test_time_compute.md)):", ""] + _lines(core_rows(), CORE_SECTIONS))


README = Path(__file__).parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- targets:[^\n]*-->\n\n)(.*?)(\n\n<!-- /targets -->)", flags=re.S)
TARGETS = Path(__file__).parents[1] / "docs" / "targets.md"
PROVENANCE = re.compile(r"(<!-- provenance:[^\n]*-->\n\n)(.*?)(\n\n<!-- /provenance -->)", flags=re.S)


def _named() -> set[str]:
    """The reports docs/targets.md names in backticks: `NAME`, or, after one on the same line, a
    suffix of it (`darcy_ksp_gamg_kernel`, `_kernel_k1`: `darcy_ksp_gamg_kernel_k1`)."""
    out = set()
    prose = PROVENANCE.sub("", TARGETS.read_text())  # not the table itself, or a name once listed stays listed
    for line in prose.splitlines():
        last = ""
        for token in re.findall(r"`([\w.\-]+)`", line):
            if (ROOT / f"{token}.json").is_file():
                out.add(last := token)
            elif token[0] in "_-" and last:
                longest = next((last[:i] + token for i in range(len(last), 0, -1)
                                if (ROOT / f"{last[:i]}{token}.json").is_file()), None)
                if longest:
                    out.add(longest)
    return out


def provenance() -> str:
    """A table of the reports the tables quote and those docs/targets.md names: the commit each
    was made at and when (UTC), from the report's own ``provenance``."""
    table()
    names = sorted(_read | _named())
    lines = ["| report | commit | written (UTC) |", "|---|---|---|"]
    for n in names:
        prov = _load(n).get("provenance") or {}
        commit = (prov.get("commit") or "not recorded")[:7] + (" (uncommitted code)" if prov.get("code_changed") else "")
        lines.append(f"| `{n}` | {commit} | {(prov.get('written_utc') or 'not recorded')[:16].replace('T', ' ')} |")
    return "\n".join(lines)


def _write(path: Path, block: re.Pattern, text: str, what: str) -> None:
    old = path.read_text()
    if not block.search(old):
        sys.exit(f"{path}: no <!-- {what}: ... --> ... <!-- /{what} --> block to write the table into")
    path.write_text(block.sub(lambda m: m.group(1) + text + m.group(3), old))
    print(f"table written into {path}")


def main(argv: list[str]) -> None:
    global ROOT
    paths = [a for a in argv if a != "--readme"]
    if paths:
        ROOT = Path(paths[0])
    if "--readme" not in argv:
        print(table())
        return
    _write(README, BLOCK, table(), "targets")
    _write(TARGETS, PROVENANCE, provenance(), "provenance")


if __name__ == "__main__":
    main(sys.argv[1:])
