"""`learned-solvers sensitivity`: how accurate a start must be before the solver notices.

No model is involved. On held-out instances of a family (the same ones ``bench`` tests on),
the solver is warm-started from each instance's own optimal primal-dual pair moved by a
relative error ``eps`` in a random direction (``|dx| = eps |x*|``, ``|dy| = eps |y*|``, x
clipped to its bounds), for each ``eps``. The median ratio of warm to cold iterations against
``eps`` says what prediction error a model must reach for a target ``iteration_ratio`` with
this solver and tolerance: the measure against which ``bench``'s prediction error is read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from problems.registry import make_family

from ..backends.base import WarmStart
from ..training.data import label_instances
from .qp import TEST_SEED_OFFSET, bench_backend

__all__ = ["SensitivityConfig", "run_sensitivity", "format_sensitivity", "plot_sensitivity"]


@dataclass(frozen=True, kw_only=True)
class SensitivityConfig:
    family: str
    solver: str = "pdlp"
    noise: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 5e-2, 0.15)
    n_test: int = 10
    seed: int = 0
    tol: float | None = None
    pinned: bool = False
    scheduler: str = "serial"
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.noise or any(not (e > 0 and np.isfinite(e)) for e in self.noise):
            raise ValueError(f"noise levels must be positive and finite, got {self.noise}")
        if self.n_test < 1:
            raise ValueError("sensitivity needs n_test >= 1")


def _move(v: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    d = rng.standard_normal(v.shape)
    return v + eps * np.linalg.norm(v) * d / (np.linalg.norm(d) + 1e-300)


def run_sensitivity(cfg: SensitivityConfig) -> dict[str, Any]:
    fam = make_family(cfg.family)
    backend = bench_backend(cfg.solver, tol=cfg.tol, pinned=cfg.pinned)
    test = label_instances(fam.sample(cfg.n_test, seed=cfg.seed + TEST_SEED_OFFSET), scheduler=cfg.scheduler,
                           progress=cfg.progress)
    if not test:
        raise RuntimeError(f"family {fam.spec()}: no held-out instance was solved to optimality")
    rng = np.random.default_rng(cfg.seed)
    noise = tuple(sorted(cfg.noise))
    cold_its, ratios = [], {e: [] for e in noise}
    for item in tqdm(test, desc=f"sensitivity of {cfg.solver}", disable=not cfg.progress):
        cold = backend.solve(item.qp)
        cold_its.append(cold.iterations)
        for e in noise:
            ws = WarmStart(x=np.clip(_move(item.x, e, rng), item.qp.lb, item.qp.ub), y=_move(item.y, e, rng))
            res = backend.solve(item.qp, warm_start=ws)
            ratios[e].append(res.iterations / max(cold.iterations, 1))
    rows = [{"noise": e, "iteration_ratio_median": float(np.median(ratios[e])),
             "iteration_ratio_max": float(np.max(ratios[e]))} for e in noise]
    return {"family": fam.spec(), "solver": cfg.solver, "n_test": len(test), "config": asdict(cfg),
            "cold_iterations_median": float(np.median(cold_its)), "rows": rows}


def format_sensitivity(rep: dict[str, Any]) -> str:
    lines = [f"{rep['family']} | {rep['solver']} | {rep['n_test']} held-out instances | "
             f"cold iterations (median) {rep['cold_iterations_median']:.0f}",
             f"{'start error':>12} {'iteration_ratio (median)':>25} {'(max)':>8}"]
    lines += [f"{r['noise']:>12.2g} {r['iteration_ratio_median']:>25.3f} {r['iteration_ratio_max']:>8.3f}"
              for r in rep["rows"]]
    return "\n".join(lines)


def plot_sensitivity(rep: dict[str, Any], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = [r["noise"] for r in rep["rows"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogx(e, [r["iteration_ratio_median"] for r in rep["rows"]], "o-", label="median")
    ax.semilogx(e, [r["iteration_ratio_max"] for r in rep["rows"]], "x--", alpha=0.6, label="max")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("relative error of the start (optimum + noise)")
    ax.set_ylabel("warm / cold iterations")
    ax.set_title(f"{rep['solver']} on {rep['family'][:60]}", fontsize=8)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write(rep: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(rep, indent=2))
    return path
