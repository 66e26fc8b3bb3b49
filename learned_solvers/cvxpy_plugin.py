"""cvxpy plugin: ``prob.solve(solver=LearnedOSQP(checkpoint))`` instead of ``solver=cp.OSQP``.

The plugin is cvxpy's own OSQP interface with one change: before OSQP runs, the learned
model predicts a primal-dual start from the compiled problem and hands it to
``OSQP.warm_start``. ``prob.value``, ``Variable.value`` and ``dual_value`` work as with OSQP;
``prob.solver_stats.extra_stats`` carries OSQP's result (``info.iter``) and the plugin's
figures are in ``plugin.last`` (inference seconds, fallback reason).
"""

from __future__ import annotations

import os
from typing import Any

from cvxpy.reductions.solvers.qp_solvers.osqp_qpif import OSQP

from .backends.osqp import OSQPBackend
from .formats.cvxpy import qp_from_osqp_data
from .warmstart import LearnedWarmStarter

__all__ = ["LearnedOSQP"]

_SOLVE_OPTIONS = {"eps_abs", "eps_rel", "max_iter", "time_limit"}


class LearnedOSQP(OSQP):
    """OSQP warm-started by a learned model (a checkpoint trained on the same cvxpy family).

    k: model iterations (default: the checkpoint's); polish: active-set polish of the prediction;
    tol: OSQP eps_abs = eps_rel (cvxpy's OSQP default 1e-5 unless given).
    """

    def __init__(self, checkpoint: str | os.PathLike[str] | LearnedWarmStarter, *, k: int | None = None,
                 polish: bool = True, tol: float = 1e-5, pinned: bool = False) -> None:
        super().__init__()
        self.starter = (checkpoint if isinstance(checkpoint, LearnedWarmStarter)
                        else LearnedWarmStarter.from_checkpoint(checkpoint, k=k, polish=polish))
        if k is not None:
            self.starter.k = k
        self.backend = OSQPBackend(tol=tol, pinned=pinned)
        self.last: dict[str, Any] = {}

    def name(self) -> str:
        return "LEARNED_OSQP"

    def _backend(self, solver_opts: dict[str, Any]) -> OSQPBackend:
        """The plugin's OSQP, with the options of ``prob.solve(solver=..., **options)`` that a
        script written for cvxpy's OSQP passes (eps_abs and eps_rel equal, max_iter, time_limit)."""
        unknown = sorted(set(solver_opts) - _SOLVE_OPTIONS)
        if unknown:
            raise TypeError(f"LearnedOSQP: unknown solver options {unknown}; it takes {sorted(_SOLVE_OPTIONS)} in "
                            "solve(), and tol=, pinned= on the plugin")
        if not solver_opts:
            return self.backend
        b = self.backend
        eps_abs, eps_rel = solver_opts.get("eps_abs", b.tol), solver_opts.get("eps_rel", b.tol)
        if eps_abs != eps_rel:
            raise TypeError(f"LearnedOSQP: eps_abs ({eps_abs}) and eps_rel ({eps_rel}) must be equal, the one "
                            "tolerance the learned start is judged at")
        return OSQPBackend(tol=float(eps_abs), pinned=b.pinned, max_iter=int(solver_opts.get("max_iter", b.max_iter)),
                           time_limit=float(solver_opts.get("time_limit", b.time_limit)))

    def solve_via_data(self, data, warm_start: bool, verbose: bool, solver_opts, solver_cache=None):
        qp = qp_from_osqp_data(data, name="cvxpy-problem")
        res = self.starter.solve(qp, self._backend(solver_opts))
        self.last = {"iterations": res.iterations, "solver_seconds": res.seconds, **res.extra}
        self.last.pop("raw", None)
        raw = res.extra["raw"]
        return raw


