"""PETSc backends for PDE solves: ``ksp`` (Krylov, CG + GAMG by default) and ``snes`` (Newton).

They work on petsc4py objects only (a KSP or SNES with its vectors, as a format adapter hands
them over), never on dolfinx. Warm starts go where PETSc reads them: the KSP solution vector
with ``initial guess nonzero``, the SNES iterate. Fair counting:

* KSP: PETSc's default test compares the residual with ``rtol * ||b||`` (not with the initial
  residual), so cold and warm solves stop at the same accuracy; each solve includes the
  preconditioner set-up for its operator. A warm solve that fails (out of iterations, diverged)
  is retried from the zero guess and reported as such.
* SNES: the relative test would compare with the *initial* residual, which a good guess makes
  small; both solves therefore stop at ``atol = rtol * ||F(cold guess)||`` and no step-length
  test (a damped step passes it far from the answer), and at no less than ``rtol / 100`` of the
  zero guess's residual (a cold guess at the answer had put the tolerance below round-off). A
  solve that stalls short of its tolerance converges where one full Newton step from it is under
  ``stol * ||x||``. A warm solve that fails is retried from the cold guess and reported as such.
* Both take an absolute tolerance ``atol`` as well, which PETSc meets where it is the larger, as
  a script's own ``ksp_atol``/``snes_atol`` is (``own_tolerances``).

A Ctrl-C (or the CLI's SIGTERM) ends a solve at the KSP's next iteration and Newton's next step
(on one rank), not at the solve's end, and is raised then: ``stopping_early``.

Statuses: ``optimal`` where PETSc converged, ``limit`` where it stopped at its iteration (or
Newton's function-evaluation) limit, ``error`` for every other reason (a breakdown, NaN, a line
search without descent, a zero pivot); ``message`` names PETSc's reason.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._interrupt import held_interrupts, raise_if_stopped, stop_callback, stopped_elsewhere
from ..canonical.qp import InvalidProblemError
from .base import SolveResult, Status, check_settings, retried_cold

__all__ = ["KSPBackend", "SNESBackend", "aij_operator", "cannot_run_error", "check_guess", "check_runs_on",
           "direct_solve", "failures_returned", "forget_history", "kept_settings", "ksp_switched",
           "not_converged_error", "own_guess_type", "own_guess_why", "own_tolerances", "private_where_switched",
           "stopping_early"]


def check_guess(guess: np.ndarray | None, n: int, solver: str) -> np.ndarray | None:
    """``guess`` if it is a finite (n,) array, else warn and return None (cold start)."""
    if guess is None:
        return None
    g = np.asarray(guess, dtype=float)
    why = (f"shape {g.shape}, expected ({n},)" if g.shape != (n,) else
           "it holds NaN or inf" if not np.isfinite(g).all() else None)
    if why:
        warnings.warn(f"{solver}: initial guess refused ({why}); solving from the cold guess.", RuntimeWarning,
                      stacklevel=3)
        return None
    return g


@contextlib.contextmanager
def kept_settings(handles: dict[str, Any]):
    """Put back, after the block, what a backend's ``solve`` sets on a user's KSP or SNES (its
    type, preconditioner type, stopping rule and the inner KSP's initial-guess flag): the fair
    stopping rule of one solve must not become the user's next ``problem.solve()``'s. A type the
    solve changed comes back as a type: PETSc dropped what was set on the old one with it."""
    snes = handles.get("snes")
    ksp = snes.getKSP() if snes is not None else handles["ksp"]
    ksp_state = (ksp.getType(), ksp.getPC().getType(), ksp.getTolerances(), ksp.getInitialGuessNonzero())
    snes_state = (snes.getType(), snes.getTolerances()) if snes is not None else None
    try:
        yield
    finally:
        kind, pc, (rtol, atol, divtol, max_it), nonzero = ksp_state
        # a type never set (None) stays as the solve left it, PETSc's default, which the user's
        # own solve() picks as well (and petsc4py's setType(None) kills the process)
        if kind is not None and ksp.getType() != kind:
            ksp.setType(kind)
        if pc is not None and ksp.getPC().getType() != pc:
            ksp.getPC().setType(pc)
        ksp.setTolerances(rtol=rtol, atol=atol, divtol=divtol, max_it=max_it)
        ksp.setInitialGuessNonzero(nonzero)
        if snes_state is not None:
            kind, (rtol, atol, stol, max_it) = snes_state
            if kind is not None and snes.getType() != kind:
                snes.setType(kind)
            snes.setTolerances(rtol=rtol, atol=atol, stol=stol, max_it=max_it)


def _own_options(obj: Any) -> Any:
    """PETSc's options database under ``obj``'s (a KSP's or SNES's) prefix: for the settings that
    petsc4py reads no way back from the object. There dolfinx (0.11) leaves a script's
    ``petsc_options``, and the command line's stay; one made by a call on the object alone is
    not seen."""
    from petsc4py import PETSc

    return PETSc.Options(obj.getOptionsPrefix())


def own_guess_type(ksp: Any) -> str | None:
    """The option by which ``ksp`` forms its own initial guess, or None: ``ksp_knoll`` (the
    preconditioner applied to b) or ``ksp_guess_type`` (fischer, pod: PETSc's KSPGuess, from
    ``_own_options`` or, set by a call such as ``setUseFischerGuess``, from ``_viewed_guess_type``).
    PETSc replaces any start with it: from the exact solution, CG + Jacobi took the zero guess's
    41 iterations (40 with Knoll's)."""
    if ksp.getInitialGuessKnoll():
        return "ksp_knoll"
    opts = _own_options(ksp)
    kind = opts.getString("ksp_guess_type") if opts.hasName("ksp_guess_type") else _viewed_guess_type(ksp)
    return f"ksp_guess_type {kind}" if kind and kind != "none" else None


def _viewed_guess_type(ksp: Any) -> str | None:
    """The type of ``ksp``'s KSPGuess as its ASCII view prints it, or None where it has none.
    petsc4py reads no KSPGuess back, and one set by a call (``setUseFischerGuess``) is in no
    options database: the view is where PETSc says it (``_viewed``)."""
    return _viewed(ksp)[0]


def diagonally_scaled(ksp: Any) -> bool:
    """Whether ``ksp`` solves its system diagonally scaled (``ksp_diagonal_scale``), which scales
    the start too: from its options, or, set by a call (petsc4py reads it no way back), its view."""
    return _own_options(ksp).getBool("ksp_diagonal_scale", False) or _viewed(ksp)[1]


def _viewed(ksp: Any) -> tuple[str | None, bool]:
    """(the type of ``ksp``'s KSPGuess or None, whether it solves a diagonally scaled system), from
    its ASCII view (the KSP's own lines, before its PC's). Read once per KSP and kept on it (a
    GAMG's view prints every level: 1.25 ms against a 4.84 ms solve on 64 x 64,
    ``benchmarks/ksp_view_cost.py``); a guess set by a call after the KSP's first start is found
    at the solve whose start it replaces (``_start_watched``), which clears the kept answer.
    Collective on the KSP's communicator: rank 0 writes the view and reads it."""
    import os
    import tempfile

    from petsc4py import PETSc

    if (kept := ksp.getAttr(_VIEWED_GUESS)) is not None:
        return kept
    mpi = ksp.getComm().tompi4py()
    kind, scaled = None, False
    with tempfile.TemporaryDirectory() as tmp:
        path = mpi.bcast(os.path.join(tmp, "ksp.txt"), root=0)  # only rank 0 opens it
        viewer = PETSc.Viewer().createASCII(path, comm=ksp.getComm())
        try:
            ksp.view(viewer)
            viewed = True
        except PETSc.Error:  # a PC that cannot view itself yet: no guess told, as before this check
            viewed = False
        finally:
            viewer.destroy()
        if viewed and mpi.rank == 0:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
            own = lines[:next((i for i, line in enumerate(lines) if line.startswith("PC Object")), len(lines))]
            at = next((i for i, line in enumerate(own) if "KSPGuess Object" in line), None)
            if at is not None and at + 1 < len(own) and own[at + 1].strip().startswith("type:"):
                kind = own[at + 1].split(":", 1)[1].strip()
            scaled = any(line.strip() == "diagonally scaled system" for line in own)
    kept = mpi.bcast((kind, scaled), root=0)
    ksp.setAttr(_VIEWED_GUESS, kept)
    return kept


_VIEWED_GUESS = "learned_solvers_viewed_guess_type"


def own_guess_why(option: str) -> str:
    """What a KSP that forms its own initial guess by ``option`` (``own_guess_type``) does to a
    start, and what to do."""
    return (f"forms its own initial guess ({option}), which replaces any start it is given (from the exact solution, "
            f"it took the zero guess's iterations): take {option.split()[0]} out of the problem's PETSc options for a "
            "start to be used")


def _pc_switched(ksp: Any, backend: Any) -> bool:
    """``backend`` names a PC type other than ``ksp``'s."""
    return backend.pc_type is not None and backend.pc_type != ksp.getPC().getType()


def ksp_switched(ksp: Any, backend: Any) -> bool:
    """``backend`` solves on a private KSP rather than on ``ksp``, the problem's own
    (``private_where_switched``): it names another KSP or PC type, or options."""
    return bool(_pc_switched(ksp, backend) or backend.options
                or (backend.ksp_type is not None and backend.ksp_type != ksp.getType()))


@contextlib.contextmanager
def private_where_switched(handles: dict[str, Any], backend: Any) -> Iterator[dict[str, Any]]:
    """The handles ``backend`` solves with: the problem's own KSP or SNES where the backend keeps
    its types (``kept_settings`` puts back what it sets), else, for the block, a private one of the
    backend's types over the same operators (a KSP) or callbacks (a SNES), destroyed after. A
    type switched on the problem's own had dropped what was set on the old type: a fieldsplit's
    index sets ("must have at least two fields" at the script's next ``solve()``), GMRES's restart;
    and PETSc crashes a SNES switched to or from ``qn``. A private KSP shares the problem's PC
    where the backend keeps the PC's type (its index sets, its GAMG options hold), and a private
    SNES shares the problem's KSP (Newton's linear solves as the script set them). Options
    (``KSPBackend.options``) go on a private KSP, whose prefix is the problem's + ``private_``,
    beside the problem's PC where they are the KSP's own (``ksp_*``), else beside a PC of its own
    (a fieldsplit given the problem's fields: ``_copy_split``)."""
    from petsc4py import PETSc

    snes = handles.get("snes")
    if snes is None:
        own = handles["ksp"]
        if not ksp_switched(own, backend):
            yield handles
            return
        pc_switched = _pc_switched(own, backend)
        # the KSP's own options (ksp_*) go on the private KSP beside the problem's PC, shared; a PC's
        # options go through the private prefix, which a shared PC (the problem's prefix) would not read
        pc_options = [k for k in backend.options if not str(k).lstrip("-").startswith("ksp_")]
        private = PETSc.KSP().create(own.getComm())
        try:
            private.setAttr(_VIEWED_GUESS, (None, False))  # ours: nothing set by a call, so none to view for
            private.setOptionsPrefix(f"{own.getOptionsPrefix() or ''}private_")
            private.setOperators(*own.getOperators())
            if not (pc_switched or pc_options):
                private.setPC(own.getPC())
            elif own.getPC().getType() is not None:
                private.getPC().setType(own.getPC().getType())  # the backend's, where it names one, at configured()
                if not pc_switched and own.getPC().getType() == "fieldsplit":
                    _copy_split(own.getPC(), private.getPC(), backend.options)
            if own.getType() is not None:  # None: never set (PETSc's default); setType(None) kills the process
                private.setType(own.getType())  # the backend's, where it names one, at its configured()
            yield {**handles, "ksp": private}
        finally:
            private.destroy()
        return
    if backend.snes_type == snes.getType():
        yield handles
        return
    check_bounds(snes, backend.snes_type, "backend")
    private = PETSc.SNES().create(snes.getComm())
    try:
        fv, fcb = snes.getFunction()
        J, P, jcb = snes.getJacobian()
        private.setFunction(fcb[0], fv, args=fcb[1], kargs=fcb[2])
        private.setJacobian(jcb[0], J, P, args=jcb[1], kargs=jcb[2])
        # qn makes its quasi-Newton matrix in setFromOptions: without one, its solve crashed the process
        # (SEGV); options read under a prefix of the private SNES's own, before the problem's KSP is shared
        private.setOptionsPrefix(f"{snes.getOptionsPrefix() or ''}private_")
        private.setType(backend.snes_type)
        private.setFromOptions()
        bounds = variable_bounds(snes)
        if bounds is not None:  # a variational inequality's: without them another VI type solves another problem
            private.setVariableBounds(*bounds)
        own_ksp = snes.getKSP()
        if not any(str(t or "").startswith("vinewtonrs") for t in (snes.getType(), backend.snes_type)):
            private.setKSP(own_ksp)
        else:  # a reduced-space VI sizes its KSP's operators to the inactive set: another type then fails on it
            ksp = private.getKSP()  # one of its own, of the problem's KSP's types and tolerances
            if own_ksp.getType() is not None:
                ksp.setType(own_ksp.getType())
            if own_ksp.getPC().getType() is not None:
                ksp.getPC().setType(own_ksp.getPC().getType())
            ksp.setTolerances(*own_ksp.getTolerances())
        yield {**handles, "snes": private}
    finally:
        private.destroy()


def _copy_split(own: Any, pc: Any, options: dict[str, Any]) -> None:
    """Give ``pc``, a fresh fieldsplit beside PC options, the problem's split: its fields' index
    sets (set on the PC object, as FEniCSx's demos do, no option gives them: without them PETSc
    failed, "must have at least two fields") and each field's KSP and PC types. petsc4py cannot
    read the split's composition, so the options must name it (``pc_fieldsplit_type``) rather
    than PETSc's default silently taking its place; a Schur split's other settings (a Schur
    matrix the script gave) stay PETSc's defaults unless the options set them. A split not
    defined yet (by options or the block size, before a first solve) is left to the private PC
    to define the same way."""
    from petsc4py import PETSc

    try:
        subs = own.getFieldSplitSubKSP()
    except PETSc.Error:
        # a Schur split gives its solvers only once set up: set up on the problem's operators, as its
        # own next solve would be (without it the copy had no fields: PETSc's error 77)
        try:
            own.setUp()
            subs = own.getFieldSplitSubKSP()
        except PETSc.Error:
            return
    if not any(str(k).lstrip("-") == "pc_fieldsplit_type" for k in options):
        raise ValueError(
            f"ksp: the problem's preconditioner is a fieldsplit, and the backend's options {sorted(options)} set "
            "the preconditioner's, so it solves on a fieldsplit of its own, given the problem's fields and their "
            "solvers; name the fields' composition too (options={..., 'pc_fieldsplit_type': 'additive'}, or "
            "'multiplicative', 'schur', 'symmetric_multiplicative': petsc4py cannot read the problem's), or give "
            "only ksp_* options, which leave the problem's own preconditioner in use")
    prefix = f"{own.getOptionsPrefix() or ''}fieldsplit_"
    names = [sub.getOptionsPrefix()[len(prefix):-1] for sub in subs]  # PETSc's "<pc>fieldsplit_<name>_"
    pc.setFieldSplitIS(*[(name, own.getFieldSplitSubIS(name)) for name in names])
    for sub, mine in zip(subs, pc.getFieldSplitSubKSP()):
        if sub.getType() is not None:
            mine.setType(sub.getType())
        if sub.getPC().getType() is not None:
            mine.getPC().setType(sub.getPC().getType())


MPI_STOP_EVERY = 8
"""under MPI the stop monitors' reduction runs at every 8th Krylov iteration: at each, it
had added 5 to 13% to a 2-rank CG + Jacobi solve of 52 us iterations; at every 8th, 3 to 4%, most
of it the Python monitor's call (hand check, medians of 60 solves taken in turns); less on costlier
iterations"""


@contextlib.contextmanager
def stopping_early(ksp: Any, snes: Any = None) -> Iterator[None]:
    """Inside ``held_interrupts``: a Ctrl-C ends the KSP solve at its next iteration and the
    Newton solve (``snes``, whose KSP ``ksp`` is) at its next step, where it waited for the whole
    solve, one C call (minutes on a large mesh). Python monitors, taken off the user's objects
    after the block: the KSP's sets its iteration limit to the iteration it has reached (every
    Krylov loop tests that limit, while its convergence test, run after the monitor, resets any
    reason set), the SNES's sets a diverged reason (which Newton tests after its monitor); the
    KSP's limit is put back. The caller raises the KeyboardInterrupt at once
    (``raise_if_stopped``). Under MPI each rank sees the signal at its own iteration, or not at
    all, and one leaving the loop alone would hang the others in its next reduction: there the
    monitors ask every rank at every ``MPI_STOP_EVERY``-th iteration and at every Newton step (one
    small reduction), all stop at the first such check after one has seen it, and all raise."""
    from petsc4py import PETSc

    stop = stop_callback()
    comm = ksp.getComm()
    if comm.getSize() > 1:
        from mpi4py import MPI

        mpi = comm.tompi4py()
        if not mpi.allreduce(stop is not None, op=MPI.LAND):  # monitors on every rank, or on none
            yield
            return
        local, flag = stop, np.zeros(1, dtype=np.int32)

        def stop(its: int) -> bool:
            if its % MPI_STOP_EVERY:
                return False
            mine = local()
            flag[0] = mine
            mpi.Allreduce(MPI.IN_PLACE, flag, op=MPI.MAX)  # the buffer form: pickling had cost 4x as much
            if flag[0] and not mine:
                stopped_elsewhere()
            return bool(flag[0])
    elif stop is None:
        yield
        return
    else:
        asked = stop
        stop = lambda its: asked()  # noqa: E731
    max_it = ksp.getTolerances()[3]
    stopped = []

    def on_ksp(k: Any, its: int, rnorm: float) -> None:
        if stop(its):
            stopped.append(its)
            k.setTolerances(max_it=its)

    def on_snes(s: Any, its: int, fnorm: float) -> None:
        if stop(0):  # at every Newton step: a step costs linear solves
            s.setConvergedReason(PETSc.SNES.ConvergedReason.DIVERGED_FUNCTION_COUNT)

    watched = [(ksp, on_ksp)] + ([(snes, on_snes)] if snes is not None else [])
    for obj, fn in watched:
        obj.setMonitor(fn)
    try:
        yield
    finally:
        for obj, fn in watched:
            monitors = obj.getMonitor()  # petsc4py's own list, which its C monitor runs through
            if monitors is not None:
                monitors[:] = [m for m in monitors if m[0] is not fn]
        if stopped:
            ksp.setTolerances(max_it=max_it)


@contextlib.contextmanager
def failures_returned(*solvers: Any) -> Iterator[None]:
    """A KSP's or SNES's ``error_if_not_converged`` (``ksp_error_if_not_converged``, which
    FEniCSx's docs suggest) off inside the block, put back after: a warm solve that fails is
    retried from the cold guess, and a bench's failed solve is counted, where PETSc had raised
    mid-solve. ``LearnedPDEStarter.solve`` raises afterwards where the script's own would
    (``not_converged_error``)."""
    flags = [(obj, obj.getErrorIfNotConverged()) for obj in solvers]
    for obj, _ in flags:
        obj.setErrorIfNotConverged(False)
    try:
        yield
    finally:
        for obj, flag in flags:
            obj.setErrorIfNotConverged(flag)


PETSC_ERR_SUP, PETSC_ERR_ARG_WRONG, PETSC_ERR_MISSING_FACTOR = 56, 62, 92
"""PETSc's "no support for this operation for this object type", "invalid argument" (a nest's
"vector not setup", "not for type nest") and "could not locate a solver type for factorization
type ILU and matrix type nest", in PETSc's words"""


def cannot_run_error(exc: Any, ksp: Any) -> ValueError | None:
    """A ValueError that says what to do where ``exc``, raised by ``ksp``'s set-up or solve, is
    PETSc's refusal to run its KSP or PC on the problem's matrix type (a nest's, dolfinx's
    ``kind="nest"``: GAMG, Jacobi, SOR and ILU read entries a MatNest does not give), else None."""
    mat = ksp.getOperators()[1]  # the preconditioner's matrix, which the PC reads
    kind = mat.getType() if mat is not None else None
    code, text = getattr(exc, "ierr", None), str(exc)
    if not (kind == "nest" and code in (PETSC_ERR_SUP, PETSC_ERR_ARG_WRONG, PETSC_ERR_MISSING_FACTOR)
            or code == PETSC_ERR_SUP and "for Mat of type" in text or code == PETSC_ERR_MISSING_FACTOR):
        return None
    # PETSc's words, without its call stack and "[rank] "
    said = "; ".join(line.split("] ", 1)[-1] for line in text.splitlines()[1:] if "() at " not in line)
    what = f"KSP {ksp.getType()} with PC {ksp.getPC().getType()}"
    if kind == "nest":
        fix = ("a block problem assembled as a nest (dolfinx's kind=\"nest\") is preconditioned block by block: "
               "keep the problem's own preconditioner, the fieldsplit its script sets up (KSPBackend(pc_type=None); "
               "on the command line, leave --pc out), or assemble the problem as one matrix (kind=\"mpi\") for a "
               "preconditioner that reads its entries, such as gamg, jacobi or sor")
    else:
        fix = ("keep the problem's own preconditioner (KSPBackend(pc_type=None); leave --pc out) or choose one "
               "that runs on it")
    return ValueError(f"ksp: PETSc cannot run {what} on this problem's operator, a {kind} matrix ({said}); {fix}")


@contextlib.contextmanager
def said_what_to_do(ksp: Any) -> Iterator[None]:
    """PETSc's refusal to run ``ksp``'s KSP or PC on the problem's operator, raised in the block,
    raised again as ``cannot_run_error``'s ValueError; any other PETSc error as it was."""
    from petsc4py import PETSc

    try:
        yield
    except PETSc.Error as exc:
        err = cannot_run_error(exc, ksp)
        if err is None:
            raise
        raise err from exc


def aij_operator(ksp: Any) -> bool:
    """Whether the matrix ``ksp``'s preconditioner reads is an AIJ matrix (or none is set yet),
    which every PC runs on; a nest's (dolfinx's ``kind="nest"``) is not."""
    mat = ksp.getOperators()[1]
    return mat is None or "aij" in (mat.getType() or "aij")


def check_runs_on(backend: KSPBackend, handles: dict[str, Any]) -> None:
    """Refuse, before any labelling or training is spent, a backend whose KSP or PC PETSc cannot
    run on the problem's assembled operator (``cannot_run_error``): one iteration from the zero
    guess into a scratch vector, on the solver the backend would use; none where that is the
    problem's own (the script's choice, which its own solve runs). Only that refusal is raised
    here. The problem is left as it was."""
    from petsc4py import PETSc

    with kept_settings(handles), private_where_switched(handles, backend) as h:
        if h is handles:
            return
        ksp = h["ksp"]
        # a scratch vector of x's kind: a KSP set up with none took vectors from the nest's MatCreateVecs,
        # which PETSc had not set up ("Nest vector argument 2 not setup" at the script's next solve)
        x = handles["x"].duplicate()
        try:
            with said_what_to_do(ksp), backend.configured(ksp), failures_returned(ksp):
                ksp.setTolerances(max_it=1)
                ksp.setInitialGuessNonzero(False)
                ksp.solve(handles["b"], x)
        except PETSc.Error:
            # another failure may be the problem's state as its builder left it (a coefficient still
            # zero: LU's zero pivot), not the backend's choice: the solves meet it, instance by instance
            pass
        finally:
            x.destroy()


@functools.lru_cache(maxsize=None)
def _not_converged_type() -> type:
    from petsc4py import PETSc

    class NotConvergedError(PETSc.Error):
        """A solve that did not converge where the problem asks PETSc to raise (a
        ``petsc4py.PETSc.Error``, as the script's own ``problem.solve()`` raises one)."""

        def __init__(self, message: str) -> None:
            super().__init__(91)  # PETSC_ERR_NOT_CONVERGED
            self.message = message

        def __str__(self) -> str:
            return self.message

    return NotConvergedError


def not_converged_error(handles: dict[str, Any], res: SolveResult) -> Exception | None:
    """The ``petsc4py.PETSc.Error`` the script's own solve would have raised for ``res``, where its
    KSP (linear) or SNES (nonlinear; or the SNES's KSP, for a failed linear solve) sets
    ``error_if_not_converged`` and ``res`` did not converge; else None."""
    if res.status == Status.OPTIMAL:
        return None
    snes = handles.get("snes")
    if snes is None:
        asks, what = handles["ksp"].getErrorIfNotConverged(), "ksp_error_if_not_converged"
    elif snes.getErrorIfNotConverged():
        asks, what = True, "snes_error_if_not_converged"
    else:  # Newton's linear solve failed, which its KSP's flag raises on
        asks = res.extra.get("reason") == -3 and snes.getKSP().getErrorIfNotConverged()
        what = "ksp_error_if_not_converged"
    if not asks:
        return None
    fell = res.extra.get("fallback")
    return _not_converged_type()(
        f"{'KSP' if snes is None else 'SNES'} did not converge ({res.message})"
        f"{'; ' + fell if fell else ''}: the problem sets {what}, so this raises as its own solve() would; "
        "the result is in problem.u")


def _blocks(x: Any) -> list[Any]:
    """A VecNest's blocks (a dolfinx block problem's kind="nest"), or the vector itself."""
    return x.getNestSubVecs() if x.getType() == "nest" else [x]


def _values(x: Any) -> np.ndarray:
    """The owned entries of a PETSc vector, a VecNest's blocks in turn (a copy)."""
    parts = [v.array_r[: v.getLocalSize()] for v in _blocks(x)]
    return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)


def _set(x: Any, values: np.ndarray) -> None:
    """The owned entries of ``x`` (a VecNest's blocks in turn) from ``values``; ghosts updated."""
    from petsc4py import PETSc

    lo = 0
    for v in _blocks(x):
        n = v.getLocalSize()
        v.array_w[:n] = values[lo:lo + n]
        lo += n
        v.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)


