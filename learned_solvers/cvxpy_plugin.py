"""cvxpy plugins: ``prob.solve(solver=LearnedOSQP(checkpoint))`` instead of ``solver=cp.OSQP``,
and ``prob.solve(solver=LearnedSolver(checkpoint, solver="pdlp"))`` for PDLP, SCS or HiGHS.

``LearnedOSQP`` is cvxpy's own OSQP interface with one change: before OSQP runs, the learned
model predicts a primal-dual start from the compiled problem and hands it to
``OSQP.warm_start``. ``LearnedSolver`` compiles the problem the same way (cvxpy's QP chain,
the form ``cvxpy:MODULE:FUNCTION`` families train on) and solves it with another backend from
the learned start. ``prob.value``, ``Variable.value`` and ``dual_value`` work as with cvxpy's
own solvers; ``prob.solver_stats`` has the solver's iterations and the plugin's figures are in
``plugin.last`` (inference seconds, fallback reason).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from cvxpy import settings as cvxpy_settings
from cvxpy.error import SolverError
from cvxpy.reductions.solvers.qp_solvers.osqp_qpif import OSQP

from .backends import SolveResult, Status, backend_options, make_backend
from .backends.osqp import OSQP_SETTINGS, OSQPBackend
from .formats.cvxpy import beyond_qp, osqp_like, qp_from_osqp_data
from .warmstart import LearnedWarmStarter, starter_and_backend, starter_from

__all__ = ["LearnedOSQP", "LearnedSolver"]

# what a script passes to cvxpy's OSQP beyond OSQP's own settings: osqp < 1.0's name for polishing
_ALIASES = {"polish": "polishing"}


def _figures(res: Any) -> dict[str, Any]:
    """What ``plugin.last`` shows of a solve: iterations, solver seconds, inference seconds and
    fallback reason (the solver's raw result stays in ``prob.solver_stats``)."""
    return {"iterations": res.iterations, "solver_seconds": res.seconds,
            **{k: v for k, v in res.extra.items() if k != "raw"}}


def _log_start(name: str, res: Any) -> None:
    """With ``prob.solve(verbose=True)``: one line in cvxpy's log on the start the solver got."""
    e = res.extra
    if e.get("fallback"):
        what = f"cold start ({e['fallback']})"
    else:
        what = (f"learned start, k = {e.get('k')}{' (no network: the anchor)' if e.get('k') == 0 else ''}"
                f"{', polished' if e.get('polished') else ''}, accepted by the solver: "
                f"{'yes' if res.warm_start_accepted else 'no'}")
    built = f" (and {float(e['load_seconds']):.2f} s to build the network, once)" if e.get("load_seconds") else ""
    cvxpy_settings.LOGGER.info("%s: %s; inference %.2f ms%s; %s iterations", name, what,
                               1e3 * float(e.get("inference_seconds") or 0.0), built, res.iterations)


COLD_AS_ASKED = "cvxpy's warm_start=False: solved cold, as the script asked"


def _solve(starter: LearnedWarmStarter, qp: Any, backend: Any, warm_start: bool) -> SolveResult:
    """The solve from the learned start, or, where the script passes cvxpy's
    ``warm_start=False``, the cold solve it asks for (cvxpy's own solvers then start cold too)."""
    if warm_start:
        return starter.solve(qp, backend)
    res = backend.solve(qp)
    res.extra.update(inference_seconds=0.0, k=None, polished=False, fallback=COLD_AS_ASKED, reordered=False,
                     load_seconds=0.0)
    return res


class _QPChainSolver(OSQP):
    """What both plugins share: they take what cvxpy's QP chain compiles (LPs and QPs, the
    canonical form the models learn from). cvxpy's own refusal of anything else gives no reason
    ("cannot solve this problem"); this one names the cone and what to do."""

    def can_solve(self, problem_form: Any) -> bool:
        if super().can_solve(problem_form):
            return True
        needs = beyond_qp(problem_form) or "a form outside cvxpy's QP chain"
        raise SolverError(f"{self.name()} takes LPs and QPs (linear constraints, a linear or convex quadratic "
                          f"objective), the form its model learns from; this problem needs {needs}. Solve it "
                          f"with a conic solver of cvxpy's own (solver=cp.CLARABEL or cp.SCS), or write it as a QP")


class LearnedOSQP(_QPChainSolver):
    """OSQP warm-started by a learned model (a checkpoint trained on the same cvxpy family).

    k: model iterations (default: the checkpoint's); polish: active-set polish of the prediction
    (default: the checkpoint's choice; ``prob.solve(solver=plugin, polish=True)``, as with cvxpy's
    OSQP, is OSQP's own polishing);
    tol: OSQP eps_abs = eps_rel (cvxpy's OSQP default 1e-5 unless given). OSQP's other settings
    start at cvxpy's too (polishing on, max_iter 10,000), so the answer is the one ``cp.OSQP``
    gives; ``prob.solve`` takes OSQP's settings by name, as with ``solver=cp.OSQP``, and
    ``warm_start=False`` solves cold, as it asks.
    """

    def __init__(self, checkpoint: str | os.PathLike[str] | LearnedWarmStarter, *, k: int | None = None,
                 polish: bool | None = None, tol: float = 1e-5, pinned: bool = False) -> None:
        super().__init__()
        self.starter = starter_from(checkpoint, k=k, polish=polish)
        # cvxpy's OSQP interface polishes a fresh solve and stops at 10,000 iterations: the same here
        self.backend = OSQPBackend(tol=tol, pinned=pinned, max_iter=10_000, settings={"polishing": True})
        self.last: dict[str, Any] = {}

    def name(self) -> str:
        return "LEARNED_OSQP"

    def __repr__(self) -> str:
        return f"LearnedOSQP({self.starter!r}, tol={self.backend.tol:g}, pinned={self.backend.pinned})"

    def _backend(self, solver_opts: dict[str, Any], verbose: bool = False) -> OSQPBackend:
        """The plugin's OSQP, with the options of ``prob.solve(solver=..., **options)`` that a
        script written for cvxpy's OSQP passes: any OSQP setting by name (``polish`` too), an
        unknown one refused by name. eps_abs and eps_rel default to the plugin's ``tol``."""
        opts = {_ALIASES.get(k, k): v for k, v in solver_opts.items()}
        unknown = sorted(set(opts) - OSQP_SETTINGS)
        if unknown:
            raise TypeError(f"LearnedOSQP: unknown solver options {unknown}; it takes OSQP's settings "
                            f"({', '.join(sorted(OSQP_SETTINGS))}), and tol=, pinned= on the plugin")
        if verbose:
            opts["verbose"] = True
        if not opts:
            return self.backend
        b = self.backend
        for name in ("eps_abs", "eps_rel"):
            v = opts.get(name, b.tol)
            # checked by the user's name: the backend would blame its own 'tol', derived below
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"LearnedOSQP: {name} must lie in [0, 1) (at 1 or more almost any point passes), "
                                 f"got {v!r}")
        # the bench's judgement of one answer against another uses the looser of the two
        tol = max(float(opts.get("eps_abs", b.tol)), float(opts.get("eps_rel", b.tol)))
        if tol == 0:
            raise ValueError("LearnedOSQP: eps_abs and eps_rel cannot both be 0 (OSQP's rule: nothing would pass)")
        return OSQPBackend(tol=tol, pinned=b.pinned, max_iter=b.max_iter, time_limit=b.time_limit,
                           settings={**b.extra_settings, **opts})

    def solve_via_data(self, data, warm_start: bool, verbose: bool, solver_opts, solver_cache=None):
        qp = qp_from_osqp_data(data, name="cvxpy-problem")
        res = _solve(self.starter, qp, self._backend(solver_opts, verbose), warm_start)
        self.last = _figures(res)
        if verbose:
            _log_start(self.name(), res)
        raw = res.extra["raw"]
        return raw


