"""Clarabel (interior point for convex QPs): the reference solver that labels QP families.

It takes no start, so it is not a warm-start target (``make_backend`` builds it for
labelling and checks; ``bench`` and ``train`` warm-start the others). It is here because
HiGHS' QP solver is an active-set method whose work grows with the number of active
constraints: on ``mpc:states=40,inputs=16`` (1,160 variables) a bench run labelled by it was
still labelling after 27 minutes, and labelled by Clarabel it took 10 s for 200 instances.
"""

from __future__ import annotations

import time
import warnings
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from .._interrupt import stop_asked
from ..canonical import QPData
from .base import (SolveResult, Status, WarmStart, check_capabilities, check_settings, check_warm_start,
                   checked_verdict, objectives_agree)

__all__ = ["ClarabelBackend"]


class ClarabelBackend:
    """``clarabel.DefaultSolver`` at gap and feasibility tolerances ``tol``; iterations are
    interior-point iterations. A warm start is ignored with a warning (Clarabel takes none)."""

    name: ClassVar[str] = "clarabel"
    supports_qp: ClassVar[bool] = True
    supports_mip: ClassVar[bool] = False
    uses_dual_start: ClassVar[bool] = False
    default_tolerance: ClassVar[float] = 1e-9

    def __init__(self, *, tol: float = 1e-9, time_limit: float = 600.0, max_iter: int = 500) -> None:
        check_settings(self.name, tolerances={"tol": tol}, iterations={"max_iter": max_iter},
                       seconds={"time_limit": time_limit})
        self.tol = tol
        self.time_limit = time_limit
        self.max_iter = max_iter

    def check(self, qp: QPData) -> None:
        check_capabilities(self, qp)

    def solve(self, qp: QPData, *, warm_start: WarmStart | None = None) -> SolveResult:
        import clarabel

        self.check(qp)
        if check_warm_start(qp, warm_start, self.name) is not None:
            warnings.warn("clarabel: an interior-point method takes no start; solving cold", RuntimeWarning,
                          stacklevel=2)
        a, b, ymap, n_eq = _conic_rows(qp)
        p = sp.triu(qp.P if qp.P is not None else sp.csc_matrix((qp.n, qp.n)), format="csc")
        s = clarabel.DefaultSettings()
        s.verbose = False
        s.tol_gap_abs = s.tol_gap_rel = s.tol_feas = s.tol_ktratio = self.tol
        s.time_limit = self.time_limit
        s.max_iter = self.max_iter
        cones = ([clarabel.ZeroConeT(n_eq)] if n_eq else []) + (
            [clarabel.NonnegativeConeT(a.shape[0] - n_eq)] if a.shape[0] > n_eq else [])
        solver = clarabel.DefaultSolver(p, qp.c.astype(float), a, b, cones, s)
        with stop_asked() as asked:  # a Ctrl-C ends the run at Clarabel's next iteration, and is raised
            if asked is not None:
                solver.set_termination_callback(lambda info: asked())
            t0 = time.perf_counter()
            sol = solver.solve()
            seconds = time.perf_counter() - t0
        st = clarabel.SolverStatus
        # a certificate met to a looser tolerance still names the class, as cvxpy reads it; an
        # almost-solved point is no label (an error), the optimum must be one to this tolerance
        status = {st.Solved: Status.OPTIMAL, st.PrimalInfeasible: Status.INFEASIBLE,
                  st.AlmostPrimalInfeasible: Status.INFEASIBLE, st.DualInfeasible: Status.UNBOUNDED,
                  st.AlmostDualInfeasible: Status.UNBOUNDED, st.MaxIterations: Status.LIMIT,
                  st.MaxTime: Status.LIMIT}.get(sol.status, Status.ERROR)
        message = str(sol.status)
        if status == Status.UNBOUNDED and not _ray_holds(qp, a, n_eq, np.asarray(sol.x, dtype=float)):
            # Clarabel (cvxpy's too) called QPs with a row bound of 1e12 unbounded, strictly convex ones
            # among them, on a "ray" that is none: no verdict, rather than a false one
            status, message = Status.ERROR, f"{sol.status}, but its certificate (a ray of descent) does not hold"
        else:
            status, message = checked_verdict(qp, status, np.asarray(sol.x, dtype=float), message, solver="Clarabel",
                                              time_limit=self.time_limit)
        x = y = None
        if status == Status.OPTIMAL:
            x = np.asarray(sol.x, dtype=float)
            # Clarabel's stationarity is P x + q + A_c' z = 0; the canonical one P x + c = A'y + r
            y = ymap @ np.asarray(sol.z, dtype=float)
        return SolveResult(
            solver=self.name, status=status, objective=float(sol.obj_val) + qp.offset if x is not None else float("nan"),
            x=x, y=y, iterations=int(sol.iterations), seconds=seconds, warm_started=warm_start is not None,
            warm_start_accepted=False, message=message)

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        return objectives_agree(a, b, 1e-6)


