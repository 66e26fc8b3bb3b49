"""The user's own builder function named in a family spec (``cvxpy:MODULE:FUNCTION``,
``dolfinx:MODULE:FUNCTION``), looked up with errors that say what to fix; ``:KEY=VALUE,...``
after it are the function's own keywords (``cvxpy:mymodel:build:n=200`` calls
``build(rng, n=200)``), for what does not change the family's law, such as its size: checkpoints
match on ``KIND:MODULE:FUNCTION`` alone."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


def split_spec(target: str) -> tuple[str, str]:
    """``MODULE:FUNCTION[:KEY=VALUE,...]`` as (``MODULE:FUNCTION``, ``KEY=VALUE,...``)."""
    module, func, opts = (target.split(":", 2) + ["", ""])[:3]
    return f"{module}:{func}", opts


def builder_keywords(family: str, fn: Callable[..., Any], opts: str, *, passed: int = 0) -> dict[str, Any]:
    """The spec's ``KEY=VALUE,...`` as the builder's keyword arguments, each value read as the
    type of the parameter's default (or annotation), else as a number where it reads as one;
    a keyword the builder does not take is refused with those it does. ``passed``: the leading
    parameters the family passes itself (``rng``), not the spec's."""
    import inspect

    try:
        params = dict(inspect.signature(fn).parameters)
        open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):  # no signature to read: pass the keywords on as they read
        params, open_ended = {}, True
    named = [n for n, p in list(params.items())[passed:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    out: dict[str, Any] = {}
    for kv in filter(None, opts.split(",")):
        key, eq, text = kv.partition("=")
        if not eq or not key.isidentifier():
            raise ValueError(f"family {family}: {kv!r} must be KEY=VALUE, a keyword of the function "
                             f"(e.g. {family}:n=128)")
        if key in out:
            raise ValueError(f"family {family}: the keyword {key!r} is given twice ({opts}); give it once")
        if key not in named and not open_ended:
            raise ValueError(f"family {family}: the function takes no keyword {key!r}; it takes "
                             f"{', '.join(named) or 'none'}")
        p = params.get(key)
        kind = None
        if p is not None and p.default is not p.empty and p.default is not None:
            kind = type(p.default)
        elif p is not None and p.annotation is not p.empty:
            kind = {"int": int, "float": float, "bool": bool, "str": str}.get(
                p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", ""))
        out[key] = _read_keyword(family, key, text, kind)
    return out


def _read_keyword(family: str, key: str, text: str, kind: type | None) -> Any:
    if kind is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError(f"family {family}: {key}={text!r} must be true or false")
    if kind in (int, float, str):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"family {family}: {key}={text!r} is not {'an' if kind is int else 'a'} "
                             f"{kind.__name__}, as the function's default for {key} is") from None
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def keywords_text(keywords: dict[str, Any]) -> str:
    """``KEY=VALUE,...`` as a spec writes them (what ``builder_keywords`` reads back)."""
    return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in keywords.items())


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
        want = how or (f"FUNCTION(rng{', ' + given if given else ''}), rng a numpy Generator" if args
                       else f"FUNCTION({given})" if given else "FUNCTION() with no arguments")
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

    build: Callable[..., Any]
    name: str  # KIND:MODULE:FUNCTION: what checkpoints match on
    keywords: dict[str, Any] = field(default_factory=dict)  # the function's own (the spec's :KEY=VALUE,...)
    KIND: ClassVar[str] = ""

    @classmethod
    def from_spec(cls, target: str) -> UserModelFamily:
        where, opts = split_spec(target)
        fn = user_function(cls.KIND, where)
        name = f"{cls.KIND}:{where}"
        return cls(build=fn, name=name, keywords=builder_keywords(name, fn, opts, passed=1))

    def spec(self) -> str:
        return f"{self.name}:{keywords_text(self.keywords)}" if self.keywords else self.name

    def family_key(self) -> str:
        """What checkpoints match on: the function, not its keywords (a size, say)."""
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
            model = call_user(self.spec(), self.build, rng, **self.keywords)
            try:
                qp = self.read(model)
            except InvalidProblemError as exc:
                raise InvalidProblemError(f"{self.spec()}: {exc}") from exc
            yield qp.with_data(name=f"{self.spec()}[{seed}:{i}]")
