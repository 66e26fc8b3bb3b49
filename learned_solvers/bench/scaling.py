"""`learned-solvers scaling`: what more model iterations buy, on held-out instances.

For each k: the median relative error (primal) of the start handed to the solver (the
safeguard's iterate of least KKT residual among the first k, see
``LearnedWarmStarter.iterate``; ``raw_error_median``: the k-th iterate itself), the median
solver iterations and total seconds (inference + solve) from that start, and an empirical
Lipschitz estimate of the map instance -> start (largest ratio of output
change to input change over each instance and its nearest other held-out instance, in the
normalised data of ``models.anchors.data_vector``). LP/QP families also get a local estimate:
each instance against a copy of it with its data moved by a relative ``LOCAL_DELTA`` (the
model's k-th iterate itself, the instance's anchor held for both), beside the same ratio of the two
reference optima; between held-out neighbours the starts' errors dwarf the solutions'
differences, so the neighbour estimate says little about how the map itself responds to its
data. The polish is off by default here: it snaps good predictions to the same optimum
whatever k, which would hide the effect of k.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from problems.registry import family_names, make_family

from .._files import write_json
from .._interrupt import held_interrupts
from .._provenance import stamped
from .._progress import tqdm
from ..options import check_counts, check_device, check_k, check_seed
from .plots import is_scaling_report, plot_scaling, settings_note, short_of_optimum
from .qp import bench_backend, label_held_out, timed_warm_solve
from .timing import failed_row, reached_optimum, stop_on_ctrl_c, unreached_line
from ..models.anchors import data_vector
from ..canonical import QPData
from ..training.data import solve_reference
from ..warmstart import LearnedWarmStarter

__all__ = ["ScalingConfig", "run_scaling", "plot_scaling", "format_scaling", "auto_k_summary", "sweep_rows",
           "lipschitz_estimate", "nearest_pairs", "is_scaling_report", "perturbed_copy", "LOCAL_DELTA"]

LOCAL_DELTA = 1e-3  # relative move of an instance's data for the local Lipschitz estimate


@dataclass(frozen=True, kw_only=True)
class ScalingConfig:
    checkpoint: str
    family: str
    solver: str = "pdlp"
    ks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    n_test: int = 20
    seed: int = 0
    polish: bool = False
    tol: float | None = None  # the solver's tolerance (None: the backend's own)
    time_limit: float | None = None  # the solver's seconds per solve (None: the backend's own)
    scheduler: str = "serial"
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        check_seed(self.seed)
        check_counts(n_test=self.n_test)
        if not isinstance(self.polish, bool):
            raise TypeError(f"polish must be True or False, got {self.polish!r}")
        if not self.ks or self.n_test < 1:
            raise ValueError(f"scaling needs at least one k and n_test >= 1 (got ks={self.ks}, n_test={self.n_test})")
        for k in self.ks:
            check_k(k, what="each of ks", allow_zero=True)  # 0: the anchor, no network
        check_device(self.device)  # tol and time_limit: the backend checks them, as bench's do


def run_scaling(cfg: ScalingConfig) -> dict[str, Any]:
    fam = make_family(cfg.family)
    starter = LearnedWarmStarter.from_checkpoint(cfg.checkpoint, family=family_names(fam), polish=cfg.polish,
                                                 device=cfg.device)
    backend = bench_backend(cfg.solver, tol=cfg.tol, time_limit=cfg.time_limit)
    test = label_held_out(fam, cfg.n_test, cfg.seed, scheduler=cfg.scheduler, progress=cfg.progress).kept
    with contextlib.suppress(Exception):  # first calls pay one-off set-up costs; a failure is the loop's to record
        timed_warm_solve(starter, test[0].qp, backend, 1, repeats=1)
    # instances outer, k inner: drift of the machine's speed during the sweep hits every k alike
    ks = tuple(sorted(cfg.ks))
    acc = {k: {"errs": [], "raw": [], "iters": [], "totals": [], "preds": [], "converged": []} for k in ks}
    own: dict[int, list[np.ndarray]] = {k: [] for k in ks}  # each instance's k-th iterate
    done, failed = [], []
    with stop_on_ctrl_c(len(test), lambda: len(done) + len(failed)) as stopped:
        for item in tqdm(test, desc=f"scaling: {len(ks)} ks per instance", disable=not cfg.progress):
            got = {}
            try:
                for k in ks:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        raw, _ = starter.iterate(item.qp, k=k, safeguard=False)
                    ws, res, total = timed_warm_solve(starter, item.qp, backend, k)
                    x = ws.x if ws is not None else np.zeros(item.qp.n)
                    scale = np.linalg.norm(item.x) + 1e-12
                    got[k] = {"raw": float(np.linalg.norm(raw - item.x) / scale), "preds": x / scale,
                              "errs": float(np.linalg.norm(x - item.x) / scale), "iters": res.iterations,
                              "totals": total, "own": raw, "converged": reached_optimum(res)}
            except Exception as exc:  # one bad instance must not lose the others
                failed.append(failed_row(item.qp.name, exc))
                continue
            with held_interrupts():  # an instance counts whole or not at all (Ctrl-C)
                for k, values in got.items():
                    own[k].append(values.pop("own"))
                    for key, v in values.items():
                        acc[k][key].append(v)
                done.append(item)
    if not done:
        raise RuntimeError(f"scaling: no held-out instance ran; the first failed with {failed[0]['error']}"
                           if failed else "scaling: stopped before any held-out instance ran")
    test = done
    dist, partner = nearest_pairs(np.stack([data_vector(t.qp) for t in test]))
    rows = sweep_rows(acc, dist, partner)
    exact = [t.x / (np.linalg.norm(t.x) + 1e-12) for t in test]  # on the scale of "preds"
    local = _local_lipschitz(starter, test, own, seed=cfg.seed)
    for row in rows:
        row["lipschitz_local"] = local["by_k"][row["k"]]
    return {"family": fam.spec(), "solver": cfg.solver, "tolerance": getattr(backend, "tol", None),
            **({"time_limit": getattr(backend, "time_limit", None)} if cfg.time_limit is not None else {}),
            "checkpoint": cfg.checkpoint, "n_test": len(test),
            "polish": cfg.polish, "threads": torch.get_num_threads(), "rows": rows,
            "lipschitz_solutions": lipschitz_estimate(exact, dist, partner),
            "lipschitz_local_solutions": local["solutions"], "lipschitz_local_delta": LOCAL_DELTA,
            "lipschitz_local_pairs": local["pairs"],
            **auto_k_summary(starter.default_k, rows),
            "training_memory": training_memory(starter, test[: min(8, len(test))]),
            **({"failed": failed} if failed else {}),
            **({"interrupted": stopped[0]} if stopped else {})}


def nearest_pairs(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distances (N, N), infinite on the diagonal; each instance's nearest other) of instance
    vectors (N, d), for the Lipschitz estimates."""
    dist = np.linalg.norm(vecs[:, None] - vecs[None], axis=2) + np.diag(np.full(len(vecs), np.inf))
    return dist, dist.argmin(1)


