"""pyscipopt models (linear constraints, any variable types) <-> canonical ``QPData``.

Out: ``from_scip`` reads a model. Back: ``write_back`` stores an answer in the model as a SCIP
solution (``model.getVal(var)``, ``model.getBestSol()`` read it; a later ``model.optimize()``
starts from it, after SCIP's own feasibility check) and returns the duals by constraint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData

__all__ = ["from_scip", "to_scip_solution", "write_back", "check_problem_stage"]


def from_scip(model: Any) -> QPData:
    """Canonical form of a (not yet solved) ``pyscipopt.Model`` with linear constraints only.

    Variables keep SCIP's order (``model.getVars()``); integrality marks binary and integer
    variables. A maximisation becomes a minimisation of ``-c``.
    """
    inf = model.infinity()
    variables = model.getVars()
    # by SCIP's own index, not by name: SCIP lets two variables share a name
    index = {v.getIndex(): j for j, v in enumerate(variables)}
    n = len(variables)
    rows, cols, vals, lo, hi, names = [], [], [], [], [], []
    for i, cons in enumerate(model.getConss()):
        if cons.getConshdlrName() != "linear":
            raise InvalidProblemError(
                f"pyscipopt model {model.getProbName()!r}: constraint {cons.name!r} is "
                f"{cons.getConshdlrName()!r}; only linear constraints map to the canonical form"
            )
        for var, coef in zip(model.getConsVars(cons), model.getConsVals(cons), strict=True):
            rows.append(i)
            cols.append(index[var.getIndex()])
            vals.append(coef)
        lo.append(model.getLhs(cons))
        hi.append(model.getRhs(cons))
        names.append(cons.name)
    m = len(lo)
    fix = lambda v: np.where(np.asarray(v) <= -inf, -np.inf, np.where(np.asarray(v) >= inf, np.inf, v))  # noqa: E731
    sense = -1.0 if model.getObjectiveSense() == "maximize" else 1.0
    c = sense * np.array([v.getObj() for v in variables], dtype=float)
    lb = fix([v.getLbOriginal() for v in variables])
    ub = fix([v.getUbOriginal() for v in variables])
    integ = np.array([v.vtype() in ("BINARY", "INTEGER") for v in variables])
    return QPData(
        c=c, A=sp.csr_matrix((vals, (rows, cols)), shape=(m, n)), l=fix(lo), u=fix(hi), lb=lb, ub=ub,
        integrality=integ, offset=sense * model.getObjoffset(), name=model.getProbName() or "scip",
        var_names=tuple(v.name for v in variables), con_names=tuple(names), maximize=sense < 0,
    )


def to_scip_solution(model: Any, x: np.ndarray) -> Any:
    """A SCIP solution object holding ``x`` (in ``model.getVars()`` order), not yet added."""
    sol = model.createSol()
    for v, val in zip(model.getVars(), x, strict=True):
        model.setSolVal(sol, v, float(val))
    return sol


def check_problem_stage(model: Any) -> None:
    """Raise ValueError unless ``model`` is in SCIP's problem stage, where solutions can be added
    (after ``model.optimize()`` SCIP refuses them until ``model.freeTransform()``)."""
    stage = model.getStage()
    if stage != 1:  # SCIP_STAGE_PROBLEM
        raise ValueError(f"pyscipopt model {model.getProbName()!r} is past its problem stage (SCIP stage {stage}, "
                         "e.g. already optimised): call model.freeTransform() first, then solve it here")


def write_back(model: Any, qp: QPData, x: np.ndarray, y: np.ndarray | None) -> tuple[Any, dict[Any, float]]:
    """Store ``x`` (n,) in ``model`` as a SCIP solution and map ``y`` (m,) onto its constraints.

    ``qp``: ``from_scip(model)``. Returns the added ``pyscipopt.Solution`` (``sol[var]``) and the
    duals keyed by ``pyscipopt.Constraint`` as ``model.getDualsolLinear`` gives them: those of
    the minimisation SCIP solves (``c = A'y + z`` with a maximisation's ``c`` negated), so the
    same for ``maximize f`` as for ``minimize -f``; empty without ``y``. SCIP stores the
    solution without checking it; ``optimize`` checks it.
    """
    check_problem_stage(model)
    variables, conss = model.getVars(), model.getConss()
    if len(variables) != qp.n or len(conss) != qp.m:
        raise ValueError(f"pyscipopt model {model.getProbName()!r} has {len(variables)} variables and {len(conss)} "
                         f"constraints, the answer {qp.n} and {qp.m}: was the model changed after from_scip?")
    sol = to_scip_solution(model, x)
    model.addSol(sol, free=False)
    # pyscipopt caches the best solution; only getBestSol refreshes the cache model.getObjVal reads (an
    # AssertionError without it)
    model.getBestSol()
    duals = {} if y is None else {cons: float(v) for cons, v in zip(conss, y, strict=True)}
    return sol, duals
