"""Checks of a model config's fields, which a checkpoint records and a user may pass: a value of
the wrong type or range is refused when the config is made, naming the field, not deep inside a
forward pass."""

from __future__ import annotations

import math
import operator
from typing import Any

__all__ = ["check_fields", "K_LIMIT"]

from .._limits import K_LIMIT  # noqa: F401  (kept where the command line reads it without torch)


def check_fields(cfg: Any, *, positive: tuple[str, ...] = (), fractions: tuple[str, ...] = (),
                 flags: tuple[str, ...] = (), choices: dict[str, tuple[Any, ...]] | None = None,
                 at_most: dict[str, int] | None = None, rates: tuple[str, ...] = (),
                 weights: tuple[str, ...] = (), shares: tuple[str, ...] = ()) -> None:
    """positive: integers >= 1 (and <= ``at_most[field]`` where given); fractions: numbers in
    (0, 1]; flags: booleans; choices: one of the values given; rates: finite numbers > 0 (a
    learning rate); weights: finite numbers >= 0 (a loss term's weight: a negative one rewards
    what it penalises, an infinite one makes every loss inf); shares: numbers in [0, 1] (a
    probability). Raises ValueError (TypeError for a flag) naming ``Config.field``."""
    name = type(cfg).__name__

    def number(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)

    for f in rates:
        if not (number(getattr(cfg, f)) and getattr(cfg, f) > 0):
            raise ValueError(f"{name}.{f} must be a finite number > 0, got {getattr(cfg, f)!r}")
    for f in weights:
        if not (number(getattr(cfg, f)) and getattr(cfg, f) >= 0):
            raise ValueError(f"{name}.{f} must be a finite number >= 0, got {getattr(cfg, f)!r}")
    for f in shares:
        if not (number(getattr(cfg, f)) and 0 <= getattr(cfg, f) <= 1):
            raise ValueError(f"{name}.{f} must be a number in [0, 1], got {getattr(cfg, f)!r}")
    for f in positive:
        v = getattr(cfg, f)
        try:
            ok = not isinstance(v, bool) and 1 <= operator.index(v) <= (at_most or {}).get(f, v)
        except TypeError:
            ok = False
        if not ok:
            most = f" up to {at_most[f]}" if f in (at_most or {}) else ""
            raise ValueError(f"{name}.{f} must be a positive integer{most}, got {v!r}")
    for f in fractions:
        v = getattr(cfg, f)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0 < v <= 1):
            raise ValueError(f"{name}.{f} must be a number in (0, 1], got {v!r}")
    for f in flags:
        if not isinstance(getattr(cfg, f), bool):
            raise TypeError(f"{name}.{f} must be True or False, got {getattr(cfg, f)!r}")
    for f, allowed in (choices or {}).items():
        if getattr(cfg, f) not in allowed:
            raise ValueError(f"{name}.{f} must be one of {', '.join(map(repr, allowed))}, got {getattr(cfg, f)!r}")
