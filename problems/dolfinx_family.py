"""`dolfinx:MODULE:FUNCTION`: a family from the user's own dolfinx problem.

``FUNCTION()`` returns a ``UserPDE``: the user's ``LinearProblem`` or ``NonlinearProblem``, the
fields the model should see (name -> Function, Constant or value), the parameters the user
names with their ranges, and ``apply(params)`` that writes one draw of them into the problem's
Functions/Constants. Each instance is one uniform draw of every named parameter. The problem
is built once per process and reused, as a user would in a loop over parameters.

`dolfinx:MODULE:FUNCTION:KEY=VALUE,...` calls ``FUNCTION(KEY=VALUE, ...)``: the builder's own
keywords, for what does not change the family's law, such as the mesh (as ``darcy:n=128`` is
to ``darcy``). Checkpoints match on ``dolfinx:MODULE:FUNCTION`` alone, so a model trained on
one mesh is benched on a finer one (``bench --test-family``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .user_code import builder_keywords, call_user, keywords_text, split_spec, user_function


@dataclass
class UserPDE:
    problem: Any
    fields: dict[str, Any]
    params: dict[str, tuple[float, float]]
    apply: Callable[[dict[str, float]], None]
    cold_guess: Callable[[], None] | None = None  # resets u to the cold guess (nonlinear); default zeros
    # (a0, a1, a2) if the problem is -div(k(u) grad u) = f on P1 with k(u) = a0 + a1 u + a2 u^2:
    # the model then feeds back its exact residual (checked against the problem's own)
    quasilinear: tuple[float, float, float] | None = None


def _check_user_pde(name: str, u: UserPDE) -> None:
    """Refuse what the user's builder returned where it cannot make a family, saying which
    field of ``UserPDE`` to fix, before any instance is drawn or solved."""
    if not isinstance(u.params, dict) or not u.params:
        raise ValueError(f"{name}: name at least one parameter to vary (UserPDE.params, e.g. {{'k': (0.5, 2.0)}})")
    for key, rng in u.params.items():
        try:
            lo, hi = (float(v) for v in rng)
        except (TypeError, ValueError):
            lo = hi = float("nan")
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(f"{name}: UserPDE.params[{key!r}] must be a range (low, high) of finite numbers with "
                             f"low <= high, got {rng!r}")
    if all(float(lo) == float(hi) for lo, hi in u.params.values()):
        raise ValueError(f"{name}: every parameter's range is one value (low == high), so every draw would be one "
                         f"problem: give at least one a range to vary over (UserPDE.params, got {u.params!r})")
    if not callable(u.apply):
        raise TypeError(f"{name}: UserPDE.apply must be a function apply(params) that writes one draw into the "
                        f"problem, got {type(u.apply).__name__}")
    if u.cold_guess is not None and not callable(u.cold_guess):
        raise TypeError(f"{name}: UserPDE.cold_guess must be a function of no arguments or None, "
                        f"got {type(u.cold_guess).__name__}")
    if not isinstance(u.fields, dict) or not all(isinstance(k, str) for k in u.fields):
        raise TypeError(f"{name}: UserPDE.fields must be a dict of name -> Function, Constant or value, "
                        f"got {type(u.fields).__name__}")
    if not u.fields:
        raise ValueError(f"{name}: name at least one field the model sees (UserPDE.fields, e.g. {{'k': kappa}}): the "
                         "Functions or Constants the parameters change, by which it tells one draw from another")
    if u.quasilinear is not None:
        try:
            q = np.asarray(u.quasilinear, dtype=float)
        except (TypeError, ValueError):
            q = np.full(1, np.nan)
        if q.shape != (3,) or not np.isfinite(q).all():
            raise ValueError(f"{name}: UserPDE.quasilinear must be None or (a0, a1, a2), three finite numbers, "
                             f"got {u.quasilinear!r}")


@dataclass(frozen=True)
class UserInstance:
    params: dict[str, float]
    name: str


@dataclass(kw_only=True)
class DolfinxFamily:
    build: Callable[..., UserPDE]
    name: str = "dolfinx"  # dolfinx:MODULE:FUNCTION: what checkpoints match on
    keywords: dict[str, Any] = field(default_factory=dict)  # the builder's (the spec's :KEY=VALUE,...)
    _live: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_spec(cls, target: str) -> DolfinxFamily:
        from learned_solvers._fenicsx import import_dolfinx

        # the PyPI wheel's PETSc and MPI set up before the user's module is imported: a module
        # that imports dolfinx or petsc4py first, as a plain FEniCSx script does, had failed with
        # "libmpi.so.12: cannot open shared object file"
        import_dolfinx()
        where, opts = split_spec(target)
        fn = user_function("dolfinx", where)
        return cls(build=fn, name=f"dolfinx:{where}", keywords=builder_keywords(f"dolfinx:{where}", fn, opts))

    def _user(self) -> UserPDE:
        if "user" not in self._live:
            u = call_user(self.spec(), self.build, **self.keywords)
            if not isinstance(u, UserPDE):
                raise TypeError(f"{self.spec()}: the function must return problems.dolfinx_family.UserPDE, "
                                f"got {type(u).__name__}")
            _check_user_pde(self.spec(), u)
            self._live["user"] = u
        return self._live["user"]

    @property
    def kind(self) -> str:
        from learned_solvers.formats.dolfinx import problem_kind

        return problem_kind(self._user().problem)

    @property
    def quasilinear(self) -> tuple[float, float, float] | None:
        return self._user().quasilinear

    def problem(self) -> Any:
        """The user's live dolfinx problem (instances are loaded into it)."""
        return self._user().problem

    def spec(self) -> str:
        return f"{self.name}:{keywords_text(self.keywords)}" if self.keywords else self.name

    def family_key(self) -> str:
        """What checkpoints match on: the builder, not its keywords (the mesh)."""
        return self.name

    def sample(self, count: int, *, seed: int) -> list[UserInstance]:
        rng = np.random.default_rng(seed)
        ranges = self._user().params
        return [UserInstance(params={k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()},
                             name=f"{self.spec()}[{seed}:{i}]") for i in range(count)]

    def load(self, inst: UserInstance):
        from learned_solvers.formats.dolfinx import Unknown

        u = self._user()
        call_user(self.spec(), u.apply, inst.params, how="UserPDE.apply(params), params a dict of name -> value")
        if u.cold_guess is not None:
            call_user(self.spec(), u.cold_guess, how="UserPDE.cold_guess() with no arguments")
        elif self.kind == "nonlinear":
            for f in Unknown(u.problem).functions:
                f.x.array[:] = 0.0
        return u.problem, u.fields

    def cold_guess(self, n_owned: int) -> np.ndarray:
        """The owned dofs of the user's cold guess (``UserPDE.cold_guess``; zeros without one)."""
        from learned_solvers.formats.dolfinx import Unknown

        u = self._user()
        if u.cold_guess is None:
            return np.zeros(n_owned)
        call_user(self.spec(), u.cold_guess, how="UserPDE.cold_guess() with no arguments")
        return Unknown(u.problem).owned()[:n_owned]
