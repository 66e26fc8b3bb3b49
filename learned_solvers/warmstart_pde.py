"""Learned initial guesses for PDE solves: a mesh model plus its family scales, behind two calls.

A user's dolfinx script changes by two lines::

    starter = LearnedPDEStarter.from_checkpoint("darcy.safetensors")
    result = starter.solve(problem, fields={"a": kappa})   # instead of problem.solve()

``solve`` reads the problem through the dolfinx adapter, predicts on rank 0 (under MPI the
data are gathered there), injects the guess where PETSc reads it and lets KSP or SNES iterate
to its own tolerance. A problem on another kind of space or domain is refused with the reason
(on every rank under MPI); a NaN prediction falls back to the cold guess with a warning; a Newton solve that fails from
the learned guess is retried from the cold guess.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._mpi import on_rank0
from ._threads import THREADS_FROM, blas_threads, inference_threads, torch_threads
from .backends.base import SolveResult
from .canonical.pde import PDEData, fields_keys, space_mismatch
from .checkpoint import CheckpointError, LazyNetwork, UnbuiltNetwork, interpreting, load_checkpoint, save_checkpoint
from .models.mesh_anchors import KernelFit, MeshAnchorBank
from .models.mesh_data import CoarseOperatorError, FamilyNorm
from .options import (IterationsOption, ThreadsOption, check_device, check_flags, check_k, check_precision,
                      check_recorded_k, check_threads)
from .warmstart import OutOfFamilyWarning

if TYPE_CHECKING:  # torch comes with the network, which a start from the training solutions never runs
    import torch

    from .models.mesh_gnn import MeshImplicitModel

__all__ = ["LearnedPDEStarter", "THREADS_FROM"]


def _vector_widths(sig: dict[str, Any]) -> tuple[int, ...]:
    """The widths a checkpoint's dof vectors may have (``PDEData.dof_vectors``: gdim, or gdim +
    gdim * gdim since the responses to a field's gradient are kept); any where it names no gdim."""
    d = sig.get("gdim")
    return (d, d + d * d) if isinstance(d, int) else tuple(range(1, 13))


class _MeshNetwork(UnbuiltNetwork):
    """A checkpoint's mesh network, not yet built (``UnbuiltNetwork``)."""

    def make(self, config: dict[str, Any]) -> Callable[[], MeshImplicitModel]:
        from .models.mesh_gnn import MeshGNNConfig, MeshImplicitModel

        cfg = MeshGNNConfig(**config)
        return lambda: MeshImplicitModel(cfg)


