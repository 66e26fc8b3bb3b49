"""Solver backends, one per solver; each imports its solver lazily and never a format."""

from __future__ import annotations

from typing import Any

from .base import Backend, SolveResult, Status, WarmStart

__all__ = ["Backend", "SolveResult", "Status", "WarmStart", "make_backend", "BACKENDS", "REFERENCE_ONLY"]

BACKENDS = ("pdlp", "osqp", "scs", "highs")  # the warm-start targets
REFERENCE_ONLY = ("clarabel",)  # takes no start: labels QP families (training.data)


def make_backend(name: str, **options: Any) -> Backend:
    """Build a backend by name (any case: cvxpy's own names are upper case, "OSQP"); unknown
    options raise ``TypeError``."""
    name = name.lower() if isinstance(name, str) else name
    if name == "pdlp":
        from .pdlp import PDLPBackend as cls
    elif name == "osqp":
        from .osqp import OSQPBackend as cls
    elif name == "scs":
        from .scs import SCSBackend as cls
    elif name == "highs":
        from .highs import HiGHSBackend as cls
    elif name == "clarabel":
        from .clarabel import ClarabelBackend as cls
    else:
        raise ValueError(f"unknown solver {name!r}; choose one of {', '.join(BACKENDS)} "
                         f"(or, to label without a start, {', '.join(REFERENCE_ONLY)})")
    import inspect

    known = [k for k, v in inspect.signature(cls).parameters.items() if v.kind is v.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"{name}: unknown options {unknown}; it takes {known}")
    return cls(**options)  # each backend checks its settings' types and ranges
