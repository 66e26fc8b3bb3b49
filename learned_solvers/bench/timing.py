"""Timing shared by the benches: the same solve repeated, the fastest run kept (the iterations
are the same every time; millisecond timings on a shared machine are not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["TIMING_REPEATS", "K_TIE", "fastest", "parsimonious_k"]

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
