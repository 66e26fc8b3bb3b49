"""Shared fixtures: the real instances under ../shared/data, tiny families."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def netlib(name: str) -> Path:
    p = DATA / "netlib" / f"{name}.mps.gz"
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} not present: CI expects ../shared/data beside the clone (or LS_SHARED_DATA)")
        pytest.skip(f"{p} not present (set LS_SHARED_DATA)")
    return p


def netlib_optimum(name: str) -> float:
    with open(DATA / "netlib" / "optima.csv") as f:
        return {r["name"]: float(r["objective"]) for r in csv.DictReader(f)}[name]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.exists():
        pytest.skip("shared data folder not present")
    return DATA


def maros_meszaros(name: str):
    """A Maros-Meszaros QP (``maros_meszaros/NAME.mat``: P, q, r, A = [C; I], l, u, with +-1e20
    for infinite) as ``(QPData, reference optimum)``: the last n rows are the variable bounds."""
    import numpy as np
    import scipy.io as sio
    import scipy.sparse as sp

    from learned_solvers.canonical import QPData

    p = DATA / "maros_meszaros" / f"{name}.mat"
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} not present: CI expects ../shared/data beside the clone (or LS_SHARED_DATA)")
        pytest.skip(f"{p} not present (set LS_SHARED_DATA)")
    d = sio.loadmat(p, spmatrix=False)
    n = int(d["n"].item())
    inf = lambda v: np.where(v >= 1e20, np.inf, np.where(v <= -1e20, -np.inf, v))  # noqa: E731
    lo, hi = inf(np.asarray(d["l"], dtype=float).ravel()), inf(np.asarray(d["u"], dtype=float).ravel())
    a = sp.csr_matrix(d["A"])
    qp = QPData(c=np.asarray(d["q"], dtype=float).ravel(), A=a[:-n], l=lo[:-n], u=hi[:-n], lb=lo[-n:], ub=hi[-n:],
                P=sp.csr_matrix(d["P"]), offset=float(d["r"].item()), name=name)
    with open(DATA / "maros_meszaros" / "optima.csv") as f:
        ref = {r["name"]: float(r["objective"]) for r in csv.DictReader(f)}[name]
    return qp, ref
