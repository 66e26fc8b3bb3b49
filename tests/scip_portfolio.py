"""A user's pyscipopt QP (used by the tests): the long-only Markowitz portfolio of
``tests/cvxpy_portfolio.py``, written as SCIP takes a quadratic objective, in epigraph form
through ``pyscipopt.recipes.nonlinear.set_nonlinear_objective``; the expected returns change."""

import numpy as np
import pyscipopt
from pyscipopt.recipes.nonlinear import set_nonlinear_objective

from tests.cvxpy_portfolio import D, F, MU_BAR, N_ASSETS, N_FACTORS


def build(rng: np.random.Generator, sense: str = "minimize") -> pyscipopt.Model:
    """One instance: new expected returns, same risk model (``sense="maximize"``: the same
    problem as the maximisation of its negation)."""
    mu = MU_BAR + 0.05 * rng.standard_normal(N_ASSETS)
    model = pyscipopt.Model("portfolio")
    model.hideOutput()
    w = [model.addVar(f"w_{i}", lb=0.0) for i in range(N_ASSETS)]
    f = [model.addVar(f"f_{k}", lb=None) for k in range(N_FACTORS)]
    for k in range(N_FACTORS):
        model.addCons(f[k] == pyscipopt.quicksum(F[i, k] * w[i] for i in range(N_ASSETS)), name=f"factor_{k}")
    model.addCons(pyscipopt.quicksum(w) == 1, name="budget")
    risk = pyscipopt.quicksum(fk * fk for fk in f) + pyscipopt.quicksum(D[i] * w[i] * w[i] for i in range(N_ASSETS))
    objective = risk - pyscipopt.quicksum(mu[i] * w[i] for i in range(N_ASSETS))
    set_nonlinear_objective(model, objective if sense == "minimize" else -objective, sense)
    return model
