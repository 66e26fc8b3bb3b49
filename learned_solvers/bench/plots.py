"""Figures of ``bench`` reports: one run instance by instance, or many runs side by side.

Both read the JSON reports as ``bench`` writes them (LP/QP reports keep their instances under
``instances``, PDE reports under ``rows``), so a report saved earlier can be plotted later with
``learned-solvers plot REPORT.json ...``. Ratios are per instance, against the same instance's
cold solve, as the report's medians are. Also the figures of ``scaling``, ``sensitivity`` and
``paper-lp`` reports, and a checkpoint's training curve: all drawn from saved JSON, without torch.
"""

from __future__ import annotations

import contextlib
import json
import math
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._files import save_figure

__all__ = ["ReportError", "instance_ratios", "load_report", "missing", "plot_bench", "plot_overview", "plot_training",
           "reading", "training_series", "is_scaling_report", "plot_scaling", "is_sensitivity_report",
           "plot_sensitivity", "moved_note", "is_paper_lp_report", "plot_paper_lp", "short_of_optimum",
           "settings_note", "starts_short_of_optimum"]

# the starts a report can hold, in the order they are drawn, with their labels
_STARTS = (("warm", "learned"), ("nearest", "nearest training optimum"),
           ("nearest_polished", "nearest + polish"), ("oracle", "own optimum (limit)"))


def missing(v: Any) -> bool:
    """A report's median with nothing to take: NaN in a fresh report, null in one read back from JSON."""
    return v is None or (isinstance(v, float) and math.isnan(v))


class ReportError(ValueError):
    """A saved report this version cannot draw, named by its file."""


@contextlib.contextmanager
def reading(path: str | Path, what: str = "bench report") -> Iterator[None]:
    """Turn what an edited or damaged report trips over (a missing key, a value of another type)
    into a ``ReportError`` naming the file, not a bare ``KeyError`` from the plotting code."""
    try:
        yield
    except ReportError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, ZeroDivisionError) as exc:
        why = str(exc).split(". ")[0][:160]  # numpy's messages run on for lines
        raise ReportError(f"{path}: its contents do not fit a `learned-solvers` {what} of this version "
                          f"({type(exc).__name__}: {why}); was it edited? Rerun the command that wrote it") from exc


def load_report(path: str | Path) -> dict[str, Any]:
    """A ``bench`` JSON report; a clear error for a file that is not one, or one whose
    per-instance results or figures cannot be read."""
    p = Path(path)
    try:
        rep = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{p}: not a JSON file ({str(exc)[:160]})") from exc
    if not isinstance(rep, dict) or not {"family", "solver", "iteration_ratio"} <= rep.keys() or \
            not ("instances" in rep or "rows" in rep):
        raise ReportError(f"{p}: not a `learned-solvers bench` report (it needs family, solver, iteration_ratio "
                          "and its per-instance results; a scaling, sensitivity or paper-lp report is plotted on its "
                          "own)")
    with reading(p):  # what the figures read, read once here
        instance_ratios(rep)
        _title(rep)
        for key in ("iteration_ratio", "nearest_iteration_ratio", "time_ratio", "oracle_time_ratio"):
            if rep.get(key) is not None:
                float(rep[key])
    return rep


def _ratio(a: float | None, b: float) -> float:
    if a is None:
        return math.nan
    return a / b if b else (1.0 if a == 0 else math.inf)


