"""Work done on rank 0 alone for a problem distributed over MPI ranks (the gathered canonical
data, inference), whose errors every rank must see; and how many ranks a launcher started."""

from __future__ import annotations

import os
import pickle
import stat
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["abort_job_on_uncaught", "on_rank0", "launched_ranks", "torchrun_ranks"]

_hooked = False


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


def abort_job_on_uncaught(comm: Any) -> None:
    """From now on, an exception no code catches (a Ctrl-C included) ends every rank of the MPI
    job, after its traceback, by ``MPI_Abort`` (exit status 130 for a Ctrl-C, else 1).
    Installed where this package first works on more than one rank.

    Why: the rank that raised would otherwise hang at exit and the others with it. petsc4py's
    exit cleanup (``PETSc.garbage_cleanup``) is collective, and the other ranks wait in the next
    collective call of the run (a gather of the canonical data, a PETSc assembly), where they
    cannot even see their own Ctrl-C. mpi4py's ``python -m mpi4py`` aborts only after that
    cleanup, so it hung as well. A ``sys.excepthook`` set beforehand still runs first; one set
    afterwards replaces this. ``comm``: the mpi4py communicator the package works on (nothing is
    set on one rank)."""
    global _hooked
    if _hooked or comm.size <= 1:
        return
    _hooked = True
    before = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        try:
            before(kind, exc, tb)
        finally:
            _drain_outputs()
            from mpi4py import MPI

            # the world, not ``comm``: a mesh's communicator is freed with its mesh, and the job is one
            MPI.COMM_WORLD.Abort(130 if issubclass(kind, KeyboardInterrupt) else 1)

    sys.excepthook = hook


def _drain_outputs(limit: float = 2.0) -> None:
    """Flush stdout and stderr and wait (at most ``limit`` s) until the launcher has read what
    they hold where they are pipes: mpirun's launcher stops reading them at an ``MPI_Abort``,
    and the traceback just written was at times cut short after its first line."""
    try:
        import fcntl
        import termios
    except ImportError:  # not a POSIX system: flushed only
        fcntl = termios = None
    deadline = time.monotonic() + limit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
            fd = stream.fileno()
            if fcntl is None or not stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            while time.monotonic() < deadline:
                # bytes still in the pipe (Linux answers FIONREAD on either end)
                if struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0] == 0:
                    break
                time.sleep(0.01)
        except (AttributeError, OSError, ValueError):
            continue


def on_rank0(comm: Any, call: Callable[[], Any]) -> Any:
    """``call()`` on rank 0, None on the other ranks; an exception it raises is raised on every
    rank. Raised on rank 0 alone, a refusal would leave the other ranks waiting in the next
    collective call, and a user who catches it and goes on to ``problem.solve()`` would hang
    there. ``comm``: an mpi4py communicator."""
    abort_job_on_uncaught(comm)
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
