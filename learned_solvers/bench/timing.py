"""Timing shared by the benches: the same solve repeated, the fastest run kept (the iterations
are the same every time; millisecond timings on a shared machine are not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["TIMING_REPEATS", "fastest"]

T = TypeVar("T")
TIMING_REPEATS = 3


def fastest(run: Callable[[], tuple[T, float]], repeats: int = TIMING_REPEATS) -> tuple[T, float]:
    """``run()`` returns (result, seconds); the result and seconds of its fastest call."""
    best: tuple[T, float] | None = None
    for _ in range(max(1, repeats)):
        out = run()
        if best is None or out[1] < best[1]:
            best = out
    return best  # type: ignore[return-value]
