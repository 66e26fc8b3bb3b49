"""HiGHS (simplex / IPM / MIP). A start goes in with ``setSolution``; whether it helps an LP
solve is measured by the bench, not assumed."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from .._highs import quiet_highs
from .._interrupt import stop_asked
from ..canonical import QPData
from .base import SolveResult, Status, WarmStart, check_capabilities, check_settings, check_warm_start, objectives_agree

__all__ = ["HiGHSBackend", "check_matrix_entries", "descent_ray", "SMALL_MATRIX_VALUE", "LARGE_MATRIX_VALUE"]

SMALL_MATRIX_VALUE = 1e-12
"""HiGHS' least ``small_matrix_value``: it takes an entry of A or P this small or smaller for zero"""
LARGE_MATRIX_VALUE = 1e15
"""HiGHS' ``large_matrix_value``: it refuses a model with an entry of A or P this large or larger"""


def check_matrix_entries(name: str, qp: QPData) -> None:
    """Refuse a problem whose A or P holds an entry HiGHS would not take as given: one of
    ``SMALL_MATRIX_VALUE`` or less in size (HiGHS takes it for zero, and answers another
    problem as if it were this one) or of ``LARGE_MATRIX_VALUE`` or more (HiGHS refuses it)."""
    for label, matrix in (("A", qp.A), ("P", qp.P)):
        if matrix is None or matrix.nnz == 0:
            continue
        size = np.abs(matrix.data)
        if not (((size <= SMALL_MATRIX_VALUE) & (size > 0)) | (size >= LARGE_MATRIX_VALUE)).any():
            continue
        coo = matrix.tocoo()
        size = np.abs(coo.data)
        for bad, why in (((size <= SMALL_MATRIX_VALUE) & (size > 0),
                          f"HiGHS takes an entry of {SMALL_MATRIX_VALUE:g} or less in size for zero, so it would "
                          "solve another problem"),
                         (size >= LARGE_MATRIX_VALUE, f"HiGHS refuses an entry of {LARGE_MATRIX_VALUE:g} or more")):
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                i, j = int(coo.row[k]), int(coo.col[k])
                at = (f" (row {qp.con_names[i]!r}, column {qp.var_names[j]!r})"
                      if label == "A" and qp.con_names and qp.var_names else "")
                more = f", and {int(bad.sum()) - 1} more like it" if bad.sum() > 1 else ""
                scale = "that row or column" if label == "A" else "that variable"
                raise ValueError(f"{name}: problem {qp.name!r}: {label}[{i}, {j}] = {coo.data[k]:g}{at}{more}: {why}; "
                                 f"rescale {scale} (its units), or solve with pdlp, osqp, scs or clarabel")


