"""torch's CPU threads for one block of work, given back afterwards (the starters and the
PDE trainer choose them by the size of the graph)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["torch_threads", "blas_threads", "inference_threads", "THREADS_FROM"]

# one inference call (or a PDE training batch) on a graph of fewer nodes runs on one thread,
# where thread start-up costs more than it saves; from a few thousand nodes torch's threads pay.
# Mesh graphs on two cores (run_pde.sh's *_threads1/_threads2 rows against their partners, `bench
# --threads`): two threads no faster at 1,089 dofs, 9-19% faster at 2,401, 4,225 and 9,409; LP/QP
# graphs (variables + constraints; run_lp_qp.sh's random-lp-200x400-pdlp-*-threads1/2 rows): 9%
# slower at 600 nodes, 3% faster at 1,500 (the hour's noise), 16% faster at 3,000
THREADS_FROM = 2_000


def inference_threads(call: int | None, starter: int | None, size: int) -> int | None:
    """The threads one inference call runs on: the call's, else its starter's, else one below
    ``THREADS_FROM`` (``size``: graph nodes or dofs), else None (torch's own setting)."""
    return call or starter or (1 if size < THREADS_FROM else None)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` threads (None: as they are), then restore the caller's setting.
    Where torch then runs on more than one, the BLAS pools are held to one (``blas_threads``)."""
    import torch  # here: the starters import this module where their start may run no network, and need no torch

    kept = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        with blas_threads(1 if torch.get_num_threads() > 1 else None):
            yield
    finally:
        torch.set_num_threads(kept)


_controller: tuple[int, object] | None = None


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Hold the BLAS libraries that numpy and scipy load (OpenBLAS, each its own pool) to ``n``
    threads for the block (None: as they are). An OpenBLAS pool keeps its threads spinning for
    a while after a call, and on two cores they took the second core from torch's: the
    `nonlinear_poisson_snes_state_refined96` bench row's inference at k = 1 took 116 ms on two
    torch threads before this hold, 27 ms with it."""
    global _controller
    if n is None:
        yield
        return
    import sys

    from threadpoolctl import ThreadpoolController

    # made once (threadpool_limits inspects every loaded library on each call), again
    # when modules were imported since, which may have loaded another BLAS
    if _controller is None or _controller[0] != len(sys.modules):
        _controller = (len(sys.modules), ThreadpoolController())
    with _controller[1].limit(limits=n, user_api="blas"):  # type: ignore[attr-defined]
        yield
