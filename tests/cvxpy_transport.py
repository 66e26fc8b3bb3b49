"""A user's cvxpy LP (used by the tests): a transportation problem whose demands change daily."""

import cvxpy as cp
import numpy as np

N_SUPPLY, N_DEMAND = 4, 6
_rng = np.random.default_rng(7)
COST = _rng.uniform(1.0, 5.0, (N_SUPPLY, N_DEMAND))
SUPPLY = _rng.uniform(20.0, 30.0, N_SUPPLY)
DEMAND = _rng.uniform(8.0, 14.0, N_DEMAND)


def build(rng: np.random.Generator) -> cp.Problem:
    """One instance: the day's demands, the same network."""
    demand = DEMAND * rng.uniform(0.8, 1.2, N_DEMAND)
    ship = cp.Variable((N_SUPPLY, N_DEMAND), name="ship")
    cons = [cp.sum(ship, axis=0) == demand, cp.sum(ship, axis=1) <= SUPPLY, ship >= 0]
    return cp.Problem(cp.Minimize(cp.sum(cp.multiply(COST, ship))), cons)


SCENARIOS = DEMAND * np.array([[0.9], [1.0], [1.1]])


def build_scenarios(rng: np.random.Generator) -> cp.Problem:
    """One of three demand scenarios a day: a family whose draws repeat, so that a held-out draw
    can be a training instance again."""
    demand = SCENARIOS[rng.integers(len(SCENARIOS))]
    ship = cp.Variable((N_SUPPLY, N_DEMAND), name="ship")
    cons = [cp.sum(ship, axis=0) == demand, cp.sum(ship, axis=1) <= SUPPLY, ship >= 0]
    return cp.Problem(cp.Minimize(cp.sum(cp.multiply(COST, ship))), cons)