_COMMON = {"KSP": "cg, gmres, bicg, minres, preonly", "PC": "gamg, jacobi, sor, ilu, icc, bjacobi, asm, lu, cholesky",
           "SNES": "newtonls, newtontr, nrichardson, ngmres"}


def _check_types(name: str, **types: str | None) -> None:
    """Refuse a KSP, PC or SNES type that this PETSc build lacks (a misspelling, or an external
    package it was built without, such as hypre) before any labelling or training is spent."""
    for kind, value in types.items():
        why = _missing_type(kind, value) if value is not None else None  # None: left to PETSc's default
        if why is not None:
            raise ValueError(f"{name}: this PETSc has no {kind} type {value!r} ({why}); "
                             f"choose one it has, such as {_COMMON[kind]}")


@functools.lru_cache(maxsize=None)
def _missing_type(kind: str, value: str) -> str | None:
    """PETSc's words if it has no ``kind`` ('KSP', 'PC', 'SNES') named ``value``, else None;
    asked once per name (a backend is made per solve)."""
    try:
        import dolfinx_solver  # noqa: F401  (the PyPI wheel, which holds petsc4py, sets its paths)
    except ImportError:
        pass
    try:
        from petsc4py import PETSc
    except ImportError:  # no PETSc here at all: solving says so
        return None
    obj = getattr(PETSc, kind)().create(PETSc.COMM_SELF)
    try:
        obj.setType(value)
    except PETSc.Error as exc:
        said = [line.split("] ", 1)[-1] for line in str(exc).splitlines()
                if "requested" in line or "Unknown" in line]  # PETSc's own words, without "[rank] "
        return "; ".join(said) or str(exc)
    finally:
        try:
            obj.destroy()
        except PETSc.Error:  # pipelcg's reset fails on a KSP never set up (PETSc 3.25): the type is there
            pass
    return None


