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
from mpi4py import MPI

from learned_solvers.backends.petsc import KSPBackend, SNESBackend
from learned_solvers.formats.dolfinx import petsc_handles
from problems.registry import make_family
from tests.petsc_signals import long_poisson, sigint_in_residual

comm = MPI.COMM_WORLD
prob = long_poisson(comm, "mpi_ctrl_c_")
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
fam = make_family("nonlinear-poisson:n=8")
prob, _ = fam.load(fam.sample(1, seed=3)[0])
snes = prob.solver
restore = sigint_in_residual(snes, here=comm.rank == 0)
try:
    SNESBackend(rtol=1e-9).solve(petsc_handles(prob))
    record["newton_interrupted"] = False
except KeyboardInterrupt:
    record["newton_interrupted"] = True
record["newton_stopped_at"] = snes.getIterationNumber()
restore()
res = SNESBackend(rtol=1e-9).solve(petsc_handles(prob))
record.update(newton_status=res.status, newton_iterations=res.iterations)
records = comm.gather(record)
if comm.rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(records, f)