class LearnedPDEStarter(LazyNetwork):
    """model + family norm + the space signature it was trained on; ``k`` model iterations.
    A checkpoint loaded for a start from the training solutions (k = 0) builds its
    network (and imports torch) only where one runs: ``model`` builds it on first use."""

    k = IterationsOption(allow_zero=True)  # None: the model's training iterations; 0: the anchor, no network
    # torch's CPU threads for inference where a call names none (None: one below THREADS_FROM dofs)
    threads = ThreadsOption()

    def __init__(self, model: MeshImplicitModel | _MeshNetwork, norm: FamilyNorm, *, family: str,
                 signature: dict[str, Any], k: int | None = None, device: str = "cpu",
                 anchors: MeshAnchorBank | None = None, precision: str = "float32",
                 network_k: int | None = None, meta: dict[str, Any] | None = None,
                 threads: int | None = None) -> None:
        check_device(device)
        self.device = device
        self.threads = threads
        # float64 costs about 1.7x the inference time; a float32 solution-state model on a symmetric
        # linear problem keeps its solution and residual in float64 already, and converges as far
        self.precision = check_precision(precision)
        self._hold(model)
        self.anchors = anchors
        self.norm = norm
        self.family = family
        self.signature = signature
        self.k = k
        # what the starter's own k = 0 runs where no training solution fits a problem (another
        # mesh without coordinates): the fastest network k on the validation split
        self.network_k = check_k(network_k) if network_k is not None else self.model.cfg.train_k
        self.last_fallback: str | None = None  # why the last guess was None (out of family, non-finite)
        self.last_anchor = "none"  # what the last guess corrected: a training solution ("same mesh", "interpolated")
        # the network's one-off build (torch's import included) where the last guess was the first to run
        # it: a cost of the process, as loading the checkpoint is, so not in its inference seconds
        self.last_load_seconds = 0.0
        # what its training recorded (val_error, k_sweep, n_train, ...): the checkpoint's metadata
        self.meta: dict[str, Any] = dict(meta or {})

    def _take(self, model: MeshImplicitModel) -> None:
        import torch

        self._model = model.to(self.device, getattr(torch, self.precision)).eval()

    @property
    def model(self) -> MeshImplicitModel:
        """The trained network (built from the checkpoint on first use, where it was loaded for a
        start from the training solutions)."""
        return self._network()

    def __repr__(self) -> str:
        sig = self.signature or {}
        return (f"LearnedPDEStarter(family={self.family!r}, k={self.k}, {sig.get('element', '?')} degree "
                f"{sig.get('degree', '?')}, fields={sig.get('field_names', [])}, precision={self.precision!r}, "
                f"device={self.device!r})")

    def save(self, path: str | Path, **meta: Any) -> Path:
        # trained in float32: the weights are saved so whatever precision runs them now
        state = {n: v.float() if v.is_floating_point() else v for n, v in self.model.state_dict().items()}
        if self.anchors is not None:
            state.update(self.anchors.state())
            if self.anchors.kernel_fit is not None:
                meta = {"anchor": self.anchors.kernel_fit.to_dict(), **meta}
        return save_checkpoint(path, state, {
            "kind": "pde", "family": self.family, "model": self.model.cfg.to_dict(), "norm": self.norm.to_dict(),
            "signature": self.signature, "k": self.k, "best_network_k": self.network_k, **meta})

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, family: str | None = None, k: int | None = None,
                        device: str = "cpu", precision: str = "float32", threads: int | None = None
                        ) -> LearnedPDEStarter:
        check_device(device)
        check_k(k, allow_zero=True)
        check_threads(threads)
        check_precision(precision)  # the caller's options are checked before the file, whose faults are its own
        ck = load_checkpoint(path, kind="pde", family=family, arrays="numpy")
        state = dict(ck.state)
        fields, sols, coords, vectors = (state.pop(f"anchor_{part}", None)
                                         for part in ("fields", "solutions", "coords", "vectors"))
        try:
            network = _MeshNetwork(path, ck.meta["model"], state)
            norm = FamilyNorm(**ck.meta["norm"])
            # the kernel anchor's choice, refitted from the bank; a checkpoint from before it corrects the nearest
            kernel = KernelFit.from_dict(ck.meta["anchor"]) if isinstance(ck.meta.get("anchor"), dict) else None
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: weights do not fit the recorded mesh-model config ({exc})") from exc
        with interpreting(path):
            sig = ck.meta["signature"]
            if not isinstance(sig, dict) or ("bbox" in sig and np.asarray(sig["bbox"], dtype=float).ndim != 2) or (
                    not all(isinstance(f, str) for f in sig.get("field_names", []))):
                raise ValueError(f"its space signature {sig!r} is not a record of the space it was trained on")
            bank = None
            if fields is not None and sols is not None:
                if fields.ndim != 2 or sols.ndim != 2 or len(fields) != len(sols) or (
                        coords is not None and (coords.ndim != 2 or tuple(coords.shape)[:1] != sols.shape[1:])) or (
                        vectors is not None and (coords is None or vectors.ndim != 2
                                                 or vectors.shape[0] != len(coords)
                                                 or vectors.shape[1] not in _vector_widths(sig))):
                    raise ValueError(f"its training solutions {sols.shape}, their fields {fields.shape}, dof "
                                     f"coordinates {None if coords is None else tuple(coords.shape)} and vectors "
                                     f"{None if vectors is None else tuple(vectors.shape)} do not match")
                bank = MeshAnchorBank(fields, sols, norm, coords=coords, kernel=kernel, vectors=vectors)
            own_k = check_recorded_k(ck.meta.get("k"), what="k")
            network_k = check_recorded_k(ck.meta.get("best_network_k"), what="best_network_k")
            # the network is built now, its weights checked, unless the start is the training
            # solutions' (k = 0, on any device): then where it first runs (no training solution fits a problem)
            lazy = bank is not None and network_k is not None and (k if k is not None else own_k) == 0
            return cls(network if lazy else network.build(), norm, family=ck.meta["family"],
                       signature=ck.meta["signature"], k=k if k is not None else own_k, device=device,
                       anchors=bank, precision=precision, network_k=network_k, meta=ck.meta, threads=threads)

    def check(self, pde: PDEData) -> None:
        why = space_mismatch(self.signature, pde.signature)
        if why:
            trained = fields_keys(self.signature.get("field_names") or [])
            same_keys = trained == fields_keys(pde.signature.get("field_names") or [])
            todo = ("retrain it: the same fields= keys give other columns now (a vector Constant gives one per "
                    "component; this model was trained when it gave only its first)"
                    if why.startswith("field_names") and same_keys
                    else f"pass fields= with the names it was trained with, {trained} (fields={{name: Function, "
                    "Constant or number})" if why.startswith("field_names") else
                    "train one for it (learned-solvers train --family ...)")
            raise CheckpointError(f"{pde.name}: this model cannot run on the problem: {why}. To fix: {todo}.")

    def guess(self, pde: PDEData, *, k: int | None = None, safeguard: bool = True,
              residual: Callable[[np.ndarray], np.ndarray] | None = None,
              threads: int | None = None) -> tuple[np.ndarray | None, float]:
        """(guess (n,) or None, inference seconds): None for fields outside the training family
        (``FamilyNorm.outside``) or a non-finite prediction, with a warning (``last_fallback``).

        safeguard: the least-merit iterate of the first k instead of the k-th. The merit is the
        energy for symmetric positive definite operators and, for a nonlinear problem whose
        ``residual`` F is given (``formats.dolfinx.residual_function``), the length of the Newton
        step ``|J^-1 F(u)|`` with J the Jacobian at the anchor (made of the training solutions,
        close to this one, so the step is nearly the exact Newton step and tracks the error);
        without an anchor, or for a plain callable F without ``jacobian``, J is that of ``pde``,
        taken at the cold guess (a coarser estimate). One sparse LU per call and one F per
        iterate, all timed as inference; with k = 1 there is nothing to choose, so no merit is
        built.

        k = 0: no network; the guess is the anchor that k >= 1 corrects (``MeshAnchorBank.anchor``:
        the training solutions' kernel regression where the checkpoint uses it, else the nearest
        training solution; interpolated from the training mesh if need be). Where none fits, the starter's
        own k = 0 (a checkpoint's automatic choice) runs the network at ``network_k`` instead,
        and k = 0 passed to this call falls back to the cold guess with a warning.

        threads: torch's CPU threads for this call (default: the starter's ``threads``; where that
        is None, one below ``THREADS_FROM`` dofs, else torch's own setting, ``torch.set_num_threads``)."""
        self.check(pde)
        own = k is None  # the starter's k, not this call's
        k = check_k(k, allow_zero=True) if k is not None else self.k
        check_threads(threads)
        check_flags(safeguard=safeguard)
        t0 = time.perf_counter()
        self.last_fallback = None
        self.last_anchor = "none"
        self.last_load_seconds = 0.0
        why = self.norm.outside(pde.fields)
        if why is not None:
            warnings.warn(f"{pde.name}: {why}: outside the training family; solving from the cold guess",
                          OutOfFamilyWarning, stacklevel=2)
            self.last_fallback = "out of family"
            return None, time.perf_counter() - t0
        n_threads = inference_threads(threads, self.threads, pde.n)
        # the anchor's numpy work on one BLAS thread where torch may run on more: see blas_threads
        with blas_threads(1 if n_threads != 1 else None):
            anchor = self.anchors.anchor(pde) if self.anchors is not None else None
        self.last_anchor = self.anchors.match(pde).kind if anchor is not None else "none"
        if k == 0 and anchor is not None:
            return np.array(anchor, dtype=float), time.perf_counter() - t0
        if k == 0 and not own:
            warnings.warn(f"{pde.name}: k = 0 starts from the training solutions (the anchor), and none fits this "
                          "problem (no training solutions in the checkpoint, or another mesh without coordinates "
                          "to match it by); solving from the cold guess (k >= 1 runs the network)",
                          OutOfFamilyWarning, stacklevel=2)
            self.last_fallback = "no training solution to start from"
            return None, time.perf_counter() - t0
        k = k if k != 0 else self.network_k
        if not pde.linearised:
            raise ValueError(f"{pde.name}: the network needs the assembled system; read the problem with "
                             "to_pde(problem) (linearise=True), or LearnedPDEStarter.extract")
        try:  # loaded for k = 0, the checkpoint builds its network here
            self.last_load_seconds = self._built_in()
            t0 += self.last_load_seconds
            model = self.model
        except CheckpointError as exc:
            if not (own and self.k == 0):  # a network asked for by k >= 1 is refused with the file's fault
                raise
            warnings.warn(f"{pde.name}: no training solution fits this problem, and the network that would start it "
                          f"cannot be built ({exc}); solving from the cold guess", OutOfFamilyWarning, stacklevel=2)
            self.last_fallback = "the checkpoint's network is damaged"
            return None, time.perf_counter() - t0
        with torch_threads(n_threads):
            merit = (self._newton_merit(pde, residual, anchor)
                     if safeguard and residual is not None and pde.kind == "nonlinear" and (k is None or k > 1)
                     else None)
            try:
                u = model.predict([pde], self.norm, k=k, device=self.device, anchors=[anchor],
                                       safeguard=safeguard, merit=merit)[0]
            except CoarseOperatorError as exc:  # an instance unlike the training ones: singular or indefinite
                warnings.warn(f"{pde.name}: {exc}; solving from the cold guess", OutOfFamilyWarning, stacklevel=2)
                self.last_fallback = "coarse operator not positive definite"
                return None, time.perf_counter() - t0
        secs = time.perf_counter() - t0
        if not np.isfinite(u).all():
            warnings.warn(f"{pde.name}: the model predicted NaN or inf; solving from the cold guess",
                          OutOfFamilyWarning, stacklevel=2)
            self.last_fallback = "non-finite prediction"
            return None, secs
        return u, secs

    def _newton_merit(self, pde: PDEData, residual: Callable[[np.ndarray], np.ndarray],
                      at: np.ndarray | None = None) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """u (N,) normalised -> (1,) ``|J^-1 F(u)|`` in original units, J the Jacobian at ``at``
        (the anchor, near the solution; needs ``residual.jacobian``) or else that of ``pde``
        (at the cold guess); one sparse LU per call. None if J is singular."""
        import scipy.sparse.linalg as spla
        import torch

        jacobian = getattr(residual, "jacobian", None)
        jac = jacobian(at) if jacobian is not None and at is not None else pde.operator
        try:
            lu = spla.splu(jac.tocsc())
        except RuntimeError:  # a singular Jacobian: no merit, the k-th iterate is handed on
            return None
        scale = self.norm.u_scale

        def merit(u: torch.Tensor) -> torch.Tensor:
            step = lu.solve(residual(u.double().cpu().numpy() * scale))
            return torch.tensor([float(np.linalg.norm(step))], dtype=u.dtype, device=u.device)

        return merit

    def extract(self, problem: Any, *, fields: dict[str, Any] | None = None, k: int | None = None,
                name: str = "pde") -> PDEData | None:
        """The canonical data of the user's dolfinx ``problem`` as ``solve`` reads them (``to_pde``;
        collective under MPI, ``None`` off rank 0). Where the start is the anchor (k = 0, this
        call's or the starter's own) the fields and dofs alone (``to_pde(linearise=False)``):
        the system would go unused by the model (Newton assembles its own Jacobians; a linear
        problem's system is assembled for its solve, not copied out and, under MPI, gathered to
        rank 0). Where no training solution fits those dofs, the system is read after all, for
        the network that runs instead."""
        from .formats.dolfinx import Unknown, to_pde

        k = check_k(k, allow_zero=True) if k is not None else self.k
        if k == 0 and self.anchors is not None:
            pde = to_pde(problem, fields=fields, name=name, linearise=False)
            comm = Unknown(problem).comm
            if comm.bcast(on_rank0(comm, lambda: pde is not None and self._fits(pde)), root=0):
                return pde
        try:
            quasilinear = self.model.cfg.quasilinear
        except CheckpointError:  # a damaged network: ``guess`` solves from the cold guess and says why
            quasilinear = None
        return to_pde(problem, fields=fields, name=name, quasilinear=quasilinear)

    def _fits(self, pde: PDEData) -> bool:
        """Whether ``guess`` at k = 0 runs no network on ``pde`` (rank 0): it finds a training
        solution, or refuses the problem, or solves cold, all from the fields and dofs alone."""
        try:
            self.check(pde)
        except CheckpointError:
            return True  # guess refuses these data as it would the full ones, with the same message
        return self.norm.outside(pde.fields) is not None or self.anchors.match(pde) is not None

    def solve(self, problem: Any, *, fields: dict[str, Any] | None = None, backend: Any | None = None,
              k: int | None = None) -> SolveResult:
        """Solve the user's dolfinx ``problem`` from the learned guess; ``problem.u`` holds the result.

        backend: a ``KSPBackend``/``SNESBackend`` (default: the problem's own KSP/SNES type,
        preconditioner, relative and absolute tolerances and iteration limit, with fair stopping
        rules as in ``learned_solvers.backends.petsc``; ``own_tolerances``). Either way the
        problem's KSP/SNES gets its own settings back afterwards (``kept_settings``); a backend
        of another KSP, PC or SNES type solves on a private one (``private_where_switched``),
        the problem's own left as it was (a fieldsplit's index sets, a qn SNES's type).
        ``result.extra``: ``inference_seconds``; ``load_seconds``, the network's one-off build where
        this solve was the first to run it (not in ``inference_seconds``); ``fallback``, why the
        cold guess was used, if it was; ``anchor``, where the anchor the model corrected came
        from: the training mesh ("same mesh"), interpolated from it ("interpolated"), or nothing
        ("none"); ``anchor_kind``, what it is: "kernel" (the training solutions' kernel
        regression), "nearest" or None. Where the problem sets ``ksp_error_if_not_converged``
        (``snes_error_if_not_converged``), a failed warm solve is still retried from the cold
        guess, and a ``petsc4py.PETSc.Error`` is raised only where that fails too, as the
        script's own ``problem.solve()`` raises.
        """
        from .backends.petsc import (KSPBackend, SNESBackend, check_bounds, cold_guess_error, kept_settings,
                                     not_converged_error, own_tolerances, private_where_switched)
        from .formats.dolfinx import Unknown, petsc_handles, problem_kind, residual_function, scatter_guess

        kind = problem_kind(problem)
        want = KSPBackend if kind == "linear" else SNESBackend
        if backend is not None and not isinstance(backend, want):  # refused before any extraction or inference
            raise TypeError(f"backend: a {kind} problem is solved by a {want.__name__} "
                            f"(learned_solvers.backends.petsc.{want.__name__}(...)), or None for the problem's own "
                            f"settings; got {backend!r}")
        if backend is not None and kind != "linear":
            check_bounds(problem.solver, backend.snes_type, "backend")  # refused before any extraction or inference
        unknown = Unknown(problem)
        comm, cold = unknown.comm, unknown.owned()
        # Newton's cold guess (its tolerance's yardstick) is the user's u: refused before any work, on every rank
        if kind != "linear" and comm.allreduce(int(not np.isfinite(cold).all())):
            raise cold_guess_error(want.name, "it holds NaN or inf")
        pde = self.extract(problem, fields=fields, k=k)
        # a linear system is assembled by the extraction where it read it, else here, for the solve
        assembled = comm.bcast(pde is not None and pde.linearised, root=0)
        h = petsc_handles(problem, assemble=not assembled)
        ksp_type = getattr(backend, "ksp_type", None) or (h["ksp"].getType() if kind == "linear" else None)
        snes_type = None if kind == "linear" else (getattr(backend, "snes_type", None) or h["snes"].getType())
        residual = residual_function(problem)  # None under MPI: the merit runs on rank 0 only
        # under MPI the other ranks wait in the broadcast, on cores more threads would share
        one = 1 if comm.size > 1 else None
        no_start = _no_start(h, backend, kind=kind, ksp_type=ksp_type, snes_type=snes_type)  # no inference spent
        if no_start is not None:
            on_rank0(comm, lambda: self.check(pde))  # a model for another space is refused all the same
            warnings.warn(f"{pde.name if pde is not None else 'pde'}: {no_start[0]}", RuntimeWarning, stacklevel=2)
            guess, secs = None, 0.0
            self.last_fallback, self.last_anchor = no_start[1], "none"
            self.last_load_seconds = 0.0
        else:
            got = on_rank0(comm, lambda: self.guess(pde, k=k, residual=residual, threads=one))
            guess, secs = got if got is not None else (None, 0.0)
        ok = comm.bcast(guess is not None, root=0)
        local = scatter_guess(problem, guess) if ok else None
        with kept_settings(h):  # the problem's own settings hold again for its next solve()
            if kind == "linear":
                rtol, atol, _, max_it = h["ksp"].getTolerances()
                rtol, atol = own_tolerances(rtol, atol)
                be = backend or KSPBackend(ksp_type=h["ksp"].getType(), pc_type=h["ksp"].getPC().getType(),
                                           rtol=rtol, atol=atol, max_it=max_it)
                # a KSP the user keeps on a nonzero initial guess starts its own solve from u: so does
                # the cold solve here (a fallback, or the retry after a failed warm solve)
                own = cold if h["ksp"].getInitialGuessNonzero() else None
                with private_where_switched(h, be) as hb:  # another type: the problem's KSP left as it is
                    res = be.solve(hb, guess=local, cold_guess=own)
            else:
                # the problem's own relative tolerance, applied to the cold guess's residual, and absolute one
                rtol, atol, stol, max_it = h["snes"].getTolerances()
                rtol, atol = own_tolerances(rtol, atol)
                be = backend or SNESBackend(snes_type=h["snes"].getType() or "newtonls", rtol=rtol, atol=atol,
                                            max_it=max_it, stol=stol if 0 <= stol < 1 else 0.0)
                with private_where_switched(h, be) as hb:  # another type: the problem's SNES left as it is
                    res = be.solve(hb, guess=local, cold_guess=cold)
        res.extra["inference_seconds"] = secs
        res.extra["load_seconds"] = self.last_load_seconds  # as the inference seconds: rank 0's (0 on the others)
        # one broadcast for both: each is a round trip every rank waits in
        fallback, res.extra["anchor"] = comm.bcast(
            (self.last_fallback, self.last_anchor) if comm.rank == 0 else None, root=0)
        # the start's fallback, else the solve's own: a failed warm solve retried from the cold guess
        res.extra["fallback"] = fallback if fallback is not None else res.extra.get("fallback")
        # which anchor: the training solutions' kernel regression, or the nearest of them
        res.extra["anchor_kind"] = (self.anchors.kind if self.anchors is not None and res.extra["anchor"] != "none"
                                    else None)
        failed = not_converged_error(h, res)  # after the retry from the cold guess, as the script's own solve raises
        if failed is not None:
            raise failed
        return res


