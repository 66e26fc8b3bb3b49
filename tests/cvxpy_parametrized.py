"""A user's cvxpy script in cvxpy's own idiom for re-solving one model with new data: a
problem built once over ``cp.Parameter``s, whose values change between solves (a long-only
portfolio with a risk aversion; used by the tests and docs/lp_qp.md)."""

import cvxpy as cp
import numpy as np

N_ASSETS = 20
_rng = np.random.default_rng(7)
SIGMA_SQRT = np.diag(np.sqrt(_rng.uniform(0.05, 0.2, N_ASSETS)))

mu = cp.Parameter(N_ASSETS, name="mu")
gamma = cp.Parameter(nonneg=True, name="gamma")
w = cp.Variable(N_ASSETS, name="w")
problem = cp.Problem(cp.Maximize(mu @ w - gamma * cp.sum_squares(SIGMA_SQRT @ w)), [cp.sum(w) == 1, w >= 0])


def build(rng: np.random.Generator) -> cp.Problem:
    """One instance: the same problem with new parameter values."""
    mu.value = rng.uniform(0.0, 0.2, N_ASSETS)
    gamma.value = rng.uniform(0.5, 2.0)
    return problem
