"""SIGTERM handled as Ctrl-C by the CLI: a batch scheduler's time limit or a ``kill`` (both send
SIGTERM) keeps what a Ctrl-C keeps, the best model so far and the finished held-out instances,
and the messages name the signal that came."""

from __future__ import annotations

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
    lets only the main thread set a handler: elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_term(signum: int, frame: Any) -> None:
        global _reason
        _reason = "SIGTERM"
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
