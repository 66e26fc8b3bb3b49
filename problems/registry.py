"""Family specs: ``name[:key=value,...]``, ``mps:PATH``, ``files:GLOB``; one place that knows every family."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from learned_solvers.canonical import QPData

__all__ = ["Family", "FamilyInfo", "make_family", "family_names", "dropped_hint", "refills", "drawer",
           "describe_families", "FAMILIES"]


class Family(Protocol):
    """A seeded generator of related instances (same structure, new data). Its draws extend:
    ``sample(n + m, seed=s)[:n] == sample(n, seed=s)``, so that labelling can replace the
    instances it drops by further draws (``refills``); a family that cannot (a fixed pool of
    files) sets ``refills = False``. One whose draws cost (the user's code) may also offer
    ``stream(*, seed) -> Iterator``, which those further draws read on (``drawer``)."""

    name: str

    def sample(self, count: int, *, seed: int) -> list[QPData]: ...

    def spec(self) -> str: ...


FAMILIES = ("random-lp", "mps:PATH", "files:GLOB", "portfolio", "mpc", "lasso", "cvxpy:MODULE:FUNCTION",
            "scip:MODULE:FUNCTION")
PDE_FAMILIES = ("darcy", "nonlinear-poisson", "navier-stokes", "dolfinx:MODULE:FUNCTION")


# family name -> (module in problems/, class, what the spec gives before its key=value options): where
# make_family finds a generator's class and `learned-solvers families` its docstring and parameters
_DOCUMENTED = {"random-lp": ("random_lp", "RandomLP", ()), "mps": ("mps_family", "MPSFamily", ("path",)),
               "files": ("files_family", "FilesFamily", ("pattern",)), "portfolio": ("portfolio", "Portfolio", ()),
               "mpc": ("mpc", "MPC", ()), "lasso": ("lasso", "Lasso", ()), "cvxpy": ("cvxpy_family", None, ()),
               "scip": ("scip_family", None, ()), "darcy": ("darcy", "Darcy", ()),
               "nonlinear-poisson": ("nonlinear_poisson", "NonlinearPoisson", ()),
               "navier-stokes": ("navier_stokes", "NavierStokes", ()), "dolfinx": ("dolfinx_family", None, ())}


@dataclass(frozen=True)
class FamilyInfo:
    """What ``learned-solvers families`` says of one family: its spec's form, its kind ('LP/QP'
    or 'PDE'), its module's docstring (``summary``: the first paragraph) and its key=value
    parameters with their defaults (none for the families the user's own code makes)."""

    spec: str
    kind: str
    summary: str
    doc: str
    parameters: dict[str, Any]


def _family_class(name: str) -> type:
    module, cls_name, _ = _DOCUMENTED[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls_name)


def describe_families(name: str | None = None) -> list[FamilyInfo]:
    """Every family (or the one called ``name``, e.g. 'darcy' or 'mps'), from its module's
    docstring and its dataclass fields; nothing is built, so no solver or dolfinx is needed."""
    import inspect

    forms = {spec.partition(":")[0]: spec for spec in FAMILIES + PDE_FAMILIES}
    if name is not None and name.partition(":")[0] not in forms:
        raise ValueError(f"unknown family {name!r}; choose one of {', '.join(forms)}")
    out = []
    for key, (module, cls_name, positional) in _DOCUMENTED.items():
        if name is not None and key != name.partition(":")[0]:
            continue
        mod = importlib.import_module(f"{__package__}.{module}")
        doc = inspect.cleandoc(mod.__doc__ or "")
        summary = " ".join(doc.split("\n\n")[0].split()).partition(": ")[2] or doc
        params = ({f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
                   for f in _parameters(_family_class(key), positional)} if cls_name is not None else {})
        out.append(FamilyInfo(spec=forms[key], kind="PDE" if is_pde_family(key) else "LP/QP", summary=summary,
                              doc=doc, parameters=params))
    return out


def dropped_hint(fam: Any) -> str:
    """What to try when a family's instances do not solve to optimality ("" if it has no advice)."""
    return fam.dropped_hint() if hasattr(fam, "dropped_hint") else ""


def refills(fam: Any) -> bool:
    """Whether labelling may replace ``fam``'s dropped instances by further draws of the same
    seed (``learned_solvers.training.data.label_drawn``): every generator, not a pool of files."""
    return bool(getattr(fam, "refills", True))


def drawer(fam: Any, *, seed: int) -> Callable[[int], list]:
    """``n -> fam.sample(n, seed=seed)``, the ``draw`` labelling's rounds take (``label_drawn``).
    A family with ``stream(seed=)``, one whose every draw calls the user's code, is read on from
    the previous round's last draw, where ``sample`` would make the earlier ones again."""
    if not hasattr(fam, "stream"):
        return lambda n: fam.sample(n, seed=seed)
    stream = fam.stream(seed=seed)
    made: list = []

    def draw(n: int) -> list:
        made.extend(itertools.islice(stream, max(0, n - len(made))))
        return made[:n]

    return draw


def family_key(fam: Any) -> str:
    """What a checkpoint of ``fam`` records as its family's key: ``fam.family_key()`` where the
    family has one (the same family under another spelling, e.g. another path to one file),
    else its spec."""
    return fam.family_key() if hasattr(fam, "family_key") else fam.spec()


def family_names(fam: Any) -> tuple[str, ...]:
    """What a checkpoint of ``fam`` may be recorded under: its spec, its ``family_key``, and the
    spelling of an earlier version where the family has one (``legacy_spec``: specs that did not
    yet name every parameter, for checkpoints trained at those parameters' defaults)."""
    names = tuple(dict.fromkeys([fam.spec(), family_key(fam)]))
    legacy = fam.legacy_spec() if hasattr(fam, "legacy_spec") else None
    return names + ((legacy,) if legacy else ())


def is_pde_family(spec: str) -> bool:
    return spec.partition(":")[0] in ("darcy", "nonlinear-poisson", "navier-stokes", "dolfinx")


def _params(cls: type, opts: str, positional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``key=value,...`` after a family's name, each value converted to its field's type;
    ``positional``: fields the spec gives before the options (``mps:PATH``), not as ``key=``."""
    params = {}
    for kv in filter(None, opts.split(",")):
        if "=" not in kv:
            raise ValueError(f"family parameter {kv!r} must be key=value")
        k, v = kv.split("=", 1)
        if k in params:  # the last one had won without a word
            raise ValueError(f"family parameter {k!r} is given twice ({opts}); give it once")
        params[k] = _convert(cls, k, v, positional)
    return params


# fields a family keeps for itself, not parameters of a spec
_INTERNAL = ("name", "kind")


def _parameters(cls: type, positional: tuple[str, ...] = ()) -> list:
    return [f for f in fields(cls)
            if f.init and not f.name.startswith("_") and f.name not in _INTERNAL + positional]


def _convert(cls: type, key: str, value: str, positional: tuple[str, ...] = ()) -> Any:
    for f in _parameters(cls, positional):
        if f.name == key:
            named = {"int": int, "float": float, "bool": bool, "str": str}
            typ = f.type if isinstance(f.type, type) else named.get(str(f.type), str)
            if typ is bool:
                if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
                    raise ValueError(f"family {cls.__name__}: {key}={value!r} is not a boolean (true or false)")
                return value.lower() in ("1", "true", "yes")
            try:
                return typ(value)
            except ValueError:
                raise ValueError(f"family {cls.__name__}: {key}={value!r} is not {'an' if typ is int else 'a'} "
                                 f"{typ.__name__}") from None
    known = ", ".join(f.name for f in _parameters(cls, positional))
    raise ValueError(f"family {cls.__name__}: unknown parameter {key!r}; known: {known}")


def make_family(spec: str, **overrides: Any) -> Family:
    """Build a family from ``random-lp:m=200,n=400``, ``mps:path/to/file.mps.gz``, ``portfolio``..."""
    from .mps_family import MPSFamily

    name, _, rest = spec.partition(":")
    if is_pde_family(spec):
        from learned_solvers._fenicsx import require

        require(f"the PDE family {name!r}")  # before any labelling, and before a user's module is imported
    if name in ("cvxpy", "scip", "dolfinx", "files") and overrides:
        given = ", ".join(f"--{k}" for k in overrides)
        source = "files" if name == "files" else "code"
        raise ValueError(f"family {name}: {given} do{'es' if len(overrides) == 1 else ''} not apply to it (its "
                         f"instances come from the user's {source})")
    if name == "files":
        from .files_family import FilesFamily

        pattern, _, opts = rest.partition(",")
        if not pattern:
            raise ValueError("family 'files:GLOB' needs a file pattern, e.g. 'files:data/daily/*.mps.gz'")
        _colon_options("files", pattern)
        return FilesFamily(pattern=pattern, **_params(FilesFamily, opts, ("pattern",)))
    if name == "cvxpy":
        from .cvxpy_family import CvxpyFamily

        return CvxpyFamily.from_spec(rest)
    if name == "scip":
        from .scip_family import ScipFamily

        return ScipFamily.from_spec(rest)
    if name == "mps":
        path, _, opts = rest.partition(",")
        if not path:
            raise ValueError("family 'mps:PATH' needs a file path, e.g. mps:../shared/data/netlib/sc105.mps.gz")
        _colon_options("mps", path)
        return MPSFamily(path=path, **_overridden(_params(MPSFamily, opts, ("path",)), overrides))
    if name == "dolfinx":
        from .dolfinx_family import DolfinxFamily

        return DolfinxFamily.from_spec(rest)
    if name not in _DOCUMENTED:
        raise ValueError(f"unknown family {name!r}; choose one of {', '.join(FAMILIES + PDE_FAMILIES)}")
    cls = _family_class(name)  # the generators: random-lp, portfolio, mpc, lasso, darcy, ...
    params = _params(cls, rest)
    known = [f.name for f in _parameters(cls)]
    if stray := [k for k in overrides if k not in known]:  # e.g. --perturb, the mps: families' own
        given = ", ".join(f"--{k.replace('_', '-')}" for k in stray)
        raise ValueError(f"family {name}: {given} do{'es' if len(stray) == 1 else ''} not apply to it; its "
                         f"parameters go in the spec ({name}:KEY=VALUE,...; known: {', '.join(known)})")
    return cls(**_overridden(params, overrides))


def _colon_options(name: str, path: str) -> None:
    """Refuse ``mps:file.mps:perturb=0.2``, options after a colon as other families take them:
    after a path they follow a comma (a path may hold colons), and the reader had said only
    that no file ``file.mps:perturb=0.2`` exists."""
    head, _, tail = path.rpartition(":")
    if head and "=" in tail and not Path(path).exists():
        raise ValueError(f"family '{name}:{path}': after a path, options follow a comma, not a colon: "
                         f"'{name}:{head},{tail}'")


def _overridden(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The spec's parameters with the command's options (``--perturb``) over them; one given
    both ways, with two values, is refused, where the option had won without a word."""
    if twice := [k for k in overrides if k in params and params[k] != overrides[k]]:
        raise ValueError(f"family parameter {twice[0]!r} is given in the spec ({twice[0]}={params[twice[0]]}) and as "
                         f"--{twice[0].replace('_', '-')} {overrides[twice[0]]}; give it once")
    return {**params, **overrides}
