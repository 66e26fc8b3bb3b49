"""Run under `mpirun -n 2`: a refusal reaches every rank, and the user's own solve goes on.

argv: checkpoint path (a darcy model), output JSON path. Each rank calls
``LearnedPDEStarter.solve`` as a user's script does, catching what it raises, then
``problem.solve()``, which is collective: a refusal raised on rank 0 alone would leave the other
rank waiting in the starter's broadcast and rank 0 in the solve. Three refusals: fields under a
name the model was not trained with, a NaN coefficient, and (``set_guess``) a guess of the
wrong size."""

import json
import sys

import numpy as np
from mpi4py import MPI

from learned_solvers.canonical import InvalidProblemError
from learned_solvers.checkpoint import CheckpointError
from learned_solvers.formats.dolfinx import get_solution, set_guess
from learned_solvers.warmstart_pde import LearnedPDEStarter
from problems.registry import make_family

comm = MPI.COMM_WORLD
fam = make_family("darcy:n=12")
prob, fields = fam.load(fam.sample(1, seed=1)[0])
starter = LearnedPDEStarter.from_checkpoint(sys.argv[1])
prob.solve()
answer = get_solution(prob)
outcomes = []
for case, given in (("other name", {"b": fields["a"]}), ("NaN", {"a": float("nan")})):
    try:
        starter.solve(prob, fields=given)
        outcomes.append((case, "solved"))
    except (CheckpointError, InvalidProblemError) as exc:
        outcomes.append((case, f"{type(exc).__name__}: {exc}"))
    prob.u.x.array[:] = 0.0
    prob.solve()  # collective: every rank gets here, or this hangs
    again = get_solution(prob)  # collective too: gathered on rank 0
    assert comm.rank != 0 or np.allclose(again, answer)
try:  # a guess one value short, given on rank 0 as set_guess takes it
    set_guess(prob, answer[1:] if comm.rank == 0 else None)
    outcomes.append(("short guess", "set"))
except ValueError as exc:
    outcomes.append(("short guess", f"ValueError: {exc}"))
prob.solve()
every = comm.gather(outcomes, root=0)
if comm.rank == 0:
    json.dump({"size": comm.size, "outcomes": every}, open(sys.argv[2], "w"))
