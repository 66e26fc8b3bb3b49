"""`cvxpy:MODULE:FUNCTION`: a family from the user's own cvxpy model.

``FUNCTION(rng: numpy.random.Generator) -> cvxpy.Problem`` builds one instance (same
structure, new data drawn from ``rng``). Instances are compiled with cvxpy's QP path, exactly
as ``LearnedOSQP`` will see them at solve time.

`cvxpy:MODULE:FUNCTION:n=200` calls ``FUNCTION(rng, n=200)``: the function's own keywords, for
what does not change the family's law (a size); checkpoints match on `cvxpy:MODULE:FUNCTION`, so
``bench --test-family`` tests a model at another size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from learned_solvers.canonical import QPData
from learned_solvers.formats.cvxpy import from_cvxpy

from .user_code import UserModelFamily


@dataclass(frozen=True, kw_only=True)
class CvxpyFamily(UserModelFamily):
    name: str = "cvxpy"
    KIND = "cvxpy"

    def read(self, model: Any) -> QPData:
        return from_cvxpy(model)[0]