PETSC_DEFAULT_ATOL = 1e-50
"""PETSc's default absolute tolerance (KSP's and SNES'): none, in effect"""


def own_tolerances(rtol: float, atol: float) -> tuple[float, float]:
    """A script's own (``rtol``, ``atol``) as the backends take them: its relative tolerance where it
    lies in (0, 1), else none where it sets an absolute one (``snes_rtol 0``, ``snes_atol 1e-10``: a
    relative 1e-8 in its place had stopped looser than the script's own solve), else 1e-8; its
    absolute one where it sets one (PETSc stops at the larger of the two, as the script does)."""
    atol = float(atol) if math.isfinite(atol) and atol > PETSC_DEFAULT_ATOL else 0.0
    return (float(rtol) if 0 < rtol < 1 else 0.0 if atol > 0 else 1e-8), atol


def _check_tolerances(name: str, rtol: float, atol: float) -> None:
    """rtol in (0, 1), or 0 beside an absolute tolerance; atol a finite number >= 0."""
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not (math.isfinite(atol) and atol >= 0):
        raise ValueError(f"{name}: atol must be a finite number >= 0 (an absolute tolerance; 0: none), got {atol!r}")
    if not (atol > 0 and rtol == 0 and not isinstance(rtol, bool)):
        check_settings(name, tolerances={"rtol": rtol})


