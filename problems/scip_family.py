"""`scip:MODULE:FUNCTION`: a family from the user's own pyscipopt model.

``FUNCTION(rng: numpy.random.Generator) -> pyscipopt.Model`` builds one instance (same
structure, new data drawn from ``rng``), an LP with linear constraints. Instances are read with
``learned_solvers.formats.scip.from_scip``, exactly as ``scip_plugin.optimize`` reads a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from learned_solvers.canonical import InvalidProblemError, QPData
from learned_solvers.formats.scip import from_scip

from .mps_family import continuous_only
from .user_code import user_function


@dataclass(frozen=True, kw_only=True)
class ScipFamily:
    build: Callable[[np.random.Generator], Any]
    name: str = "scip"

    @classmethod
    def from_spec(cls, target: str) -> ScipFamily:
        return cls(build=user_function("scip", target), name=f"scip:{target}")

    def spec(self) -> str:
        return self.name

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        rng = np.random.default_rng(seed)
        out = []
        for i in range(count):
            model = self.build(rng)
            if not all(hasattr(model, a) for a in ("getVars", "getConss", "getStage")):
                raise InvalidProblemError(f"{self.name}: expected a pyscipopt.Model, got {type(model).__name__}")
            try:
                qp = from_scip(model)
            except InvalidProblemError as exc:
                raise InvalidProblemError(f"{self.name}: {exc}") from exc
            qp = continuous_only(qp, self.name, "relax the integer variables in the builder: ")
            out.append(qp.with_data(name=f"{self.name}[{seed}:{i}]"))
        return out
