"""`learned-solvers sensitivity`: how accurate a start must be before the solver notices.

No model is involved. On held-out instances of a family (the same ones ``bench`` tests on),
the solver is warm-started from each instance's own optimal primal-dual pair moved by a
relative error ``eps`` in a random direction (``|dx| = eps |x*|``, ``|dy| = eps |y*|``, x
clipped to its bounds), for each ``eps``. The median ratio of warm to cold iterations against
``eps`` says what prediction error a model must reach for a target ``iteration_ratio`` with
this solver and tolerance: the measure against which ``bench``'s prediction error is read.

``moved='primal'`` or ``'dual'`` (LP/QP families, random direction) moves that half alone and
keeps the other exact: whether a solver needs both halves of a primal-dual start right, or
gains from one (a model that predicts only x, say).

LP families also take ``direction='active-set'``: the start is the vertex of the optimum's
active set with ``j`` of its inequality constraints swapped for inactive ones (each ``j`` of
``swaps``), the point the polish would compute from an active set with ``j`` wrong entries. It
says whether a start can gain by naming the active set nearly right, or only exactly.

PDE families (solvers ``ksp`` and ``snes``) move the reference solution on the free dofs
(Dirichlet values stay exact), either in a random direction (``direction='random'``: rough,
every dof independent) or along a random smooth field (``'smooth'``: a sum of the first sine
modes of the bounding box), since a network's error lies between the two and Krylov and Newton
treat them very differently.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from problems.registry import make_family

from .._files import write_json
from .._interrupt import held_interrupts
from .._provenance import stamped
from .._progress import tqdm
from ..backends.base import WarmStart
from ..canonical import QPData
from ..canonical.polish import ActiveSet, active_set_point, optimal_active_set
from ..options import check_counts, check_seed
from .plots import is_sensitivity_report, moved_note, plot_sensitivity, settings_note, short_of_optimum
from .qp import bench_backend, label_held_out
from .timing import failed_row, reached_optimum, stop_on_ctrl_c, unreached_line, warn_cold_cut_short

DIRECTIONS = ("random", "smooth", "active-set")
MOVED = ("both", "primal", "dual")
VERTEX_DRAWS = 10  # draws of a swap before an instance counts as having no vertex at that count
SMOOTH_MODES = 4  # sine modes per dimension of the smooth direction

__all__ = ["SensitivityConfig", "run_sensitivity", "format_sensitivity", "plot_sensitivity", "is_sensitivity_report"]


@dataclass(frozen=True, kw_only=True)
class SensitivityConfig:
    """solver: pdlp/osqp/scs/highs for LP/QP families, ksp/snes for PDE families; pc and
    ksp_type: PDE ``ksp`` only (default cg + gamg, a dolfinx: family's own, as ``bench``);
    direction: 'random', or 'smooth' (PDE families only), or 'active-set' (LP families only: the optimum's active set
    with each count of ``swaps`` of its constraints swapped; ``noise`` is then unused); moved:
    which half of an LP/QP start is moved, 'both', or 'primal' or 'dual' with the other exact;
    time_limit: LP/QP only, the solver's seconds per solve (None: the backend's own).

    Each row counts the solves from its starts that ended at the solver's optimum
    (``converged``; ``timing.reached_optimum``), and the report the cold ones
    (``cold_converged``): the others' iterations are in the ratios too."""

    family: str
    solver: str = "pdlp"
    noise: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 5e-2, 0.15)
    n_test: int = 10
    seed: int = 0
    tol: float | None = None
    time_limit: float | None = None
    pinned: bool = False
    pc: str | None = None
    ksp_type: str | None = None
    direction: str = "random"
    moved: str = "both"
    swaps: tuple[int, ...] = (0, 1, 2, 4, 8, 16)
    scheduler: str = "serial"
    progress: bool = True

    def __post_init__(self) -> None:
        from problems.registry import is_pde_family

        check_seed(self.seed)
        check_counts(n_test=self.n_test)
        pde = is_pde_family(self.family)
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.moved not in MOVED:
            raise ValueError(f"moved must be one of {MOVED}, got {self.moved!r}")
        if self.moved != "both" and (pde or self.direction != "random"):
            raise ValueError("--moved primal/dual moves one half of an LP/QP primal-dual start in a random direction: "
                             "not for PDE families (their start has one half) or --direction active-set (a vertex)")
        if pde and self.solver not in ("ksp", "snes"):
            raise ValueError(f"{self.family} is a PDE family: use --solver ksp or snes, not {self.solver!r}")
        if self.solver == "snes" and (self.pc is not None or self.ksp_type is not None):
            raise ValueError("--pc and --ksp-type choose the Krylov solve of --solver ksp; snes takes neither")
        if not pde:
            if self.solver in ("ksp", "snes"):
                raise ValueError(f"{self.family} is not a PDE family: {self.solver!r} solves PDE families only")
            given = [name for name, on in (("--direction smooth", self.direction == "smooth"),
                                           ("--pc", self.pc is not None),
                                           ("--ksp-type", self.ksp_type is not None)) if on]
            if given:
                raise ValueError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to PDE families only; "
                                 f"{self.family} is not one")
        elif self.direction == "active-set":
            raise ValueError(f"{self.family} is a PDE family: --direction active-set applies to LP families only")
        if not self.swaps or any(int(j) != j or j < 0 for j in self.swaps):
            raise ValueError(f"swaps must be non-negative whole numbers, got {self.swaps}")
        if not self.noise or any(not (e > 0 and np.isfinite(e)) for e in self.noise):
            raise ValueError(f"noise levels must be positive and finite, got {self.noise}")
        if self.n_test < 1:
            raise ValueError("sensitivity needs n_test >= 1")
        if self.tol is not None and not (self.tol > 0 and np.isfinite(self.tol)):
            raise ValueError(f"the solver tolerance must be positive and finite, got {self.tol}")
        if self.time_limit is not None and pde:  # KSP and SNES stop by their iteration limits; the backend checks it
            raise ValueError(f"--time-limit applies to LP/QP families only; {self.family} is not one")


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
    from .pde import PDE_TEST_SEED_OFFSET, _solve, family_backend, label_pde_drawn

    fam = make_family(cfg.family)
    backend = family_backend(fam, cfg.solver, ksp_type=cfg.ksp_type, pc=cfg.pc, rtol=cfg.tol)
    got = label_pde_drawn(fam, cfg.n_test, seed=cfg.seed + PDE_TEST_SEED_OFFSET, scheduler=cfg.scheduler,
                          progress=cfg.progress)
    insts, pdes, sols = got.insts, got.pdes, got.sols
    if not insts:
        raise RuntimeError(f"family {fam.spec()}: no held-out instance has a reference solution")
    rng = np.random.default_rng(cfg.seed)
    noise = tuple(sorted(cfg.noise))
    cold_its, cold_conv, ratios, conv, failed = [], 0, {e: [] for e in noise}, {e: 0 for e in noise}, []
    types = (backend.ksp_type, backend.pc_type) if cfg.solver == "ksp" else None  # None: read off the solves
    with stop_on_ctrl_c(len(insts), lambda: len(cold_its) + len(failed)) as stopped:
        for inst, pde, sol in tqdm(list(zip(insts, pdes, sols)), desc=f"sensitivity of {cfg.solver}",
                                   disable=not cfg.progress):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    cold = _solve(fam, inst, backend, None)
                    got = {e: _solve(fam, inst, backend, _move_pde(sol, ~pde.dirichlet, pde.coords, e,
                                                                    cfg.direction, rng)) for e in noise}
            except Exception as exc:  # one bad instance must not lose the others
                failed.append(failed_row(inst.name, exc))
                continue
            with held_interrupts():  # an instance counts whole or not at all (Ctrl-C)
                cold_its.append(cold.iterations)
                cold_conv += reached_optimum(cold)
                if types is not None and None in types:  # the problem's own: what PETSc ran
                    types = (cold.extra.get("ksp_type"), cold.extra.get("pc_type"))
                for e, res in got.items():
                    ratios[e].append(res.iterations / max(cold.iterations, 1))
                    conv[e] += reached_optimum(res)
    _check_any(cold_its, failed)
    solver = cfg.solver if types is None else f"ksp ({types[0]} + {types[1]})"
    return {"family": fam.spec(), "solver": solver, "direction": cfg.direction,
            "tolerance": backend.rtol,  # the solver's own where not given: a dolfinx: family's ksp_rtol
            **({"atol": backend.atol} if getattr(backend, "atol", 0.0) else {}),  # and its ksp_atol, where set
            "n_test": len(cold_its), "config": asdict(cfg), "cold_iterations_median": float(np.median(cold_its)),
            "cold_converged": cold_conv,
            "rows": [{"noise": e, "iteration_ratio_median": float(np.median(ratios[e])),
                      "iteration_ratio_max": float(np.max(ratios[e])), "converged": conv[e]} for e in noise],
            **({"failed": failed} if failed else {}), **({"interrupted": stopped[0]} if stopped else {})}


