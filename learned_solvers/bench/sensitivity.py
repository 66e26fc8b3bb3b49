"""`learned-solvers sensitivity`: how accurate a start must be before the solver notices.

No model is involved. On held-out instances of a family (the same ones ``bench`` tests on),
the solver is warm-started from each instance's own optimal primal-dual pair moved by a
relative error ``eps`` in a random direction (``|dx| = eps |x*|``, ``|dy| = eps |y*|``, x
clipped to its bounds), for each ``eps``. The median ratio of warm to cold iterations against
``eps`` says what prediction error a model must reach for a target ``iteration_ratio`` with
this solver and tolerance: the measure against which ``bench``'s prediction error is read.

PDE families (solvers ``ksp`` and ``snes``) move the reference solution on the free dofs
(Dirichlet values stay exact), either in a random direction (``direction='random'``: rough,
every dof independent) or along a random smooth field (``'smooth'``: a sum of the first sine
modes of the bounding box), since a network's error lies between the two and Krylov and Newton
treat them very differently.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from problems.registry import make_family

from ..backends.base import Status, WarmStart
from ..training.data import label_instances
from .qp import bench_backend, held_out_instances

DIRECTIONS = ("random", "smooth")
SMOOTH_MODES = 4  # sine modes per dimension of the smooth direction

__all__ = ["SensitivityConfig", "run_sensitivity", "format_sensitivity", "plot_sensitivity", "is_sensitivity_report"]


@dataclass(frozen=True, kw_only=True)
class SensitivityConfig:
    """solver: pdlp/osqp/scs/highs for LP/QP families, ksp/snes for PDE families; pc and
    ksp_type: PDE ``ksp`` only (default cg + gamg, as ``bench``); direction: 'random', or
    'smooth' (PDE families only)."""

    family: str
    solver: str = "pdlp"
    noise: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 5e-2, 0.15)
    n_test: int = 10
    seed: int = 0
    tol: float | None = None
    pinned: bool = False
    pc: str | None = None
    ksp_type: str | None = None
    direction: str = "random"
    scheduler: str = "serial"
    progress: bool = True

    def __post_init__(self) -> None:
        from problems.registry import is_pde_family

        pde = is_pde_family(self.family)
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if pde and self.solver not in ("ksp", "snes"):
            raise ValueError(f"{self.family} is a PDE family: use --solver ksp or snes, not {self.solver!r}")
        if self.solver == "snes" and (self.pc is not None or self.ksp_type is not None):
            raise ValueError("--pc and --ksp-type choose the Krylov solve of --solver ksp; snes takes neither")
        if not pde:
            if self.solver in ("ksp", "snes"):
                raise ValueError(f"{self.family} is not a PDE family: {self.solver!r} solves PDE families only")
            if self.direction != "random" or self.pc is not None or self.ksp_type is not None:
                raise ValueError("--direction smooth, --pc and --ksp-type apply to PDE families only")
        if not self.noise or any(not (e > 0 and np.isfinite(e)) for e in self.noise):
            raise ValueError(f"noise levels must be positive and finite, got {self.noise}")
        if self.n_test < 1:
            raise ValueError("sensitivity needs n_test >= 1")
        if self.tol is not None and not (self.tol > 0 and np.isfinite(self.tol)):
            raise ValueError(f"the solver tolerance must be positive and finite, got {self.tol}")


def _along(v: np.ndarray, d: np.ndarray, eps: float) -> np.ndarray:
    """v moved by ``eps |v|`` in the direction d."""
    return v + eps * np.linalg.norm(v) * d / (np.linalg.norm(d) + 1e-300)


def _move(v: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    return _along(v, rng.standard_normal(v.shape), eps)


def _smooth(coords: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) a random combination of the first ``SMOOTH_MODES`` sine modes per dimension of
    the bounding box of ``coords`` (n, 3), evaluated at the dofs."""
    lo, span = coords.min(0), np.ptp(coords, 0)
    dims = np.flatnonzero(span > 0)
    t = (coords[:, dims] - lo[dims]) / span[dims]
    out = np.zeros(len(coords))
    for modes in np.ndindex(*(SMOOTH_MODES,) * len(dims)):
        out += rng.standard_normal() * np.prod(np.sin(np.pi * (np.asarray(modes) + 1) * t), axis=1)
    return out


def _move_pde(u: np.ndarray, free: np.ndarray, coords: np.ndarray, eps: float, direction: str,
              rng: np.random.Generator) -> np.ndarray:
    """u moved on the free dofs by ``eps |u|`` along a random or smooth direction."""
    d = rng.standard_normal(u.shape) if direction == "random" else _smooth(coords, rng)
    return _along(u, np.where(free, d, 0.0), eps)


