"""tqdm for the library's long work, readable in a log too.

On a terminal, or in a notebook, the bars refresh as tqdm's do. Written into a file or a pipe
(a batch job's log, ``make demo > log``) they refresh at most every ``LOG_SECONDS``: each
refresh is a carriage return and a whole bar that the log keeps, ten a second by default.
tqdm's own ``TQDM_MININTERVAL`` (seconds), where set, rules instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.auto import tqdm as _auto

__all__ = ["tqdm", "LOG_SECONDS"]

LOG_SECONDS = 30.0
_NOTEBOOK = _auto.__module__.startswith("tqdm.notebook")  # widgets: not a log


class tqdm(_auto):  # noqa: N801 (tqdm's own name, so call sites read as tqdm's)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        out = kwargs.get("file") or sys.stderr
        if not _NOTEBOOK and "TQDM_MININTERVAL" not in os.environ and not getattr(out, "isatty", lambda: False)():
            kwargs.setdefault("mininterval", LOG_SECONDS)
            kwargs.setdefault("maxinterval", LOG_SECONDS)
        super().__init__(*args, **kwargs)
