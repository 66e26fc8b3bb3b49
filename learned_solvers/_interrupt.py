"""SIGTERM handled as Ctrl-C by the CLI: a batch scheduler's time limit or a ``kill`` (both send
SIGTERM) keeps what a Ctrl-C keeps, the best model so far and the finished held-out instances,
and the messages name the signal that came."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["dask_setup", "forget_frames", "held_interrupts", "note_stop", "raise_if_stopped", "sigint_ignored",
           "sigterm_as_ctrl_c", "stop_asked", "stop_callback", "stop_reason", "stopped_elsewhere"]

_reason = "Ctrl-C"
_held = 0  # depth of held_interrupts blocks (main thread)
_pending: tuple[str, ...] | None = None  # a signal that came inside one: its KeyboardInterrupt's args


def stop_reason() -> str:
    """What stopped the run: 'Ctrl-C', or 'SIGTERM' once that signal has come."""
    return _reason


def note_stop(signum: int) -> None:
    """Record the signal that stops the run where no KeyboardInterrupt is raised for it (DDP
    ranks, ``training.distributed.StopOnSignal``), so that ``stop_reason`` names it."""
    global _reason
    if signum == signal.SIGTERM:
        _reason = "SIGTERM"


def forget_frames(exc: BaseException) -> None:
    """Drop the traceback of an interrupt that a context manager swallowed (a sweep that reports
    on its finished instances). Its frames hold what the interrupted code held, a dolfinx problem
    and its PETSc objects among them, and ``contextlib`` keeps the interrupt in a reference cycle:
    they were left to Python's cyclic collector, which frees them at some later call and in no
    fixed order, not as the code that holds them returns. PETSc objects freed that way crashed
    the process once (a segfault in dolfinx's ``LinearProblem.__del__`` as a Ctrl-C'd sweep wrote
    its report; the cause was an interrupt inside dolfinx's calls, which ``held_interrupts`` now
    keeps out); dolfinx's own advice is to destroy them at a known point."""
    exc.__traceback__ = None


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """A Ctrl-C (or, under the CLI, a SIGTERM) that comes inside the block raises its
    KeyboardInterrupt as the block ends, not inside it; also usable as a decorator.

    Around code that drives dolfinx and PETSc from Python: their wrappers check a vector's local
    form and arrays out and put them back with context managers (dolfinx's ``apply_lifting``
    passes ``array_w`` of a local form down, inside an ``ExitStack``), and an interrupt between
    the two, or inside ``ExitStack``'s own bookkeeping, left the vector with an array checked out
    of a local form already put back. Its destroy, when the problem was freed, segfaulted: in 5 of
    6 runs of ``tests/interrupted_sweeps_script.py`` (150 timed interrupts of a darcy sweep). A
    KSP solve is one C call, which Python never interrupts anyway; a SNES solve's callbacks are
    held with it. The PETSc backends' monitors end either at its next iteration
    (``backends.petsc.stopping_early``)."""
    global _held, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # outside the CLI (a user's script, a notebook) SIGINT is Python's own handler, which
    # raises at once: ours holds it for the block
    swapped = _held == 0 and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if swapped:
        signal.signal(signal.SIGINT, _on_sigint)
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if swapped:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if _held == 0 and _pending is not None:
            args, _pending = _pending, None
            raise KeyboardInterrupt(*args)


