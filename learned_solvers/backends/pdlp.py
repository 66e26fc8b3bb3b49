"""PDLP (OR-Tools' first-order LP solver), warm-started with a primal-dual pair."""

from __future__ import annotations

import threading
import time
import warnings
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..canonical import QPData
from .base import (SolveResult, Status, WarmStart, check_capabilities, check_settings, check_warm_start,
                   checked_verdict, objectives_agree)

__all__ = ["PDLPBackend"]

_STATUS = {
    "TERMINATION_REASON_OPTIMAL": Status.OPTIMAL,
    "TERMINATION_REASON_PRIMAL_INFEASIBLE": Status.INFEASIBLE,
    "TERMINATION_REASON_DUAL_INFEASIBLE": Status.UNBOUNDED,
    "TERMINATION_REASON_PRIMAL_OR_DUAL_INFEASIBLE": Status.INFEASIBLE_OR_UNBOUNDED,
    "TERMINATION_REASON_TIME_LIMIT": Status.LIMIT,
    "TERMINATION_REASON_ITERATION_LIMIT": Status.LIMIT,
    "TERMINATION_REASON_KKT_MATRIX_PASS_LIMIT": Status.LIMIT,
}
ISOLATE_NNZ = 200_000
"""constraint nonzeros from which PDLP solves in a child process by default (``isolate``): its
binding holds Python's lock for the whole solve, so in this process a Ctrl-C waited for its end"""
_ADVICE = "HiGHS may solve this LP (--solver highs; solver=\"highs\" in Python)"
_LARGEST_START = 1e50
"""PDLP refuses a start with a larger entry (``TERMINATION_REASON_INVALID_INITIAL_SOLUTION``, with a
line of its own on stderr), so such a start is refused here first, as a NaN one is"""


# where a cold LP solve ends so, PDLP runs again behind glop's presolve (as cvxpy runs PDLP): on
# badly scaled bounds written as one-entry rows PDLP alone ended in a numerical error, or called a
# problem with an optimum dual infeasible (unbounded), where the presolved run finds the optimum
_CONFIRM = ("TERMINATION_REASON_NUMERICAL_ERROR", "TERMINATION_REASON_PRIMAL_INFEASIBLE",
            "TERMINATION_REASON_DUAL_INFEASIBLE", "TERMINATION_REASON_PRIMAL_OR_DUAL_INFEASIBLE")