@dataclass(kw_only=True)
class KSPBackend:
    """ksp_type / pc_type: any PETSc names (cg + gamg, cg + jacobi, gmres + ilu, ...); None
    leaves the KSP's own (PETSc's default where a user's problem never set one). rtol, atol:
    PETSc's, the solve stopping at ``max(rtol * ||b||, atol)`` (rtol 0 beside an atol: that alone)."""

    name: ClassVar[str] = "ksp"
    ksp_type: str | None = "cg"
    pc_type: str | None = "gamg"
    rtol: float = 1e-8
    atol: float = 0.0
    max_it: int = 10000
    options: dict[str, Any] = field(default_factory=dict)
    retry_cold: bool = True  # a warm solve that fails is solved from the cold (zero) guess as well

    def __post_init__(self) -> None:
        _check_tolerances(self.name, self.rtol, self.atol)
        check_settings(self.name, iterations={"max_it": self.max_it}, flags={"retry_cold": self.retry_cold})
        _check_types(self.name, KSP=self.ksp_type, PC=self.pc_type)

    @contextlib.contextmanager
    def configured(self, ksp: Any) -> Iterator[None]:
        """``ksp`` of this backend's types and tolerances, and its ``options`` in PETSc's database
        under the KSP's prefix for the block: a PC reads its levels' and fields' options
        (``mg_levels_*``, ``mg_coarse_*``, ``fieldsplit_<name>_*``) at its set-up, in the solve,
        and they had been taken out of the database before it (GAMG's ``mg_levels_ksp_max_it``
        changed nothing)."""
        from petsc4py import PETSc

        if self.ksp_type is not None:
            ksp.setType(self.ksp_type)
        if self.pc_type is not None:
            ksp.getPC().setType(self.pc_type)
        ksp.setTolerances(rtol=self.rtol, atol=self.atol, max_it=self.max_it)
        if not self.options:
            yield
            return
        opts = PETSc.Options(ksp.getOptionsPrefix())
        names = {k: f"{ksp.getOptionsPrefix() or ''}{str(k).lstrip('-')}" for k in self.options}
        try:
            for k, v in self.options.items():
                opts[k] = v
            # a PC shared with the problem (beside ksp_* options) reads the KSP's prefix meanwhile: under
            # its own it took the script's options, which dolfinx leaves in the database, and dropped what
            # the script set on the PC object (a fieldsplit's index sets, replaced by the options' Jacobi)
            pc, own_prefix = ksp.getPC(), ksp.getPC().getOptionsPrefix()
            pc.setOptionsPrefix(ksp.getOptionsPrefix())
            try:
                ksp.setFromOptions()
            finally:
                pc.setOptionsPrefix(own_prefix)
            yield
            # PETSc says nothing of an option nothing read (a misspelling, another type's): it changed nothing
            # (petsc4py's Options(prefix).used() ignores the prefix: the full name is asked)
            unused = [k for k, name in names.items() if not PETSc.Options().used(name)]
            if unused:
                warnings.warn(f"ksp: PETSc read none of the options {unused} in this solve (KSP {ksp.getType()}, PC "
                              f"{ksp.getPC().getType()}), so they changed nothing: a misspelling, or the option of a "
                              "type not in use", RuntimeWarning, stacklevel=4)
        finally:
            # out of PETSc's database again, as dolfinx takes a problem's own: left there, they had
            # held for every later setFromOptions under the prefix (another backend's, the script's)
            for k in self.options:
                del opts[k]

    def solve(self, handles: dict[str, Any], *, guess: np.ndarray | None = None,
              cold_guess: np.ndarray | None = None) -> SolveResult:
        """handles: {'ksp', 'b', 'x', 'finish'}; guess: owned dofs (n_owned,) or None. A warm
        solve that stops short of the tolerance (``max_it``, a breakdown) is retried from the
        cold guess, both solves' iterations and seconds counted, and reported as such.
        cold_guess: where a cold solve starts (owned dofs), as a user's KSP with a nonzero
        initial guess starts from its ``u``; None: the zero guess."""
        # a Ctrl-C inside dolfinx's or PETSc's calls waits for them (_interrupt), and for the KSP's next iteration
        with held_interrupts(), stopping_early(handles["ksp"]), failures_returned(handles["ksp"]):
            n = handles["x"].getLocalSize()
            guess = check_guess(guess, n, self.name)
            cold = check_guess(cold_guess, n, self.name)
            res = self._run(handles, guess, cold=cold) if guess is not None else self._run(handles, cold, warm=False)
            raise_if_stopped()  # not retried cold, nor returned as the limit it ended at
            if not res.warm_start_accepted or res.status == Status.OPTIMAL or not self.retry_cold:
                return res  # cold, converged, or a direct solve (preonly) that took no guess
            warnings.warn(f"ksp: the solve from the learned guess failed ({res.message}); retrying from the "
                          f"{'zero' if cold is None else 'cold'} guess", RuntimeWarning, stacklevel=2)
            res = retried_cold(res, self._run(handles, cold, warm=False),
                               f"warm solve failed (reason {res.extra['reason']}), retried cold")
            raise_if_stopped()
            return res

    def _run(self, handles: dict[str, Any], guess: np.ndarray | None, *, warm: bool = True,
             cold: np.ndarray | None = None) -> SolveResult:
        from petsc4py import PETSc

        ksp, b, x = handles["ksp"], handles["b"], handles["x"]
        offered = warm and guess is not None
        with self.configured(ksp):
            if guess is not None and ksp.getType() == "preonly":
                # PETSc refuses a nonzero initial guess for preonly: the preconditioner (LU) is the solve
                if warm:
                    warnings.warn("ksp: a preonly KSP (a direct solve, such as LU) takes no initial guess; solving "
                                  "without the start (an iterative KSP, e.g. ksp_type cg or gmres, is what a start can "
                                  "speed up)", RuntimeWarning, stacklevel=3)
                guess = None
            elif guess is not None and (own_guess := own_guess_type(ksp)):
                # not counted as a warm solve: the start never reached the Krylov method
                if warm:
                    warnings.warn(f"ksp: this KSP {own_guess_why(own_guess)}; solving without it", RuntimeWarning,
                                  stacklevel=3)
                guess = None
            started = None  # the learned start as x holds it for the solve (owned values), watched
            if guess is None:
                x.set(0.0)
                ksp.setInitialGuessNonzero(False)
            else:
                _set(x, guess)
                null = ksp.getOperators()[0].getNullSpace()
                if warm and null:
                    # a singular operator (a pure Neumann problem): a Krylov solve keeps its start's
                    # null-space part, so the guess takes the cold start's, and ends at its solution
                    _match_null_part(null, x, cold)
                ksp.setInitialGuessNonzero(True)
                # watched unless the system is solved diagonally scaled: PETSc scales the start it keeps with it
                started = (_values(x) if null else guess) if warm and not diagonally_scaled(ksp) else None
            # every solve sets its preconditioner up afresh, as a new instance's operator needs:
            # cold and warm pay the same set-up cost. The operator's state moves on, as a script's
            # assembly moves it, so PETSc redoes the set-up it would redo there; a PCReset had also
            # dropped what a script set on its PC object (a fieldsplit's index sets: every solve then
            # failed). A failed set-up (an LU's zero pivot) stays flagged and would fail later solves at once
            ksp.getPC().setFailedReason(PETSc.PC.FailedReason.NOERROR)
            ksp.getOperators()[1].stateIncrease()
            t0 = time.perf_counter()
            # a nest's operator and a PC that reads entries: said with what to do
            with said_what_to_do(ksp), _cold_standard(ksp, b, nonzero=guess is not None), \
                    _start_watched(ksp, x, started) as replaced:
                ksp.solve(b, x)
            secs = time.perf_counter() - t0
        residual = _relative_residual(ksp, b, x)
        extra = {}
        if replaced():
            ksp.setAttr(_VIEWED_GUESS, None)  # viewed again at the next start, which then spends no inference
            warnings.warn(f"ksp: this KSP {REPLACED_WHY}; the solve ran from PETSc's guess", RuntimeWarning,
                          stacklevel=3)
            guess, extra["fallback"] = None, "the KSP formed its own initial guess over the start"
        handles["finish"]()
        reason = ksp.getConvergedReason()
        return SolveResult(solver=self.name, status=_status(int(reason)), objective=float("nan"),
                           x=_values(x), y=None, iterations=int(ksp.getIterationNumber()), seconds=secs,
                           warm_started=offered, warm_start_accepted=warm and guess is not None,
                           message=_reason(int(reason)),
                           extra={"reason": int(reason), "ksp_type": ksp.getType(), "pc_type": ksp.getPC().getType(),
                                  "residual": residual, **extra})

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        """Same status, and solutions within ``100 * rtol`` of each other or, failing that (an
        ill-conditioned operator: rtol bounds the residual, and solutions that both meet it may
        differ by up to the condition number times it), a true residual ``||b - A x|| / ||b||``
        of ``a`` no more than 10 times that of ``b``: ``a`` meets the standard ``b`` met."""
        if _same(a, b, 100 * self.rtol):
            return True
        ra, rb = a.extra.get("residual"), b.extra.get("residual")
        return (a.status == b.status == Status.OPTIMAL and ra is not None and rb is not None
                and ra <= 10 * max(rb, self.rtol))


