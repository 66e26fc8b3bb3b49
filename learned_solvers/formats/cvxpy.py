"""cvxpy problems (LP/QP, DCP, any variable shapes) <-> canonical ``QPData``.

The canonical form is cvxpy's own QP compilation (``Problem.get_problem_data(cp.OSQP)``:
``A x = b``, ``F x <= g``), so a model trained on problems built by one cvxpy script sees
exactly what the cvxpy plugin hands it later. Solutions go back through cvxpy's own
inversion chain, so ``Variable.value`` and ``Constraint.dual_value`` are cvxpy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData

__all__ = ["CvxpyMapping", "beyond_qp", "from_cvxpy", "qp_from_osqp_data", "write_back"]


@dataclass
class CvxpyMapping:
    """What ``write_back`` needs: cvxpy's solving chain and inverse data."""

    chain: Any
    inverse_data: Any


def qp_from_osqp_data(data: dict[str, Any], *, name: str = "cvxpy") -> QPData:
    """Canonical form of cvxpy's QP data dict (keys P, q, A, b, F, G)."""
    a_eq, b_eq = data["A"], np.asarray(data["b"], dtype=float)
    f_in, g_in = data["F"], np.asarray(data["G"], dtype=float)
    n = np.asarray(data["q"]).shape[0]
    a = sp.vstack([sp.csr_matrix(a_eq, shape=(b_eq.shape[0], n)), sp.csr_matrix(f_in, shape=(g_in.shape[0], n))]).tocsr()
    l = np.concatenate([b_eq, np.full(g_in.shape[0], -np.inf)])
    u = np.concatenate([b_eq, g_in])
    p = data.get("P")
    if p is not None:
        # cvxpy takes a matrix as symmetric within np.allclose's tolerance and hands it on as given
        p = sp.csr_matrix(p)
        p = (p + p.T) * 0.5
    return QPData(c=np.asarray(data["q"], dtype=float), A=a, l=l, u=u, lb=np.full(n, -np.inf), ub=np.full(n, np.inf),
                  P=p, name=name)


# each cone cvxpy names, in a modeller's words
_CONES = {"SOC": "a second-order cone (norm, quad_over_lin, ...)",
          "ExpCone": "an exponential cone (log, exp, entr, ...)", "PSD": "a semidefinite cone",
          "PowCone3D": "a power cone (power, geo_mean, ...)", "PowConeND": "a power cone (geo_mean, ...)"}


def beyond_qp(problem: Any) -> str:
    """What a problem needs beyond cvxpy's QP chain, in a modeller's words: its integer
    variables, or its cones; '' where cvxpy's analysis (``ProblemForm``, not a public name) is
    missing or fails, and only cvxpy's own words can be given. ``problem``: a ``cp.Problem`` or
    the ``ProblemForm`` cvxpy hands a solver's ``can_solve``."""
    try:
        from cvxpy.reductions.solvers.qp_solvers.osqp_qpif import OSQP

        form = problem
        if not hasattr(form, "cones"):
            from cvxpy.problems.problem_form import ProblemForm

            form = ProblemForm(problem)
        if form.is_mixed_integer():
            return "integer variables"
        cones = form.cones(quad_obj=form.has_quadratic_objective())
        return "; ".join(_CONES.get(name, name) for name in sorted(c.__name__ for c in cones
                                                                    if c not in OSQP.SUPPORTED_CONSTRAINTS))
    except Exception:  # noqa: BLE001  only an error message is at stake
        return ""


def from_cvxpy(problem: Any) -> tuple[QPData, CvxpyMapping]:
    """Compile a cvxpy problem to ``QPData`` (raises cvxpy's own error if it is not a QP)."""
    import cvxpy as cp

    if not isinstance(problem, cp.Problem):
        raise InvalidProblemError(f"expected a cvxpy.Problem, got {type(problem).__name__}")
    unset = [p.name() for p in problem.parameters() if p.value is None]
    if unset:  # compiled, a parameter without a value is NaN data, named by no one
        which = f"parameter {unset[0]} has" if len(unset) == 1 else f"parameters {', '.join(unset)} have"
        raise InvalidProblemError(f"this cvxpy problem's {which} no value: set it (param.value = ...) before the "
                                  "problem is read")
    if not problem.variables():  # cvxpy answers a constant problem itself: no QP to hand a solver
        raise InvalidProblemError("this cvxpy problem has no variables: there is nothing to solve or warm-start")
    try:
        data, chain, inverse = problem.get_problem_data(cp.OSQP)
    except (cp.error.DCPError, cp.error.DQCPError, cp.error.SolverError) as exc:
        why = " ".join(ln.strip() for ln in str(exc).strip().splitlines()[:3]) or type(exc).__name__
        needs = beyond_qp(problem) if isinstance(exc, cp.error.SolverError) else ""
        why = f"it needs {needs}" if needs else why
        raise InvalidProblemError(f"this cvxpy problem does not compile to a QP, the form OSQP and the learned "
                                  f"model take (a convex quadratic objective, linear constraints): {why}") from exc
    qp = qp_from_osqp_data(data, name=f"cvxpy:{id(problem):x}")
    return qp, CvxpyMapping(chain=chain, inverse_data=inverse)


def osqp_like(x: np.ndarray, y_canonical: np.ndarray, *, objective: float, iterations: int, seconds: float,
              status_val: int = 1) -> SimpleNamespace:
    """A result shaped like OSQP's, which cvxpy's OSQP interface inverts (OSQP's dual sign)."""
    info = SimpleNamespace(status_val=status_val, obj_val=objective, iter=iterations, run_time=seconds,
                           status="solved")
    return SimpleNamespace(x=x, y=-np.asarray(y_canonical), info=info, prim_inf_cert=None)


def write_back(problem: Any, mapping: CvxpyMapping, x: np.ndarray, y: np.ndarray, *, objective: float,
               iterations: int = 0, seconds: float = 0.0) -> None:
    """Set ``problem.value``, every ``Variable.value`` and ``Constraint.dual_value``.

    objective: the canonical objective (without cvxpy's constant offset, which cvxpy adds).
    """
    raw = osqp_like(x, y, objective=objective, iterations=iterations, seconds=seconds)
    problem.unpack_results(raw, mapping.chain, mapping.inverse_data)