class PDLPBackend:
    """``ortools.pdlp.python.pdlp.primal_dual_hybrid_gradient`` with ``initial_solution``.

    tol: relative and absolute optimality tolerance (PDLP's ``eps_optimal_*``).
    iteration_limit, time_limit: PDLP stops at whichever comes first (status ``limit``); the
    iteration limit is high so that a slow but converging cold solve is not cut short.
    threads: PDLP worker threads. Only LPs and QPs with a diagonal P are accepted.
    isolate: solve in a child process (``_child``), where a Ctrl-C ends the solve at once and a
    crash ends as an ``error`` result; None (default): where A has ``ISOLATE_NNZ`` nonzeros or
    more, in the main thread (where a Ctrl-C comes). ``seconds`` is PDLP's own run either way.
    A cold LP solve that ends in a numerical error or a verdict of no optimum runs again behind
    glop's presolve (which ignores a start, so only cold solves), and an optimum found there is
    the answer (``extra['presolved']``); otherwise the first verdict stands (``extra['presolve_run']``:
    how that run ended; both runs' iterations and seconds are counted).
    """

    name: ClassVar[str] = "pdlp"
    supports_qp: ClassVar[bool] = True  # diagonal P only
    supports_mip: ClassVar[bool] = False
    uses_dual_start: ClassVar[bool] = True
    default_tolerance: ClassVar[float] = 1e-6

    def __init__(
        self,
        *,
        tol: float = 1e-6,
        iteration_limit: int = 2_000_000,
        time_limit: float = 600.0,
        threads: int = 1,
        isolate: bool | None = None,
    ) -> None:
        check_settings(self.name, tolerances={"tol": tol}, iterations={"iteration_limit": iteration_limit,
                       "threads": threads}, seconds={"time_limit": time_limit},
                       flags={"isolate": isolate} if isolate is not None else {})
        self.tol = tol
        self.iteration_limit = iteration_limit
        self.time_limit = time_limit
        self.threads = threads
        self.isolate = isolate

    def _program(self, qp: QPData):
        from ortools.pdlp.python import pdlp

        prog = pdlp.QuadraticProgram()
        prog.objective_vector = qp.c
        prog.objective_offset = qp.offset
        prog.constraint_matrix = qp.A.tocsc()
        prog.constraint_lower_bounds = qp.l
        prog.constraint_upper_bounds = qp.u
        prog.variable_lower_bounds = qp.lb
        prog.variable_upper_bounds = qp.ub
        if qp.P is not None:  # diagonal: ``check``
            prog.set_objective_matrix_diagonal(qp.P.diagonal())
        return prog

    def _params(self):
        from ortools.pdlp import solvers_pb2

        params = solvers_pb2.PrimalDualHybridGradientParams()
        crit = params.termination_criteria.simple_optimality_criteria
        crit.eps_optimal_relative = self.tol
        crit.eps_optimal_absolute = self.tol
        params.termination_criteria.iteration_limit = self.iteration_limit
        params.termination_criteria.time_sec_limit = self.time_limit
        params.num_threads = self.threads
        params.verbosity_level = 0
        return params

    def check(self, qp: QPData) -> None:
        check_capabilities(self, qp)
        if qp.P is not None and abs(qp.P - sp.diags(qp.P.diagonal())).sum() > 0:
            raise ValueError(f"pdlp: problem {qp.name!r} has a non-diagonal P; PDLP takes diagonal QPs only. "
                             "Solve it with OSQP or SCS (--solver osqp or scs; solver=\"osqp\" in Python).")

    def solve(self, qp: QPData, *, warm_start: WarmStart | None = None) -> SolveResult:
        from ortools.pdlp.python import pdlp

        self.check(qp)
        ws = check_warm_start(qp, warm_start, self.name)
        if self.isolate if self.isolate is not None else (
                qp.A.nnz >= ISOLATE_NNZ and threading.current_thread() is threading.main_thread()):
            from ._child import solve_in_child

            options = {"tol": self.tol, "iteration_limit": self.iteration_limit, "time_limit": self.time_limit,
                       "threads": self.threads, "isolate": False}
            hang_after = 2 * self.time_limit + 10 if np.isfinite(self.time_limit) else None
            return solve_in_child(self.name, options, qp, ws, warm_started=warm_start is not None,
                                  hang_after=hang_after, advice=_ADVICE, flag="isolate")
        prog = self._program(qp)
        init = None
        if ws is not None:
            x0 = np.clip(ws.x, qp.lb, qp.ub)
            y0 = ws.y if ws.y is not None else np.zeros(qp.m)
            if max(np.abs(x0).max(initial=0.0), np.abs(y0).max(initial=0.0)) > _LARGEST_START:
                warnings.warn(f"{self.name}: warm start refused (an entry above {_LARGEST_START:g}, PDLP's limit); "
                              f"solving {qp.name!r} from a cold start.", RuntimeWarning, stacklevel=2)
                ws = None
            else:
                init = pdlp.PrimalAndDualSolution()
                init.primal_solution = x0
                init.dual_solution = y0
        from ortools.pdlp import solve_log_pb2

        def run(params, start):
            t0 = time.perf_counter()
            res = pdlp.primal_dual_hybrid_gradient(prog, params, initial_solution=start)
            return res, time.perf_counter() - t0, solve_log_pb2.TerminationReason.Name(res.solve_log.termination_reason)

        res, seconds, reason = run(self._params(), init)
        iterations, message, extra = int(res.solve_log.iteration_count), reason, {}
        if init is None and qp.P is None and reason in _CONFIRM:
            params = self._params()
            params.presolve_options.use_glop = True
            again, secs, why = run(params, None)
            iterations, seconds = iterations + int(again.solve_log.iteration_count), seconds + secs
            extra["presolve_run"] = why  # counted in the iterations and seconds, whatever it found
            if _STATUS.get(why) == Status.OPTIMAL:
                res, reason, message = again, why, f"{why} (behind glop's presolve, after {reason})"
                extra["presolved"] = True
        status = _STATUS.get(reason, Status.ERROR)
        x = np.asarray(res.primal_solution)
        y = np.asarray(res.dual_solution)
        status, message = checked_verdict(qp, status, x, message, solver="PDLP")
        return SolveResult(
            solver=self.name,
            status=status,
            objective=qp.objective(x) if status == Status.OPTIMAL else float("nan"),
            x=x,
            y=y,
            iterations=iterations,
            seconds=seconds,
            warm_started=warm_start is not None,
            warm_start_accepted=ws is not None,
            message=message,
            extra=extra,
        )

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        # PDLP's relative criterion bounds the gap by tol*(1+|p|+|d|); allow both solves' error
        return objectives_agree(a, b, 2 * self.tol * 10)
