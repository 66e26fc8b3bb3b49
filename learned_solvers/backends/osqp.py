"""OSQP (ADMM for convex QPs), warm-started with ``warm_start(x=..., y=...)``."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData
from .base import (SolveResult, Status, WarmStart, check_capabilities, check_settings, check_warm_start,
                   checked_verdict, objectives_agree)

__all__ = ["OSQPBackend"]

_STATUS = {1: Status.OPTIMAL, 2: Status.OPTIMAL, 3: Status.INFEASIBLE, 4: Status.INFEASIBLE,
           5: Status.UNBOUNDED, 6: Status.UNBOUNDED, 7: Status.LIMIT, 8: Status.LIMIT}
# OSQP's codes for an answer or verdict to a looser tolerance, given at its iteration or time limit
_INACCURATE = (2, 4, 6)
_SIGINT = 10  # OSQP_SIGINT: a Ctrl-C stopped the solve

CONFIRM_INF_TOL = 1e-6
"""OSQP's infeasibility tolerances (``eps_prim_inf``, ``eps_dual_inf``; its defaults 1e-4) for
the run that confirms a cold verdict of no optimum: at its defaults OSQP called afiro with one
coefficient made -1e6 primal infeasible after 50 iterations, where HiGHS, PDLP and OSQP at
these tolerances find its optimum (``benchmarks/ill_scaled_probe.py``'s kind of edit)"""


def _run(solver):
    """``solver.solve()``; a Ctrl-C, which OSQP catches itself and returns, is raised as Python
    would have (read as an error, an interrupted warm solve was solved cold as well, and the
    user's Ctrl-C ran another solve)."""
    res = solver.solve(raise_error=False)
    if res.info.status_val == _SIGINT:
        raise KeyboardInterrupt(f"osqp: interrupted after {res.info.iter} iterations")
    return res


def osqp_rows(qp: QPData) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """OSQP's ``l <= [A; I_b] x <= u`` with the bounded variables' rows appended.

    Returns (A, l, u, bounded) where ``bounded`` (k,) indexes the variables with a bound row.
    """
    bounded = np.flatnonzero(np.isfinite(qp.lb) | np.isfinite(qp.ub))
    eye = sp.csr_matrix((np.ones(bounded.size), (np.arange(bounded.size), bounded)), shape=(bounded.size, qp.n))
    a = sp.vstack([qp.A, eye]).tocsc()
    lo = np.concatenate([qp.l, qp.lb[bounded]])
    hi = np.concatenate([qp.u, qp.ub[bounded]])
    return a, lo, hi, bounded


# OSQP's own settings (osqp 1.x names), which ``OSQPBackend(settings=...)`` passes through
OSQP_SETTINGS = frozenset({
    "rho", "sigma", "scaling", "adaptive_rho", "adaptive_rho_interval", "adaptive_rho_tolerance",
    "adaptive_rho_fraction", "max_iter", "eps_abs", "eps_rel", "eps_prim_inf", "eps_dual_inf", "alpha",
    "linsys_solver", "delta", "polishing", "polish_refine_iter", "verbose", "scaled_termination",
    "check_termination", "check_dualgap", "warm_starting", "time_limit", "cg_max_iter", "cg_tol_reduction",
    "cg_tol_fraction", "cg_precond"})


class OSQPBackend:
    """``osqp.OSQP`` with eps_abs = eps_rel = ``tol``.

    pinned: turn off adaptive rho (l2ws's setting, so that iteration counts compare starts
    rather than the solver's adaptivity). settings: any other OSQP settings by OSQP's names
    (``OSQP_SETTINGS``; they override the ones above). Variable bounds become extra rows.
    A cold solve that ends in a verdict of no optimum (infeasible, unbounded) runs again with
    infeasibility tolerances ``CONFIRM_INF_TOL``, and an optimum found there is the answer
    (``extra['confirm_run']``: how that run ended; both runs' iterations and seconds counted).
    """

    name: ClassVar[str] = "osqp"
    supports_qp: ClassVar[bool] = True
    supports_mip: ClassVar[bool] = False
    uses_dual_start: ClassVar[bool] = True
    default_tolerance: ClassVar[float] = 1e-4

    def __init__(self, *, tol: float = 1e-4, pinned: bool = False, max_iter: int = 100_000,
                 time_limit: float = 0.0, settings: dict[str, object] | None = None) -> None:
        unknown = sorted(set(settings or ()) - OSQP_SETTINGS)
        if unknown:
            raise TypeError(f"osqp: unknown settings {unknown}; OSQP's are {sorted(OSQP_SETTINGS)}")
        # time_limit 0: none, as in OSQP's own settings
        check_settings(self.name, tolerances={"tol": tol}, iterations={"max_iter": max_iter}, flags={"pinned": pinned},
                       seconds={"time_limit": time_limit} if time_limit != 0 else {})
        self.tol = tol
        self.pinned = pinned
        self.max_iter = max_iter
        self.time_limit = time_limit
        self.extra_settings = dict(settings or {})

    def settings(self) -> dict[str, object]:
        opts: dict[str, object] = dict(eps_abs=self.tol, eps_rel=self.tol, max_iter=self.max_iter,
                                       verbose=False, polishing=False)
        if self.time_limit and math.isfinite(self.time_limit):
            opts["time_limit"] = self.time_limit
        if self.pinned:
            opts["adaptive_rho"] = False
        return {**opts, **self.extra_settings}

    def check(self, qp: QPData) -> None:
        check_capabilities(self, qp)

    def solve(self, qp: QPData, *, warm_start: WarmStart | None = None) -> SolveResult:
        import osqp

        self.check(qp)
        ws = check_warm_start(qp, warm_start, self.name)
        a, lo, hi, bounded = osqp_rows(qp)
        p = sp.triu(qp.P, format="csc") if qp.P is not None else None
        solver = osqp.OSQP()
        try:
            solver.setup(p, qp.c, a, lo, hi, **self.settings())
        except osqp.OSQPException as exc:  # a bare code; OSQP printed its reason ("P not PSD") itself
            if exc == osqp.SolverError.OSQP_SETTINGS_VALIDATION_ERROR:  # a setting, not the problem
                raise ValueError(f"osqp: OSQP refused a setting (its own 'ERROR in validate_settings' line says "
                                 f"which): settings given {self.extra_settings}") from exc
            raise InvalidProblemError(f"osqp: problem {qp.name!r}: OSQP's set-up failed (OSQPException {exc}); its "
                                      "KKT factorisation fails when P is not positive semidefinite (a nonconvex "
                                      "objective)") from exc
        if ws is not None:
            y = None
            if ws.y is not None:
                r = ws.r if ws.r is not None else qp.c + (qp.P @ ws.x if qp.P is not None else 0) - qp.A.T @ ws.y
                y = -np.concatenate([ws.y, r[bounded]])  # OSQP's sign: y > 0 at the upper side
            solver.warm_start(x=ws.x, y=y)
        res = _run(solver)
        status, message = _STATUS.get(res.info.status_val, Status.ERROR), str(res.info.status)
        iterations, seconds, extra = int(res.info.iter), float(res.info.run_time), {}
        if ws is None and status in (Status.INFEASIBLE, Status.UNBOUNDED):
            # OSQP's certificates pass its default tolerances on badly scaled data that has an optimum
            opts = self.settings()
            opts.update({k: min(float(opts.get(k, CONFIRM_INF_TOL)), CONFIRM_INF_TOL)  # a user's tighter ones kept
                         for k in ("eps_prim_inf", "eps_dual_inf")})
            again = osqp.OSQP()
            again.setup(p, qp.c, a, lo, hi, **opts)
            res2 = _run(again)
            iterations, seconds = iterations + int(res2.info.iter), seconds + float(res2.info.run_time)
            extra["confirm_run"] = str(res2.info.status)  # counted in the iterations and seconds, whatever it found
            if _STATUS.get(res2.info.status_val) == Status.OPTIMAL:
                message = f"{res2.info.status} (at infeasibility tolerances {CONFIRM_INF_TOL:g}, after {message})"
                res, status = res2, Status.OPTIMAL
        status, message = checked_verdict(qp, status, np.asarray(res.x), message, solver="OSQP")
        x = np.asarray(res.x) if status == Status.OPTIMAL else None
        y = -np.asarray(res.y)[: qp.m] if status == Status.OPTIMAL else None
        return SolveResult(
            solver=self.name, status=status,
            objective=qp.objective(x) if x is not None else float("nan"),
            x=x, y=y, iterations=iterations, seconds=seconds,
            warm_started=warm_start is not None, warm_start_accepted=ws is not None,
            message=message, extra={"raw": res, **extra}, inaccurate=res.info.status_val in _INACCURATE,
        )

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        return objectives_agree(a, b, 10 * self.tol)
