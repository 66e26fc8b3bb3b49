"""A HiGHS object that prints nothing on the console, for the reader and the backend alike."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["quiet_highs"]


@cache
def _quiet_class() -> type:
    import highspy

    class QuietHighs(highspy.Highs):
        def enableCallbacks(self) -> Any:  # Highs.__init__ calls it, and the banner comes with it
            self.setOptionValue("log_to_console", False)
            return super().enableCallbacks()

    return QuietHighs


def quiet_highs() -> Any:
    """``highspy.Highs()`` without its banner: HiGHS prints it as ``Highs()`` enables its
    callbacks, before any option can be set (a script or a labelling worker printed two lines
    per instance). Nothing goes to the console; a log file can still be set."""
    return _quiet_class()()
