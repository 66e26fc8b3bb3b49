"""Run under `mpirun -n 2`: an exception on one rank alone, which no code catches, ends the job.

argv: checkpoint path (a darcy:n=8 model), ``interrupt`` (a KeyboardInterrupt, as a Ctrl-C that
rank 1 alone sees in Python) or ``error`` (a ValueError). After one learned solve, rank 1 raises
and rank 0 goes on to the next solve, whose gather waits for rank 1. Before, rank 1 hung in
petsc4py's collective exit cleanup and rank 0 in that gather, under ``python -m mpi4py`` too."""

import sys

from learned_solvers.warmstart_pde import LearnedPDEStarter
from problems.registry import make_family

fam = make_family("darcy:n=8")
first, second = fam.sample(2, seed=1)
starter = LearnedPDEStarter.from_checkpoint(sys.argv[1])
prob, fields = fam.load(first)
starter.solve(prob, fields=fields)
if prob.u.function_space.mesh.comm.rank == 1:
    raise (KeyboardInterrupt if sys.argv[2] == "interrupt" else ValueError)("rank 1 stops here")
prob, fields = fam.load(second)
starter.solve(prob, fields=fields)
