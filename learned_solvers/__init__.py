"""learned-solvers: learned implicit models that warm-start classical solvers."""
from ._version import __version__

__all__ = ["__version__"]
