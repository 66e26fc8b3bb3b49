"""A user's cvxpy family of which about half the draws are infeasible (x >= lo on both
coordinates with x1 + x2 <= 1, lo drawn in [0, 1]), counting its builds: labelling's further
draws must build each model once (tests/test_pipeline.py)."""

import cvxpy as cp
import numpy as np

BUILDS: list[float] = []

lo = cp.Parameter(name="lo")
x = cp.Variable(2, name="x")
problem = cp.Problem(cp.Minimize(cp.sum(x)), [x >= lo, cp.sum(x) <= 1])


def build(rng: np.random.Generator) -> cp.Problem:
    lo.value = rng.uniform(0.0, 1.0)
    BUILDS.append(float(lo.value))
    return problem
