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
    """A Maros-Meszaros QP (``maros_meszaros/NAME.mat``, read by the product's own ``.mat``
    reader) as ``(QPData, reference optimum)``."""
    from learned_solvers.formats.mat import read_mat

    p = DATA / "maros_meszaros" / f"{name}.mat"
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} not present: CI expects ../shared/data beside the clone (or LS_SHARED_DATA)")
        pytest.skip(f"{p} not present (set LS_SHARED_DATA)")
    with open(DATA / "maros_meszaros" / "optima.csv") as f:
        ref = {r["name"]: float(r["objective"]) for r in csv.DictReader(f)}[name]
    return read_mat(p), ref
