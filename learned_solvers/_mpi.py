"""Work done on rank 0 alone for a problem distributed over MPI ranks (the gathered canonical
data, inference), whose errors every rank must see; and how many ranks a launcher started."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

__all__ = ["on_rank0", "launched_ranks", "torchrun_ranks"]


def torchrun_ranks() -> int:
    """The world size torchrun announces (``WORLD_SIZE``), 1 if none."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE") or 1))
    except ValueError:
        return 1


def launched_ranks() -> int:
    """The MPI world's size the launcher announces (MPICH, Intel MPI, Open MPI, MVAPICH), 1 if none;
    read from the environment, since importing mpi4py would start MPI."""
    for key in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        try:
            return max(1, int(os.environ[key]))
        except (KeyError, ValueError):
            continue
    return 1


def on_rank0(comm: Any, call: Callable[[], Any]) -> Any:
    """``call()`` on rank 0, None on the other ranks; an exception it raises is raised on every
    rank. Raised on rank 0 alone, a refusal would leave the other ranks waiting in the next
    collective call, and a user who catches it and goes on to ``problem.solve()`` would hang
    there. ``comm``: an mpi4py communicator."""
    out, err = None, None
    if comm.rank == 0:
        try:
            out = call()
        except Exception as exc:  # noqa: BLE001 (raised again below, on every rank)
            err = exc
    if comm.size > 1:
        sent = err
        if err is not None:
            try:
                pickle.dumps(err)
            except Exception:  # noqa: BLE001 (an exception that cannot travel goes as its text)
                sent = RuntimeError(f"{type(err).__name__}: {err}")
        sent = comm.bcast(sent, root=0)
        err = err if comm.rank == 0 else sent
    if err is not None:
        raise err
    return out
