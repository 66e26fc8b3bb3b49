"""A user's pyscipopt LP (used by the tests): the transportation problem of
``tests/cvxpy_transport.py``, written with pyscipopt; the demands change daily."""

import numpy as np
import pyscipopt

from tests.cvxpy_transport import COST, DEMAND, N_DEMAND, N_SUPPLY, SUPPLY


def build(rng: np.random.Generator) -> pyscipopt.Model:
    """One instance: the day's demands, the same network."""
    demand = DEMAND * rng.uniform(0.8, 1.2, N_DEMAND)
    model = pyscipopt.Model("transport")
    model.hideOutput()
    ship = [[model.addVar(f"ship_{i}_{j}", lb=0.0) for j in range(N_DEMAND)] for i in range(N_SUPPLY)]
    for j in range(N_DEMAND):
        model.addCons(pyscipopt.quicksum(ship[i][j] for i in range(N_SUPPLY)) == demand[j], name=f"demand_{j}")
    for i in range(N_SUPPLY):
        model.addCons(pyscipopt.quicksum(ship[i]) <= SUPPLY[i], name=f"supply_{i}")
    model.setObjective(pyscipopt.quicksum(COST[i, j] * ship[i][j] for i in range(N_SUPPLY) for j in range(N_DEMAND)))
    return model