REPLACED_WHY = ("formed its own initial guess over the start before its first iteration, so the start was not used: "
                "a KSPGuess set by a call after its first start, such as setUseFischerGuess (PETSc's view of the "
                "KSP, where such a guess shows, is read once per KSP: it is read again at the next start, which "
                "is then declined before any inference; setUseFischerGuess(0, 0) turns the guess off), or a KSP "
                "type that starts from zero (gltr)")
"""what a solve whose start PETSc replaced says (``_start_watched``)"""


@contextlib.contextmanager
def _start_watched(ksp: Any, x: Any, start: np.ndarray | None) -> Iterator[Callable[[], bool]]:
    """``replaced()`` after the block (collective): whether PETSc replaced the start ``x`` holds
    (its owned values ``start``, a nest's blocks in turn; None: nothing watched) before the
    Krylov method's first iteration, as a KSPGuess set by a call after the KSP's first start
    does, unseen by ``own_guess_type`` (its view is read once per KSP: a view at every solve
    would cost a quarter of a GAMG solve), or a KSP type that starts from zero whatever it is
    given (gltr). A monitor compares the solution at iteration 0 with the start (its object
    state, then its values), then takes itself off; without a report at iteration 0 (a type
    that makes none) the start counts as kept. PETSc leaves a start it uses untouched."""
    if start is None:
        yield lambda: False
        return
    before = x.stateGet()
    seen: list[bool] = []

    def off(k: Any) -> None:
        # petsc4py's own list, which its C monitor runs through: the last one, so taken off safely mid-run
        monitors = k.getMonitor()
        if monitors is not None:
            monitors[:] = [m for m in monitors if m[0] is not first]

    def moved(now: np.ndarray) -> bool:  # beyond a round-off's move
        return float(np.abs(now - start).max(initial=0.0)) > 1e-12 * max(float(np.abs(start).max(initial=0.0)), 1e-300)

    def first(k: Any, its: int, rnorm: float) -> None:
        if not seen:
            sol = k.getSolution()
            # untouched where its state has not moved; where it has, PETSc may have rewritten the same values
            # (ibcgs does)
            seen.append(its == 0 and sol.stateGet() != before and moved(_values(sol)))
        off(k)

    def replaced() -> bool:
        mine, comm = bool(seen and seen[0]), ksp.getComm()
        if comm.getSize() == 1:
            return mine
        from mpi4py import MPI

        return bool(comm.tompi4py().allreduce(mine, op=MPI.LOR))

    ksp.setMonitor(first)
    try:
        yield replaced
    finally:
        off(ksp)


