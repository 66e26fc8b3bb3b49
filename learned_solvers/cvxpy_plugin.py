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

from .backends.osqp import OSQP_SETTINGS, OSQPBackend
from .formats.cvxpy import qp_from_osqp_data
from .warmstart import LearnedWarmStarter

__all__ = ["LearnedOSQP"]

# what a script passes to cvxpy's OSQP beyond OSQP's own settings: osqp < 1.0's name for polishing
_ALIASES = {"polish": "polishing"}


class LearnedOSQP(OSQP):
    """OSQP warm-started by a learned model (a checkpoint trained on the same cvxpy family).

    k: model iterations (default: the checkpoint's); polish: active-set polish of the prediction
    (``prob.solve(solver=plugin, polish=True)``, as with cvxpy's OSQP, is OSQP's own polishing);
    tol: OSQP eps_abs = eps_rel (cvxpy's OSQP default 1e-5 unless given). ``prob.solve`` takes
    OSQP's settings by name, as with ``solver=cp.OSQP``.
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
        # the bench's judgement of one answer against another uses the looser of the two
        tol = max(float(opts.get("eps_abs", b.tol)), float(opts.get("eps_rel", b.tol)))
        return OSQPBackend(tol=tol, pinned=b.pinned, max_iter=b.max_iter, time_limit=b.time_limit,
                           settings={**b.extra_settings, **opts})

    def solve_via_data(self, data, warm_start: bool, verbose: bool, solver_opts, solver_cache=None):
        qp = qp_from_osqp_data(data, name="cvxpy-problem")
        res = self.starter.solve(qp, self._backend(solver_opts, verbose))
        self.last = {"iterations": res.iterations, "solver_seconds": res.seconds, **res.extra}
        self.last.pop("raw", None)
        raw = res.extra["raw"]
        return raw


