"""`cvxpy:MODULE:FUNCTION`: a family from the user's own cvxpy model.

``FUNCTION(rng: numpy.random.Generator) -> cvxpy.Problem`` builds one instance (same
structure, new data drawn from ``rng``). Instances are compiled with cvxpy's QP path, exactly
as ``LearnedOSQP`` will see them at solve time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from learned_solvers.canonical import InvalidProblemError, QPData
from learned_solvers.formats.cvxpy import from_cvxpy

from .user_code import user_function


@dataclass(frozen=True, kw_only=True)
class CvxpyFamily:
    build: Callable[[np.random.Generator], Any]
    name: str = "cvxpy"

    @classmethod
    def from_spec(cls, target: str) -> CvxpyFamily:
        return cls(build=user_function("cvxpy", target), name=f"cvxpy:{target}")

    def spec(self) -> str:
        return self.name

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        rng = np.random.default_rng(seed)
        out = []
        for i in range(count):
            try:
                qp, _ = from_cvxpy(self.build(rng))
            except InvalidProblemError as exc:
                raise InvalidProblemError(f"{self.name}: {exc}") from exc
            out.append(qp.with_data(name=f"{self.name}[{seed}:{i}]"))
        return out