def _no_start(h: dict[str, Any], backend: Any, *, kind: str, ksp_type: str | None,
              snes_type: str | None) -> tuple[str, str] | None:
    """(warning, fallback) where the solve would not use a start: a direct solve (KSP preonly)
    takes none; a KSP that forms its own initial guess, or a SNES that computes its own, replaces
    it (a ``backend`` of another type solves on a private one, which does neither); one Newton
    step (SNES ksponly) would land elsewhere from it."""
    from .backends.petsc import ONE_STEP_SNES, ONE_STEP_WHY, OWN_START_WHY, ksp_switched, own_guess_type, own_guess_why

    if kind == "linear":
        if ksp_type == "preonly":
            return ("the problem's KSP is preonly (a direct solve, such as LU), which takes no initial guess; solving "
                    "without a start (an iterative KSP, e.g. ksp_type cg or gmres, is what a start can speed up)",
                    "direct solve (KSP preonly) takes no initial guess")
        own = None if backend is not None and ksp_switched(h["ksp"], backend) else own_guess_type(h["ksp"])
        return ((f"the problem's KSP {own_guess_why(own)}; solving without one",
                 f"the KSP forms its own initial guess ({own})") if own else None)
    if snes_type in ONE_STEP_SNES:
        return (f"{ONE_STEP_WHY}; solving from the cold guess",
                f"one Newton step (SNES {snes_type}) takes no initial guess")
    if snes_type == h["snes"].getType() and h["snes"].getInitialGuess() is not None:
        return f"the problem's SNES {OWN_START_WHY}; solving without one", "the SNES computes its own initial guess"
    return None
