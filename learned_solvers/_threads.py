"""torch's CPU threads for one block of work, given back afterwards (the starters and the
PDE trainer choose them by the size of the graph)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` threads (None: as they are), then restore the caller's setting."""
    kept = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(kept)
