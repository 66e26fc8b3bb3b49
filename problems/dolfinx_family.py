"""`dolfinx:MODULE:FUNCTION`: a family from the user's own dolfinx problem.

``FUNCTION()`` returns a ``UserPDE``: the user's ``LinearProblem`` or ``NonlinearProblem``, the
fields the model should see (name -> Function, Constant or value), the parameters the user
names with their ranges, and ``apply(params)`` that writes one draw of them into the problem's
Functions/Constants. Each instance is one uniform draw of every named parameter. The problem
is built once per process and reused, as a user would in a loop over parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .user_code import user_function


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


@dataclass(frozen=True)
class UserInstance:
    params: dict[str, float]
    name: str


@dataclass(kw_only=True)
class DolfinxFamily:
    build: Callable[[], UserPDE]
    name: str = "dolfinx"
    _live: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_spec(cls, target: str) -> DolfinxFamily:
        return cls(build=user_function("dolfinx", target), name=f"dolfinx:{target}")

    def _user(self) -> UserPDE:
        if "user" not in self._live:
            u = self.build()
            if not isinstance(u, UserPDE):
                raise TypeError(f"{self.name}: the function must return problems.dolfinx_family.UserPDE, "
                                f"got {type(u).__name__}")
            if not u.params:
                raise ValueError(f"{self.name}: name at least one parameter to vary (UserPDE.params)")
            self._live["user"] = u
        return self._live["user"]

    @property
    def kind(self) -> str:
        from learned_solvers.formats.dolfinx import problem_kind

        return problem_kind(self._user().problem)

    @property
    def quasilinear(self) -> tuple[float, float, float] | None:
        return self._user().quasilinear

    def spec(self) -> str:
        return self.name

    def family_key(self) -> str:
        return self.name

    def sample(self, count: int, *, seed: int) -> list[UserInstance]:
        rng = np.random.default_rng(seed)
        ranges = self._user().params
        return [UserInstance(params={k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()},
                             name=f"{self.name}[{seed}:{i}]") for i in range(count)]

    def load(self, inst: UserInstance):
        u = self._user()
        u.apply(inst.params)
        if u.cold_guess is not None:
            u.cold_guess()
        elif self.kind == "nonlinear":
            u.problem.u.x.array[:] = 0.0
        return u.problem, u.fields

    def cold_guess(self, n_owned: int) -> np.ndarray:
        """The owned dofs of the user's cold guess (``UserPDE.cold_guess``; zeros without one)."""
        u = self._user()
        if u.cold_guess is None:
            return np.zeros(n_owned)
        u.cold_guess()
        return u.problem.u.x.array[:n_owned].copy()
