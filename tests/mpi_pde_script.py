"""Run under `mpirun -n 2`: a learned start for a distributed dolfinx problem.

argv: checkpoint path, output JSON path, family spec (a linear family is solved by KSP, CG +
Jacobi or, given a fourth argument ``own``, the problem's own KSP and PC types; a nonlinear one by
SNES). The mesh is distributed; the adapter gathers the canonical data to
rank 0, which predicts; the guess is scattered back to the owned dofs. ``anchor``: how the
checkpoint's anchor mesh matches the gathered dofs (same order, permuted, none); ``guess_error``:
the model's guess against the cold answer, relative; ``nearest_error``: the nearest training
solution's; ``anchor_kind``: the checkpoint's anchor (kernel or nearest); ``petsc_garbage``: the
PETSc objects left waiting in PETSc's garbage after both solves.
"""

import json
import sys

import numpy as np
from mpi4py import MPI

from learned_solvers.backends.petsc import KSPBackend, SNESBackend
from learned_solvers.formats.dolfinx import get_solution, petsc_handles, to_pde
from learned_solvers.models.mesh_anchors import dof_order
from learned_solvers.models.mesh_graph import dof_keys
from learned_solvers.warmstart_pde import LearnedPDEStarter
from problems.registry import make_family


def petsc_garbage(pcomm) -> int:
    """How many PETSc objects wait in PETSc's garbage on ``pcomm`` (collective): on more than one
    rank, an object Python frees rather than destroys waits there for ``garbage_cleanup``, so a
    temporary left to Python at every solve grows it. ``garbage_view`` prints, from C, the count."""
    import gc
    import os
    import re
    import tempfile

    from petsc4py import PETSc

    gc.collect()
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(out.fileno(), 1)
        try:
            PETSc.garbage_view(pcomm)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        out.seek(0)
        text = out.read().decode()
    return sum(int(n) for n in re.findall(r"Total entries: (\d+)", text))


comm = MPI.COMM_WORLD
fam = make_family(sys.argv[3])
inst = fam.sample(1, seed=42)[0]
prob, fields = fam.load(inst)
if fam.kind != "linear":
    backend = SNESBackend(rtol=1e-10)
elif sys.argv[4:] == ["own"]:  # the problem's own KSP and PC types (a fieldsplit over a nest's blocks)
    backend = KSPBackend(ksp_type=prob.solver.getType(), pc_type=prob.solver.getPC().getType(), rtol=1e-10)
else:
    backend = KSPBackend(pc_type="jacobi", rtol=1e-10)
cold = backend.solve(petsc_handles(prob))
u_cold = get_solution(prob)
prob, fields = fam.load(inst)  # back at the cold guess
starter = LearnedPDEStarter.from_checkpoint(sys.argv[1])
# gathered to rank 0 (collective), as the starter sees it
pde = to_pde(prob, fields=fields, quasilinear=starter.model.cfg.quasilinear)
anchor = "none"
if comm.rank == 0 and starter.anchors is not None and starter.anchors.coords is not None:
    order = dof_order(starter.anchors.coords, dof_keys(pde), ref_vectors=starter.anchors.vectors,
                      vectors=pde.dof_vectors)
    anchor = "none" if order is None else "same order" if (order == np.arange(pde.n)).all() else "permuted"
guess = starter.guess(pde)[0] if comm.rank == 0 else None  # the model alone, before the solver
nearest = starter.anchors.nearest(pde) if comm.rank == 0 and starter.anchors is not None else None
warm = starter.solve(prob, fields=fields, backend=backend)
u_warm = get_solution(prob)
garbage = petsc_garbage(petsc_handles(prob)["x"].getComm())
if comm.rank == 0:
    json.dump({"size": comm.size, "cold_iterations": cold.iterations, "warm_iterations": warm.iterations,
               "warm_status": warm.status, "accepted": warm.warm_start_accepted,
               "rel_diff": float(np.linalg.norm(u_warm - u_cold) / np.linalg.norm(u_cold)), "n": int(u_cold.size),
               "anchor": anchor, "guess_error": float(np.linalg.norm(guess - u_cold) / np.linalg.norm(u_cold)),
               "nearest_error": None if nearest is None else float(np.linalg.norm(nearest - u_cold)
                                                                    / np.linalg.norm(u_cold)),
               "anchor_kind": None if starter.anchors is None else starter.anchors.kind,
               "petsc_garbage": garbage},
              open(sys.argv[2], "w"))