def _limits(cfg: SensitivityConfig, backend) -> dict[str, Any]:
    """An LP/QP report's tolerance, and its time limit where one was given."""
    return {"tolerance": getattr(backend, "tol", None),
            **({"time_limit": getattr(backend, "time_limit", None)} if cfg.time_limit is not None else {})}


def _cold_cut_short(colds: list, backend) -> None:
    warn_cold_cut_short(colds, backend.name, what="of the sweep", judged="the ratios to a cold solve there")


def _check_any(done: list, failed: list[dict[str, str]]) -> None:
    """Refuse a sweep in which no held-out instance ran, with the first one's error."""
    if not done:
        raise RuntimeError(f"sensitivity: no held-out instance ran; the first failed with {failed[0]['error']}"
                           if failed else "sensitivity: stopped before any held-out instance ran")


def _swapped(qp: QPData, active: ActiveSet, x: np.ndarray, swaps: int, rng: np.random.Generator) -> ActiveSet:
    """``active`` with ``swaps`` of its inequality constraints made inactive and as many
    inactive constraints made active, each at its finite bound nearer the optimum x (n,)."""
    side = np.concatenate([active[0], active[1]]).astype(np.int8)
    lo, hi = np.concatenate([qp.l, qp.lb]), np.concatenate([qp.u, qp.ub])
    value = np.concatenate([qp.A @ x, x])
    on = np.flatnonzero((side != 0) & ~(np.isfinite(lo) & (lo == hi)))
    off = np.flatnonzero((side == 0) & (np.isfinite(lo) | np.isfinite(hi)))
    j = min(swaps, on.size, off.size)
    side[rng.choice(on, j, replace=False)] = 0
    pick = rng.choice(off, j, replace=False)
    at_lower = np.isfinite(lo[pick]) & (~np.isfinite(hi[pick]) | (value[pick] - lo[pick] <= hi[pick] - value[pick]))
    side[pick] = np.where(at_lower, 1, -1)  # optimal_active_set's signs: +1 at the lower bound
    return side[: qp.m], side[qp.m:]