class HiGHSBackend:
    """``highspy.Highs``; iterations = simplex + IPM (+ QP) iteration counts, a MIP's its
    branch-and-bound nodes. A MIP stopped at its time limit returns the best integer point found,
    with the status 'limit' and ``extra['mip_gap']`` (HiGHS' relative gap to its best bound).

    A QP goes to HiGHS' active-set QP solver, which on some Maros-Meszaros QPs reports optimal
    at a point that is not, ends the process or runs on past its time limit (docs/lp_qp.md,
    "HiGHS on QPs"; ``benchmarks/highs_qp_probe.py``): for QPs prefer OSQP, SCS or Clarabel.
    An 'optimal' QP answer whose pair is not a KKT point to ``QP_CHECK_TOL`` is checked against
    Clarabel's, and becomes an ``error`` where Clarabel's feasible point beats it (``_qp_check``).
    ``isolate_qp`` (default) solves each QP in a child process, so that a crash ends as an
    ``error`` result and a solve still running at twice ``time_limit`` + 10 s as ``limit``, and
    the caller's batch goes on; ``seconds`` is still HiGHS' own run, timed in the child (one
    child per process: QP solves from several threads take turns).
    """

    name: ClassVar[str] = "highs"
    supports_qp: ClassVar[bool] = True
    supports_mip: ClassVar[bool] = True
    uses_dual_start: ClassVar[bool] = True
    default_tolerance: ClassVar[float] = 1e-7

    def __init__(self, *, method: str = "choose", presolve: bool = True, time_limit: float = 600.0,
                 threads: int = 1, isolate_qp: bool = True) -> None:
        if method not in ("choose", "simplex", "ipm", "pdlp"):
            raise ValueError(f"highs: unknown method {method!r}; use choose, simplex, ipm or pdlp")
        check_settings(self.name, seconds={"time_limit": time_limit},
                       flags={"presolve": presolve, "isolate_qp": isolate_qp})
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"highs: threads must be an integer >= 0 (0: HiGHS chooses), got {threads!r}")
        self.method = method
        self.presolve = presolve
        self.time_limit = time_limit
        self.threads = threads
        self.isolate_qp = isolate_qp

    def _highs(self, qp: QPData, *, names: bool = False):
        """A Highs holding ``qp``; ``names``: with its variable and constraint names (for
        ``writeModel``; a solve needs none)."""
        import highspy

        h = quiet_highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("solver", self.method)
        h.setOptionValue("presolve", "on" if self.presolve else "off")
        h.setOptionValue("time_limit", self.time_limit)
        h.setOptionValue("threads", self.threads)
        # HiGHS takes matrix entries of 1e-9 or less for zero, and costs of 1e20 or more for
        # infinite, by default: another problem than the one given (``check`` refuses what the
        # settings below still change). Only where the problem needs them: its presolve uses
        # small_matrix_value too, and other problems keep their answers to the last digit
        if any(m is not None and ((np.abs(m.data) <= 1e-9) & (m.data != 0)).any() for m in (qp.A, qp.P)):
            h.setOptionValue("small_matrix_value", SMALL_MATRIX_VALUE)
        if (np.abs(qp.c) >= 1e20).any():
            h.setOptionValue("infinite_cost", np.inf)
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = qp.n, qp.m
        lp.col_cost_ = qp.c
        lp.offset_ = qp.offset
        lp.col_lower_ = np.clip(qp.lb, -inf, inf)
        lp.col_upper_ = np.clip(qp.ub, -inf, inf)
        lp.row_lower_ = np.clip(qp.l, -inf, inf)
        lp.row_upper_ = np.clip(qp.u, -inf, inf)
        a = qp.A.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = qp.n, qp.m
        if names and qp.var_names is not None and qp.con_names is not None:
            lp.col_names_, lp.row_names_ = list(qp.var_names), list(qp.con_names)
        if qp.integrality is not None:
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                               for i in qp.integrality]
        model = highspy.HighsModel()
        model.lp_ = lp
        if qp.P is not None:
            import scipy.sparse as sp

            tri = sp.tril(qp.P, format="csc")  # HiGHS takes the lower triangle
            model.hessian_.dim_ = qp.n
            model.hessian_.start_ = tri.indptr
            model.hessian_.index_ = tri.indices
            model.hessian_.value_ = tri.data
        h.passModel(model)
        return h

    def check(self, qp: QPData) -> None:
        check_capabilities(self, qp)
        check_matrix_entries(self.name, qp)

    def solve(self, qp: QPData, *, warm_start: WarmStart | None = None) -> SolveResult:
        import highspy

        self.check(qp)
        ws = check_warm_start(qp, warm_start, self.name)
        if self.isolate_qp and qp.P is not None:
            from ._child import solve_in_child

            options = {"method": self.method, "presolve": self.presolve, "time_limit": self.time_limit,
                       "threads": self.threads, "isolate_qp": False}
            hang_after = 2 * self.time_limit + 10 if np.isfinite(self.time_limit) else None
            return solve_in_child(self.name, options, qp, ws, warm_started=warm_start is not None,
                                  hang_after=hang_after, advice=_QP_ADVICE)
        h = self._highs(qp)
        accepted = False
        if ws is not None:
            sol = highspy.HighsSolution()
            sol.col_value = np.clip(ws.x, qp.lb, qp.ub)
            sol.row_value = qp.A @ sol.col_value
            sol.value_valid = True
            if ws.y is not None:
                sol.row_dual = ws.y
                r = ws.r if ws.r is not None else qp.c + (qp.P @ ws.x if qp.P is not None else 0) - qp.A.T @ ws.y
                sol.col_dual = r
                sol.dual_valid = True
            accepted = h.setSolution(sol) != highspy.HighsStatus.kError
        with stop_asked() as asked:  # a Ctrl-C ends the run at HiGHS' next check, and is raised
            if asked is not None:
                _stop_on(h, asked)
            t0 = time.perf_counter()
            if h.run() == highspy.HighsStatus.kError and h.getModelStatus() == highspy.HighsModelStatus.kNotset:
                # HiGHS' thread scheduler is process-wide: once HiGHS has run in this process with
                # another thread count (the user's own highspy, cvxpy's HIGHS), a fixed count is
                # refused before any work; 0 takes the scheduler there is
                h.setOptionValue("threads", 0)
                h.run()
            seconds = time.perf_counter() - t0
        ms = h.getModelStatus()
        M = highspy.HighsModelStatus
        status = {M.kOptimal: Status.OPTIMAL, M.kInfeasible: Status.INFEASIBLE,
                  M.kUnbounded: Status.UNBOUNDED, M.kUnboundedOrInfeasible: Status.INFEASIBLE_OR_UNBOUNDED,
                  M.kTimeLimit: Status.LIMIT, M.kIterationLimit: Status.LIMIT}.get(ms, Status.ERROR)
        info = h.getInfo()
        sol = h.getSolution()
        mip = qp.integrality is not None
        # a MIP stopped at its limit keeps the best integer point HiGHS found, feasible to its
        # tolerances: returned with the status 'limit', as SCIP and cvxpy's MIP solvers return theirs
        incumbent = (mip and status == Status.LIMIT
                     and info.primal_solution_status == int(highspy.SolutionStatus.kSolutionStatusFeasible))
        x = np.asarray(sol.col_value) if status == Status.OPTIMAL or incumbent else None
        y = np.asarray(sol.row_dual) if status == Status.OPTIMAL and sol.dual_valid else None
        extra = {}
        if status == Status.OPTIMAL and info.basis_validity == 1:
            extra["active"] = _active_set(h.getBasis(), highspy.HighsBasisStatus)
        iters = max(info.simplex_iteration_count, 0) + max(info.ipm_iteration_count, 0) + max(info.qp_iteration_count, 0)
        message = h.modelStatusToString(ms)
        if mip:
            iters = int(info.mip_node_count)
            if x is not None:
                extra["mip_gap"] = float(info.mip_gap)  # relative, to the best bound HiGHS proved
            if incumbent:
                message += (f"; the best integer point found is returned (objective {info.objective_function_value:.10g},"
                            f" {100 * info.mip_gap:.3g}% from the best bound)")
        if status == Status.ERROR and qp.P is not None and qp.integrality is None:
            # seen with HiGHS 1.16 on a small convex QP (random-diag-37 in tests/test_lp_qp.py): 'Solve error'
            message += "; HiGHS' QP solver did not reach a point it accepts. " + _QP_ADVICE
        objective = float(info.objective_function_value) if x is not None else float("nan")
        if status == Status.OPTIMAL and qp.P is not None and qp.integrality is None:
            wrong = _qp_check(qp, x, y, objective, self.time_limit, extra)
            if wrong:
                status, x, y, objective, message = Status.ERROR, None, None, float("nan"), wrong
        if status in (Status.UNBOUNDED, Status.INFEASIBLE_OR_UNBOUNDED) and qp.P is not None and qp.integrality is None:
            wrong = _unbounded_check(qp, message, self.time_limit, extra)
            if wrong:
                status, message = Status.ERROR, wrong
        return SolveResult(
            solver=self.name, status=status, objective=objective,
            x=x, y=y, iterations=int(iters), seconds=seconds,
            warm_started=warm_start is not None, warm_start_accepted=accepted, message=message,
            extra=extra,
        )

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        return objectives_agree(a, b, 1e-6)