# our statuses as OSQP's codes, which cvxpy's OSQP interface inverts (12: one OSQP lacks)
_OSQP_CODE = {Status.OPTIMAL: 1, Status.INFEASIBLE: 3, Status.UNBOUNDED: 5, Status.LIMIT: 7, Status.ERROR: 11,
              Status.INFEASIBLE_OR_UNBOUNDED: 12}


def _osqp_code(res: SolveResult) -> int:
    """``res``'s status as OSQP's code; an inaccurate answer or verdict the next code, which cvxpy
    reads as ``OPTIMAL_INACCURATE`` (``INFEASIBLE_INACCURATE``, ...), as it does cp.OSQP's and cp.SCS's."""
    code = _OSQP_CODE.get(res.status, 11)
    return code + 1 if res.inaccurate and code in (1, 3, 5) else code


# cvxpy's own names for the options of its SCS, PDLP, HiGHS and OSQP interfaces (what a script
# passes to ``prob.solve(solver=cp.SCS, max_iters=...)``) and the backend setting each one is: a
# script keeps them through its one-line switch. Tolerances (eps_abs = eps_rel) are the backend's tol.
CVXPY_OPTIONS = {"scs": {"max_iters": "max_iters"}, "pdlp": {"time_limit_sec": "time_limit"},
                 "highs": {"time_limit": "time_limit", "threads": "threads", "presolve": "presolve"},
                 "osqp": {"max_iter": "max_iter", "time_limit": "time_limit"}}
_EPS = {"scs": ("eps", "eps_abs", "eps_rel"), "osqp": ("eps_abs", "eps_rel")}
# cvxpy's SCS interface stops SCS 3 at eps_abs = eps_rel = 1e-5 (SCS's own default is 1e-4)
CVXPY_SCS_TOL = 1e-5