def _run_pde(cfg: SensitivityConfig) -> dict[str, Any]:
    from .pde import PDE_TEST_SEED_OFFSET, _solve, label_pde_parallel, make_pde_backend

    fam = make_family(cfg.family)
    backend = make_pde_backend(cfg.solver, kind=fam.kind, ksp_type=cfg.ksp_type or "cg", pc=cfg.pc or "gamg",
                               rtol=cfg.tol or 1e-8)
    insts = fam.sample(cfg.n_test, seed=cfg.seed + PDE_TEST_SEED_OFFSET)
    pdes, sols = label_pde_parallel(fam, insts, scheduler=cfg.scheduler, progress=cfg.progress)
    kept = {p.name for p in pdes}
    insts = [i for i in insts if i.name in kept]
    if not insts:
        raise RuntimeError(f"family {fam.spec()}: no held-out instance has a reference solution")
    rng = np.random.default_rng(cfg.seed)
    noise = tuple(sorted(cfg.noise))
    cold_its, ratios, conv = [], {e: [] for e in noise}, {e: 0 for e in noise}
    for inst, pde, sol in tqdm(list(zip(insts, pdes, sols)), desc=f"sensitivity of {cfg.solver}",
                               disable=not cfg.progress):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cold = _solve(fam, inst, backend, None)
            cold_its.append(cold.iterations)
            for e in noise:
                res = _solve(fam, inst, backend, _move_pde(sol, ~pde.dirichlet, pde.coords, e, cfg.direction, rng))
                ratios[e].append(res.iterations / max(cold.iterations, 1))
                conv[e] += res.status == Status.OPTIMAL and "fallback" not in res.extra
    solver = cfg.solver if cfg.solver == "snes" else f"ksp ({backend.ksp_type} + {backend.pc_type})"
    return {"family": fam.spec(), "solver": solver, "direction": cfg.direction,
            "n_test": len(insts), "config": asdict(cfg), "cold_iterations_median": float(np.median(cold_its)),
            "rows": [{"noise": e, "iteration_ratio_median": float(np.median(ratios[e])),
                      "iteration_ratio_max": float(np.max(ratios[e])), "converged": conv[e]} for e in noise]}


def run_sensitivity(cfg: SensitivityConfig) -> dict[str, Any]:
    from problems.registry import is_pde_family

    if is_pde_family(cfg.family):
        return _run_pde(cfg)
    fam = make_family(cfg.family)
    backend = bench_backend(cfg.solver, tol=cfg.tol, pinned=cfg.pinned)
    test = label_instances(held_out_instances(fam, cfg.n_test, cfg.seed), scheduler=cfg.scheduler,
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
    return {"family": fam.spec(), "solver": cfg.solver, "direction": cfg.direction, "n_test": len(test),
            "config": asdict(cfg),
            "cold_iterations_median": float(np.median(cold_its)), "rows": rows}


def format_sensitivity(rep: dict[str, Any]) -> str:
    pde = "converged" in rep["rows"][0]
    direction = rep.get("direction", "random")  # reports from before the option are all 'random'
    lines = [f"{rep['family']} | {rep['solver']} | {direction} direction | {rep['n_test']} held-out instances"
             f" | cold iterations (median) {rep['cold_iterations_median']:.0f}",
             f"{'start error':>12} {'iteration_ratio (median)':>25} {'(max)':>8}" + ("  converged" if pde else "")]
    lines += [f"{r['noise']:>12.2g} {r['iteration_ratio_median']:>25.3f} {r['iteration_ratio_max']:>8.3f}"
              + (f"  {r['converged']}/{rep['n_test']}" if pde else "") for r in rep["rows"]]
    return "\n".join(lines)


def is_sensitivity_report(rep: Any) -> bool:
    """Whether a loaded JSON document is a ``sensitivity`` report (rows by start error)."""
    return (isinstance(rep, dict) and {"family", "solver", "rows", "cold_iterations_median"} <= rep.keys()
            and isinstance(rep["rows"], list) and bool(rep["rows"])
            and all(isinstance(r, dict) and {"noise", "iteration_ratio_median", "iteration_ratio_max"} <= r.keys()
                    for r in rep["rows"]))


def plot_sensitivity(rep: dict[str, Any], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = [r["noise"] for r in rep["rows"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogx(e, [r["iteration_ratio_median"] for r in rep["rows"]], "o-", label="median")
    ax.semilogx(e, [r["iteration_ratio_max"] for r in rep["rows"]], "x--", alpha=0.6, label="max")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel(f"relative error of the start (solution + {rep.get('direction', 'random')} noise)")
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