def _run_active_set(cfg: SensitivityConfig, family: str, test: list, backend) -> dict[str, Any]:
    rng = np.random.default_rng(cfg.seed)
    swaps = tuple(sorted({int(j) for j in cfg.swaps}))
    cold_its, ratios, errors, missing = [], {j: [] for j in swaps}, {j: [] for j in swaps}, {j: 0 for j in swaps}
    colds, conv = [], {j: 0 for j in swaps}
    quadratic = next((item.qp.name for item in test if item.qp.P is not None), None)
    if quadratic is not None:
        raise ValueError(f"{quadratic}: --direction active-set applies to LPs only (this family has a quadratic "
                         "objective); use --direction random")
    failed: list[dict[str, str]] = []
    with stop_on_ctrl_c(len(test), lambda: len(cold_its) + len(failed)) as stopped:
        for item in tqdm(test, desc=f"active-set sensitivity of {cfg.solver}", disable=not cfg.progress):
            qp = item.qp
            try:
                cold = backend.solve(qp)
                active = optimal_active_set(qp, item.x, item.y)
                got: dict[int, tuple[float, float, bool] | None] = {}
                for j in swaps:
                    for _ in range(VERTEX_DRAWS):  # a random swap can make the set singular: draw again
                        try:
                            x, y, r = active_set_point(qp, _swapped(qp, active, item.x, j, rng))
                        except (ValueError, np.linalg.LinAlgError):
                            continue
                        if np.isfinite(x).all() and np.isfinite(y).all():
                            break
                    else:
                        got[j] = None
                        continue
                    x = np.clip(x, qp.lb, qp.ub)
                    res = backend.solve(qp, warm_start=WarmStart(x=x, y=y, r=r))
                    got[j] = (float(np.linalg.norm(x - item.x) / (np.linalg.norm(item.x) + 1e-12)),
                              res.iterations / max(cold.iterations, 1), reached_optimum(res))
            except Exception as exc:  # one bad instance must not lose the others
                failed.append(failed_row(qp.name, exc))
                continue
            with held_interrupts():  # an instance counts whole or not at all (Ctrl-C)
                cold_its.append(cold.iterations)
                colds.append(cold)
                for j, point in got.items():
                    if point is None:
                        missing[j] += 1
                    else:
                        errors[j].append(point[0])
                        ratios[j].append(point[1])
                        conv[j] += point[2]
    _check_any(cold_its, failed)
    _cold_cut_short(colds, backend)
    rows = [{"swaps": j, "start_error_median": float(np.median(errors[j])) if errors[j] else math.nan,
             "iteration_ratio_median": float(np.median(ratios[j])) if ratios[j] else math.nan,
             "iteration_ratio_max": float(np.max(ratios[j])) if ratios[j] else math.nan,
             "no_vertex": missing[j], "converged": conv[j]} for j in swaps]
    return {"family": family, "solver": cfg.solver, "direction": cfg.direction, "n_test": len(cold_its),
            **_limits(cfg, backend),
            "config": asdict(cfg), "cold_iterations_median": float(np.median(cold_its)),
            "cold_converged": sum(map(reached_optimum, colds)), "rows": rows,
            **({"failed": failed} if failed else {}), **({"interrupted": stopped[0]} if stopped else {})}


