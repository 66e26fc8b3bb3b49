"""Labelled instances: each instance solved cold by a reference solver (HiGHS by default).

Solving is embarrassingly parallel: ``scheduler="local"`` starts a Dask ``LocalCluster``
(processes), an address (``tcp://host:8786``) uses an existing Dask cluster, and
``"serial"`` solves in this process (tests, tiny families).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..backends import Status, make_backend
from ..canonical import QPData

__all__ = ["Labelled", "solve_reference", "label_instances"]


@dataclass(frozen=True)
class Labelled:
    """An instance with its reference optimum (x: (n,), y: (m,)) and, from a simplex
    reference, its optimal active set (row_side (m,), var_side (n,))."""

    qp: QPData
    x: np.ndarray
    y: np.ndarray
    objective: float
    active: tuple[np.ndarray, np.ndarray] | None = None


def solve_reference(qp: QPData, solver: str = "highs") -> Labelled | None:
    """Solve ``qp`` cold; ``None`` unless the solver reports an optimum with duals."""
    res = make_backend(solver).solve(qp)
    if res.status != Status.OPTIMAL or res.x is None or res.y is None:
        return None
    return Labelled(qp=qp, x=res.x, y=res.y, objective=res.objective, active=res.extra.get("active"))


def label_instances(qps: Sequence[QPData], *, scheduler: str = "local", workers: int | None = None,
                    solver: str = "highs", progress: bool = True) -> list[Labelled]:
    """Solve every instance with ``solver``; instances that are not optimal are dropped with a
    warning (the ``mps:`` family's rule). Order is kept."""
    if scheduler == "serial":
        out = [solve_reference(q, solver) for q in tqdm(qps, desc="labelling", disable=not progress)]
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler == "local":
            cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        else:
            client = Client(scheduler)
        try:
            futures = client.map(solve_reference, list(qps), solver=solver, pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            out = [None] * len(futures)
            for fut in tqdm(as_completed(futures), total=len(futures), desc="labelling (dask)", disable=not progress):
                out[index[fut.key]] = fut.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    kept = [o for o in out if o is not None]
    if len(kept) < len(out):
        warnings.warn(f"{len(out) - len(kept)} of {len(out)} instances were not solved to optimality and were dropped",
                      RuntimeWarning, stacklevel=2)
    return kept
