"""Run under `mpirun -n 2`: the dolfinx adapter on distributed random problems.

argv: output JSON path, number of problems. Every rank builds the same seeded problems
(`tests/dolfinx_random_problems.py`) on a mesh dolfinx distributes. The canonical data, gathered
to rank 0 in global dof order, must hold the user's own answer: ``A u = b`` for a linear
problem, and the Dirichlet dofs at their values; a start at the answer (each rank's owned part)
costs the solver nothing. Rank 0 writes one row per problem."""

import json
import sys
import warnings

import numpy as np
from mpi4py import MPI

from learned_solvers.backends.petsc import KSPBackend, SNESBackend
from learned_solvers.formats.dolfinx import get_solution, petsc_handles, to_pde
from tests.dolfinx_random_problems import random_problem

comm = MPI.COMM_WORLD
rng = np.random.default_rng(11)
rows = []
for i in range(int(sys.argv[2])):
    nonlinear = i % 3 == 2
    prob, u, fields, _, bs, what = random_problem(rng, 200 + i, nonlinear)
    V = u.function_space
    n_owned = V.dofmap.index_map.size_local * bs
    pde = to_pde(prob, fields=fields, name=what)
    u.x.array[:] = 0.0
    if nonlinear:
        be = SNESBackend(rtol=1e-10)
        cold = be.solve(petsc_handles(prob))
    else:
        prob.solve()  # the user's own call
        be = KSPBackend(ksp_type=None, pc_type=None, rtol=1e-10)
        cold = be.solve(petsc_handles(prob))
    answer = get_solution(prob)
    owned = u.x.array[:n_owned].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # preonly takes no start, and says so
        warm = be.solve(petsc_handles(prob), guess=owned)
    if comm.rank == 0:
        row = {"what": what, "n": pde.n, "n_global": int(V.dofmap.index_map.size_global * bs),
               "cold": cold.status, "warm": warm.status, "warm_iterations": warm.iterations,
               "accepted": warm.warm_start_accepted,
               "dirichlet": float(np.abs(answer[pde.dirichlet] - pde.bc_values[pde.dirichlet]).max(initial=0.0))}
        if not nonlinear:
            row["residual"] = float(np.linalg.norm(pde.operator @ answer - pde.rhs) / np.linalg.norm(pde.rhs))
        rows.append(row)
if comm.rank == 0:
    json.dump({"size": comm.size, "rows": rows}, open(sys.argv[1], "w"))