def perturbed_copy(qp: QPData, delta: float, rng: np.random.Generator) -> QPData:
    """``qp`` with c, the row bounds and the variable bounds multiplied by factors
    ``1 + delta * N(0, 1)``: one factor per row for l and u, one per variable for lb and ub, so
    that equalities stay equalities and every side keeps its order (|delta| << 1)."""
    fr = 1.0 + delta * rng.standard_normal(qp.m)
    fv = 1.0 + delta * rng.standard_normal(qp.n)
    return qp.with_data(c=qp.c * (1.0 + delta * rng.standard_normal(qp.n)), l=qp.l * fr, u=qp.u * fr,
                        lb=qp.lb * fv, ub=qp.ub * fv, name=f"{qp.name}~{delta:g}")


def _local_lipschitz(starter: LearnedWarmStarter, test: list, own: dict[int, list[np.ndarray]], *,
                     seed: int) -> dict[str, Any]:
    """Largest ``|x(q) - x(q')| / |x*(q)| / |v(q) - v(q')|`` over held-out q and their moved
    copies q' (``perturbed_copy``), per k for the model's k-th iterate (``own[k][i]``: test[i]'s,
    with its own anchor; no safeguard, whose choice among the iterates can differ between q and
    q', a jump of the choice and not of the map; no polish; q's anchor for q' too) and once for
    the reference optima; a copy whose reference solve is not optimal is left out."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i, t in enumerate(test):
        ref = solve_reference(perturbed_copy(t.qp, LOCAL_DELTA, rng))
        if ref is not None:
            d = float(np.linalg.norm(data_vector(t.qp) - data_vector(ref.qp)))
            pairs.append((i, t, ref, d, starter.anchors.anchor(t.qp) if starter.anchors is not None else None))
    if not pairs:
        return {"by_k": {k: None for k in own}, "solutions": None, "pairs": 0}
    by_k = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in own:
            by_k[k] = max(float(np.linalg.norm(own[k][i] - starter.iterate(r.qp, k=k, anchor=a, safeguard=False)[0])
                                / np.linalg.norm(t.x) / d)
                          for i, t, r, d, a in pairs)
    sol = max(float(np.linalg.norm(t.x - r.x) / np.linalg.norm(t.x) / d) for _, t, r, d, _ in pairs)
    return {"by_k": by_k, "solutions": sol, "pairs": len(pairs)}


def training_memory(starter: LearnedWarmStarter, items: list, ks: tuple[int, ...] = (4, 16, 64)) -> list[dict]:
    """Bytes autograd keeps for backward in one training step, implicit diff vs unrolled.

    Device-agnostic accounting (``core.saved_tensors``); on CUDA the peak allocation is added.
    """
    # a training step needs autograd whatever mode the thread is in: a Ctrl-C that lands inside a
    # `with torch.inference_mode()` entry (the sweep before this) can leave that mode on until
    # the garbage collector ends it, and tensors made under it cannot enter autograd
    with torch.inference_mode(False), torch.enable_grad():
        return _training_memory(starter, items, ks)


def _training_memory(starter: LearnedWarmStarter, items: list, ks: tuple[int, ...]) -> list[dict]:
    from ..core import ImplicitDiff, Picard, Unrolled, saved_tensors
    from ..core.memory import peak_cuda_bytes
    from ..models.qp_gnn import QPImplicitModel, build_graph
    from ..training.train import graph_targets

    device = torch.device(starter.device)
    g = build_graph([it.qp for it in items], anchors=[starter.anchors.anchor(it.qp) for it in items]
                    if starter.anchors is not None else None, anchor_scale=starter.model.cfg.anchor_scale).to(device)
    tx, ty = graph_targets(g, items)
    out = []
    for k in ks:
        row: dict[str, Any] = {"k": k}
        for name, mode in (("implicit", ImplicitDiff(solver=Picard(), tol=1e-4, max_iter=40)), ("unrolled", Unrolled())):
            model = QPImplicitModel(starter.model.cfg).to(device)
            model.load_state_dict(starter.model.state_dict())
            model.layer.backward_mode = mode
            model.train()

            def step() -> int:
                with saved_tensors() as rec, warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    x, y, _ = model(g, k=k)
                    loss = (x - tx).pow(2).mean() + (y - ty).pow(2).mean()
                    loss.backward()  # the adjoint solve may stop at max_iter: fine for accounting
                return rec.bytes

            row[f"{name}_saved_bytes"] = step()
            if device.type == "cuda":
                row[f"{name}_peak_cuda_bytes"] = peak_cuda_bytes(step, device)
        out.append(row)
    return out


def lipschitz_estimate(outputs: list[np.ndarray], dist: np.ndarray, partner: np.ndarray) -> float:
    """Largest ``|out_i - out_j| / dist_ij`` over each instance i and its nearest other instance
    ``partner[i]``; ``dist`` (B, B) distances of the instances' data, outputs B arrays."""
    return max(float(np.linalg.norm(outputs[i] - outputs[j]) / dist[i, j]) for i, j in enumerate(partner))


