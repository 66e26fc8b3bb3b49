"""learned-solvers: learned implicit models that warm-start classical solvers.

The names users reach for first are importable from here; each is loaded on first use, so
``import learned_solvers`` stays light (no torch, no solver) until one is touched::

    from learned_solvers import LearnedWarmStarter, read_problem
    starter = LearnedWarmStarter.from_checkpoint("kb2.safetensors")
    result = starter.solve(read_problem("instance.mps"), "pdlp")
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_LAZY = {
    "LearnedWarmStarter": "warmstart", "OutOfFamilyWarning": "warmstart", "UnseenSizeWarning": "warmstart",
    "LearnedPDEStarter": "warmstart_pde", "LearnedOSQP": "cvxpy_plugin", "LearnedSolver": "cvxpy_plugin",
    "read_problem": "formats.mps", "make_backend": "backends", "SolveResult": "backends", "Status": "backends",
    "WarmStart": "backends", "QPData": "canonical", "InvalidProblemError": "canonical",
    "describe_checkpoint": "checkpoint", "CheckpointError": "checkpoint", "train": "fit",
    "as_qp": "fit", "evaluate": "fit", "TrainingWarning": "fit", "train_pde": "fit", "evaluate_pde": "fit",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'learned_solvers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
