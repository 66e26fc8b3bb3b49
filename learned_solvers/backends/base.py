"""What every solver backend takes and returns.

A backend solves a canonical ``QPData`` cold or from a ``WarmStart`` and returns a
``SolveResult`` with the solver's own counters. A warm start that is malformed (wrong size,
NaN, inf) is refused with a warning and the solve runs cold: the solver has the last word.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from ..canonical import QPData

__all__ = [
    "check_settings",
    "Status",
    "WarmStart",
    "SolveResult",
    "Backend",
    "check_warm_start",
    "checked_verdict",
    "objectives_agree",
    "ray_refutes",
    "retried_cold",
    "unbounded_refuted",
]


class Status:
    """Solver-independent statuses."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    LIMIT = "limit"
    ERROR = "error"


@dataclass(frozen=True)
class WarmStart:
    """x: (n,) primal guess; y: (m,) row duals (canonical sign); r: (n,) reduced costs."""

    x: np.ndarray
    y: np.ndarray | None = None
    r: np.ndarray | None = None


@dataclass
class SolveResult:
    """One solve. ``iterations`` is the solver's own counter; ``seconds`` its wall time.

    inaccurate: the solver stopped at its iteration or time limit and gave its answer (or verdict)
    to a looser tolerance than the one asked for (OSQP's 'solved inaccurate', SCS's 'solved
    (inaccurate - reached max_iters)', cvxpy's ``OPTIMAL_INACCURATE``); ``status`` is still that
    answer's.
    """

    solver: str
    status: str
    objective: float
    x: np.ndarray | None
    y: np.ndarray | None
    iterations: int
    seconds: float
    warm_started: bool = False
    warm_start_accepted: bool = False
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    inaccurate: bool = False


def retried_cold(warm: SolveResult, cold: SolveResult, why: str) -> SolveResult:
    """``cold``, the solve run because the warm one failed, carrying both solves' iterations and
    seconds (what the start cost), marked as a start not kept, ``extra['fallback']`` = ``why``."""
    cold.iterations += warm.iterations
    cold.seconds += warm.seconds
    cold.warm_started, cold.warm_start_accepted = True, False
    cold.extra["fallback"] = why
    if "ended" in warm.extra:  # the warm solve's process ended (a crash, a hang): kept for the bench's count
        cold.extra["warm_ended"] = warm.extra["ended"]
    return cold


