"""Timing shared by the benches: the same solve repeated, the fastest run kept (the iterations
are the same every time; millisecond timings on a shared machine are not)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

__all__ = ["TIMING_REPEATS", "K_TIE", "fastest", "parsimonious_k", "parsimonious_start", "verdict"]

T = TypeVar("T")
TIMING_REPEATS = 3
K_TIE = 0.05  # relative difference of median times below which two ks count as a tie


def fastest(run: Callable[[], tuple[T, float]], repeats: int = TIMING_REPEATS) -> tuple[T, float]:
    """``run()`` returns (result, seconds); the result and seconds of its fastest call."""
    best: tuple[T, float] | None = None
    for _ in range(max(1, repeats)):
        out = run()
        if best is None or out[1] < best[1]:
            best = out
    return best  # type: ignore[return-value]


def parsimonious_k(rows: list[dict], *, tie: float = K_TIE) -> int:
    """The smallest k whose ``total_seconds_median`` is within ``tie`` of the fastest row's:
    a larger k that is not clearly faster on the validation split is noise, and costs more
    model iterations on every later solve."""
    best = min(r["total_seconds_median"] for r in rows)
    return int(min(r["k"] for r in rows if r["total_seconds_median"] <= (1.0 + tie) * best))


def parsimonious_start(rows: list[dict], *, tie: float = K_TIE) -> tuple[bool, int]:
    """(polish, k) from rows with ``polish``, ``k``, ``total_seconds_median`` and
    ``iterations_median``; then ``parsimonious_k`` among that setting's rows.

    The polish goes where the fastest setting without it saves more, relatively, in time than it
    costs in solver iterations: where (time without / time with) x (iterations without /
    iterations with) is below ``1 - tie``. Time alone would drop it wherever inference dominates
    a sub-millisecond solve, also where it lands on the optimum and without it the start takes
    more iterations than a cold solve (mpc with OSQP: 4x the polished start's iterations for
    0.4x its time); the iterations alone would keep it where it misses the optimum and only
    costs time (random-lp: 1.12x the iterations for 0.67x the time). A median of a few dozen
    millisecond solves also moves by 10% from split to split, the iterations do not (blend:
    0.92x the time and 1.11x the iterations on the validation split; on held-out instances 0.58
    of the cold iterations with the polish against 0.90 without)."""
    best = {}
    for r in rows:
        if r["polish"] not in best or r["total_seconds_median"] < best[r["polish"]]["total_seconds_median"]:
            best[r["polish"]] = r
    polish = True if True in best else next(iter(best))
    if False in best and True in best:
        off, on = best[False], best[True]
        times = off["total_seconds_median"] / max(on["total_seconds_median"], 1e-12)
        # + 1: a polish that lands on the optimum leaves the solver no iterations
        iters = (off.get("iterations_median", math.inf) + 1) / (on.get("iterations_median", math.inf) + 1)
        if times * iters < 1.0 - tie:
            polish = False
    return polish, parsimonious_k([r for r in rows if r["polish"] == polish], tie=tie)


def verdict(*, iteration_ratio: float, time_ratio: float, start_seconds: float, saved_seconds: float,
            k: int | None) -> str:
    """One line for the bench table: does the learned start pay on this family, and if not, why.

    Medians of the report: ``start_seconds`` is what making the start costs (inference with
    its polish; for a PDE also the extraction beyond the assembly a cold call does),
    ``saved_seconds`` the solve time it saves (negative if the warm solve is slower); ``k``: the
    model iterations run (None: the model's training iterations)."""
    if not all(math.isfinite(v) for v in (iteration_ratio, time_ratio, start_seconds, saved_seconds)):
        return "verdict: no figures to judge by"
    if iteration_ratio >= 1.0:
        return (f"verdict: the learned start does not cut solver iterations here ({iteration_ratio:.2f}x cold): "
                "solve cold, or train on more instances (--train) of this family")
    if time_ratio < 1.0:
        return (f"verdict: the learned start pays: {iteration_ratio:.2f}x the solver iterations and "
                f"{time_ratio:.2f}x the time of a cold solve, inference included")
    fewer = ", fewer model iterations (--k)" if k is None or k > 1 else ""
    if saved_seconds <= 0:
        why = ("and the warm solve takes no less time than the cold one (the solver's fixed costs, such as a "
               "preconditioner's set-up, outweigh the iterations saved)")
    elif start_seconds > saved_seconds:
        why = f"more than the {1e3 * saved_seconds:.2f} ms of solving it saves"
    else:
        # medians of the parts, ratio per instance: where the saving is uneven the two disagree
        why = (f"against the {1e3 * saved_seconds:.2f} ms that solving it saves in the median; medians do not "
               f"add, and instance by instance inference + warm solve comes to {time_ratio:.2f}x the cold solve")
    return (f"verdict: the learned start cuts solver iterations ({iteration_ratio:.2f}x) but not time: making it "
            f"costs {1e3 * start_seconds:.2f} ms, {why}. It pays where solves cost more than inference: "
            f"larger instances, tighter tolerances{fewer}")
