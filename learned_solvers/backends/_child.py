"""A backend's solve in a child process, for a solver that can end or stall the process it runs
in. HiGHS' QP solver aborted its process ("double free or corruption") on Maros-Meszaros STADAT1
and ran on, far past its time limit, on STADAT3 (``benchmarks/highs_qp_probe.py``). Solved here,
such a QP ends as an ``error`` or ``limit`` result and the caller's batch goes on. A large PDLP
solve comes here too (``pdlp.ISOLATE_NNZ``): PDLP holds Python's lock for its whole run, and a
Ctrl-C, which cannot reach into it, ends the child instead.

The child is one Python process kept for the session: started on first use (about a second) and
again after one has ended. ``subprocess`` starts it, not ``multiprocessing``, whose spawn would
run a user's script again in the child if it lacks an ``if __name__ == "__main__"`` guard. The
problem, the start and the result cross the child's pipes as pickles: this process talks only
to the child it started, and no file is read.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from .._interrupt import raise_if_stopped, stop_asked
from ..canonical import QPData
from .base import SolveResult, Status, WarmStart

__all__ = ["solve_in_child"]

START_SECONDS = 120.0  # to import numpy, scipy and the solver, on a loaded machine
STOP_POLL = 0.1  # seconds between looks at whether a Ctrl-C has come, inside a block that holds one
LONGEST_WAIT = 1e9
"""seconds: a longer ``hang_after`` is a wait without limit (select's timeout overflows past
about 9.2e9 s, and a time limit of 1e20 is a common way to write none)"""
_lock = threading.Lock()
_proc: subprocess.Popen | None = None


def solve_in_child(name: str, options: dict[str, Any], qp: QPData, ws: WarmStart | None, *, warm_started: bool,
                   hang_after: float | None, advice: str, flag: str = "isolate_qp") -> SolveResult:
    """``make_backend(name, **options).solve(qp, warm_start=ws)`` in the child. If the child dies,
    an ``error`` result says how (``extra['ended'] = 'crash'``); if no answer has come after
    ``hang_after`` seconds (None: wait), the child is ended and the result is ``limit``
    (``extra['ended'] = 'hang'``). ``advice`` ends either message (which solvers to try);
    ``flag``: the backend's option that solves in this process instead (named where no child
    starts). Exceptions and warnings raised in the child are raised and issued here. A Ctrl-C
    ends the child at once, also inside a block that holds it (``held_interrupts``), and is
    raised. One child serves the process: solves from several threads take turns."""
    global _proc
    if hang_after is not None and hang_after > LONGEST_WAIT:
        hang_after = None
    with _lock:
        if _proc is None or _proc.poll() is not None:
            _proc = _start(name, flag)
        proc = _proc
        t0 = time.perf_counter()
        try:
            pickle.dump((name, options, qp, ws), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
            if not _answered(proc, hang_after):
                _end(proc)
                _proc = None
                return _failed(name, qp, warm_started, time.perf_counter() - t0, Status.LIMIT, "hang",
                               f"{name} gave no answer on {qp.name!r} within {hang_after:g} s; its process was "
                               f"ended. {advice}")
            kind, payload, caught = pickle.load(proc.stdout)
        except (BrokenPipeError, EOFError, pickle.UnpicklingError):
            code = proc.wait()
            _end(proc)
            _proc = None
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            return _failed(name, qp, warm_started, time.perf_counter() - t0, Status.ERROR, "crash",
                           f"{name} ended its process ({how}) while solving {qp.name!r}. {advice}")
        except BaseException:  # Ctrl-C while the child solves: its answer would come to no one
            _end(proc)
            _proc = None
            raise
    for message, category in caught:
        warnings.warn(message, category, stacklevel=3)
    if kind == "raise":
        raise payload
    return payload


def _answered(proc: subprocess.Popen, wait: float | None) -> bool:
    """Whether the child's answer came within ``wait`` seconds (None: no limit). Inside a block
    that holds a Ctrl-C, whose handler raises nothing, the wait looks every ``STOP_POLL`` s whether
    one has come, and raises it (the caller ends the child): a plain wait had run on to the answer."""
    with stop_asked() as stop:
        if stop is None:
            return bool(select.select([proc.stdout], [], [], wait)[0])
        end = None if wait is None else time.monotonic() + wait
        while True:
            left = STOP_POLL if end is None else min(STOP_POLL, max(0.0, end - time.monotonic()))
            if select.select([proc.stdout], [], [], left)[0]:
                return True
            if stop():
                raise_if_stopped()
            if end is not None and time.monotonic() >= end:
                return False


def _failed(name: str, qp: QPData, warm_started: bool, seconds: float, status: str, ended: str,
            message: str) -> SolveResult:
    return SolveResult(solver=name, status=status, objective=float("nan"), x=None, y=None, iterations=0,
                       seconds=seconds, warm_started=warm_started, warm_start_accepted=False, message=message,
                       extra={"ended": ended})


def _start(name: str, flag: str) -> subprocess.Popen:
    """A child that has imported the package and ``name``'s backend and said so; if none comes up
    within ``START_SECONDS``, a ``RuntimeError`` that says how to go on without one (``flag``)."""
    env = dict(os.environ)
    # the child imports this package from where this process found it, installed or not
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    instead = (f"solve in this process instead with make_backend({name!r}, {flag}=False) (a crash of the "
               "solver then ends this process too)")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "learned_solvers.backends._child", name],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    except OSError as exc:
        raise RuntimeError(f"{name}: could not start the child process it solves in ({exc}); {instead}") from exc
    try:
        if _answered(proc, START_SECONDS) and pickle.load(proc.stdout) == "ready":
            return proc
    except (EOFError, pickle.UnpicklingError):
        pass
    except BaseException:  # a Ctrl-C while it starts: no child is left behind
        _end(proc)
        raise
    _end(proc)
    raise RuntimeError(f"{name}: the child process it solves in did not start (exit status {proc.returncode}; "
                       f"its error, if it gave one, is above); {instead}")


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:
            pass


@atexit.register
def _close() -> None:
    """The child ends when its input does; wait for it, so that no orphan outlives the session."""
    proc = _proc
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass
    _end(proc)


def _serve() -> None:
    """The child: answer each ``(name, options, qp, ws)`` with ``(kind, payload, warnings)`` until
    the input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the child
    replies = os.fdopen(os.dup(1), "wb")
    # a solver's own prints go nowhere, not into the replies: HiGHS' QP solver printed "error" line
    # after line while it ran on STADAT3, with its output off
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    from . import backend_class, make_backend

    backend_class(sys.argv[1])  # imported here, before the first problem: the parent waits for "ready"
    pickle.dump("ready", replies)
    replies.flush()
    while True:
        try:
            name, options, qp, ws = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                kind, payload = "result", make_backend(name, **options).solve(qp, warm_start=ws)
            except Exception as exc:  # raised again in the parent, as itself where it pickles
                try:
                    pickle.dumps(exc)
                    kind, payload = "raise", exc
                except Exception:
                    kind, payload = "raise", RuntimeError(f"{type(exc).__name__}: {exc}")
        found = [(str(w.message), w.category) for w in caught]
        try:
            reply = pickle.dumps((kind, payload, found), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a result holding the solver's own objects: say so, not a crash
            reply = pickle.dumps(("raise", RuntimeError(f"{name}: its result could not be passed back from the "
                                                        f"child process ({exc})"), found))
        replies.write(reply)
        replies.flush()


if __name__ == "__main__":
    _serve()
