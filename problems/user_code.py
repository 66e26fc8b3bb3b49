"""The user's own builder function named in a family spec (``cvxpy:MODULE:FUNCTION``,
``dolfinx:MODULE:FUNCTION``), looked up with errors that say what to fix."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from learned_solvers.canonical import InvalidProblemError, QPData


def user_function(kind: str, target: str) -> Callable[..., Any]:
    """``FUNCTION`` of ``MODULE`` for the spec ``kind:MODULE:FUNCTION`` (``target`` is the part after ``kind:``)."""
    module, _, func = target.partition(":")
    if not module or not func:
        raise ValueError(f"family '{kind}:MODULE:FUNCTION' needs a module and a function, e.g. {kind}:mymodel:build")
    if os.getcwd() not in sys.path and "" not in sys.path:
        # `python -m` and `python script.py` put the working folder on the path; the installed
        # `learned-solvers` command does not, and the user's module usually sits there
        sys.path.append(os.getcwd())
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"family '{kind}:{target}': cannot import {module!r} from {os.getcwd()} or the Python path "
                         f"({exc}); run from the folder that holds it or add that folder to PYTHONPATH") from exc
    fn = getattr(mod, func, None)
    if not callable(fn):
        raise ValueError(f"family '{kind}:{target}': module {module!r} ({getattr(mod, '__file__', '?')}) has no "
                         f"function {func!r}")
    return fn


class UserCodeError(RuntimeError):
    """The user's code (a builder, ``UserPDE.apply`` or ``cold_guess``) raised, or cannot be called
    as the family calls it: the family, the error, and where in the user's file."""


def call_user(family: str, fn: Callable[..., Any], *args: Any, how: str = "", **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, the user's code (a builder, ``UserPDE.apply``); what it raises comes back
    as a ``UserCodeError`` that names the family, the error and the line of the user's code it
    came from (the deepest frame in the function's own file), so the CLI can say it in one
    line. ``how``: how the function is called, for a signature that does not fit."""
    import inspect
    import traceback

    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        want = how or ("FUNCTION(rng), rng a numpy Generator" if args else f"FUNCTION({given})" if given
                       else "FUNCTION() with no arguments")
        name = getattr(fn, "__name__", type(fn).__name__)
        raise UserCodeError(f"{family}: the function is called as {want}; {name}{inspect.signature(fn)} "
                            f"does not take that ({exc})") from exc
    except ValueError:  # a builtin or C function without a signature: call it and see
        pass
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  the user's code may raise anything
        own = getattr(inspect.getmodule(fn), "__file__", None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if own and f.filename == own] or \
            traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        raise UserCodeError(f"{family}: your function raised {type(exc).__name__}: {exc}{where}") from exc


@dataclass(frozen=True, kw_only=True)
class UserModelFamily(ABC):
    """An LP/QP family built by the user's ``FUNCTION(rng) -> model`` (``KIND:MODULE:FUNCTION``);
    a subclass says how one model is read (``read``)."""

    build: Callable[[np.random.Generator], Any]
    name: str
    KIND: ClassVar[str] = ""

    @classmethod
    def from_spec(cls, target: str) -> UserModelFamily:
        return cls(build=user_function(cls.KIND, target), name=f"{cls.KIND}:{target}")

    def spec(self) -> str:
        return self.name

    @abstractmethod
    def read(self, model: Any) -> QPData:
        """One built model in canonical form; InvalidProblemError for one that is not of this kind."""

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        return list(itertools.islice(self.stream(seed=seed), count))

    def stream(self, *, seed: int) -> Iterator[QPData]:
        """The draws of ``seed`` one at a time, one call of the user's function each: labelling's
        further draws read on from here (``problems.registry.drawer``) rather than build the
        earlier models again."""
        rng = np.random.default_rng(seed)
        for i in itertools.count():
            model = call_user(self.name, self.build, rng)
            try:
                qp = self.read(model)
            except InvalidProblemError as exc:
                raise InvalidProblemError(f"{self.name}: {exc}") from exc
            yield qp.with_data(name=f"{self.name}[{seed}:{i}]")
