"""pyscipopt models (linear constraints, any variable types) <-> canonical ``QPData``."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData

__all__ = ["from_scip", "to_scip_solution"]


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
