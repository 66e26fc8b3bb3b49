"""Solver backends, one per solver; each imports its solver lazily and never a format."""

from __future__ import annotations

from typing import Any

from .base import Backend, SolveResult, Status, WarmStart

__all__ = ["Backend", "SolveResult", "Status", "WarmStart", "backend_class", "backend_options", "make_backend",
           "BACKENDS", "REFERENCE_ONLY"]

BACKENDS = ("pdlp", "osqp", "scs", "highs")  # the warm-start targets
REFERENCE_ONLY = ("clarabel",)  # takes no start: labels QP families (training.data)


def backend_class(name: str) -> type:
    """The backend class for ``name`` (any case: cvxpy's own names are upper case, "OSQP")."""
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
    return cls


def backend_options(name: str) -> list[str]:
    """The settings ``make_backend(name, ...)`` takes, in the backend's order."""
    import inspect

    return [k for k, v in inspect.signature(backend_class(name)).parameters.items() if v.kind is v.KEYWORD_ONLY]


def make_backend(name: str, **options: Any) -> Backend:
    """Build a backend by name (any case: cvxpy's own names are upper case, "OSQP"); unknown
    options raise ``TypeError``."""
    cls = backend_class(name)
    known = backend_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"{cls.name}: unknown options {unknown}; it takes {known}")
    return cls(**options)  # each backend checks its settings' types and ranges
