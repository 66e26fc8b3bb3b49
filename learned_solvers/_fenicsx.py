"""FEniCSx (dolfinx), imported one way by every part that needs it: the PyPI wheel
(``dolfinx-solver-real``, the ``pde`` extra) sets up its bundled PETSc when ``dolfinx_solver``
is imported before ``dolfinx``; conda-forge's ``fenics-dolfinx`` has no such module and needs
no such step. Where neither is installed, the error says how to install one."""

from __future__ import annotations

import importlib.util
from types import ModuleType

__all__ = ["FEniCSxMissingError", "available", "import_dolfinx", "require"]

INSTALL = ("pip install 'learned-solvers[pde]' (FEniCSx from PyPI: dolfinx-solver-real, Linux, Python >= 3.12), "
           "or conda env create -f environment.yml (conda-forge's fenics-dolfinx)")


class FEniCSxMissingError(ModuleNotFoundError):
    """dolfinx is not installed, and the PDE side needs it."""


def available() -> bool:
    """Whether dolfinx can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec("dolfinx") is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        return False


def require(what: str = "the PDE side") -> None:
    """Raise ``FEniCSxMissingError`` now, before any work, where dolfinx is missing."""
    if not available():
        raise FEniCSxMissingError(f"{what} needs FEniCSx (dolfinx), which is not installed here: {INSTALL}")


def import_dolfinx() -> ModuleType:
    """``dolfinx``, with ``dolfinx.fem.petsc`` loaded (the PyPI wheel's set-up first, where it is the wheel)."""
    try:
        import dolfinx_solver  # noqa: F401  (the PyPI wheel: must come before dolfinx)
    except ImportError:
        pass  # conda-forge's dolfinx, or none: the import below says which
    try:
        import dolfinx
        import dolfinx.fem.petsc
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != "dolfinx":
            raise  # dolfinx is there and lacks a dependency of its own: its words say which
        raise FEniCSxMissingError(f"FEniCSx (dolfinx) is not installed here: {INSTALL}") from exc
    return dolfinx
