"""torch's CPU threads for one block of work, given back afterwards (the starters and the
PDE trainer choose them by the size of the graph)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["torch_threads", "THREADS_FROM"]

# one inference call (or a PDE training batch) on a graph of fewer nodes runs on one thread,
# where thread start-up costs more than it saves; from a few thousand nodes torch's threads pay.
# Mesh graphs: nonlinear-poisson 32x32 (1,089 dofs) against darcy 64x64 (4,225); LP/QP graphs
# (variables + constraints), on two cores: two threads no faster or slower at 600-1,500 nodes
# (random-lp 200x400 and 500x1000, QSCSD6), faster from about 3,000
THREADS_FROM = 2_000


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` threads (None: as they are), then restore the caller's setting."""
    import torch  # here: the starters import this module where their start may run no network, and need no torch

    kept = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(kept)