def _match_null_part(null: Any, x: Any, cold: np.ndarray | None) -> None:
    """Replace ``x``'s part in the null space ``null`` by that of ``cold`` (owned dofs; None:
    zero)."""
    from petsc4py import PETSc

    null.remove(x)
    if cold is not None:
        c = x.duplicate()
        try:
            _set(c, cold)
            x.axpy(1.0, c)
            null.remove(c)
            x.axpy(-1.0, c)  # x + cold - (cold without its null part)
            x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        finally:
            c.destroy()


def _reason(reason: int, kind: str = "KSP") -> str:
    """``KSPConvergedReason -11 (DIVERGED_PCSETUP_FAILED)``: PETSc's code with its name (kind
    'KSP' or 'SNES')."""
    from petsc4py import PETSc

    codes = getattr(PETSc, kind).ConvergedReason
    names = {getattr(codes, n): n for n in dir(codes) if n.isupper()}
    return f"{kind}ConvergedReason {reason}" + (f" ({names[reason]})" if reason in names else "")


# the reasons that are a limit the caller set (more iterations may go on to converge); every other
# negative reason is the method failing (a breakdown, NaN or inf, a line search that found no
# descent, a zero pivot): 'error', as a first-order LP solver's numerical trouble is
_LIMITS = {"KSP": ("DIVERGED_MAX_IT",), "SNES": ("DIVERGED_MAX_IT", "DIVERGED_FUNCTION_COUNT")}


def _status(reason: int, kind: str = "KSP") -> str:
    """The ``Status`` of PETSc's converged reason (kind 'KSP' or 'SNES'): optimal where it
    converged, limit at an iteration or function-evaluation limit, error otherwise."""
    from petsc4py import PETSc

    if reason > 0:
        return Status.OPTIMAL
    codes = getattr(PETSc, kind).ConvergedReason
    return Status.LIMIT if reason in {getattr(codes, n) for n in _LIMITS[kind]} else Status.ERROR


@contextlib.contextmanager
def _cold_standard(ksp: Any, b: Any, *, nonzero: bool) -> Iterator[None]:
    """A solve from a nonzero guess held to the tolerance a zero guess is held to.

    PETSc's test measures a start's residual against ``rtol`` times the norm of b, computed in the
    norm the KSP declares. MINRES declares the preconditioned norm ||B r|| but reports the natural
    one sqrt(r' B r) (PETSc 3.25; it refuses ``ksp_norm_type natural``), so from a nonzero guess
    its tolerance came out ||B b|| / sqrt(b' B b) times a zero guess's: 11 times looser on the mixed
    Poisson demo's. CGNE reports the residual of the normal equations, ||B' B A' r||, against the
    same ||B b|| (7.5 times looser on a Poisson problem with Jacobi, hand check). There rtol is
    scaled by the inverse for the solve (applications of the preconditioner, timed with it), and
    set back after. A KSP that tests against its start's own residual instead
    (``INITIAL_RESIDUAL_TESTS``) held a good start to a tighter tolerance than a zero guess: from
    the solution 1% off, CG + Jacobi took the zero guess's 41 iterations to an answer 100 times
    closer, where it takes 35 to the zero guess's. There the solve stops at rtol times the first
    residual a zero guess reports, as an absolute tolerance (rtol 0)."""
    from petsc4py import PETSc

    kind = ksp.getType()
    if not nonzero or kind is None:  # no type yet (PETSc's default at the solve's set-up): it declares no norm
        yield
        return
    norm = ksp.getNormType()
    initial = norm != PETSc.KSP.NormType.NONE and any(_own_options(ksp).getBool(n, False)
                                                      for n in INITIAL_RESIDUAL_TESTS)
    if not (initial or (kind in ("minres", "cgne") and norm == PETSc.KSP.NormType.PRECONDITIONED)):
        yield
        return
    unpreconditioned = norm == PETSc.KSP.NormType.UNPRECONDITIONED or ksp.getPCSide() == PETSc.PC.Side.RIGHT
    work: list[Any] = []
    try:
        if unpreconditioned:
            declared = reported = float(b.norm())
        else:
            ksp.getPC().setUp()  # applied below; the solve would set it up (a KSPSetUp made nest work vectors unset)
            pc = ksp.getPC()
            work.append(b.duplicate())
            pc.apply(b, work[0])
            natural = float(np.sqrt(abs(b.dot(work[0]))))
            declared = natural if norm == PETSc.KSP.NormType.NATURAL else float(work[0].norm())
            if kind == "minres":
                reported = natural
            elif kind == "cgne":  # B' B A' b: what CGNE reports for b, its first residual from zero
                A = ksp.getOperators()[0]
                work += [A.createVecRight() for _ in range(3)]
                A.multTranspose(b, work[1])
                pc.apply(work[1], work[2])
                pc.applyTranspose(work[2], work[3])
                reported = float(work[3].norm())
            else:
                reported = declared
    finally:
        for v in work:
            v.destroy()
    rtol, atol = ksp.getTolerances()[:2]
    if not (declared > 0.0 and reported > 0.0):
        yield
        return
    if initial:
        ksp.setTolerances(rtol=0.0, atol=max(atol, rtol * reported))
    else:
        ksp.setTolerances(rtol=rtol * reported / declared)
    try:
        yield
    finally:
        ksp.setTolerances(rtol=rtol, atol=atol)


INITIAL_RESIDUAL_TESTS = ("ksp_converged_use_initial_residual_norm", "ksp_converged_use_min_initial_residual_norm")
"""Options by which PETSc's default test measures the residual against the start's own (or the
smaller of it and b's) rather than against b's; petsc4py has no call that sets them."""


def _relative_residual(ksp: Any, b: Any, x: Any) -> float:
    """||b - A x|| / ||b|| (unpreconditioned, whatever norm the KSP tested), after the timing."""
    r = b.duplicate()
    try:
        ksp.getOperators()[0].mult(x, r)
        r.aypx(-1.0, b)
        return float(r.norm() / max(b.norm(), 1e-300))
    finally:
        r.destroy()  # left to Python, a vector on more than one rank waits in PETSc's garbage: one per solve


@held_interrupts()  # no warning inside: the decorator's frame misplaces none
def direct_solve(handles: dict[str, Any], *, package: str = "mumps") -> SolveResult:
    """LU by ``package`` (MUMPS: it pivots, so saddle-point operators such as Stokes' factor,
    where PETSc's own LU meets a zero pivot) on a KSP of its own over the handles' operator: the
    problem's KSP keeps its settings. handles: {'ksp', 'b', 'x', 'finish'}."""
    from petsc4py import PETSc

    own, b, x = handles["ksp"], handles["b"], handles["x"]
    ksp = PETSc.KSP().create(own.getComm())
    op = own.getOperators()[0]
    # no LU factors a MatNest (a block problem's kind="nest"): an AIJ copy, in the same global order
    # (out given: out=None converts the problem's own in place), and plain vectors that it multiplies
    aij = op.convert("aij", out=PETSc.Mat()) if op.getType() == "nest" else None
    plain = aij.createVecs() if aij is not None else None
    try:
        # the operator alone: a script's preconditioner matrix (LinearProblem(..., P=...)) is another
        # system, whose LU had solved P x = b and labelled every instance with that
        ksp.setOperators(op if aij is None else aij)
        ksp.setType("preonly")
        ksp.getPC().setType("lu")
        ksp.getPC().setFactorSolverType(package)
        x.set(0.0)
        if plain is not None:
            plain[1].array_w[:] = _values(b)  # not ghosted: no ghost update (under MPI PETSc refuses one)
        t0 = time.perf_counter()
        try:
            ksp.solve(b, x) if plain is None else ksp.solve(plain[1], plain[0])
        except PETSc.Error as exc:  # a package this PETSc lacks
            return SolveResult(solver="ksp", status=Status.ERROR, objective=float("nan"), x=None, y=None,
                               iterations=0, seconds=time.perf_counter() - t0, warm_started=False,
                               warm_start_accepted=False, message=f"LU ({package}) failed: {str(exc).splitlines()[-1]}",
                               extra={"reason": -1, "ksp_type": "preonly", "pc_type": f"lu ({package})"})
        secs = time.perf_counter() - t0
        if plain is not None:
            _set(x, plain[0].array_r)
        handles["finish"]()
        reason = int(ksp.getConvergedReason())
        return SolveResult(solver="ksp", status=_status(reason), objective=float("nan"),
                           x=_values(x), y=None, iterations=int(ksp.getIterationNumber()), seconds=secs,
                           warm_started=False, warm_start_accepted=False,
                           message=f"LU by {package}: {_reason(reason)}",
                           extra={"reason": reason, "ksp_type": "preonly", "pc_type": f"lu ({package})"})
    finally:
        ksp.destroy()
        for obj in (aij, *(plain or ())):
            if obj is not None:
                obj.destroy()