_QP_ADVICE = "OSQP, SCS or Clarabel may solve this QP (--solver osqp or scs; solver=\"osqp\" in Python)"

QP_CHECK_TOL = 1e-6
"""relative KKT residual up to which HiGHS' QP optimum stands on its own; the objectives' relative
difference (``objectives_agree``'s) by which a feasible point must beat it to prove it wrong"""


def _qp_check(qp: QPData, x: np.ndarray, y: np.ndarray | None, objective: float, time_limit: float,
              extra: dict) -> str | None:
    """Why HiGHS' QP 'optimal' is wrong, or None. HiGHS' active-set QP solver calls some points
    optimal that are not (QSHARE1B 1.3e-2 above the optimum, with primal and dual statuses
    'feasible'), and its duals are too loose on some right answers for its KKT residuals to
    tell them apart (docs/lp_qp.md, "HiGHS on QPs"). So where its pair's relative KKT residual
    is above ``QP_CHECK_TOL``, Clarabel solves the QP too: a feasible point of Clarabel's whose
    objective is lower by more than the tolerance proves HiGHS' point is no optimum; so does a
    verdict of infeasible where HiGHS' point breaks the constraints by more than the tolerance
    (relative to the data: HiGHS held one 12 times their size optimal), and, with HiGHS' point
    feasible, a ray of descent: Clarabel's certificate or, where Clarabel gives no optimum, one
    found by an LP (``descent_ray``). A check that cannot be made otherwise leaves HiGHS' status
    as it is. ``extra['qp_check']`` records it."""
    from ..canonical.qp import kkt_residuals
    from .clarabel import ClarabelBackend

    # one pass for both: the primal residual needs no duals (zeros stand in where HiGHS gave none)
    own = kkt_residuals(qp, x, y if y is not None else np.zeros(qp.m))
    merit = own.worst if y is not None else float("inf")
    if merit <= QP_CHECK_TOL:
        return None
    t0 = time.perf_counter()
    other = ClarabelBackend(time_limit=time_limit).solve(qp)
    feasible = other.status == Status.OPTIMAL and kkt_residuals(qp, other.x, other.y).primal <= QP_CHECK_TOL
    extra["qp_check"] = {"kkt_residual": merit, "clarabel_status": other.status,
                         "clarabel_objective": other.objective, "seconds": time.perf_counter() - t0}
    unbounded = (f"HiGHS' QP solver called a point optimal (objective {objective:.10g}, relative KKT residual "
                 f"{merit:.1e}) in a QP that is unbounded below: the point is feasible, and ")
    # HiGHS' own point feasible and Clarabel's certificate of dual infeasibility: unbounded below
    if other.status == Status.UNBOUNDED and own.primal <= QP_CHECK_TOL:
        return (unbounded + "Clarabel found a direction along which the objective falls without end (a certificate "
                "of dual infeasibility). " + _QP_ADVICE)
    if other.status == Status.INFEASIBLE and own.primal > QP_CHECK_TOL:
        return (f"HiGHS' QP solver called a point optimal (objective {objective:.10g}) that breaks the constraints "
                f"(relative primal residual {own.primal:.1e}), and Clarabel calls the QP infeasible. " + _QP_ADVICE)
    if feasible:
        if objective - other.objective <= QP_CHECK_TOL * (1.0 + abs(objective) + abs(other.objective)):
            return None
        return (f"HiGHS' QP solver called a point optimal (objective {objective:.10g}, relative KKT residual "
                f"{merit:.1e}) that is not: Clarabel found a feasible point with objective {other.objective:.10g}, "
                f"{objective - other.objective:.3g} lower. " + _QP_ADVICE)
    # no answer of Clarabel's to compare with (it stalled on seeded unbounded QPs that HiGHS called solved)
    if own.primal <= QP_CHECK_TOL and descent_ray(qp, time_limit) is not None:
        extra["qp_check"]["descent_ray"] = True
        return (unbounded + "the objective falls without end along a direction that HiGHS' simplex found (P d = 0, "
                "d a recession direction of the feasible set, c'd < 0). " + _QP_ADVICE)
    return None


