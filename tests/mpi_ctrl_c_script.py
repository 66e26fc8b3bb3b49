"""Under ``mpirun -n 2``: a Ctrl-C that reaches the ranks at different iterations of one KSP solve
(rank 0 at iteration 5, rank 1 at iteration 12, each sending SIGINT to itself from a monitor of
its own, in the first solve only) ends the solve on both ranks at the ranks' next check after the
first (iteration 8: ``MPI_STOP_EVERY``), before rank 1 has seen it, and both raise
KeyboardInterrupt, where each had waited for the whole solve; then a whole solve on both. The same
for a Newton solve whose residual sees the signal on rank 0 alone: both stop at its first step. Rank 0
writes each rank's record to ``argv[1]`` (JSON)."""

import json
import os
import signal
import sys

import dolfinx_solver  # noqa: F401
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from mpi4py import MPI

from learned_solvers.backends.petsc import KSPBackend
from learned_solvers.formats.dolfinx import petsc_handles

comm = MPI.COMM_WORLD
msh = dolfinx.mesh.create_unit_square(comm, 48, 48)
V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
facets = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.isclose(x[0], 0.0))
bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
prob = dolfinx.fem.petsc.LinearProblem(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, v * ufl.dx, bcs=[bc],
                                       petsc_options_prefix="mpi_ctrl_c_", petsc_options={"ksp_max_it": 5000})
ksp, seen, armed = prob.solver, [], [True]
at = 5 if comm.rank == 0 else 12


def users_monitor(k, its, rnorm):
    seen.append(its)
    if armed[0] and its == at:
        os.kill(os.getpid(), signal.SIGINT)


ksp.setMonitor(users_monitor)
backend = KSPBackend(ksp_type="cg", pc_type="jacobi", rtol=1e-10)
signal.signal(signal.SIGINT, signal.default_int_handler)
record = {"rank": comm.rank}
try:
    backend.solve(petsc_handles(prob))
    record["interrupted"] = False
except KeyboardInterrupt:
    record["interrupted"] = True
record["stopped_at"] = ksp.getIterationNumber()
record["max_it"] = ksp.getTolerances()[3]
armed[0] = False
res = backend.solve(petsc_handles(prob))  # a whole solve after it, on both ranks together
record.update(status=res.status, iterations=res.iterations)

# Newton (nonlinear-poisson): the Ctrl-C reaches rank 0 alone, inside the residual at SNES's start
from learned_solvers.backends.petsc import SNESBackend  # noqa: E402
from problems.registry import make_family  # noqa: E402

fam = make_family("nonlinear-poisson:n=8")
prob, _ = fam.load(fam.sample(1, seed=3)[0])
snes = prob.solver
f, (assemble, args, kwargs) = snes.getFunction()
calls = []


def residual(*a):
    calls.append(1)
    if len(calls) == 2 and comm.rank == 0:
        os.kill(os.getpid(), signal.SIGINT)
    assemble(*a, *args, **kwargs)


snes.setFunction(residual, f)
try:
    SNESBackend(rtol=1e-9).solve(petsc_handles(prob))
    record["newton_interrupted"] = False
except KeyboardInterrupt:
    record["newton_interrupted"] = True
record["newton_stopped_at"] = snes.getIterationNumber()
snes.setFunction(assemble, f, args=args, kargs=kwargs)
res = SNESBackend(rtol=1e-9).solve(petsc_handles(prob))
record.update(newton_status=res.status, newton_iterations=res.iterations)
records = comm.gather(record)
if comm.rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(records, f)
