"""SIGTERM handled as Ctrl-C by the CLI: a batch scheduler's time limit or a ``kill`` (both send
SIGTERM) keeps what a Ctrl-C keeps, the best model so far and the finished held-out instances,
and the messages name the signal that came."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

__all__ = ["sigterm_as_ctrl_c", "stop_reason"]

_reason = "Ctrl-C"


def stop_reason() -> str:
    """What stopped the run: 'Ctrl-C', or 'SIGTERM' once that signal has come."""
    return _reason


def sigterm_as_ctrl_c() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread, as SIGINT does (Python
    lets only the main thread set a handler: elsewhere this does nothing).

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
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