def instance_ratios(rep: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-instance ratios of a report, for the instances that ran: ``iterations/START`` for each
    start the report holds (START/cold iterations) and ``time`` (the learned call's total time
    over the cold call's, as ``time_ratio``). Each is an (n,) array; NaN where a start is absent."""
    out: dict[str, list[float]] = {}
    if "instances" in rep:  # LP/QP
        for r in (r for r in rep["instances"] if "error" not in r):
            cold = r["cold"]["iterations"]
            for s, _ in _STARTS:
                if s in r:
                    out.setdefault(f"iterations/{s}", []).append(_ratio(r[s]["iterations"], cold))
            out.setdefault("time", []).append((r["inference_seconds"] + r["warm"]["seconds"]) / r["cold"]["seconds"])
    else:  # PDE
        for r in rep["rows"]:
            cold = max(r["cold_iterations"], 1)  # as the PDE report's own ratio
            for s in ("warm", "nearest", "oracle"):
                out.setdefault(f"iterations/{s}", []).append(_ratio(r[f"{s}_iterations"], cold))
            out.setdefault("time", []).append(r["warm_total_seconds"] / r["cold_total_seconds"])
    if not out:
        raise ReportError(f"report on {rep['family']}: no held-out instance ran, so there is nothing to plot")
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def _title(rep: dict[str, Any]) -> str:
    """The run in full, wrapped: cutting a long spec had dropped its sizes (random-lp:m=...) or path."""
    trained = rep.get("train_family")
    text = (f"{rep['family']}" + (f" (trained on {trained})" if trained and trained != rep["family"] else "")
            + f"  |  {rep['solver']}  |  k = {rep['k']}  |  {rep['n_test']} held-out instances")
    return textwrap.fill(text, 130, break_on_hyphens=False)


def plot_bench(rep: dict[str, Any], path: str | Path) -> Path:
    """One run: each instance's warm/cold iteration ratio per start (dots; the bar is the median,
    the report's figure) and the learned call's time ratio. Below 1 is faster than cold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = instance_ratios(rep)
    starts = [(s, label) for s, label in _STARTS if np.isfinite(ratios.get(f"iterations/{s}", [np.nan])).any()]
    rng = np.random.default_rng(0)  # horizontal jitter only, so that equal ratios stay visible
    fig, (ax, at) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=[3, 1], constrained_layout=True)
    for i, (s, _) in enumerate(starts):
        v = ratios[f"iterations/{s}"]
        v = v[np.isfinite(v)]
        ax.plot(i + rng.uniform(-0.18, 0.18, len(v)), v, "o", ms=4, alpha=0.55, color=f"C{i}")
        ax.hlines(np.median(v), i - 0.3, i + 0.3, color="k", lw=2)
        ax.annotate(f"{np.median(v):.3f}", (i + 0.32, np.median(v)), fontsize=8, va="center")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    # where no training instance had the test sizes, the nearest baseline is the zero start
    zero = missing(rep.get("nearest_start_kkt_median", 0.0))
    names = {"nearest": "zero start (no training\ninstance of this size)", "nearest_polished": "zero start + polish"}
    short = starts_short_of_optimum(rep)
    ax.set_xticks(range(len(starts)), [(names.get(s, label) if zero else label)
                                       + (f"\n{short[s][0]}/{short[s][1]} at the optimum" if s in short else "")
                                       for s, label in starts], fontsize=8)
    ax.set_ylabel("iterations / cold iterations")
    ax.set_title("solver iterations per instance (bar: median)", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    t = ratios["time"][np.isfinite(ratios["time"])]
    at.plot(rng.uniform(-0.18, 0.18, len(t)), t, "o", ms=4, alpha=0.55, color="C0")
    at.hlines(np.median(t), -0.3, 0.3, color="k", lw=2)
    at.annotate(f"{np.median(t):.3f}", (0.32, np.median(t)), fontsize=8, va="center")
    at.axhline(1.0, color="grey", lw=0.8, ls="--")
    at.set_xticks([0], ["learned, inference counted"], fontsize=8)
    at.set_xlim(-0.6, 0.9)
    if t.size and t.max() / max(t.min(), 1e-300) > 20:
        at.set_yscale("log")
    at.set_ylabel("time / cold time")
    at.set_title("total time per instance", fontsize=9)
    at.grid(True, axis="y", alpha=0.3)
    fig.suptitle(_title(rep), fontsize=9)
    p = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return p


def starts_short_of_optimum(rep: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """{start: (solves at the optimum from it, solves)} of a bench report (LP/QP or PDE), for the
    starts where fewer than all ended there; {} where none did or the report kept no count."""
    ran = rep["n_test"] - (rep.get("n_failed") or 0)
    counts = rep.get("converged") or {  # the PDE bench's counts, kept under their own keys
        s: rep.get(key) for s, key in (("warm", "warm_converged_without_fallback"), ("nearest", "nearest_converged"),
                                       ("oracle", "oracle_converged"))}
    return {s: (c, ran) for s, c in counts.items() if isinstance(c, int) and c < ran}


def plot_overview(reports: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """Many runs, one row each (name -> report): the median iteration ratio of the learned start
    and of the nearest training optimum, and the median time ratio, on a log axis so that a start
    that stops the solver at once (ratio 0) shows at the axis's left end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not reports:
        raise ValueError("no reports to plot")
    names = list(reports)
    floor = 1e-2  # where a ratio of 0 is drawn
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1.4), constrained_layout=True)
    y = np.arange(len(names))[::-1]
    series = [("iteration_ratio", "iterations, learned", "o", "C0"),
              ("nearest_iteration_ratio", "iterations, nearest training optimum", "s", "C1"),
              ("time_ratio", "time, learned (inference counted)", "x", "C3")]
    if any(r.get("oracle_time_ratio") is not None for r in reports.values()):  # PDE reports since it was timed
        series.append(("oracle_time_ratio", "time floor (own solution, free)", "|", "0.3"))
    zeros = False
    for key, label, marker, color in series:
        v = np.array([np.nan if reports[n].get(key) is None else float(reports[n][key]) for n in names])
        zeros |= bool(np.any(v == 0))
        ax.plot(np.maximum(v, floor), y, marker, color=color, ls="none", label=label, ms=14 if marker == "|" else 6,
                mew=2 if marker == "|" else None,
                mfc="none" if marker == "s" else color)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y, names, fontsize=8)
    where = "; 0 is the grey band" if zeros else ""
    if zeros:
        ax.axvspan(floor / 1.4, floor * 1.4, color="0.92", zorder=0)
    ax.set_xlabel(f"median ratio to the cold solve\n(log scale{where}; below 1 is better)")
    ax.grid(True, axis="x", alpha=0.3)
    # in the figure's own margin: above the axes alone, the long run names push it off the edge
    fig.legend(fontsize=8, loc="outside upper center", ncol=3 if len(series) == 3 else 2, frameon=False)
    p = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return p