def cold_guess_error(solver: str, what: str) -> InvalidProblemError:
    """The error for a cold guess Newton cannot start from (NaN or inf in it or its residual)."""
    return InvalidProblemError(
        f"{solver}: the cold guess (problem.u as the solve found it) is not finite ({what}): Newton's relative "
        "tolerance is measured from it, and a cold solve cannot start there; set problem.u to a finite guess "
        "(e.g. problem.u.x.array[:] = 0.0) and solve again")


REMEMBERING_SNES = ("qn",)
"""SNES types that carry what they learn in one solve into the next: qn keeps its quasi-Newton
pairs, so a second solve of an instance from the same guess took 3 steps where the first took 23
(``tests/dolfinx_user_problem.py::build_semilinear_qn``); newtonls, newtontr, ngmres, anderson,
ncg, nrichardson and ms took the same steps solve after solve"""


def forget_history(snes: Any) -> bool:
    """Give a ``REMEMBERING_SNES``, or a SNES preconditioned by one or lagging across solves
    (``LAG_PERSISTS``), the state of its first solve, keeping its function and Jacobian callbacks
    (``SNESReset`` drops them; they are set again); False where there was nothing to forget or no
    Python callbacks to set again. A bench solves each instance from several starts, several
    times each: without this every solve after the first started from the earlier ones'
    quasi-Newton pairs or lag count, and cold and warm counts depended on their order."""
    if not _remembers(snes):
        return False
    fv, fcb = snes.getFunction()
    J, P, jcb = snes.getJacobian()
    if not (isinstance(fcb, tuple) and isinstance(jcb, tuple)):
        return False
    snes.reset()
    snes.setFunction(fcb[0], fv, args=fcb[1], kargs=fcb[2])
    snes.setJacobian(jcb[0], J, P, args=jcb[1], kargs=jcb[2])
    return True


def _remembers(snes: Any) -> bool:
    """``snes`` or its nonlinear preconditioner (``npc_snes_type qn``: 10 steps, then 2 on a
    repeat) is a ``REMEMBERING_SNES`` or lags its Jacobian or preconditioner across solves;
    PETSc's reset of ``snes`` resets its preconditioner too."""
    return (snes.getType() in REMEMBERING_SNES or any(_own_options(snes).getBool(n, False) for n in LAG_PERSISTS)
            or (snes.hasNPC() and _remembers(snes.getNPC())))


LAG_PERSISTS = ("snes_lag_jacobian_persists", "snes_lag_preconditioner_persists")
"""Options that carry the count of a lagged Jacobian's or preconditioner's rebuilds from one solve
into the next: which steps rebuild it depends on the solves before (lag 3: a cold solve of one
instance took 4 steps, then 3; ``build_semilinear_lagged`` in ``tests/dolfinx_user_problem.py``);
petsc4py reads no lag back from a SNES (``_own_options``)."""


def variable_bounds(snes: Any) -> tuple[Any, Any] | None:
    """The SNES's variable bounds (lower, upper vectors: a variational inequality's), or None
    where none are set (PETSc raises for those)."""
    from petsc4py import PETSc

    try:
        return snes.getVariableBounds()
    except PETSc.Error:
        return None


def check_bounds(snes: Any, snes_type: str, who: str) -> None:
    """Refuse to solve a SNES with variable bounds (a variational inequality, set by
    ``setVariableBounds``) as a type that is not a VI solver: it would solve the problem without
    its bounds, or PETSc refuses it mid-solve ("does not support bounds")."""
    if not str(snes_type).startswith("vi") and variable_bounds(snes) is not None:
        raise ValueError(f"{who}: this problem's SNES has variable bounds (a variational inequality), which "
                         f"{snes_type} does not solve under; use a VI type (vinewtonrsls or vinewtonssls) or solve it "
                         "as its own type (no backend=)")


def check_switch(snes: Any, snes_type: str, who: str) -> None:
    """Refuse to switch a SNES of one type to or from ``qn``: PETSc (3.25) then ends the process
    with a segmentation fault in the next qn solve (newtonls -> qn, or qn -> newtonls and back, the
    way ``kept_settings`` puts a type back), on a dolfinx problem's SNES whether it had solved yet
    or not. No other type PETSc has crashed so."""
    now = snes.getType()
    if now and now != snes_type and "qn" in (now, snes_type):
        raise ValueError(f"{who}: this problem's SNES is {now}; solving it as {snes_type} would switch it "
                         f"{'to' if snes_type == 'qn' else 'from'} qn, after which PETSc crashes the process (a "
                         f"segmentation fault in its next qn solve). Set snes_type {snes_type} in the problem's own "
                         "PETSc options, or solve it as its own type (no backend=)")


ONE_STEP_SNES = ("ksponly", "ksptransposeonly")
ONE_STEP_WHY = ("a ksponly SNES takes one Newton step and tests no tolerance, so a start moves its answer (to "
                "wherever one step from the start lands) instead of shortening its solve: it takes no initial guess "
                "(Newton, snes_type newtonls, is what a start can speed up; a linear residual is a LinearProblem's, "
                "the ksp solver's)")


OWN_START_WHY = ("computes its own initial guess (a function given by snes.setInitialGuess), which replaces any start "
                 "it is given: take it off (snes.setInitialGuess(None)) for a start to be used")