def run_sensitivity(cfg: SensitivityConfig) -> dict[str, Any]:
    from problems.registry import is_pde_family

    if is_pde_family(cfg.family):
        return _run_pde(cfg)
    fam = make_family(cfg.family)
    backend = bench_backend(cfg.solver, tol=cfg.tol, pinned=cfg.pinned, time_limit=cfg.time_limit)
    test = label_held_out(fam, cfg.n_test, cfg.seed, scheduler=cfg.scheduler, progress=cfg.progress).kept
    if not test:
        raise RuntimeError(f"family {fam.spec()}: no held-out instance was solved to optimality")
    if cfg.direction == "active-set":
        return _run_active_set(cfg, fam.spec(), test, backend)
    rng = np.random.default_rng(cfg.seed)
    noise = tuple(sorted(cfg.noise))
    cold_its, colds, ratios, conv, failed = [], [], {e: [] for e in noise}, {e: 0 for e in noise}, []
    with stop_on_ctrl_c(len(test), lambda: len(cold_its) + len(failed)) as stopped:
        for item in tqdm(test, desc=f"sensitivity of {cfg.solver}", disable=not cfg.progress):
            try:
                cold = backend.solve(item.qp)
                got = {}
                for e in noise:
                    ex, ey = (0.0 if cfg.moved == "dual" else e), (0.0 if cfg.moved == "primal" else e)
                    ws = WarmStart(x=np.clip(_move(item.x, ex, rng), item.qp.lb, item.qp.ub),
                                   y=_move(item.y, ey, rng))
                    got[e] = backend.solve(item.qp, warm_start=ws)
            except Exception as exc:  # one bad instance must not lose the others
                failed.append(failed_row(item.qp.name, exc))
                continue
            with held_interrupts():  # an instance counts whole or not at all (Ctrl-C)
                cold_its.append(cold.iterations)
                colds.append(cold)
                for e, res in got.items():
                    ratios[e].append(res.iterations / max(cold.iterations, 1))
                    conv[e] += reached_optimum(res)
    _check_any(cold_its, failed)
    _cold_cut_short(colds, backend)
    rows = [{"noise": e, "iteration_ratio_median": float(np.median(ratios[e])),
             "iteration_ratio_max": float(np.max(ratios[e])), "converged": conv[e]} for e in noise]
    return {"family": fam.spec(), "solver": cfg.solver, "direction": cfg.direction, "moved": cfg.moved,
            **_limits(cfg, backend),
            "n_test": len(cold_its), "config": asdict(cfg), "cold_iterations_median": float(np.median(cold_its)),
            "cold_converged": sum(map(reached_optimum, colds)),
            "rows": rows, **({"failed": failed} if failed else {}), **({"interrupted": stopped[0]} if stopped else {})}