def sweep_rows(acc: dict[int, dict[str, list]], dist: np.ndarray, partner: np.ndarray) -> list[dict[str, float]]:
    """One row per k (increasing) from per-instance lists ``errs``, ``iters``, ``totals``,
    ``preds`` (normalised outputs, for the Lipschitz estimate over each instance and its
    ``partner``) and optionally ``raw`` (errors of the k-th iterate itself). Paired with the
    smallest k, per instance: the median of (iterations + 1) ratios and the fraction of
    instances with no more iterations; with ``converged`` (``timing.reached_optimum`` per solve),
    how many of the solves ended at the solver's optimum."""
    rows = []
    # per instance against the smallest k: medians of 20 noisy counts can cross where most
    # instances do not
    first = np.asarray(acc[min(acc)]["iters"], dtype=float)
    for k in sorted(acc):
        a = acc[k]
        lip = lipschitz_estimate(a["preds"], dist, partner)
        its = np.asarray(a["iters"], dtype=float)
        row = {"k": k, "error_median": float(np.median(a["errs"])), "iterations_median": float(np.median(its)),
               "total_seconds_median": float(np.median(a["totals"])), "lipschitz": lip,
               "iterations_over_first_k_median": float(np.median((its + 1) / (first + 1))),
               "iterations_not_above_first_k": float(np.mean(its <= first))}
        if "raw" in a:
            row["raw_error_median"] = float(np.median(a["raw"]))
        if "converged" in a:
            row["converged"] = int(sum(a["converged"]))
        rows.append(row)
    return rows