def descent_ray(qp: QPData, time_limit: float, *, conic: tuple[Any, int] | None = None) -> np.ndarray | None:
    """A direction d (n,) along which a convex QP's objective falls without end from every feasible
    point, or None if it has none (found none): ``P d = 0`` (for P positive semidefinite, d'Pd = 0),
    ``A d`` and ``d`` within the sides' recession cone (``<= 0`` where the upper side is finite,
    ``>= 0`` where the lower is) and ``c'd <= -1``, an LP that HiGHS' simplex solves, its answer
    held to ``_ray_holds``' relative tolerance as Clarabel's certificates are. conic: Clarabel's
    rows of ``qp`` and their count of equalities (``clarabel._conic_rows``), where the caller has them."""
    import scipy.sparse as sp

    from .clarabel import _conic_rows, _ray_holds

    def cone(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.where(np.isfinite(lo), 0.0, -np.inf), np.where(np.isfinite(hi), 0.0, np.inf)

    rows = sp.vstack([qp.A] + ([qp.P] if qp.P is not None else []) + [sp.csr_matrix(qp.c.reshape(1, -1))],
                     format="csr")
    # rows and columns scaled to entries near 1 (positive factors keep every cone): on data spanning
    # 16 orders of magnitude HiGHS called the LP infeasible where the QP had a ray
    r, k = _equilibrated(rows)
    (l, u), (lb, ub) = cone(qp.l, qp.u), cone(qp.lb, qp.ub)
    flat = np.zeros(qp.n if qp.P is not None else 0)
    ray_lp = QPData(c=np.zeros(qp.n), A=sp.csr_matrix(sp.diags(r) @ rows @ sp.diags(k)),
                    l=np.concatenate([l, flat, [-np.inf]]), u=np.concatenate([u, flat, [-r[-1]]]), lb=lb, ub=ub,
                    name=f"{qp.name} (a ray of descent)")
    # HiGHS' presolve called one such LP infeasible (P of rank n - 1 in P d = 0) that its simplex solves
    for presolve in (True, False):
        res = HiGHSBackend(time_limit=time_limit, presolve=presolve).solve(ray_lp)
        if res.status == Status.OPTIMAL:
            break
    else:
        return None
    if conic is None:
        a, _, _, n_eq = _conic_rows(qp)
    else:
        a, n_eq = conic
    d = k * res.x
    return d if _ray_holds(qp, a, n_eq, d) else None


def _equilibrated(m: Any, passes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Positive row and column factors r (rows,), k (cols,) that bring the largest entry of each
    row and column of ``diag(r) m diag(k)`` near 1 (Ruiz's scaling: each pass divides by the
    square roots of the largest entries)."""
    import scipy.sparse as sp

    r, k = np.ones(m.shape[0]), np.ones(m.shape[1])
    a = abs(m.tocsr())
    for _ in range(passes):
        big = np.asarray((a @ sp.diags(k)).max(axis=1).todense()).ravel() * r
        r /= np.sqrt(np.where(big > 0, big, 1.0))
        big = np.asarray((sp.diags(r) @ a).max(axis=0).todense()).ravel() * k
        k /= np.sqrt(np.where(big > 0, big, 1.0))
    return r, k


def _unbounded_check(qp: QPData, verdict: str, time_limit: float, extra: dict) -> str | None:
    """Why HiGHS' QP verdict of unboundedness is wrong, or None. HiGHS' QP solver called a
    strictly convex QP unbounded (P's least eigenvalue 0.076, one row; OSQP, SCS and Clarabel
    agree on its optimum: ``test_a_highs_qp_verdict_of_unbounded_that_an_optimum_refutes_is_an_error``).
    Clarabel solves such a QP too, and an optimum of its that meets the optimality conditions to
    ``QP_CHECK_TOL`` refutes the verdict; Clarabel's 'optimal' alone does not (it called unbounded
    LPs solved at points 1e8 out, with residuals far above that). ``extra['qp_check']`` records it."""
    from ..canonical.qp import kkt_residuals
    from .clarabel import ClarabelBackend

    t0 = time.perf_counter()
    other = ClarabelBackend(time_limit=time_limit).solve(qp)
    merit = kkt_residuals(qp, other.x, other.y).worst if other.status == Status.OPTIMAL else float("inf")
    extra["qp_check"] = {"clarabel_status": other.status, "clarabel_objective": other.objective,
                         "clarabel_kkt_residual": merit, "seconds": time.perf_counter() - t0}
    if merit > QP_CHECK_TOL:
        return None
    return (f"HiGHS' QP solver called the QP {verdict.lower()}, but it has an optimum: Clarabel found a point "
            f"that meets the optimality conditions (relative KKT residual {merit:.1e}, objective "
            f"{other.objective:.10g}). " + _QP_ADVICE)


def _stop_on(h, asked) -> None:
    """HiGHS' interrupt checks (simplex, IPM, MIP, QP; about one an iteration) end its run once
    ``asked()`` is true. The check sits on HiGHS' own hook, not behind highspy's event objects,
    which cost more a call (its cost: ``benchmarks/highs_stop_cost.py``); no other callback is
    used here."""
    from highspy import cb

    def check(kind, message, data_out, data_in, user_data) -> None:
        if data_in is not None and asked():
            data_in.user_interrupt = True

    h.setCallback(check, None)
    for kind in (cb.HighsCallbackType.kCallbackSimplexInterrupt, cb.HighsCallbackType.kCallbackIpmInterrupt,
                 cb.HighsCallbackType.kCallbackMipInterrupt, cb.HighsCallbackType.kHighsCallbackQpInterrupt):
        h.startCallback(kind)


def _active_set(basis, status_enum) -> tuple[np.ndarray, np.ndarray]:
    """(row_side, var_side): +1 nonbasic at the lower side, -1 at the upper side, 0 basic."""
    def side(statuses) -> np.ndarray:
        out = np.zeros(len(statuses), dtype=np.int8)
        for i, st in enumerate(statuses):
            if st == status_enum.kLower:
                out[i] = 1
            elif st == status_enum.kUpper:
                out[i] = -1
        return out

    return side(basis.row_status), side(basis.col_status)