def format_sensitivity(rep: dict[str, Any]) -> str:
    tol = settings_note(rep)
    n = rep["n_test"]
    cold = rep.get("cold_converged", n)  # reports from before it was counted: not known
    head = (f"{rep['family']} | {rep['solver']}{tol} | {rep.get('direction', 'random')} direction{moved_note(rep)} | "
            f"{rep['n_test']} held-out instances | cold iterations (median) {rep['cold_iterations_median']:.0f}"
            + (f"\n{n - cold} of the {n} cold solves did not end at the solver's optimum (at a limit, an error or a "
               "verdict of no optimum): the ratios to them compare with solves of another kind" if cold < n else "")
            + (f"\n{rep['interrupted']}: the figures are of those" if rep.get("interrupted") else "")
            + (f"\n{len(rep['failed'])} more failed and are left out (the report's 'failed' says why); the first: "
               f"{rep['failed'][0]['name']}: {rep['failed'][0]['error']}" if rep.get("failed") else ""))
    counted = "converged" in rep["rows"][0]  # LP/QP reports from before it was counted have no column
    # of the row's solves: an active-set row has none for the instances with no vertex at its count
    conv = (lambda r: f"  {r['converged']}/{n - r.get('no_vertex', 0)}") if counted else (lambda r: "")  # noqa: E731
    if "swaps" in rep["rows"][0]:
        lines = [head, f"{'swaps':>6} {'start error (median)':>21} {'iteration_ratio (median)':>25} {'(max)':>8}"
                       f" {'no vertex':>10}" + ("  converged" if counted else "")]
        lines += [f"{r['swaps']:>6} {r['start_error_median']:>21.3g} {r['iteration_ratio_median']:>25.3f}"
                  f" {r['iteration_ratio_max']:>8.3f} {r['no_vertex']:>10}" + conv(r) for r in rep["rows"]]
    else:
        lines = [head,  # reports from before --direction are all 'random'
                 f"{'start error':>12} {'iteration_ratio (median)':>25} {'(max)':>8}"
                 + ("  converged" if counted else "")]
        lines += [f"{r['noise']:>12.2g} {r['iteration_ratio_median']:>25.3f} {r['iteration_ratio_max']:>8.3f}" + conv(r)
                  for r in rep["rows"]]
    if short_of_optimum(rep):
        lines.append(unreached_line("from the row's starts"))
    return "\n".join(lines)


def write(rep: dict[str, Any], path: str | Path) -> Path:
    return write_json(path, stamped(rep))