def check_settings(solver: str, *, tolerances: dict[str, Any] | None = None, iterations: dict[str, Any] | None = None,
                   seconds: dict[str, Any] | None = None, flags: dict[str, Any] | None = None) -> None:
    """Refuse a backend setting of the wrong type or range when the backend is made, naming it:
    a tolerance lies in (0, 1) (each is relative, at least in part: at 1 any point passes, and
    two answers "agree" whatever they are), an iteration limit or thread count an integer >= 1,
    a time limit a positive number of seconds (inf: none), a flag True or False. Left to the
    solvers, HiGHS kept its default for a negative time limit, OSQP's and SCS's set-up failed
    blaming the problem, and PDLP ended in 'error'."""
    for name, v in (tolerances or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"{solver}: {name} must lie in (0, 1), a relative tolerance (e.g. 1e-6), got {v!r}")
    for name, v in (iterations or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{solver}: {name} must be a positive integer, got {v!r}")
    for name, v in (seconds or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{solver}: {name} must be a positive number of seconds (inf: no limit), got {v!r}")
    for name, v in (flags or {}).items():
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{solver}: {name} must be True or False, got {v!r}")


def check_capabilities(backend: Backend, qp: QPData) -> None:
    """Refuse a problem the backend would not solve as given (``supports_mip``,
    ``supports_qp``): a continuous solver would return a MIP's relaxation as its answer."""
    name = backend.name
    if qp.integrality is not None and qp.P is not None:
        # HiGHS' branch and bound takes a linear objective only (its answer was "error", "Not Set")
        raise ValueError(
            f"{name}: problem {qp.name!r} has integer variables and a quadratic objective (a MIQP), which no "
            "solver here takes: HiGHS branches on MIPs with a linear objective, and the QP solvers take no integers. "
            "Solve it with SCIP (pyscipopt), or pass qp.relaxation() if the continuous relaxation is what you want."
        )
    if qp.integrality is not None and not backend.supports_mip:
        ints = int(qp.integrality.sum())
        raise ValueError(
            f"{name}: problem {qp.name!r} has {ints} integer variable{'s' if ints != 1 else ''}; {name} solves "
            "continuous problems, so its answer would be the relaxation's, not this problem's. Solve it with "
            "HiGHS (branch and bound: --solver highs, solver=\"highs\" in Python), or pass qp.relaxation() if the "
            "relaxation is what you want."
        )
    if qp.P is not None and not backend.supports_qp:
        raise ValueError(f"{name}: problem {qp.name!r} has a quadratic objective; {name} solves LPs only")


def check_warm_start(qp: QPData, ws: WarmStart | None, solver: str) -> WarmStart | None:
    """Return ``ws`` if usable for ``qp``, else warn and return ``None`` (cold start)."""
    if ws is None:
        return None
    problems = []
    if np.shape(ws.x) != (qp.n,):
        problems.append(f"x has shape {np.shape(ws.x)}, expected ({qp.n},)")
    elif not np.isfinite(ws.x).all():
        problems.append("x holds NaN or inf")
    if ws.y is not None:
        if np.shape(ws.y) != (qp.m,):
            problems.append(f"y has shape {np.shape(ws.y)}, expected ({qp.m},)")
        elif not np.isfinite(ws.y).all():
            problems.append("y holds NaN or inf")
    if ws.r is not None and (np.shape(ws.r) != (qp.n,) or not np.isfinite(ws.r).all()):
        problems.append("r is malformed")
    if problems:
        warnings.warn(
            f"{solver}: warm start refused ({'; '.join(problems)}); solving {qp.name!r} from a cold start.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return ws


class Backend(Protocol):
    """A classical solver behind one interface. Capabilities are class attributes."""

    name: ClassVar[str]
    supports_qp: ClassVar[bool]
    supports_mip: ClassVar[bool]
    uses_dual_start: ClassVar[bool]
    default_tolerance: ClassVar[float]

    def check(self, qp: QPData) -> None:
        """Raise ``ValueError`` if this backend cannot solve ``qp`` as given (before any work)."""
        ...

    def solve(self, qp: QPData, *, warm_start: WarmStart | None = None) -> SolveResult: ...

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool: ...


def objectives_agree(a: SolveResult, b: SolveResult, rel_tol: float) -> bool:
    """Same status, and (if optimal) objectives within the solver's relative tolerance."""
    if a.status != b.status:
        return False
    if a.status != Status.OPTIMAL:
        return True
    return abs(a.objective - b.objective) <= rel_tol * (1.0 + abs(a.objective) + abs(b.objective))


def ray_refutes(qp: QPData, x: np.ndarray | None, *, time_limit: float = 60.0) -> str | None:
    """Why a solver's 'optimal' ``x`` (n,) is no optimum, or None: ``x`` scaled to length 1 holds
    as a ray of descent (the test Clarabel's certificates pass, ``clarabel._ray_holds``), and
    HiGHS' simplex finds such a ray (``highs.descent_ray``), so the QP has no optimum: unbounded
    below where it is feasible. Clarabel and SCS called QPs that are unbounded below solved at
    points far out along a ray (``tests/test_lp_qp.py::test_no_backend_calls_a_seeded_unbounded_qp_solved``).
    A point that fails the cheap first test, every optimum of a QP that has one, costs a product
    with A and P; a MIP is left to its solver."""
    if x is None or qp.integrality is not None:
        return None
    from .clarabel import _conic_rows, _ray_holds
    from .highs import descent_ray

    a, _, _, n_eq = _conic_rows(qp)
    if not _ray_holds(qp, a, n_eq, x) or descent_ray(qp, time_limit, conic=(a, n_eq)) is None:
        return None
    return (f"its point, {float(np.linalg.norm(x, np.inf)):.1e} out, lies along a direction in which the objective "
            "falls without end, as HiGHS' simplex confirms (P d = 0, d a recession direction of the feasible set, "
            "c'd < 0): there is no optimum (unbounded below)")


def unbounded_refuted(qp: QPData, *, time_limit: float = 60.0) -> str | None:
    """Why a solver's verdict of unbounded (dual infeasible) is wrong, or None: the LP of
    ``highs.descent_ray``, the test of dual infeasibility itself, has no solution, so no
    direction lowers the objective without end. OSQP called an LP with an optimum unbounded (rows
    and columns scaled over 8 orders of magnitude), its certificate holding to 1e-4 of each row;
    that LP found the ray of each of 600 seeded unbounded QPs, scaled or not
    (``tests/test_lp_qp.py::test_no_backend_calls_a_seeded_unbounded_qp_solved``). A MIP is left to
    its solver."""
    if qp.integrality is not None:
        return None
    from .highs import descent_ray

    if descent_ray(qp, time_limit) is not None:
        return None
    return ("no direction lowers the objective without end: an LP that HiGHS' simplex solves for one (P d = 0, d a "
            "recession direction of the feasible set, c'd < 0) has none, so the verdict is not taken")


def checked_verdict(qp: QPData, status: str, x: np.ndarray | None, message: str, *, solver: str,
                    time_limit: float = 60.0) -> tuple[str, str]:
    """A solver's (``status``, ``message``) after the two checks above: an 'optimal' ``x`` that
    ``ray_refutes`` is 'unbounded', a verdict of unbounded that ``unbounded_refuted`` is an 'error'
    (``solver`` names it in the message). The caller keeps ``x`` only where the status is still
    optimal. One place for the first-order and interior-point backends (Clarabel, SCS, OSQP, PDLP)."""
    if status == Status.OPTIMAL and (far := ray_refutes(qp, x, time_limit=time_limit)):
        return Status.UNBOUNDED, f"{message}, but {far}"
    if status == Status.UNBOUNDED and (why := unbounded_refuted(qp, time_limit=time_limit)):
        return Status.ERROR, f"{solver}: {message}, but {why}"
    return status, message