def training_series(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(history key, legend label) of each curve ``plot_training`` draws: the training loss, the
    validation score, and the Jacobian penalty's term where the history keeps it apart (since
    2026-12-01; before, a weighted penalty was inside the training loss, and the label says so)."""
    first = meta["history"][0]
    jac = "jacobian_penalty" in first
    val_key = next((k for k in first if k not in ("epoch", "train_loss", "jacobian_penalty")), None)
    weighted = (meta.get("train") or {}).get("jacobian_weight", 0) or 0
    return ([("train_loss", "training loss (its fit term)" if jac else
              "training loss (fit + Jacobian penalty)" if weighted > 0 else "training loss")]
            + ([(val_key, f"validation ({val_key})")] if val_key else [])
            + ([("jacobian_penalty", "training's Jacobian penalty (its weighted term)")] if jac else []))


def plot_training(meta: dict[str, Any], path: str | Path, *, name: str = "") -> Path:
    """A checkpoint's training curve from its metadata ``history``: the training loss, the
    validation score (the one that picks the kept state) and, where training had one, the
    Jacobian penalty's term, per epoch, log scale, the best marked."""
    hist = meta.get("history")
    if not isinstance(hist, list) or not hist or not all(isinstance(h, dict) for h in hist):
        raise ValueError(f"{name or 'this checkpoint'}: no training curve in it (checkpoints written before "
                         "learned-solvers kept one, and those of a run stopped before its first epoch, have none); "
                         "retrain to get one")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = training_series(meta)
    val_key = series[1][0] if len(series) > 1 and series[1][0] != "jacobian_penalty" else None
    epochs = np.array([h.get("epoch", i) for i, h in enumerate(hist)], dtype=float) + 1
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for i, (key, label) in enumerate(series):
        v = np.array([h.get(key, np.nan) for h in hist], dtype=float)
        style = ("--" if key == "jacobian_penalty" else "-") + ("o" if len(v) <= 60 else "")
        ax.plot(epochs, np.where(v > 0, v, np.nan), style, ms=3, color=f"C{i}", label=label)
    if val_key:
        v = np.array([h.get(val_key, np.nan) for h in hist], dtype=float)
        if np.isfinite(v).any():
            b = int(np.nanargmin(v))
            ax.plot(epochs[b], v[b], "*", ms=12, color="C1", label=f"least validation, epoch {epochs[b]:.0f}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25 on short runs
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    # a PDE model's family key has no mesh; the spec it was trained on has (as `info` shows it)
    trained_on = meta["spec"] if isinstance(meta.get("spec"), str) else meta.get("family", "?")
    title = textwrap.fill(f"{trained_on} | {meta.get('solver', '?')}", 90)
    if meta.get("interrupted"):
        title += f"\ntraining {meta['interrupted']}"
    ax.set_title(title, fontsize=9)
    p = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return p


# `scaling`, `sensitivity` and `paper-lp` reports: here, not beside their sweeps, so that `plot` redraws one
# without the sweeps' imports (torch's among them: 2-3 s)


def is_scaling_report(rep: Any) -> bool:
    """Whether a loaded JSON document is a ``scaling`` report (rows by k, no bench ratios)."""
    return (isinstance(rep, dict) and "iteration_ratio" not in rep and {"family", "solver", "rows"} <= rep.keys()
            and isinstance(rep["rows"], list) and bool(rep["rows"])
            and all(isinstance(r, dict) and {"k", "error_median", "iterations_median", "total_seconds_median",
                                             "lipschitz"} <= r.keys() for r in rep["rows"]))


def plot_scaling(rep: dict[str, Any], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["k"] for r in rep["rows"]]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), constrained_layout=True)
    panels = [("error_median", "median relative error of x_k", True),
              ("iterations_median", f"median {rep['solver']} iterations", False),
              ("total_seconds_median", "median inference + solve (s)", False),
              ("lipschitz", "Lipschitz estimates of instance -> x_k", False)]
    for ax, (key, label, logy) in zip(axes, panels):
        ax.plot(ks, [r[key] for r in rep["rows"]], "o-",
                label="held-out neighbours" if key == "lipschitz" else "start handed to the solver")
        if key == "iterations_median":
            _mark_short(ax, rep, ks, key)
        if key == "error_median" and all("raw_error_median" in r for r in rep["rows"]):
            # mesh models with an SPD operator hand on the least-energy iterate; show the k-th too
            ax.plot(ks, [r["raw_error_median"] for r in rep["rows"]], "x--", alpha=0.7, label="k-th iterate itself")
            ax.legend(fontsize=7)
        if key == "lipschitz":
            # the values an exact model shows: growth towards them is the paper's observation
            if rep.get("lipschitz_solutions") is not None:
                ax.axhline(rep["lipschitz_solutions"], color="C0", ls=":", label="neighbours, reference solutions")
            local = [r.get("lipschitz_local") for r in rep["rows"]]
            if all(v is not None for v in local):
                # k = 0 (no network) holds the anchor for both copies: 0, off a log axis
                shown = [(k, v) for k, v in zip(ks, local) if v > 0]
                ax.plot([k for k, _ in shown], [v for _, v in shown], "s-", color="C2", label="moved copies (local)")
                if rep.get("lipschitz_local_solutions") is not None:
                    ax.axhline(rep["lipschitz_local_solutions"], color="C2", ls=":", label="local, reference solutions")
                logy = True  # the two estimates can lie orders of magnitude apart
            ax.legend(fontsize=6)
        if min(ks) == 0:  # k = 0 (the anchor) on a log axis: linear below 1
            ax.set_xscale("symlog", base=2, linthresh=1)
            ax.set_xlim(-0.3, max(ks) * 1.3)
        else:
            ax.set_xscale("log", base=2)
            ax.set_xlim(min(ks) / 1.3, max(ks) * 1.3)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("model iterations k")
        ax.set_title(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{rep['family']}  |  {rep['solver']}  |  {rep['n_test']} held-out instances", fontsize=9)
    p = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return p


def settings_note(rep: dict[str, Any]) -> str:
    """" (tolerance T, atol A, time limit L s)" of a ``scaling`` or ``sensitivity`` report, the
    parts it records; "" where it records none."""
    atol = f", atol {rep['atol']:g}" if isinstance(rep.get("atol"), (int, float)) else ""
    said = [*([f"tolerance {rep['tolerance']:g}{atol}"] if rep.get("tolerance") is not None else []),
            *([f"time limit {rep['time_limit']:g} s"] if rep.get("time_limit") is not None else [])]
    return f" ({', '.join(said)})" if said else ""


def short_of_optimum(rep: dict[str, Any]) -> list[tuple[int, dict[str, Any], int]]:
    """The rows of a ``scaling`` or ``sensitivity`` report where fewer solves ended at the solver's
    optimum than ran (``converged``): (index, row, solves run). An active-set row runs none for
    the instances with no vertex at its count. Reports from before the count: none."""
    return [(i, r, ran) for i, r in enumerate(rep["rows"])
            if "converged" in r and r["converged"] < (ran := rep["n_test"] - r.get("no_vertex", 0))]


def _mark_short(ax: Any, rep: dict[str, Any], xs: list, key: str) -> None:
    """Ring the points of ``key`` whose row's solves did not all end at the optimum, with the count."""
    short = short_of_optimum(rep)
    if not short:
        return
    ax.plot([xs[i] for i, _, _ in short], [r[key] for _, r, _ in short], "o", ms=11, mfc="none", mec="C3",
            label="not every solve at the optimum")
    for i, r, ran in short:
        ax.annotate(f"{r['converged']}/{ran}", (xs[i], r[key]), textcoords="offset points", xytext=(6, 6),
                    fontsize=7, color="C3")
    ax.legend(fontsize=7)


def moved_note(rep: dict[str, Any]) -> str:
    """'' for a start moved whole (reports from before ``moved`` included), else which half."""
    moved = rep.get("moved", "both")
    return "" if moved == "both" else f" ({moved} moved, {'dual' if moved == 'primal' else 'primal'} exact)"


def is_sensitivity_report(rep: Any) -> bool:
    """Whether a loaded JSON document is a ``sensitivity`` report (rows by start error)."""
    return (isinstance(rep, dict) and {"family", "solver", "rows", "cold_iterations_median"} <= rep.keys()
            and isinstance(rep["rows"], list) and bool(rep["rows"])
            and all(isinstance(r, dict) and {"iteration_ratio_median", "iteration_ratio_max"} <= r.keys()
                    and ("noise" in r or "swaps" in r) for r in rep["rows"]))


def plot_sensitivity(rep: dict[str, Any], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    swaps = "swaps" in rep["rows"][0]
    e = [r["swaps" if swaps else "noise"] for r in rep["rows"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(e, [r["iteration_ratio_median"] for r in rep["rows"]], "o-", label="median")
    ax.plot(e, [r["iteration_ratio_max"] for r in rep["rows"]], "x--", alpha=0.6, label="max")
    _mark_short(ax, rep, e, "iteration_ratio_median")
    ax.set_xscale("symlog" if swaps else "log", **({"linthresh": 1} if swaps else {}))
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("constraints of the optimal active set swapped (start: its vertex)" if swaps else
                  f"relative error of the start (solution + {rep.get('direction', 'random')} noise)"
                  f"{moved_note(rep)}")
    ax.set_ylabel("warm / cold iterations")
    ax.set_title(f"{rep['solver']} on {rep['family'][:60]}", fontsize=8)
    ax.legend()
    fig.tight_layout()
    path = save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def is_paper_lp_report(rep: Any) -> bool:
    """Whether a loaded JSON document is a ``paper-lp`` report (rows by model kind and width)."""
    return (isinstance(rep, dict) and {"config", "rows", "metric"} <= rep.keys() and isinstance(rep["rows"], list)
            and bool(rep["rows"]) and all(isinstance(r, dict) and r.get("kind") in ("implicit", "explicit")
                                          and {"width", "test_error_mean"} <= r.keys() for r in rep["rows"]))


def plot_paper_lp(rep: dict[str, Any], path: str | Path) -> Path:
    """Table 1 of the implicit-models paper as a figure: test error against width, implicit and
    explicit, ours (solid) beside the paper's (hollow, dotted); and each model's parameters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = rep["config"]
    rows = {kind: sorted((r for r in rep["rows"] if r["kind"] == kind), key=lambda r: float(r["width"]))
            for kind in ("implicit", "explicit")}
    fig, (ax, axp) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for kind, color in (("implicit", "C0"), ("explicit", "C3")):
        rs = rows[kind]
        if not rs:
            continue
        w = [float(r["width"]) for r in rs]
        at = f", k = {cfg['eval_k']}" if kind == "implicit" else f", {cfg['train_k']} layers"
        ax.plot(w, [float(r["test_error_mean"]) for r in rs], "o-", color=color, label=f"{kind} (ours{at})")
        if kind == "implicit" and all("test_error_mean_at_train_k" in r for r in rs):
            # test-time compute: the same model stopped at its training k
            ax.plot(w, [float(r["test_error_mean_at_train_k"]) for r in rs], "x--", color=color, alpha=0.6,
                    label=f"implicit (ours, k = {cfg['train_k']}, its training k)")
        paper = [(x, float(r["paper"])) for x, r in zip(w, rs) if r.get("paper") is not None]
        if paper:
            ax.plot(*zip(*paper), "o:", color=color, mfc="none", alpha=0.8, label=f"{kind} (paper)")
        if all("parameters" in r for r in rs):
            axp.plot(w, [float(r["parameters"]) for r in rs], "o-", color=color, label=kind)
    widths = sorted({float(r["width"]) for r in rep["rows"]})
    for a in (ax, axp):
        a.set_xscale("log", base=2)
        a.set_xticks(widths, [f"{x:g}" for x in widths])  # the widths themselves, not powers of two
        a.minorticks_off()
        a.set_xlabel("embedding width")
        a.grid(True, alpha=0.3)
    ax.set_ylabel("test error (mean)")
    ax.set_title(rep["metric"], fontsize=8)
    ax.legend(fontsize=7)
    axp.set_yscale("log")
    axp.set_ylabel("trainable parameters")
    axp.set_title("model size: one weight-tied block against untied layers", fontsize=8)
    axp.legend(fontsize=7)
    fig.suptitle(f"Paper-LP (Table 1): {cfg['n_train']} training / {cfg['n_test']} test random LPs, "
                 f"{cfg['epochs']} epochs, device {rep.get('device', '?')}", fontsize=9)
    p = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return p