def stop_callback() -> Callable[[], bool] | None:
    """For a solver's own per-iteration callback inside ``held_interrupts``: a function that says
    whether a Ctrl-C (or, under the CLI, a SIGTERM) has come, so that the callback ends the run at
    the solver's next check. None where no callback should run: outside the main thread, which no
    signal reaches, and under a SIGINT handler of the caller's own, which would run inside the
    solver's callback (HiGHS swallows what it raises and calls the solve an error; PETSc turns it
    into its error 101)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) not in (
            signal.default_int_handler, _on_sigint):
        return None
    return lambda: _pending is not None


def stopped_elsewhere() -> None:
    """Inside ``held_interrupts``: another MPI rank has seen a Ctrl-C and every rank's solve has
    stopped with it (``backends.petsc.stopping_early``), so this rank raises as if the signal had
    come here too, not returning the stopped solve as a result while the other ranks stop."""
    global _pending
    if _held and _pending is None:
        _pending = ()


def raise_if_stopped() -> None:
    """Raise now, inside a ``held_interrupts`` block, the KeyboardInterrupt of a signal that came
    in it: a run that a solver ended early at a Ctrl-C has no result to return, not even to an
    outer block, which would raise it only at its own end."""
    global _pending
    if _pending is not None:
        args, _pending = _pending, None
        raise KeyboardInterrupt(*args)


@contextlib.contextmanager
def stop_asked() -> Iterator[Callable[[], bool] | None]:
    """Around a solve whose solver asks a callback whether to stop (HiGHS, Clarabel): the block
    holds a Ctrl-C as ``held_interrupts`` does and yields ``stop_callback()``. The solver's
    callback returns it, the solver ends its run at its next check, and the KeyboardInterrupt is
    raised as the block ends. Python runs its signal handlers only between bytecodes, so without
    it a Ctrl-C waited for the whole solve, one C call (on to HiGHS' time limit in
    ``tests/test_lp_qp.py``). Yields None, and holds nothing, where ``stop_callback`` gives None.
    Inside an outer ``held_interrupts`` block the KeyboardInterrupt is raised as this block ends
    all the same."""
    stop = stop_callback()
    if stop is None:
        yield None
        return
    with held_interrupts():
        yield stop
        raise_if_stopped()


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the block (main thread only). A terminal's Ctrl-C reaches every process
    of the foreground group, the local cluster's workers too, and each printed its own
    KeyboardInterrupt traceback; a process started with SIGINT ignored keeps it so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def dask_setup(worker: Any = None) -> None:
    """Dask's preload hook, run in each local worker process as it starts (``LocalCluster(preload=
    ["learned_solvers._interrupt"])``): SIGINT ignored there. ``sigint_ignored`` covers the workers
    started with the cluster; one that its nanny starts again after another died came later,
    outside that block, with asyncio's SIGINT handler, and printed its own traceback at a
    terminal's Ctrl-C."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def sigterm_as_ctrl_c() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread, as SIGINT does, and
    neither is lost in a finalizer (``_interrupt``; Python lets only the main thread set a
    handler: elsewhere this does nothing).

    PETSc, started later by the PDE side, would install its own handler over this one, and a
    SIGTERM then aborted the process ("Caught signal number 15", exit status 15) with its
    finished work lost: PETSC_OPTIONS asks it for none (a user's own options are kept). That also
    leaves a segfault to Python's faulthandler, which names the Python line, where PETSc's
    handler names none."""
    if threading.current_thread() is not threading.main_thread():
        return
    if "-no_signal_handler" not in os.environ.get("PETSC_OPTIONS", "").split():
        os.environ["PETSC_OPTIONS"] = f"{os.environ.get('PETSC_OPTIONS', '')} -no_signal_handler".strip()
    import faulthandler

    if not faulthandler.is_enabled():
        try:
            faulthandler.enable()
        except (OSError, ValueError, AttributeError):  # a stderr with no file behind it (a caller's capture)
            pass

    def on_term(signum: int, frame: Any) -> None:
        global _reason
        _reason = "SIGTERM"
        _interrupt(signum, frame, "SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    # SIGINT as Python's own handler has it, unless the process was started with it ignored (a
    # job in the background), which stays so
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _resending(sys.unraisablehook)


def _resending(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """``hook`` (``sys.unraisablehook``'s), but for an interrupt raised where Python ignores
    exceptions: in a callback ``_in_finalizer`` cannot tell from the frames, such as a weak
    reference's (importlib's module cache has them), where a Ctrl-C was lost and the sweep ran on
    (seen once, in a probe of timed interrupts of an OSQP sensitivity sweep). Its signal is sent
    again."""

    def on_unraisable(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)
            return
        _send_again(signal.SIGTERM if unraisable.exc_value.args == ("SIGTERM",) else signal.SIGINT)

    return on_unraisable


def _send_again(signum: int) -> None:
    """The signal to the main thread 10 ms from now, outside the callback it came in."""
    import _thread

    threading.Timer(0.01, _thread.interrupt_main, args=(signum,)).start()


def _on_sigint(signum: int, frame: Any) -> None:
    _interrupt(signum, frame)


def _in_finalizer(frame: Any) -> bool:
    """Whether ``frame`` runs inside a finalizer, a ``__del__`` or a ``weakref.finalize``
    callback, at any depth: an exception raised below one stops there."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or (code.co_name == "__call__" and code.co_filename.endswith("weakref.py")):
            return True
        frame = frame.f_back
    return False


def _interrupt(signum: int, frame: Any, *args: str) -> None:
    """Raise KeyboardInterrupt where the signal found the main thread, except in a finalizer:
    Python ignores an exception raised in ``__del__`` or in a ``weakref.finalize`` callback (it
    prints "Exception ignored in"), and a Ctrl-C that came while dolfinx freed a PETSc vector was
    lost, the bench running all its instances on. There the signal is sent again to the main
    thread 10 ms later (and from other callbacks by ``_resending``). Inside ``held_interrupts``
    it is kept for the block's end."""
    global _pending
    if _held:
        _pending = args
        return
    if _in_finalizer(frame):
        _send_again(signum)
        return
    raise KeyboardInterrupt(*args)
