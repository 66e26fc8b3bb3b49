"""`scip:MODULE:FUNCTION`: a family from the user's own pyscipopt model.

``FUNCTION(rng: numpy.random.Generator) -> pyscipopt.Model`` builds one instance (same
structure, new data drawn from ``rng``), an LP with linear constraints, or a QP whose objective
is in SCIP's epigraph form (``pyscipopt.recipes.nonlinear.set_nonlinear_objective``). Instances are read with
``learned_solvers.formats.scip.from_scip``, exactly as ``scip_plugin.optimize`` reads a model.

`scip:MODULE:FUNCTION:n=200` calls ``FUNCTION(rng, n=200)``: the function's own keywords, for
what does not change the family's law (a size); checkpoints match on `scip:MODULE:FUNCTION`, so
``bench --test-family`` tests a model at another size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from learned_solvers.canonical import InvalidProblemError, QPData
from learned_solvers.formats.scip import from_scip

from .mps_family import continuous_only
from .user_code import UserModelFamily


@dataclass(frozen=True, kw_only=True)
class ScipFamily(UserModelFamily):
    name: str = "scip"
    KIND = "scip"

    def read(self, model: Any) -> QPData:
        if not all(hasattr(model, a) for a in ("getVars", "getConss", "getStage")):
            raise InvalidProblemError(f"expected a pyscipopt.Model, got {type(model).__name__}")
        return continuous_only(from_scip(model), self.spec(), "relax the integer variables in the builder: ")
