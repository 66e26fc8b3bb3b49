"""SCS (conic ADMM), warm-started with ``solve(warm_start=True, x=, y=, s=)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData
from .base import (SolveResult, Status, WarmStart, check_capabilities, check_settings, check_warm_start,
                   checked_verdict, objectives_agree)

__all__ = ["SCSBackend"]


@dataclass(frozen=True)
class _ConeForm:
    A: sp.csc_matrix
    b: np.ndarray
    n_zero: int
    eq: np.ndarray  # row indices of canonical equalities
    up: np.ndarray  # rows with a finite upper side (inequalities)
    lo: np.ndarray  # rows with a finite lower side (inequalities)
    vup: np.ndarray  # variables with a finite upper bound
    vlo: np.ndarray  # variables with a finite lower bound


def cone_form(qp: QPData) -> _ConeForm:
    """``A_s x + s = b_s`` with ``s`` in {0}^z x R_+^k, in the order eq, up, lo, vup, vlo."""
    eq = np.flatnonzero(qp.l == qp.u)
    up = np.flatnonzero(np.isfinite(qp.u) & (qp.l != qp.u))
    lo = np.flatnonzero(np.isfinite(qp.l) & (qp.l != qp.u))
    vup = np.flatnonzero(np.isfinite(qp.ub))
    vlo = np.flatnonzero(np.isfinite(qp.lb))
    eye = sp.identity(qp.n, format="csr")
    a = sp.vstack([qp.A[eq], qp.A[up], -qp.A[lo], eye[vup], -eye[vlo]]).tocsc()
    b = np.concatenate([qp.u[eq], qp.u[up], -qp.l[lo], qp.ub[vup], -qp.lb[vlo]])
    return _ConeForm(a, b, eq.size, eq, up, lo, vup, vlo)


class SCSBackend:
    """``scs.SCS`` with eps_abs = eps_rel = ``tol``.

    pinned: ``normalize=False`` and ``acceleration_lookback=0`` (l2ws's comparison setting).
    """

    name: ClassVar[str] = "scs"
    supports_qp: ClassVar[bool] = True
    supports_mip: ClassVar[bool] = False
    uses_dual_start: ClassVar[bool] = True
    default_tolerance: ClassVar[float] = 1e-4

    def __init__(self, *, tol: float = 1e-4, pinned: bool = False, max_iters: int = 100_000) -> None:
        check_settings(self.name, tolerances={"tol": tol}, iterations={"max_iters": max_iters},
                       flags={"pinned": pinned})
        self.tol = tol
        self.pinned = pinned
        self.max_iters = max_iters

    def check(self, qp: QPData) -> None:
        check_capabilities(self, qp)

    def solve(self, qp: QPData, *, warm_start: WarmStart | None = None) -> SolveResult:
        import scs

        self.check(qp)
        ws = check_warm_start(qp, warm_start, self.name)
        cf = cone_form(qp)
        data = {"A": cf.A, "b": cf.b, "c": qp.c}
        cones = {"z": cf.n_zero, "l": cf.A.shape[0] - cf.n_zero}
        # SCS needs one cone row at least: a problem with no rows and no finite bounds gets 0 = 0
        empty = cf.A.shape[0] == 0
        if empty:
            data.update(A=sp.csc_matrix((1, qp.n)), b=np.zeros(1))
            cones = {"z": 1, "l": 0}
        if qp.P is not None:
            data["P"] = sp.triu(qp.P, format="csc")
        settings = dict(eps_abs=self.tol, eps_rel=self.tol, max_iters=self.max_iters, verbose=False)
        if self.pinned:
            settings.update(normalize=False, acceleration_lookback=0)
        try:
            solver = scs.SCS(data, cones, **settings)
        except ValueError as exc:
            why = ("; its KKT factorisation fails when P is not positive semidefinite (a nonconvex objective)"
                   if "allocation" in str(exc) else "")
            raise InvalidProblemError(f"scs: problem {qp.name!r}: SCS's set-up failed ({exc}){why}") from exc
        if ws is not None:
            x = ws.x
            s = cf.b - cf.A @ x
            s[: cf.n_zero] = 0.0
            s[cf.n_zero:] = np.maximum(s[cf.n_zero:], 0.0)
            y = np.zeros(cf.A.shape[0])
            if ws.y is not None:
                yc = ws.y
                r = ws.r if ws.r is not None else qp.c + (qp.P @ x if qp.P is not None else 0) - qp.A.T @ yc
                y = np.concatenate([-yc[cf.eq], np.maximum(-yc[cf.up], 0), np.maximum(yc[cf.lo], 0),
                                    np.maximum(-r[cf.vup], 0), np.maximum(r[cf.vlo], 0)])
            if empty:
                y, s = np.zeros(1), np.zeros(1)
            sol = solver.solve(warm_start=True, x=x, y=y, s=s)
        else:
            sol = solver.solve()
        info = sol["info"]
        st, code = info["status"], info["status_val"]
        if code == scs.SIGINT:  # SCS catches Ctrl-C itself and returns: raised as Python would have (as OSQP's)
            raise KeyboardInterrupt("scs: interrupted")
        # by SCS's codes, as cvxpy reads them: its words for an answer at a limit ("solved (inaccurate -
        # reached max_iters)") matched none of its documented ones, and such a solve was called an error
        inaccurate = code in (scs.SOLVED_INACCURATE, scs.INFEASIBLE_INACCURATE, scs.UNBOUNDED_INACCURATE)
        status = {scs.SOLVED: Status.OPTIMAL, scs.SOLVED_INACCURATE: Status.OPTIMAL,
                  scs.INFEASIBLE: Status.INFEASIBLE, scs.INFEASIBLE_INACCURATE: Status.INFEASIBLE,
                  scs.UNBOUNDED: Status.UNBOUNDED, scs.UNBOUNDED_INACCURATE: Status.UNBOUNDED}.get(code, Status.ERROR)
        # SCS called seeded unbounded QPs solved at points far out along a ray
        status, st = checked_verdict(qp, status, np.asarray(sol["x"]), st, solver="SCS")
        x = np.asarray(sol["x"]) if status == Status.OPTIMAL else None
        y = None
        if x is not None:
            ys = np.asarray(sol["y"])
            y = np.zeros(qp.m)
            k = 0
            for rows, sign in ((cf.eq, -1.0), (cf.up, -1.0), (cf.lo, 1.0)):
                np.add.at(y, rows, sign * ys[k:k + rows.size])
                k += rows.size
        return SolveResult(
            solver=self.name, status=status,
            objective=qp.objective(x) if x is not None else float("nan"),
            x=x, y=y, iterations=int(info["iter"]),
            seconds=(float(info["setup_time"]) + float(info["solve_time"])) / 1e3,
            warm_started=warm_start is not None, warm_start_accepted=ws is not None, message=st,
            inaccurate=inaccurate,
        )

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        return objectives_agree(a, b, 10 * self.tol)