def backend_settings(name: str, solver_opts: dict[str, Any], solver: str) -> dict[str, Any]:
    """``solver_opts``, the options of ``prob.solve(solver=plugin, **options)`` under cvxpy's names
    for ``solver``'s own interface, as the backend's settings; a name without one is refused,
    saying which are taken and where the others go. ``name``: the plugin's, for messages."""
    opts = dict(solver_opts)
    if solver == "highs" and isinstance(opts.get("highs_options"), dict):  # cvxpy's other way to pass them
        opts = {**opts.pop("highs_options"), **opts}
    names, eps = CVXPY_OPTIONS[solver], _EPS.get(solver, ())
    out: dict[str, Any] = {}
    given = {k: opts.pop(k) for k in eps if k in opts}
    tols = list(given.values())
    if tols:
        if any(t != tols[0] for t in tols[1:]):
            raise TypeError(f"{name}: {solver} here stops at one tolerance for both eps_abs and eps_rel; give them "
                            f"equal (got {given}), or tol= on the plugin")
        out["tol"] = tols[0]
    for k in [k for k in opts if k in names]:
        out[names[k]] = opts.pop(k)
    if solver == "highs" and isinstance(out.get("presolve"), str):  # HiGHS's "on" / "off" / "choose"
        out["presolve"] = {"on": True, "choose": True, "off": False}.get(out["presolve"], out["presolve"])
    if opts:
        taken = sorted([*eps, *names])
        raise TypeError(f"{name}: options {sorted(opts)} have no counterpart in this plugin's {solver}; in solve() it "
                        f"takes cvxpy's {', '.join(taken)}, and on the plugin, LearnedSolver(..., solver={solver!r}, "
                        f"option=value), its settings {', '.join(backend_options(solver))}")
    return out


class LearnedSolver(_QPChainSolver):
    """PDLP, SCS or HiGHS (or OSQP) from a learned warm start, as a cvxpy solver:
    ``prob.solve(solver=LearnedSolver("lp.safetensors", solver="pdlp", tol=1e-6))``.

    The problem is compiled by cvxpy's QP chain, as for OSQP and as the ``cvxpy:`` family the
    checkpoint was trained on; the chosen backend (None: the checkpoint's own solver, else pdlp)
    solves it (its options by keyword: ``tol``, ``pinned``, ... as
    ``learned_solvers.backends.make_backend`` takes them) and the answer goes back through
    cvxpy's inversion; ``prob.solve(..., warm_start=False)`` solves cold, as it asks. k, polish:
    as ``LearnedOSQP``. ``prob.solve(solver=plugin, **options)``
    takes the options a script passes to cvxpy's own interface of that solver under cvxpy's names
    (``CVXPY_OPTIONS``; SCS's and OSQP's eps_abs = eps_rel as ``tol``), and SCS stops where
    ``cp.SCS`` does, at 1e-5, unless ``tol`` says otherwise.
    """

    STATUS_MAP = {**OSQP.STATUS_MAP, 12: cvxpy_settings.INFEASIBLE_OR_UNBOUNDED}

    def __init__(self, checkpoint: str | os.PathLike[str] | LearnedWarmStarter, *, solver: str | None = None,
                 k: int | None = None, polish: bool | None = None, **options: Any) -> None:
        super().__init__()
        defaults = {"scs": {"tol": CVXPY_SCS_TOL}}  # cp.SCS's
        self.starter, self.backend = starter_and_backend(checkpoint, solver=solver, k=k, polish=polish,
                                                         options=options, defaults=defaults)
        # the backend's settings, which solve()'s options are laid over
        self.options = {**defaults.get(self.backend.name, {}), **options}
        self.last: dict[str, Any] = {}

    def name(self) -> str:
        return f"LEARNED_{self.backend.name.upper()}"

    def __repr__(self) -> str:
        return f"LearnedSolver({self.starter!r}, solver={self.backend.name!r})"

    def import_solver(self) -> None:
        return None  # the backend imports its solver when it runs

    def solve_via_data(self, data, warm_start: bool, verbose: bool, solver_opts, solver_cache=None):
        backend = self.backend
        if solver_opts:  # cvxpy's names for this solver's options, over the plugin's own settings
            backend = make_backend(self.backend.name, **{**self.options, **backend_settings(
                self.name(), solver_opts, self.backend.name)})
        qp = qp_from_osqp_data(data, name="cvxpy-problem")
        res = _solve(self.starter, qp, backend, warm_start)
        self.last = _figures(res)
        if verbose:
            _log_start(self.name(), res)
        code = _osqp_code(res)
        x = res.x if res.x is not None else np.full(qp.n, np.nan)
        y = res.y if res.y is not None else np.full(qp.m, np.nan)
        out = osqp_like(x, y, objective=res.objective if res.x is not None else np.nan, iterations=res.iterations,
                        seconds=res.seconds, status_val=code)
        out.prim_inf_cert = np.full(qp.m, np.nan)  # no certificate in OSQP's convention from these solvers
        return out
