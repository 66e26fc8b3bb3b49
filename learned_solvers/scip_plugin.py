"""pyscipopt: ``answer = optimize(model, checkpoint, solver="pdlp")`` where a script called
``model.optimize()``.

The model's linear or quadratic program (a QP in SCIP's epigraph form, ``q(x) <= t``, as
``pyscipopt.recipes.nonlinear.set_nonlinear_objective`` writes it) is read with
``formats.scip.from_scip`` (the form
``scip:MODULE:FUNCTION`` families train on), solved by one of the project's backends (PDLP, OSQP, SCS, HiGHS) from the
learned start, and the answer is stored in the model as a SCIP solution: ``model.getVal(x)`` reads
it as it would after ``model.optimize()``, and a later ``model.optimize()`` starts from it (SCIP
checks it first). SCIP itself does not solve here; SCIP as a backend, with a MIP's learned
solution as its primal heuristic, is planned.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from .backends import BACKENDS, SolveResult, Status, backend_options
from .formats.scip import check_problem_stage, from_scip, write_back
from .warmstart import LearnedWarmStarter, starter_and_backend

__all__ = ["ScipAnswer", "optimize"]

SCIP_NO_LIMIT = 1e20
"""SCIP's ``limits/time`` when a script set none (its infinity)"""


@dataclass(frozen=True)
class ScipAnswer:
    """One learned solve of a pyscipopt model.

    status: the backend's ('optimal', 'infeasible', ...). objective: in the model's own sense
    (NaN unless optimal). solution: the ``pyscipopt.Solution`` stored in the model (``sol[var]``),
    None unless optimal. duals: per ``pyscipopt.Constraint``, in the convention of SCIP's own
    ``model.getDualsolLinear`` (a maximisation's as those of its negation). result: the backend's
    ``SolveResult`` on the canonical (minimisation) form, with iterations, solver seconds, and
    ``extra`` (inference seconds, k, fallback reason). model: the model answered, kept alive with
    the answer (pyscipopt frees the memory its solution and constraints point into with it).
    """

    status: str
    objective: float
    solution: Any | None
    duals: dict[Any, float]
    result: SolveResult
    # the solution and the constraints keyed in duals point into the model's memory, which
    # pyscipopt frees with the model: printing the answer of `optimize(build(), ck)` had crashed
    model: Any = field(default=None, repr=False, compare=False)


def optimize(model: Any, checkpoint: str | os.PathLike[str] | LearnedWarmStarter, *, solver: str | None = None,
             k: int | None = None, polish: bool | None = None, **options: Any) -> ScipAnswer:
    """Solve ``model`` (a pyscipopt LP, or QP in epigraph form, in its problem stage) from the learned start.

    checkpoint: a path, or a ``LearnedWarmStarter`` loaded once for a loop of models. k, polish:
    as ``LearnedWarmStarter`` (None: the checkpoint's automatic choice). solver: None is the one
    the checkpoint was trained and its k chosen for (pdlp where it names none). options: the backend's
    (``tol``, ``pinned``, ...; unknown ones refused). A time limit the script set on the model
    (``model.setParam("limits/time", s)``) bounds the backend's solve as it bounds
    ``model.optimize()``, where the backend takes one (PDLP, OSQP, HiGHS; SCS: iterations only),
    unless ``time_limit`` is given. The model is checked before anything is solved, so a refused
    model loses nothing.
    """
    check_problem_stage(model)
    limit = float(model.getParam("limits/time"))
    timed = {name: {"time_limit": limit} for name in BACKENDS if "time_limit" in backend_options(name)}
    starter, backend = starter_and_backend(checkpoint, solver=solver, k=k, polish=polish, options=options,
                                           defaults=timed if limit < SCIP_NO_LIMIT else None)
    qp = from_scip(model)
    res = starter.solve(qp, backend)
    if res.status != Status.OPTIMAL or res.x is None:
        return ScipAnswer(res.status, math.nan, None, {}, res, model)
    sol, duals = write_back(model, qp, res.x, res.y)
    return ScipAnswer(res.status, -res.objective if qp.maximize else res.objective, sol, duals, res, model)
