"""`learned-solvers bench` for PDE families: cold vs learned vs nearest-neighbour vs oracle.

Same report keys as the LP/QP bench (``iterations`` = KSP or Newton iterations), plus
``prediction_rel_l2_median`` (the model's own error) and the start as the solver sees it
(``start_residual_median``: ``||F(x0)||`` over the cold guess's, which for a linear problem is
``||b - A x0|| / ||b||``; ``start_energy_error_median`` for a symmetric one). ``time_ratio``
compares what a user's call costs: cold, ``problem.solve()`` (linear: assembly + KSP;
nonlinear: SNES, which assembles inside); learned, ``LearnedPDEStarter.solve`` (extracting
the canonical data from the problem, which assembles the linear system, + inference +
solve). Inference counts building the graph and running the model; extraction and assembly
are reported beside it. Each solve sets its preconditioner up for its operator, as a
script's loop over instances does.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._interrupt import held_interrupts
from .._progress import tqdm
from ..backends.petsc import (ONE_STEP_SNES, ONE_STEP_WHY, OWN_START_WHY, KSPBackend, SNESBackend, aij_operator,
                              check_runs_on, direct_solve, forget_history, kept_settings, own_guess_type, own_guess_why,
                              own_tolerances)
from ..checkpoint import PDE_K0_STARTS
from ..formats.dolfinx import in_adapter_signs, petsc_handles, residual_function, to_pde
from ..models.mesh_anchors import MESH_ANCHOR_KINDS, MeshAnchorBank
from ..options import check_counts, check_device, check_k, check_precision, check_seed, check_threads
from ..training.train_pde import PDETrainConfig, relative_errors, train_mesh_model
from ..warmstart_pde import LearnedPDEStarter
from .scaling import auto_k_summary, lipschitz_estimate, nearest_pairs, sweep_rows
from .timing import (TIMING_REPEATS, advice, cut_short, disagreement, dropped_line, failed_row, fastest, parsimonious_k,
                     reached_optimum, stop_on_ctrl_c, sweep_cut_short, sweep_skipped, verdict, wins_by_instance)

__all__ = ["PDEBenchConfig", "run_pde_bench", "train_pde_starter", "label_pde", "make_pde_backend", "AUTO_KS",
           "PDE_TEST_SEED_OFFSET"]

AUTO_KS = (0, 1, 2, 4, 8, 16, 32, 64)  # 0: no network, the anchor (made of the training solutions)
PDE_TEST_SEED_OFFSET = 10_000  # held-out instances: seeds apart from the training ones


@dataclass(frozen=True, kw_only=True)
class PDEBenchConfig:
    """solver: 'ksp' or 'snes'; ksp_type/pc: the Krylov method and preconditioner, any PETSc name
    (None: cg + gamg on the built-in families, the problem's own on a user's dolfinx: family, as
    its script solves it); rtol: the solver's tolerance (None: 1e-8 on the built-in families,
    the problem's own on a dolfinx: family); test_family: a finer mesh of the same family to test
    on (the model is size-agnostic)."""

    family: str
    solver: str = "ksp"
    n_train: int | None = 100  # None: nothing trained here (run_pde_bench's starter is benched)
    n_test: int = 20
    k: int | None = None
    checkpoint: str | None = None
    save_checkpoint: str | None = None
    seed: int = 0
    epochs: int = 40
    width: int = 32
    device: str = "cpu"
    ksp_type: str | None = None
    pc: str | None = None
    rtol: float | None = None
    test_family: str | None = None
    scheduler: str = "serial"  # labelling: 'serial', 'local' (Dask LocalCluster) or a scheduler address
    train_k: int | None = None  # training iterations (None: PDETrainConfig's)
    jacobian_weight: float | None = None  # Jacobian penalty in training (None: PDETrainConfig's)
    solution_state: bool | None = None  # PDETrainConfig.solution_state (None: where its step applies)
    precision: str = "float32"  # of inference (LearnedPDEStarter)
    anchor: str = "kernel"  # PDETrainConfig.anchor: "kernel" (where leave-one-out prefers it) or "nearest"
    threads: int | None = None  # torch's CPU threads for inference (None: the starter's rule by mesh size)

    def __post_init__(self) -> None:
        check_seed(self.seed)
        check_threads(self.threads)
        check_counts(n_test=self.n_test, n_train=self.n_train)
        if self.anchor not in MESH_ANCHOR_KINDS:
            raise ValueError(f"anchor must be one of {', '.join(MESH_ANCHOR_KINDS)} for PDE families, "
                             f"got {self.anchor!r}")
        if self.solver not in ("ksp", "snes"):
            raise ValueError(f"PDE families are solved by --solver ksp or --solver snes, not {self.solver!r}")
        if self.solver == "ksp" and self.ksp_type == "preonly":
            raise ValueError("--ksp-type preonly is a direct solve (the preconditioner, such as LU, is the solve), "
                             "which takes no initial guess: there is nothing to warm-start; choose an iterative "
                             "KSP (cg, gmres, minres)")
        if self.n_test < 1 or (self.checkpoint is None and self.n_train is not None and self.n_train < 2):
            raise ValueError(f"bench needs --test >= 1 and, without a checkpoint, --train >= 2 "
                             f"(got {self.n_test} and {self.n_train})")
        if self.train_k is not None and self.train_k < 1:
            raise ValueError(f"train_k must be at least 1, got {self.train_k}")
        check_k(self.k, allow_zero=True)
        check_device(self.device)
        check_precision(self.precision)  # before any labelling or training


def make_pde_backend(solver: str, *, kind: str, ksp_type: str | None = "cg", pc: str | None = "gamg",
                     rtol: float = 1e-8, atol: float = 0.0, snes_type: str = "newtonls", max_it: int | None = None,
                     stol: float = 1e-8):
    """The bench's backend for a family of ``kind`` ('linear': ksp, 'nonlinear': snes);
    ksp_type, pc None: the problem's own; max_it None: the backend's default; stol: Newton's
    step test where it stalls (``SNESBackend``)."""
    wanted = {"linear": "ksp", "nonlinear": "snes"}[kind]
    if solver != wanted:
        raise ValueError(f"a {kind} PDE family is solved by --solver {wanted}, not {solver}")
    limit = {"max_it": max_it} if max_it is not None else {}
    return (KSPBackend(ksp_type=ksp_type, pc_type=pc, rtol=rtol, atol=atol, **limit) if solver == "ksp"
            else SNESBackend(snes_type=snes_type, rtol=rtol, atol=atol, stol=stol, **limit))


def family_backend(fam: Any, solver: str, *, ksp_type: str | None = None, pc: str | None = None,
                   rtol: float | None = None):
    """``make_pde_backend`` for ``fam``: ksp_type, pc and rtol not given are cg + gamg at rtol
    1e-8 on the built-in families, and on a user's ``dolfinx:`` family the problem's own (its
    PETSc options, PETSc's default rtol 1e-5 where they set none; ``own_tolerances``: with its
    absolute tolerance too, unless rtol is given), as are its SNES type and iteration limit, so
    the bench times the solve the user's script
    runs (a Stokes problem set up for MINRES had been benched with CG and GAMG unless
    --ksp-type and --pc said it again)."""
    own = fam.spec().startswith("dolfinx:")
    handles = petsc_handles(fam.problem(), assemble=False) if own else None
    snes_type, max_it, atol, stol = "newtonls", None, 0.0, 1e-8
    if handles is not None:
        # the user's script stops at its own tolerance: a warm start that pays at 1e-8 may not at 1e-5
        own_rtol, own_atol, own_stol, max_it = (handles["ksp"] if fam.kind == "linear"
                                                else handles["snes"]).getTolerances()
        if fam.kind != "linear":
            stol = own_stol if 0 <= own_stol < 1 else 0.0
        if rtol is None:
            rtol, atol = own_tolerances(own_rtol, own_atol)
        snes_type = (handles["snes"].getType() if fam.kind == "nonlinear" else None) or "newtonls"
    rtol = 1e-8 if rtol is None else rtol
    if own and solver == "ksp" and ksp_type is None and fam.kind == "linear" and \
            handles["ksp"].getType() == "preonly":
        # refused before any labelling or training, as --ksp-type preonly is
        raise ValueError(f"{fam.spec()}: the problem's own KSP is preonly (a direct solve, such as LU), which takes "
                         "no initial guess: there is nothing to warm-start; bench an iterative solve, e.g. --ksp-type "
                         "cg --pc gamg (minres or gmres where the operator is not symmetric positive definite)")
    if snes_type in ONE_STEP_SNES:
        raise ValueError(f"{fam.spec()}: the problem's own SNES is {snes_type}: {ONE_STEP_WHY}. There is nothing to "
                         "warm-start; bench Newton (snes_type newtonls in the problem's PETSc options)")
    backend = make_pde_backend(solver, kind=fam.kind, ksp_type=ksp_type or (None if own else "cg"),
                               pc=pc or (None if own else "gamg"), rtol=rtol, atol=atol, snes_type=snes_type,
                               max_it=max_it, stol=stol)
    if own and fam.kind != "linear" and handles["snes"].getInitialGuess() is not None:
        raise ValueError(f"{fam.spec()}: there is nothing to warm-start: the problem's SNES {OWN_START_WHY}")
    if own and fam.kind == "linear" and (guess_type := own_guess_type(handles["ksp"])):
        # refused as a direct solve is: every start, the oracle's own solution too, had taken the zero guess's
        # count; the bench solves on the problem's own KSP, whose KSPGuess a --pc or --ksp-type keeps
        raise ValueError(f"{fam.spec()}: there is nothing to warm-start: the problem's KSP {own_guess_why(guess_type)}")
    if own and fam.kind == "linear" and (ksp_type or pc) and not aij_operator(handles["ksp"]):
        # a preconditioner PETSc cannot run on the problem's operator (GAMG on a nest) had failed only at
        # the first bench solve, after labelling and training
        check_runs_on(backend, petsc_handles(fam.problem()))
    return backend


def _reference_solve(kind: str, handles: dict[str, Any]):
    """A label: LU for a linear problem (PETSc's own; where it meets a zero pivot, as on a
    saddle-point operator, MUMPS's pivoting LU), on a KSP of its own, so the problem's keeps its
    settings; for a nonlinear one the problem's own SNES type to 1e-11 within its own iteration limit
    (at least 50), its tolerances put back after. Its own type: a bounded problem's
    ``vinewtonrsls`` had been swapped for ``newtonls``, which PETSc refuses with bounds set, and
    PETSc crashes (SEGV) solving with ``qn`` on a SNES that has solved with another type. Its own
    limit: ``qn`` (PETSc's limit 10,000) can need more than Newton's 50 iterations to reach 1e-11
    (``build_semilinear_qn_m1`` in the tests: 54 to 69), and such draws had been dropped unlabelled."""
    if kind != "linear":
        snes = handles["snes"]
        with kept_settings(handles):
            return SNESBackend(snes_type=snes.getType() or "newtonls", rtol=1e-11,
                               max_it=max(50, snes.getTolerances()[3])).solve(handles)
    res = direct_solve(handles, package="petsc")
    return res if res.status == "optimal" else direct_solve(handles, package="mumps")


def label_pde(fam: Any, insts: list[Any], *, progress: bool = True) -> tuple[list, list[np.ndarray]]:
    """(PDEData at the cold guess, reference solution) per instance, solved tightly (by the
    family's continuation where Newton from the cold guess fails); unsolvable ones are dropped
    with a warning that names them and why (their names are the PDEData names)."""
    return label_pde_parallel(fam, insts, scheduler="serial", progress=progress)


def _label(fam: Any, insts: list[Any], *, progress: bool) -> list[tuple[Any, np.ndarray] | str]:
    """Per instance: (PDEData, solution), or "name (why)" where it has no reference solution."""
    out: list[tuple[Any, np.ndarray] | str] = []
    for inst in tqdm(insts, desc=f"labelling {_short(fam)}", disable=not progress):
        prob, fields = fam.load(inst)
        pde = to_pde(prob, fields=fields, name=inst.name, quasilinear=getattr(fam, "quasilinear", None))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = _reference_solve(fam.kind, petsc_handles(prob, assemble=False))  # to_pde assembled the system
            if res.status != "optimal" and hasattr(fam, "continuation"):
                res = fam.continuation(inst, SNESBackend(rtol=1e-11))
        out.append((pde, in_adapter_signs(prob, res.x)) if res.status == "optimal" else f"{inst.name} ({res.message})")
    return out


def _warn_dropped(out: list, tail: str = "") -> None:
    dropped = [o for o in out if isinstance(o, str)]
    if dropped:
        warnings.warn(f"{len(dropped)} of {len(out)} instances have no reference solution and were dropped: "
                      f"{', '.join(dropped[:5])}" + (f"; {tail}" if tail else ""), RuntimeWarning, stacklevel=3)


def _split(out: list) -> tuple[list, list[np.ndarray]]:
    kept = [o for o in out if not isinstance(o, str)]
    return [p for p, _ in kept], [u for _, u in kept]


def _label_chunk(spec: str, insts: list[Any]) -> list[tuple[Any, np.ndarray] | str]:
    """A Dask task: rebuild the family from its spec in the worker (live dolfinx objects do not
    travel) and label a chunk of instances."""
    from problems.registry import make_family

    return _label(make_family(spec), insts, progress=False)


def label_pde_parallel(fam: Any, insts: list[Any], *, scheduler: str = "local", workers: int | None = None,
                       progress: bool = True) -> tuple[list, list[np.ndarray]]:
    """``label_pde`` on a Dask cluster: 'local' starts a LocalCluster (processes), an address
    uses a running scheduler, 'serial' labels in this process."""
    from ..training.data import labelling_client

    with labelling_client(scheduler, workers) as client:
        out = _label_each(fam, insts, client=client, progress=progress)
    _warn_dropped(out)
    return _split(out)


def _short(fam: Any) -> str:
    """The family as a progress bar names it: a built-in one by name, a user's by its spec (its builder's keywords)."""
    return fam.spec() if fam.spec().startswith("dolfinx:") else fam.name


def _label_each(fam: Any, insts: list[Any], *, client: Any, progress: bool) -> list[tuple[Any, np.ndarray] | str]:
    """``_label`` in this process (``client`` None) or on a Dask cluster, in chunks; order kept."""
    if client is None:
        return _label(fam, insts, progress=progress)
    from ..training.data import each_ended_or_sent_again, failure_reason

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = max(1, len(insts) // (4 * workers))
    chunks = [insts[i:i + size] for i in range(0, len(insts), size)]
    # a chunk travels inside the task graph, so a worker's death costs it nothing (Dask runs it
    # again); one Dask cancels anyway (its scheduler lost it) is sent again
    def send(todo: list[int], sent: int) -> list[Any]:
        return [client.submit(_label_chunk, fam.spec(), chunks[i], pure=False) for i in todo]

    parts: list = [None] * len(chunks)
    for i, got in each_ended_or_sent_again(send, len(chunks), client=client, desc=f"labelling {_short(fam)} (dask)",
                                           progress=progress):
        # a worker that died on the chunk: its instances are dropped
        failed = isinstance(got, BaseException)
        parts[i] = [f"{inst.name} ({failure_reason(got)})" for inst in chunks[i]] if failed else got
    return [o for part in parts for o in part]


@dataclass(frozen=True)
class PDEDrawn:
    """``label_pde_drawn``'s result: the instances kept, their PDEData and reference solutions,
    in draw order, and how many draws they rest on (``drawn``)."""

    insts: list[Any]
    pdes: list[Any]
    sols: list[np.ndarray]
    drawn: int
    refilled: bool


def label_pde_drawn(fam: Any, count: int, *, seed: int, scheduler: str = "serial", progress: bool = True,
                    first: list[Any] | None = None, shard: Callable[[list], list] = list,
                    gather: Callable[[list], list] = list, warn: bool = True) -> PDEDrawn:
    """The first ``count`` of ``fam.sample(n, seed=seed)`` labelled, those without a reference
    solution replaced by further draws of the same seed (``training.data.refill_draws``), as on
    the LP/QP side; ``shard``/``gather``: each torchrun rank labels its share of every round."""
    from problems.registry import drawer, refills

    from ..training.data import labelling_client, refill_draws, refill_note

    with labelling_client(scheduler) as client:
        drawn, out, refilled = refill_draws(
            drawer(fam, seed=seed), count,
            lambda insts: gather(_label_each(fam, shard(insts), client=client, progress=progress)),
            refill=refills(fam), first=first)
    pdes, sols = _split(out)
    if warn:
        _warn_dropped(out, refill_note(len(pdes), count, len(out), refilled))
    return PDEDrawn(insts=[i for i, o in zip(drawn, out) if not isinstance(o, str)], pdes=pdes, sols=sols,
                    drawn=len(out), refilled=refilled)


def _solve(fam: Any, inst: Any, backend: Any, guess: np.ndarray | None, *, prob: Any = None,
           assembled: bool = False):
    """Solve the instance from ``guess``; ``prob``: its problem already loaded, and with
    ``assembled`` its linear system too (by ``to_pde``). The seconds of the assembly done here
    go to ``res.extra['assembly_seconds']``."""
    t0 = time.perf_counter()
    if prob is None:
        prob, _ = fam.load(inst)
    h = petsc_handles(prob, assemble=not assembled)
    asm = time.perf_counter() - t0 if fam.kind == "linear" else 0.0
    guess = in_adapter_signs(prob, guess)  # to_pde's signs to dolfinx's (flux dofs)
    if fam.kind == "linear":
        res = backend.solve(h, guess=guess)
    else:
        forget_history(h["snes"])  # each start from a first solve's state, not from the repeats' quasi-Newton pairs
        res = backend.solve(h, guess=guess, cold_guess=fam.cold_guess(h["x"].getLocalSize()))
    res.extra["assembly_seconds"] = asm
    return res


def _user_call(fam: Any, inst: Any, backend: Any, guess: np.ndarray | None = None):
    """(result, assembly + solve seconds): ``problem.solve()`` of the user's problem, from
    ``guess`` if given (the oracle's start: a guess that costs nothing to make)."""
    res = _solve(fam, inst, backend, guess)
    return res, res.extra["assembly_seconds"] + res.seconds


def _residual(fam: Any, inst: Any):
    """F of the instance's own dolfinx problem (nonlinear families), for the starter's merit; the
    user already holds their problem, so building it is not timed. A family keeps one live
    problem and loads instances into it: build this right before the guess it serves."""
    return residual_function(fam.load(inst)[0]) if fam.kind != "linear" else None


def _warm_run(starter: LearnedPDEStarter, fam: Any, inst: Any, backend: Any, k: int | None, residual: Any = None):
    """((guess, inference seconds, warm result), extraction + inference + solve seconds) of one
    learned start, as ``LearnedPDEStarter.solve`` runs it: the canonical data are extracted
    from the loaded problem afresh, as ``solve`` reads them (``starter.extract``; timed,
    ``res.extra['extraction_seconds']``); without ``residual`` the instance's own F is built
    first (untimed: the user holds their problem)."""
    if residual is None:
        residual = _residual(fam, inst)
    prob, fields = fam.load(inst)
    t0 = time.perf_counter()
    data = starter.extract(prob, fields=fields, k=k, name=inst.name)
    extract = time.perf_counter() - t0
    g, secs = starter.guess(data, k=k, residual=residual)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _solve(fam, inst, backend, g, prob=prob, assembled=data.linearised)
    # a linear system's assembly counts as extraction wherever it ran: the learned call's work before the solve
    extract += res.extra["assembly_seconds"]
    res.extra["extraction_seconds"] = extract
    return (g, secs, res), extract + secs + res.seconds


def _nearest_run(bank: MeshAnchorBank, fam: Any, inst: Any, backend: Any):
    """((nearest training solution or None, result), extraction + lookup + assembly + solve
    seconds): the baseline's call, timed as ``_warm_run`` times the learned one at k = 0,
    without the model: the fields and dofs are all it reads; a linear problem's system is
    assembled for its solve."""
    prob, fields = fam.load(inst)
    t0 = time.perf_counter()
    data = to_pde(prob, fields=fields, name=inst.name, linearise=False)
    sol = bank.nearest(data)
    start = time.perf_counter() - t0
    if sol is None:  # another mesh than the bank's, without coordinates to match it by
        return (None, None), start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _solve(fam, inst, backend, sol, prob=prob)
    return (sol, res), start + res.extra["assembly_seconds"] + res.seconds


def _timed_start(starter: LearnedPDEStarter, fam: Any, inst: Any, backend: Any, k: int,
                 repeats: int = TIMING_REPEATS, residual: Any = None) -> tuple[np.ndarray | None, Any, float]:
    """(guess, warm result, inference + solve seconds), the fastest of ``repeats`` runs."""
    (g, _, res), total = fastest(lambda: _warm_run(starter, fam, inst, backend, k, residual), repeats)
    return g, res, total


def choose_k(starter: LearnedPDEStarter, fam: Any, insts: list, backend: Any,
             ks: tuple[int, ...] = AUTO_KS, progress: bool = False) -> tuple[int, int, list[dict], str | None]:
    """(k, network k, rows): the k with the least median (extraction + inference + warm solve)
    seconds on validation instances, the smallest among those within ``K_TIE`` of the fastest
    (``timing.parsimonious_k``). k = 0 (the anchor, no network; swept only
    where the starter keeps training solutions) takes its place where it wins instance by
    instance, time and solver iterations weighed together, as on the LP/QP side
    (``timing.wins_by_instance``). Each row also holds the medians of the per-instance ratios to
    a cold call (``time_ratio``, ``iteration_ratio``), as ``bench`` reports them, and the
    per-instance ``seconds`` and ``iterations``. The network k is the fastest k >= 1, what the
    starter runs where no training solution fits a problem. A Ctrl-C or SIGTERM cuts the sweep
    short: the choice is made on the instances finished (with none, the starter's own k and
    network k, and no rows), and the last item says how it stopped (None: it ran to the end)."""
    if not any(k >= 1 for k in ks):
        raise ValueError(f"choose_k needs a k >= 1 among ks, got {ks}")
    ks = tuple(k for k in ks if k > 0 or starter.anchors is not None)
    # instances outer, k inner: drift of the machine's speed during the sweep hits every k alike
    tot: dict[int, list[float]] = {k: [] for k in ks}
    its: dict[int, list[float]] = {k: [] for k in ks}
    cold_secs, cold_its = [], []
    desc = f"choosing k ({len(ks)} per instance)"
    with cut_short(len(insts), lambda: len(cold_secs)) as stopped, tqdm(insts, desc=desc, disable=not progress) as bar:
        _timed_start(starter, fam, insts[0], backend, 1, repeats=1)  # first calls pay one-off set-up costs
        for inst in bar:
            cold, cold_total = fastest(lambda: _user_call(fam, inst, backend))
            residual = _residual(fam, inst)
            row = {}
            for k in ks:
                _, res, total = _timed_start(starter, fam, inst, backend, k, residual=residual)
                row[k] = (total, res.iterations)
            with held_interrupts():  # an instance counts whole or not at all
                cold_secs.append(cold_total)
                cold_its.append(max(cold.iterations, 1))
                for k, (total, n) in row.items():
                    tot[k].append(total)
                    its[k].append(n)
    cut = stopped[0] if stopped else None
    if not cold_secs:
        return starter.k, starter.network_k, [], cut
    rows = [{"k": k, "total_seconds_median": float(np.median(tot[k])),
             "iterations_median": float(np.median(its[k])),
             "time_ratio": float(np.median(np.asarray(tot[k]) / np.asarray(cold_secs))),
             "iteration_ratio": float(np.median(np.asarray(its[k]) / np.asarray(cold_its))),
             "seconds": [float(v) for v in tot[k]], "iterations": [float(v) for v in its[k]]} for k in ks]
    net = [r for r in rows if r["k"] >= 1]
    k = parsimonious_k(net)
    zero = next((r for r in rows if r["k"] == 0), None)
    chosen = next(r for r in net if r["k"] == k)
    return (0 if zero is not None and wins_by_instance(zero, chosen) else k), k, rows, cut


def train_pde_starter(fam: Any, cfg: PDEBenchConfig, backend: Any, *, progress: bool = True,
                      train_config: PDETrainConfig | None = None
                      ) -> tuple[LearnedPDEStarter, dict[str, Any], list, list[np.ndarray]]:
    """Label ``cfg.n_train`` instances, train the mesh model, pick the automatic k on the
    validation split (unless ``cfg.k``) and save ``cfg.save_checkpoint`` if set.
    ``train_config``: the training's own (``learned_solvers.train_pde``'s); None: made of
    ``cfg``'s epochs, width, device, seed and the rest, as the command line gives them.
    Returns (starter, info, training PDEData, their solutions)."""
    from ..training import distributed

    tcfg = train_config if train_config is not None else PDETrainConfig(
        epochs=cfg.epochs, width=cfg.width, device=cfg.device, seed=cfg.seed,
        **({"train_k": cfg.train_k} if cfg.train_k is not None else {}),
        **({"jacobian_weight": cfg.jacobian_weight} if cfg.jacobian_weight is not None else {}),
        solution_state=cfg.solution_state, anchor=cfg.anchor)

    # under torchrun each rank labels its share, and every rank trains on all of them; those
    # without a reference solution are replaced by further draws, as on the LP/QP side
    main = distributed.is_main()
    got = label_pde_drawn(fam, cfg.n_train, seed=cfg.seed, scheduler=cfg.scheduler, progress=progress and main,
                          shard=distributed.shard, gather=distributed.gather_shards, warn=main)
    train_insts, train_pdes, train_sols = got.insts, got.pdes, got.sols
    if len(train_pdes) < 2:
        raise RuntimeError(f"family {fam.spec()}: {len(train_pdes)} of {got.drawn} instances have a reference "
                           "solution; training needs at least 2")
    tr = train_mesh_model(train_pdes, train_sols, config=tcfg, progress=progress)
    starter = LearnedPDEStarter(tr.model, tr.norm, family=fam.family_key(), signature=train_pdes[0].signature,
                                device=tcfg.device, anchors=tr.anchors, precision=cfg.precision, threads=cfg.threads)
    info: dict[str, Any] = {"train_seconds": tr.seconds, "val_error": tr.val_error, "n_train": len(train_pdes),
                            "n_drawn": got.drawn, "refilled": got.refilled,
                            "history": tr.history, **({"interrupted": tr.interrupted} if tr.interrupted else {})}
    if cfg.k is None and main and (cut := sweep_skipped(tr.interrupted)) is None:
        # on the held-out split: a training instance's nearest anchor is its own solution
        val = tr.val_indices[:8]
        k, network_k, rows, cut = choose_k(starter, fam, [train_insts[i] for i in val], backend, progress=progress)
        if rows:
            starter.k, starter.network_k = k, network_k
            info["auto_k"] = rows
    if cfg.k is None and main and cut is not None:
        if "auto_k" not in info:  # the network's training k, as an unswept LP/QP model runs
            starter.k = starter.network_k
        sweep_cut_short(cut, chosen="auto_k" in info, default=f"k = {starter.k}")
        info["k_sweep_interrupted"] = cut
    # what the checkpoint records, and the starter's meta as from_checkpoint gives it: the validation
    # sweep named k_sweep, as LP/QP checkpoints name it; spec: the family as trained, mesh included
    # (the family key the loader matches on has none)
    tolerance = ({"solver_tolerance": backend.rtol, **({"solver_atol": backend.atol} if backend.atol else {})}
                 if cfg.k is None else {})
    starter.meta.update(solver=cfg.solver, spec=fam.spec(), **tolerance,
                        train={"epochs": tcfg.epochs, "width": tcfg.width, "device": tcfg.device, "seed": tcfg.seed},
                        **{("k_sweep" if key == "auto_k" else key): v for key, v in info.items()})
    if cfg.save_checkpoint and main:
        starter.save(cfg.save_checkpoint, **starter.meta)
    distributed.barrier()
    return starter, info, train_pdes, train_sols


def run_pde_bench(cfg: PDEBenchConfig, *, progress: bool = True, fam: Any = None,
                  starter: LearnedPDEStarter | None = None) -> dict[str, Any]:
    """``learned-solvers bench`` on a PDE family: train (or load ``cfg.checkpoint``), then solve
    ``cfg.n_test`` held-out draws cold, learned, from the nearest training solution and from
    their own. ``fam``: the family object itself (a user's function from a notebook, which no
    spec rebuilds), else ``make_family(cfg.family)``; ``starter``: one in hand, instead of
    ``cfg.checkpoint``."""
    from problems.registry import is_pde_family, make_family

    fam = fam if fam is not None else make_family(cfg.family)
    test_fam = make_family(cfg.test_family) if cfg.test_family else fam
    if not is_pde_family(test_fam.spec()) or test_fam.family_key() != fam.family_key():
        raise ValueError(f"--test-family {cfg.test_family} is another family than {cfg.family}; it is for the same "
                         "family on another mesh (e.g. darcy:n=128 for darcy, dolfinx:MODULE:FUNCTION:n=128 for a "
                         "builder that takes the mesh size n)")
    backend = family_backend(fam, cfg.solver, ksp_type=cfg.ksp_type, pc=cfg.pc, rtol=cfg.rtol)
    info: dict[str, Any] = {}
    train_pdes, train_sols = [], []
    if starter is not None and starter.family != fam.family_key():
        # a checkpoint's path is refused so by from_checkpoint below
        raise ValueError(f"this starter was trained on family {starter.family!r}, not {fam.family_key()!r}; train "
                         "one for this family")
    if starter is None and cfg.checkpoint:
        starter = LearnedPDEStarter.from_checkpoint(cfg.checkpoint, family=fam.family_key(), device=cfg.device,
                                                    precision=cfg.precision)
    elif starter is None:
        if cfg.n_train is None:
            raise ValueError("bench: n_train=None trains nothing; give a checkpoint or a starter to bench")
        starter, info, train_pdes, train_sols = train_pde_starter(fam, cfg, backend, progress=progress)
    if cfg.threads is not None:  # a starter given by the caller or loaded runs the bench's threads too
        starter.threads = cfg.threads
    # a checkpoint without an automatic k runs the model's training iterations: report that k
    k = next(v for v in (cfg.k, starter.k, starter.model.cfg.train_k) if v is not None)
    tested = label_pde_drawn(test_fam, cfg.n_test, seed=cfg.seed + PDE_TEST_SEED_OFFSET, scheduler=cfg.scheduler,
                             progress=progress)
    test_insts, test_pdes, test_sols = tested.insts, tested.pdes, tested.sols
    systems = {p.name: p for p in test_pdes}
    # the baseline: the nearest training instance's solution (the checkpoint's anchor bank when
    # there is one, so that a loaded checkpoint has the baseline too); on the training mesh only
    near_bank = (starter.anchors if starter.anchors is not None
                 else MeshAnchorBank.build(train_pdes, train_sols, starter.norm) if train_pdes else None)
    rows, failed = [], []
    with stop_on_ctrl_c(len(test_insts), lambda: len(rows) + len(failed)) as stopped:
        for inst, sol in tqdm(list(zip(test_insts, test_sols)), desc="bench", disable=not progress):
            try:
                # cfg.k None: the starter's own k, as its solve() runs it
                rows.append(_bench_one(starter, test_fam, inst, sol, backend, cfg.k, near_bank, systems[inst.name]))
            except Exception as exc:  # one bad instance must not lose the others
                failed.append(failed_row(inst.name, exc, trace=True))
    if not rows:
        raise RuntimeError(f"bench: every one of the {len(failed)} held-out instances failed; the first: "
                           f"{failed[0]['error']}")
    med = lambda key: float(np.median([r[key] for r in rows if r[key] is not None]))  # noqa: E731
    ratio = lambda key: float(np.median([r[key] / max(r["cold_iterations"], 1) for r in rows]))  # noqa: E731
    time_ratio = lambda key: float(np.median([r[key] / r["cold_total_seconds"] for r in rows]))  # noqa: E731
    has_near = all(r["nearest_iterations"] is not None for r in rows)
    rep = {
        # the mesh a checkpoint was trained on, where it says (it may not be --family's)
        "family": test_fam.spec(), "train_family": starter.meta.get("spec") or fam.spec(), "solver": cfg.solver,
        # the types the solves ran with: the problem's own where none was given (a dolfinx: family)
        "solver_options": {"ksp_type": rows[0]["ksp_type"], "pc_type": rows[0]["pc_type"], "rtol": backend.rtol,
                           **({"atol": backend.atol} if backend.atol else {})}
        if cfg.solver == "ksp"
        else {"snes_type": backend.snes_type, "rtol": backend.rtol, **({"atol": backend.atol} if backend.atol else {}),
              "stopping": "atol = rtol * ||F(cold guess)||" + (", or the atol above where larger" if backend.atol
                                                               else "")},
        "n_train": None,  # trained here: the instances kept (info's), else none
        # the instances behind the figures: those with a reference solution (the others are dropped)
        "dropped": {"train": info.get("n_drawn", 0) - len(train_pdes), "test": tested.drawn - len(test_pdes),
                    "train_drawn": info.get("n_drawn", 0), "test_drawn": tested.drawn,
                    "refilled": bool(info.get("refilled")) or tested.refilled},
        "n_test": len(rows) + len(failed), "k": k,
        "k_automatic": cfg.k is None,
        "threads": starter.threads,  # None: one below THREADS_FROM dofs, else torch's setting
        # what the learned start corrects (k >= 1) or is (k = 0): "kernel", "nearest", or None (no bank)
        "anchor": starter.anchors.kind if starter.anchors is not None else None,
        "cold": {"iterations_median": med("cold_iterations"), "seconds_median": med("cold_seconds"),
                 "assembly_seconds_median": med("cold_assembly_seconds"),
                 "total_seconds_median": med("cold_total_seconds")},
        "warm": {"iterations_median": med("warm_iterations"), "seconds_median": med("warm_seconds"),
                 "inference_seconds_median": med("inference_seconds"),
                 "extraction_seconds_median": med("extraction_seconds"),
                 "total_seconds_median": med("warm_total_seconds")},
        "nearest": {"iterations_median": med("nearest_iterations") if has_near else None,
                    "seconds_median": med("nearest_seconds") if has_near else None,
                    "total_seconds_median": med("nearest_total_seconds") if has_near else None},
        "oracle": {"iterations_median": med("oracle_iterations"), "seconds_median": med("oracle_seconds"),
                   "total_seconds_median": med("oracle_total_seconds")},
        "iteration_ratio": ratio("warm_iterations"),
        # the user's calls: (extraction + inference + solve) / (assembly + solve)
        "time_ratio": time_ratio("warm_total_seconds"),
        # the floor of time_ratio: the instance's own solution as the start, made at no cost. What
        # a cold call spends beyond the oracle's is all that a start may cost and still pay
        "oracle_time_ratio": time_ratio("oracle_total_seconds"),
        "start_budget_seconds_median": float(np.median([r["cold_total_seconds"] - r["oracle_total_seconds"]
                                                        for r in rows])),
        "nearest_iteration_ratio": ratio("nearest_iterations") if has_near else None,
        # the baseline's call: extraction + finding the nearest training solution + solve
        "nearest_time_ratio": time_ratio("nearest_total_seconds") if has_near else None,
        "same_answer": float(sum(r["same_answer"] for r in rows) / (len(rows) + len(failed))),
        "n_failed": len(failed), "failed": failed,
        "cold_converged": int(sum(r["cold_status"] == "optimal" for r in rows)),
        "warm_converged": int(sum(r["warm_status"] == "optimal" for r in rows)),
        "warm_converged_without_fallback": int(sum(r["warm_status"] == "optimal" and not r["fallback"] for r in rows)),
        "nearest_converged": int(sum(bool(r["nearest_converged"]) for r in rows)) if has_near else None,
        "oracle_converged": int(sum(r["oracle_converged"] for r in rows)),
        "prediction_rel_l2_median": med("prediction_rel_l2") if any(r["prediction_rel_l2"] is not None for r in rows)
        else None,
        **{f"{key}_median": med(key) if any(r.get(key) is not None for r in rows) else None
           for key in ("start_residual", "start_energy_error")},
        "config": asdict(cfg), "rows": rows, **info,
        **({"bench_interrupted": stopped[0]} if stopped else {}),
    }
    if all(r["re"] is not None for r in rows):
        cut = float(np.quantile([r["re"] for r in rows], 0.75))
        top = [r for r in rows if r["re"] >= cut]
        rep["top_re_quartile"] = {"re_from": cut, "n": len(top),
                                  "cold_converged": int(sum(r["cold_status"] == "optimal" for r in top)),
                                  "warm_converged_without_fallback": int(sum(
                                      r["warm_status"] == "optimal" and not r["fallback"] for r in top))}
    return rep


def start_measures(pde: Any, guess: np.ndarray | None, sol: np.ndarray) -> dict[str, float | None]:
    """How far a linear problem's start is, in the measures a Krylov solver feels: the residual
    ``||b - A x0|| / ||b||`` (KSP's default test is relative to the right-hand side's norm, not
    the start's, so a start above 1 begins further off than the zero guess) and, for a
    symmetric operator, the energy-norm error ``||x0 - u||_A / ||u||_A`` (what CG minimises).
    None where there is no assembled system (nonlinear families) or no guess."""
    A, b = getattr(pde, "operator", None), getattr(pde, "rhs", None)
    if guess is None or A is None or b is None or pde.kind != "linear":
        return {"start_residual": None, "start_energy_error": None}
    nb = float(np.linalg.norm(b))
    res = float(np.linalg.norm(b - A @ guess) / nb) if nb > 0 else None
    energy = None
    if abs(A - A.T).max() <= 1e-12 * abs(A).max():
        e = guess - sol
        ea, ua = float(e @ (A @ e)), float(sol @ (A @ sol))
        energy = float(np.sqrt(max(ea, 0.0) / ua)) if ua > 0 else None
    return {"start_residual": res, "start_energy_error": energy}


def newton_start_residual(residual: Any, guess: np.ndarray | None, cold: np.ndarray) -> float | None:
    """``||F(x0)|| / ||F(cold guess)||`` of a nonlinear problem's start (``residual``: its F, a
    ``NewtonSystem``): what the bench's SNES test is relative to, as ``start_measures``'
    residual is for KSP (for a linear F the two agree)."""
    if guess is None or residual is None:
        return None
    r0 = float(np.linalg.norm(residual(cold)))
    return float(np.linalg.norm(residual(guess)) / r0) if r0 > 0 else None


def _bench_one(starter: LearnedPDEStarter, fam: Any, inst: Any, sol: np.ndarray, backend: Any, k: int | None,
               near_bank: MeshAnchorBank | None, pde: Any = None) -> dict[str, Any]:
    """Every start on one held-out instance (``pde``: its labelled system, for ``start_measures``).
    Each timed start is the fastest of three runs, as in the LP/QP bench: the iterations are the
    same every time, millisecond timings on a shared machine are not."""
    cold, cold_total = fastest(lambda: _user_call(fam, inst, backend))
    (guess, secs, warm), warm_total = fastest(lambda: _warm_run(starter, fam, inst, backend, k))
    (_, near), near_total = ((None, None), None) if near_bank is None else fastest(
        lambda: _nearest_run(near_bank, fam, inst, backend))
    oracle, oracle_total = fastest(lambda: _user_call(fam, inst, backend, sol))
    return {"name": inst.name, "cold_iterations": cold.iterations, "cold_seconds": cold.seconds,
            "warm_iterations": warm.iterations, "warm_seconds": warm.seconds, "inference_seconds": secs,
            "cold_assembly_seconds": cold.extra["assembly_seconds"],
            "extraction_seconds": warm.extra["extraction_seconds"],
            "cold_total_seconds": cold_total, "warm_total_seconds": warm_total,
            "nearest_iterations": near.iterations if near else None,
            "nearest_seconds": near.seconds if near else None, "nearest_total_seconds": near_total if near else None,
            "oracle_iterations": oracle.iterations, "oracle_seconds": oracle.seconds,
            "oracle_total_seconds": oracle_total,
            "cold_status": cold.status, "warm_status": warm.status,
            # the baselines at the optimum from their own start, not retried from the cold guess
            "nearest_converged": reached_optimum(near) if near else None, "oracle_converged": reached_optimum(oracle),
            # PETSc's own reason where a solve did not converge: a limit to raise, or a method that failed
            "cold_reason": None if cold.status == "optimal" else cold.message,
            "warm_reason": None if warm.status == "optimal" else warm.message,
            "ksp_type": cold.extra.get("ksp_type"), "pc_type": cold.extra.get("pc_type"),
            # where the cold solve fails (Newton at high Re), the warm answer is checked against
            # the reference solution instead
            "same_answer": bool(backend.same_answer(warm, cold) if cold.status == "optimal" else
                                warm.status == "optimal" and backend.same_answer(warm, _ref_result(sol))),
            "re": getattr(inst, "re", None),
            "fallback": warm.extra.get("fallback") or (None if guess is not None else "cold guess"),
            "prediction_rel_l2": float(relative_errors([guess], [sol])[0]) if guess is not None else None,
            **(start_measures(pde, guess, sol) if fam.kind == "linear" else
               {"start_residual": newton_start_residual(_residual(fam, inst), guess, fam.cold_guess(len(sol))),
                "start_energy_error": None})}


def _ref_result(sol: np.ndarray):
    from ..backends.base import SolveResult

    return SolveResult(solver="reference", status="optimal", objective=float("nan"), x=sol, y=None, iterations=0,
                       seconds=0.0)


def format_pde_report(rep: dict[str, Any]) -> str:
    f = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    opts = ", ".join(f"{k}={v}" for k, v in rep["solver_options"].items())
    trained = (f" (trained on {rep['train_family']})" if rep.get("train_family", rep["family"]) != rep["family"]
               else "")
    lines = [f"family {rep['family']}{trained}  solver {rep['solver']} ({opts})  test {rep['n_test']}  k {rep['k']}"
             + (f"  anchor {rep['anchor']}" if rep.get("anchor") else ""),
             *([f"training {rep['interrupted']}"] if rep.get("interrupted") else []),
             *([dropped] if (dropped := dropped_line(rep, why="no reference solution"))
               else []),
             *([f"the automatic k's validation sweep was {rep['k_sweep_interrupted']}"]
               if rep.get("k_sweep_interrupted") else []),
             *([f"bench {rep['bench_interrupted']}: the figures are of those"] if rep.get("bench_interrupted") else []),
             f"{'start':<10}{'iterations (median)':>22}{'seconds (median)':>20}",
             f"{'cold':<10}{rep['cold']['iterations_median']:>22.1f}{rep['cold']['seconds_median']:>20.5f}",
             f"{'learned':<10}{rep['warm']['iterations_median']:>22.1f}{rep['warm']['seconds_median']:>20.5f}"
             f"   (+ inference {rep['warm']['inference_seconds_median']:.5f} s)",
             f"user's call (median s): cold {rep['cold']['total_seconds_median']:.5f} ("
             + (f"assembly {rep['cold']['assembly_seconds_median']:.5f} + solve" if rep["solver"] == "ksp"
                else "Newton, assembling as it goes")
             + f"), learned {rep['warm']['total_seconds_median']:.5f} (extraction "
             f"{rep['warm']['extraction_seconds_median']:.5f}" + (", assembly included" if rep["solver"] == "ksp" else "")
             + ", + inference + solve)",
             f"{'nearest':<10}{f(rep['nearest']['iterations_median'], '.1f'):>22}"
             f"{f(rep['nearest'].get('seconds_median'), '.5f'):>20}",
             f"{'oracle':<10}{rep['oracle']['iterations_median']:>22.1f}{rep['oracle']['seconds_median']:>20.5f}"
             "   (the instance's own solution, made at no cost)",
             f"iteration_ratio {rep['iteration_ratio']:.3f}  time_ratio {rep['time_ratio']:.3f}  "
             f"nearest_iteration_ratio {f(rep['nearest_iteration_ratio'], '.3f')}  same_answer {rep['same_answer']:.2f}",
             f"prediction relative L2 error (median) {f(rep['prediction_rel_l2_median'], '.3e')}; "
             f"converged cold {rep['cold_converged']}/{rep['n_test']}{_not_converged(rep, 'cold')}, "
             f"warm {rep['warm_converged']}/{rep['n_test']}{_not_converged(rep, 'warm')} "
             f"({rep['warm_converged_without_fallback']} without falling back to the cold guess)"
             + "".join(f", {s} {rep[f'{s}_converged']}/{rep['n_test']} from its start" for s in ("nearest", "oracle")
                       if rep.get(f"{s}_converged") is not None),
             f"time_ratio floor (the oracle's call against the cold call) {rep['oracle_time_ratio']:.3f}: "
             + (f"however good, a start pays only if making it (inference, and extraction beyond the assembly) costs "
                f"under {1e3 * budget:.2f} ms (median)" if (budget := rep['start_budget_seconds_median']) > 0 else
                "no start can pay in time here: from the instance's own solution, made at no cost, the call takes no "
                "less time than the cold one")]
    if (res := rep.get("start_residual_median")) is not None:
        energy = rep.get("start_energy_error_median")
        if rep["solver"] == "ksp":
            lines.append(f"the start as a Krylov solver sees it (medians): residual ||b - A x0|| / ||b|| {res:.3g} "
                         "(the zero guess's: 1; KSP's tolerance is relative to the right-hand side, not to the start)"
                         + (f", energy-norm error {energy:.3g} (what CG minimises)" if energy is not None else "")
                         + (": above 1, the start begins further off than zero, its error rough (high-frequency) "
                            "however small in L2" if res > 1 else ""))
        else:
            lines.append(f"the start as Newton sees it (median): residual ||F(x0)|| / ||F(cold guess)|| {res:.3g} "
                         "(SNES stops at rtol times the cold guess's)")
    if rep.get("n_failed"):
        lines.append(f"failed {rep['n_failed']} of {rep['n_test']} held-out instances (counted as "
                     "not the same answer; the figures above are of the others): "
                     + "; ".join(f"{f['name']}: {f['error']}" for f in rep["failed"][:3]))
    if "top_re_quartile" in rep:
        t = rep["top_re_quartile"]
        lines.append(f"top Reynolds quartile (Re >= {t['re_from']:.0f}, {t['n']} instances): converged cold "
                     f"{t['cold_converged']}, warm {t['warm_converged_without_fallback']}")
    if note := nearest_note(rep):
        lines.append(note)
    lines.append(verdict(iteration_ratio=rep["iteration_ratio"], time_ratio=rep["time_ratio"],
                         start_seconds=rep["warm"]["total_seconds_median"] - rep["warm"]["seconds_median"]
                         - rep["cold"].get("assembly_seconds_median", 0.0),  # the extraction's assembly: cold's too
                         saved_seconds=rep["cold"]["seconds_median"] - rep["warm"]["seconds_median"], k=rep["k"],
                         fixed_share=_fixed_share(rep), words=advice(rep),
                         differ=disagreement([(r["cold_status"], r["warm_status"]) for r in rep["rows"]
                                              if not r["same_answer"]], len(rep["rows"]))))
    return "\n".join(lines)


def _not_converged(rep: dict[str, Any], start: str) -> str:
    """' (the others: 2 DIVERGED_LINE_SEARCH, 1 DIVERGED_MAX_IT)': how the solves from ``start``
    that did not converge ended, by PETSc's reason ('' where all converged, or in a report
    written before rows kept the reason)."""
    ended = Counter(re.sub(r"^.*\((\w+)\)$", r"\1", r[f"{start}_reason"]) for r in rep["rows"]
                    if r.get(f"{start}_reason"))
    return f" (the others: {', '.join(f'{n} {why}' for why, n in ended.most_common())})" if ended else ""


def nearest_note(rep: dict[str, Any]) -> str | None:
    """A line when the nearest training solution, handed to the solver as it is, takes no more
    iterations than the learned start: there the anchor carries the start, not the network; or,
    with k = 0, that the start is the anchor (the report's ``anchor``)."""
    if rep.get("k") == 0:
        why = (": on the validation split the network's iterations did not pay for themselves "
               f"({advice(rep).network} shows the network's start)" if rep.get("k_automatic") else "")
        return f"k 0: no network is run; the learned start is {PDE_K0_STARTS[rep.get('anchor') or 'nearest']}{why}"
    near, it = rep.get("nearest_iteration_ratio"), rep["iteration_ratio"]
    if near is None or it >= 1.0 or near > it:
        return None
    t_near, t = rep.get("nearest_time_ratio"), rep["time_ratio"]
    time_too = "" if t_near is None else (f", in {'less' if t_near < t else 'no less'} time ({t_near:.2f}x the cold "
                                          f"call against the learned start's {t:.2f}x)")
    return (f"note: the nearest training solution alone does as well ({near:.2f}x the solver iterations against the "
            f"learned start's {it:.2f}x){time_too}: on this family it carries the start, and the network adds little")


def _fixed_share(rep: dict[str, Any]) -> float | None:
    """Median oracle solve / median cold solve (None in reports from before the oracle was timed)."""
    oracle = rep["oracle"].get("seconds_median")
    return None if oracle is None or rep["cold"]["seconds_median"] <= 0 else oracle / rep["cold"]["seconds_median"]


def write_pde_report(rep: dict[str, Any], path: str | Path) -> Path:
    from .qp import write_report

    return write_report(rep, path)


def run_pde_scaling(*, checkpoint: str, family: str, solver: str, ks: tuple[int, ...], n_test: int = 10, seed: int = 0,
                    device: str = "cpu", pc: str | None = None, ksp_type: str | None = None, rtol: float | None = None,
                    precision: str = "float32", scheduler: str = "serial", progress: bool = True) -> dict[str, Any]:
    """The `scaling` report for a PDE family: per k, the median relative L2 error of the start
    handed to the solver (the safeguard's least-merit iterate of the first k, see
    ``LearnedPDEStarter.guess``; ``raw_error_median``: the k-th iterate itself), the median
    KSP/Newton iterations and inference + solve seconds from it (fastest of three runs), and the
    empirical Lipschitz constant of (instance fields -> start) over nearest pairs."""
    from problems.registry import make_family

    check_seed(seed)
    fam = make_family(family)
    starter = LearnedPDEStarter.from_checkpoint(checkpoint, family=fam.family_key(), device=device,
                                                precision=precision)
    backend = family_backend(fam, solver, ksp_type=ksp_type, pc=pc, rtol=rtol)
    got = label_pde_drawn(fam, n_test, seed=seed + 1_000_003, scheduler=scheduler, progress=progress)
    insts, pdes, sols = got.insts, got.pdes, got.sols
    with contextlib.suppress(Exception):  # first calls pay one-off set-up costs; a failure is the loop's to record
        _timed_start(starter, fam, insts[0], backend, 1, repeats=1)
    # instances outer, k inner: drift of the machine's speed during the sweep hits every k alike
    ks = tuple(sorted(ks))
    acc = {k: {"errs": [], "raw": [], "iters": [], "totals": [], "preds": [], "converged": []} for k in ks}
    done, failed = [], []
    with stop_on_ctrl_c(len(insts), lambda: len(done) + len(failed)) as stopped:
        for inst, pde, sol in tqdm(list(zip(insts, pdes, sols)), desc=f"scaling: {len(ks)} ks per instance",
                                   disable=not progress):
            got = {}
            try:
                residual = _residual(fam, inst)
                for k in ks:
                    raw, _ = starter.guess(pde, k=k, safeguard=False)
                    g, res, total = _timed_start(starter, fam, inst, backend, k, residual=residual)
                    g = g if g is not None else np.zeros(pde.n)
                    got[k] = {"raw": float(relative_errors([raw], [sol])[0]) if raw is not None else math.nan,
                              "preds": g / starter.norm.u_scale / np.sqrt(pde.n),  # on the scale of the distances
                              "errs": float(relative_errors([g], [sol])[0]), "iters": res.iterations,
                              "totals": total, "converged": reached_optimum(res)}
            except Exception as exc:  # one bad instance must not lose the others
                failed.append(failed_row(inst.name, exc))
                continue
            with held_interrupts():  # an instance counts whole or not at all (Ctrl-C)
                for k, values in got.items():
                    for key, v in values.items():
                        acc[k][key].append(v)
                done.append((pde, sol))
    if not done:
        raise RuntimeError(f"scaling: no held-out instance ran; the first failed with {failed[0]['error']}"
                           if failed else "scaling: stopped before any held-out instance ran")
    pdes, sols = [p for p, _ in done], [s for _, s in done]
    # instance distances as the anchor lookup measures them
    dist, partner = nearest_pairs(np.stack([MeshAnchorBank.vector(p, starter.norm) for p in pdes]).astype(float))
    rows = sweep_rows(acc, dist, partner)
    exact = [s / starter.norm.u_scale / np.sqrt(p.n) for s, p in zip(sols, pdes)]  # on the scale of "preds"
    return {"family": fam.spec(), "solver": solver, "tolerance": backend.rtol, "checkpoint": checkpoint,
            **({"atol": backend.atol} if backend.atol else {}),
            "n_test": len(pdes), "rows": rows,
            "lipschitz_solutions": lipschitz_estimate(exact, dist, partner),
            "training_memory": [], **auto_k_summary(starter.k, rows),
            **({"failed": failed} if failed else {}),
            **({"interrupted": stopped[0]} if stopped else {})}
