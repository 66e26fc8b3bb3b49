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
        self._log = not _NOTEBOOK and not getattr(out, "isatty", lambda: False)()
        if self._log and "TQDM_MININTERVAL" not in os.environ:
            kwargs.setdefault("mininterval", LOG_SECONDS)
            kwargs.setdefault("maxinterval", LOG_SECONDS)
        super().__init__(*args, **kwargs)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        # in a log, a postfix (an epoch's loss) waits for the bar's next refresh: refreshed at once
        # it would print every epoch, and with the count tqdm has not yet caught up (0/10 to the end)
        super().set_postfix(ordered_dict, refresh=refresh and not self._log, **kwargs)
