"""Every notebook under notebooks/ executes top to bottom."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.warnings import MissingIDFieldWarning

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    # a cell without an id is a warning now and an error in later nbformat versions
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingIDFieldWarning)
        nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