def auto_k_summary(auto_k: int | None, rows: list[dict]) -> dict[str, Any]:
    """How the checkpoint's automatic k fares against the best fixed k of the sweep (total time)."""
    best = min(rows, key=lambda r: r["total_seconds_median"])
    at = next((r for r in rows if r["k"] == auto_k), None)
    return {"auto_k": auto_k, "best_k": best["k"],
            "auto_k_time_over_best": at["total_seconds_median"] / best["total_seconds_median"] if at else None}


def format_scaling(rep: dict[str, Any]) -> str:
    """The printed table of a ``scaling`` report (LP/QP or PDE): one row per k, then the
    Lipschitz references, the automatic k against the sweep's best and the training memory."""
    rows = rep["rows"]
    raw = any("raw_error_median" in r for r in rows)
    local = all(r.get("lipschitz_local") is not None for r in rows)
    k0 = rows[0]["k"]
    tol = settings_note(rep)
    counted = all("converged" in r for r in rows)  # reports from before it was counted have no column
    lines = [f"{rep['family']} | {rep['solver']}{tol} | {rep['n_test']} held-out instances",
             *([f"{rep['interrupted']}: the figures are of those"] if rep.get("interrupted") else []),
             *([f"{len(rep['failed'])} more failed and are left out (the report's 'failed' says why); the first: "
                f"{rep['failed'][0]['name']}: {rep['failed'][0]['error']}"] if rep.get("failed") else []),
             f"{'k':>4} {'error':>12} {'iterations':>11} {'total s':>10} {'lipschitz':>10}"
             + (f" {'local lip.':>11}" if local else "") + (f" {'raw k-th error':>15}" if raw else "")
             + f" {f'iters <= k={k0}':>14}" + ("  converged" if counted else "")]
    for r in rows:
        lines.append(f"{r['k']:>4} {r['error_median']:>12.4e} {r['iterations_median']:>11.0f} "
                     f"{r['total_seconds_median']:>10.5f} {r['lipschitz']:>10.3f}"
                     + (f" {r['lipschitz_local']:>11.3e}" if local else "")
                     + (f" {r.get('raw_error_median', float('nan')):>15.4e}" if raw else "")
                     + f" {r['iterations_not_above_first_k']:>14.2f}"
                     + (f"  {r['converged']}/{rep['n_test']}" if counted else ""))
    lines.append(f"(iters <= k={k0}: fraction of instances whose solve from the k-th start took no more iterations "
                 f"than from the k={k0} start)")
    if short_of_optimum(rep):
        lines.append(unreached_line("from the k-th start"))
    if rep.get("lipschitz_solutions") is not None:
        lines.append("lipschitz of the reference solutions themselves (what an exact model would show): "
                     f"{rep['lipschitz_solutions']:.3f}")
    if local and rep.get("lipschitz_local_solutions") is not None:
        lines.append(f"local lip.: each instance against a copy with its data moved by {rep['lipschitz_local_delta']:g} "
                     f"(relative; {rep['lipschitz_local_pairs']} pairs; the model's k-th iterate, the anchor held); "
                     f"the reference solutions' own: {rep['lipschitz_local_solutions']:.3e}")
    if rep.get("auto_k_time_over_best") is not None:
        lines.append(f"automatic k={rep['auto_k']}: total time {rep['auto_k_time_over_best']:.2f}x that of the best k "
                     f"of the sweep (k={rep['best_k']})")
    elif rep.get("auto_k") is not None:
        none = " (no network: the anchor)" if rep["auto_k"] == 0 else ""
        lines.append(f"automatic k={rep['auto_k']}{none} is not among --ks; add it to compare its total time with "
                     "the sweep's")
    for m in rep["training_memory"]:
        lines.append(f"training memory at k={m['k']:>3}: implicit {m['implicit_saved_bytes'] / 2**20:8.2f} MiB, "
                     f"unrolled {m['unrolled_saved_bytes'] / 2**20:8.2f} MiB (tensors saved for backward)")
    return "\n".join(lines)


def write(rep: dict[str, Any], path: str | Path) -> Path:
    return write_json(path, stamped(rep))