RAY_TOL = 1e-4
"""relative tolerance to which a certificate of dual infeasibility must hold (``_ray_holds``)"""


def _ray_holds(qp: QPData, a: sp.csc_matrix, n_eq: int, d: np.ndarray) -> bool:
    """Whether ``d`` (Clarabel's x where it reports dual infeasibility) proves the QP unbounded
    below: ``P d = 0``, ``A_c d`` in the cone's negative (``= 0`` on the first ``n_eq`` rows,
    ``<= 0`` on the others) and ``c'd < 0``, with ``d`` scaled to length 1, each row to
    ``RAY_TOL`` of its own entries' sum of magnitudes (the most ``d`` could make of it). A
    tolerance from the largest entry of all had let a variable's bound row (entries of 1) be
    broken by 1 beside a row with entries of 9e5: Clarabel called LPs over a box unbounded."""
    size = float(np.linalg.norm(d, np.inf)) if d.size else 0.0
    if not np.isfinite(size) or size == 0.0:
        return False

    def within(m: sp.spmatrix, v: np.ndarray) -> np.ndarray:
        return v <= RAY_TOL * np.asarray(abs(m).sum(axis=1)).ravel()

    d = d / size
    ad = a @ d
    along = within(a[:n_eq], np.abs(ad[:n_eq])).all() and within(a[n_eq:], ad[n_eq:]).all()
    flat = qp.P is None or within(qp.P, np.abs(qp.P @ d)).all()
    return bool(along and flat and qp.c @ d < 0)


def _conic_rows(qp: QPData) -> tuple[sp.csc_matrix, np.ndarray, sp.csr_matrix, int]:
    """``A_c x + s = b`` with s in {0}^e x R+^k: the equality rows first (rows with l == u,
    fixed variables), then ``a'x <= u``, ``-a'x <= -l`` and the variable bounds. Also the
    (m, rows of A_c) map that turns Clarabel's z into the canonical y: ``y = -z`` for a row
    ``a'x = l`` or ``a'x <= u``, ``+z`` for ``a'x >= l``; and the count e."""
    eq = np.isfinite(qp.l) & (qp.l == qp.u)
    up = np.isfinite(qp.u) & ~eq
    lo = np.isfinite(qp.l) & ~eq
    fixed = np.isfinite(qp.lb) & (qp.lb == qp.ub)
    vub = np.isfinite(qp.ub) & ~fixed
    vlb = np.isfinite(qp.lb) & ~fixed
    a = qp.A.tocsr()
    eye = sp.identity(qp.n, format="csr")
    i_eq, i_up, i_lo = np.flatnonzero(eq), np.flatnonzero(up), np.flatnonzero(lo)
    a_c = sp.vstack([a[i_eq], eye[fixed], a[i_up], -a[i_lo], eye[vub], -eye[vlb]], format="csc")
    b = np.concatenate([qp.l[eq], qp.lb[fixed], qp.u[up], -qp.l[lo], qp.ub[vub], -qp.lb[vlb]]).astype(float)
    n_fixed = int(fixed.sum())
    cols = np.concatenate([np.arange(i_eq.size), i_eq.size + n_fixed + np.arange(i_up.size + i_lo.size)])
    vals = np.concatenate([-np.ones(i_eq.size + i_up.size), np.ones(i_lo.size)])
    ymap = sp.csr_matrix((vals, (np.concatenate([i_eq, i_up, i_lo]), cols)), shape=(qp.m, a_c.shape[0]))
    return a_c, b, ymap, int(i_eq.size + n_fixed)