@dataclass(kw_only=True)
class SNESBackend:
    """Newton (``newtonls`` with line search by default) to ``max(rtol * ||F(cold guess)||, atol)``
    (rtol 0 beside an atol: that alone), and to no less than ``rtol / 100 * ||F(0)||`` where the
    cold guess is not zero (``NEAR_ANSWER_FLOOR``): from a cold guess at the answer, Newton had
    taken up to ``max_it`` steps at round-off. stol: PETSc's step-length test, on a full Newton
    step only: a solve that stalls (its line search or trust region failing, or out of iterations)
    where one full Newton step moves x by under ``stol * ||x||`` is at its answer, takes that step
    and converged (``_step_converged``); 0: none."""

    name: ClassVar[str] = "snes"
    snes_type: str = "newtonls"
    rtol: float = 1e-8
    atol: float = 0.0
    max_it: int = 50
    stol: float = 1e-8
    retry_cold: bool = True

    def __post_init__(self) -> None:
        _check_tolerances(self.name, self.rtol, self.atol)
        check_settings(self.name, iterations={"max_it": self.max_it}, flags={"retry_cold": self.retry_cold})
        if self.snes_type == "aspin":  # before _check_types, which sets the type on a SNES to see it exists
            raise ValueError("snes: PETSc (3.25) ends the process with a segmentation fault when a SNES without a "
                             "domain decomposition (a DM's, which a dolfinx problem's SNES has not) is made aspin; "
                             "choose newtonls, newtontr, qn or ngmres")
        _check_types(self.name, SNES=self.snes_type)
        if isinstance(self.stol, bool) or not isinstance(self.stol, (int, float)) or not 0 <= self.stol < 1:
            raise ValueError(f"{self.name}: stol must lie in [0, 1) (PETSc's step-length test, relative to ||x||; 0: "
                             f"none), got {self.stol!r}")

    def solve(self, handles: dict[str, Any], *, guess: np.ndarray | None = None,
              cold_guess: np.ndarray | None = None) -> SolveResult:
        """handles: {'snes', 'x', 'finish'}; guess, cold_guess: owned dofs (zeros if no cold_guess)."""
        # a Ctrl-C inside dolfinx's or PETSc's calls waits for them (_interrupt), and for Newton's next step
        with held_interrupts(), stopping_early(handles["snes"].getKSP(), handles["snes"]), \
                failures_returned(handles["snes"], handles["snes"].getKSP()):
            snes, x = handles["snes"], handles["x"]
            check_switch(snes, self.snes_type, self.name)  # before anything is set on it
            check_bounds(snes, self.snes_type, self.name)
            if self.snes_type == "ngs" and snes.getNGS() is None:
                raise ValueError("snes: ngs sweeps by the function SNESSetNGS gives it (snes.setNGS), and this SNES "
                                 "has none (a private one, of a backend of another type, never has): PETSc (3.25) "
                                 "ends the process with a segmentation fault there; choose newtonls, newtontr, qn or "
                                 "ngmres")
            n = x.getLocalSize()
            cold = np.zeros(n) if cold_guess is None else np.asarray(cold_guess, dtype=float)
            guess = check_guess(guess, n, self.name)
            f = x.duplicate()
            try:
                _set(x, cold)
                # x's norm, alike on every rank (whose own dofs may all be zero): collective calls follow
                zero = _zero_guess_residual(snes, x, f) if x.norm() > 0 else None
                snes.computeFunction(x, f)  # last, so that the problem is left at the cold guess
                ref = f.norm()
                scale = max(ref, zero) if zero is not None and np.isfinite(zero) else ref
            finally:
                f.destroy()  # as _relative_residual's
            if not np.isfinite(ref):  # PETSc would refuse the tolerance mid-call; the cold solve fails from it too
                raise cold_guess_error(self.name, f"its residual is {ref}")
            # a cold guess at or near the answer (a script's u kept from its last solve) puts rtol * ref at
            # or below the residual's round-off, where Newton stalled for up to max_it steps: no solve is
            # asked for less than rtol / 100 of the problem's scale
            atol = max(self.rtol * max(ref, 1e-300), self.atol, NEAR_ANSWER_FLOOR * self.rtol * scale)
            snes.setType(self.snes_type)
            snes.setTolerances(rtol=0.0, atol=atol, stol=0.0, max_it=self.max_it)
            snes.getKSP().setInitialGuessNonzero(False)
            if guess is not None and self.snes_type in ONE_STEP_SNES:
                warnings.warn(f"snes: {ONE_STEP_WHY}; solving from the cold guess", RuntimeWarning, stacklevel=2)
                guess = None
            elif guess is not None and snes.getInitialGuess() is not None:
                warnings.warn(f"snes: this SNES {OWN_START_WHY}; solving without it", RuntimeWarning, stacklevel=2)
                guess = None
            res = self._run(snes, x, cold if guess is None else guess, handles, warm=guess is not None, cold=cold)
            raise_if_stopped()  # not retried cold, nor returned as the failure it ended at
            if guess is not None and res.status != Status.OPTIMAL and self.retry_cold:
                warnings.warn(f"snes: Newton from the learned guess failed ({_reason(res.extra['reason'], 'SNES')}); "
                              "retrying from the cold guess", RuntimeWarning, stacklevel=2)
                res = retried_cold(res, self._run(snes, x, cold, handles, warm=False),
                                   f"warm Newton failed (reason {res.extra['reason']}), retried cold")
                raise_if_stopped()
            res.extra["atol"] = atol
            res.extra["relative_tolerance"] = atol / scale if scale > 0 else self.rtol  # what answers agree to
            return res

    def _run(self, snes: Any, x: Any, start: np.ndarray, handles: dict[str, Any], *, warm: bool,
             cold: np.ndarray | None = None) -> SolveResult:
        _set(x, start)
        jac = snes.getJacobian()[0]
        null = jac.getNullSpace() if warm and jac is not None else None
        if null:  # a problem invariant along the Jacobian's null space (as a KSP's, above)
            _match_null_part(null, x, cold)
        t0 = time.perf_counter()
        snes.solve(None, x)
        reason = int(snes.getConvergedReason())
        stepped = reason in _stalls() and self._step_converged(snes, x)
        secs = time.perf_counter() - t0
        handles["finish"]()
        message = _reason(reason, "SNES")
        if stepped:
            message = (f"converged by the step test: {message} short of atol {snes.getTolerances()[1]:.3g} (relative "
                       f"to the cold guess's residual), then one full Newton step under stol * ||x|| (stol "
                       f"{self.stol:g})")
        return SolveResult(solver=self.name, status=Status.OPTIMAL if stepped else _status(reason, "SNES"),
                           objective=float("nan"), x=_values(x), y=None,
                           iterations=int(snes.getIterationNumber()) + int(stepped), seconds=secs, warm_started=warm,
                           warm_start_accepted=warm, message=message,
                           extra={"reason": reason, "linear_iterations": int(snes.getLinearSolveIterations()),
                                  "step_converged": stepped})

    def _step_converged(self, snes: Any, x: Any) -> bool:
        """Whether ``x``, where Newton stalled, is its answer: one full Newton step from it, under
        ``stol * ||x||``, is taken (x moves by it) and True. The tolerance is relative to the cold
        guess's residual, so where that guess is the answer already (a problem solved twice from its
        ``u``) it lies below the residual's round-off, and Newton stalls at the answer, which the
        problem's own solve accepts by its step test: off in the solve, where a damped step passes it
        far from the answer, and asked here of an undamped one. Not for a variational inequality,
        whose step the bounds cut."""
        from petsc4py import PETSc

        if self.stol <= 0 or variable_bounds(snes) is not None:
            return False
        f, step = x.duplicate(), x.duplicate()
        try:
            snes.computeFunction(x, f)
            if not np.isfinite(f.norm()):
                return False
            J, P, _ = snes.getJacobian()
            snes.computeJacobian(x, J, P)
            ksp = snes.getKSP()  # on J and P already, which Newton set it up on: their new values set it up again
            ksp.solve(f, step)
            if ksp.getConvergedReason() <= 0 or not step.norm() <= self.stol * x.norm():
                return False
            x.axpy(-1.0, step)
            return True
        except PETSc.Error:  # no step to judge by (a failed factorisation): the solve's own verdict stands
            return False
        finally:
            f.destroy()
            step.destroy()

    def same_answer(self, a: SolveResult, b: SolveResult) -> bool:
        # an absolute tolerance above rtol's stops both solves looser: they agree to that
        loose = max(self.rtol, *(float(r.extra.get("relative_tolerance", 0.0)) for r in (a, b)))
        return _same(a, b, 1e3 * loose)


def _zero_guess_residual(snes: Any, x: Any, f: Any) -> float | None:
    """||F(0)||, the problem's scale for Newton's tolerance, or None where F cannot be evaluated
    at zero (a residual function of the user's that raises there). Evaluated on a scratch copy of
    ``x``: PETSc leaves the vector it failed on locked."""
    from petsc4py import PETSc

    zero = x.duplicate()
    try:
        zero.set(0.0)
        snes.computeFunction(zero, f)
        return f.norm()
    except PETSc.Error:
        return None
    finally:
        zero.destroy()


NEAR_ANSWER_FLOOR = 1e-2
"""Newton's tolerance is at least this times rtol times the zero guess's residual (or the cold
guess's, the larger): a cold guess within 1% of the answer by its residual asks no more of the
solve (``benchmarks/newton_near_answer.py``)."""


@functools.lru_cache(maxsize=None)
def _stalls() -> frozenset[int]:
    """SNES reasons of a solve that stopped short without NaN: its line search or trust region
    failing, or out of iterations (where Newton stalls at round-off, short of a tolerance below it)."""
    from petsc4py import PETSc

    codes = PETSc.SNES.ConvergedReason
    return frozenset(getattr(codes, n) for n in ("DIVERGED_LINE_SEARCH", "DIVERGED_TR_DELTA", "DIVERGED_MAX_IT")
                     if hasattr(codes, n))


def _same(a: SolveResult, b: SolveResult, tol: float) -> bool:
    if a.status != b.status:
        return False
    if a.status != Status.OPTIMAL or a.x is None or b.x is None:
        return True
    return float(np.linalg.norm(a.x - b.x)) <= tol * (float(np.linalg.norm(b.x)) + 1e-300) + 1e-300
