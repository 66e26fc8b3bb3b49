"""A user's cvxpy script (used by the tests and the README): a long-only Markowitz portfolio."""

import cvxpy as cp
import numpy as np

N_ASSETS, N_FACTORS = 30, 4
_rng = np.random.default_rng(42)
F = _rng.standard_normal((N_ASSETS, N_FACTORS)) * 0.3
D = _rng.uniform(0.05, 0.2, N_ASSETS)
MU_BAR = _rng.uniform(0.0, 0.2, N_ASSETS)


def build(rng: np.random.Generator) -> cp.Problem:
    """One instance: new expected returns, same risk model."""
    mu = MU_BAR + 0.05 * rng.standard_normal(N_ASSETS)
    w = cp.Variable(N_ASSETS, name="w")
    f = cp.Variable(N_FACTORS, name="f")
    risk = cp.sum_squares(f) + cp.sum_squares(cp.multiply(np.sqrt(D), w))
    cons = [f == F.T @ w, cp.sum(w) == 1, w >= 0]
    return cp.Problem(cp.Minimize(risk - mu @ w), cons)


def build_sized(rng: np.random.Generator, n: int = 30) -> cp.Problem:
    """``build`` over n assets (a risk model of its own for each n): the same function at
    another size, `cvxpy:tests.cvxpy_portfolio:build_sized:n=45`."""
    fixed = np.random.default_rng(n)
    f_load = fixed.standard_normal((n, N_FACTORS)) * 0.3
    d, mu_bar = fixed.uniform(0.05, 0.2, n), fixed.uniform(0, 0.2, n)
    mu = mu_bar + 0.05 * rng.standard_normal(n)
    w = cp.Variable(n, name="w")
    f = cp.Variable(N_FACTORS, name="f")
    risk = cp.sum_squares(f) + cp.sum_squares(cp.multiply(np.sqrt(d), w))
    return cp.Problem(cp.Minimize(risk - mu @ w), [f == f_load.T @ w, cp.sum(w) == 1, w >= 0])
