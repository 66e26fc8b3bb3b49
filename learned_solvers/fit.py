"""Train and evaluate a learned warm start from Python. LP/QP: on instances already in hand
(cvxpy problems, pyscipopt models, MPS/LP/QPS/``.mat`` files or ``QPData``). ``train`` is the
pipeline of ``learned-solvers train`` (label with the reference solver, train, choose k and the
polish on a validation split), ``evaluate`` that of ``learned-solvers bench`` on held-out
instances (cold, learned, nearest training solution, the instance's own optimum), without a
family module to write::

    from learned_solvers import evaluate, train, LearnedOSQP
    starter = train(last_months_problems, solver="osqp", out="ck.safetensors")
    report = evaluate(starter, this_weeks_problems)      # bench's report: iteration_ratio, time_ratio, ...
    prob.solve(solver=LearnedOSQP(starter))

PDE: a dolfinx problem is one live object whose parameters change, so ``train_pde`` and
``evaluate_pde`` take the family that draws them: a built-in family's spec, or the user's own
function that returns a ``problems.dolfinx_family.UserPDE`` (defined in a notebook is fine)::

    starter = train_pde(build, n_train=100, out="mine.safetensors")
    report = evaluate_pde(starter, build, n_test=20)
    result = starter.solve(problem, fields={"k": k})     # instead of problem.solve()
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import BACKENDS
from .canonical import InvalidProblemError, QPData
from .warmstart import LearnedWarmStarter

if TYPE_CHECKING:
    from .training.train_pde import PDETrainConfig
    from .warmstart_pde import LearnedPDEStarter

__all__ = ["train", "evaluate", "train_pde", "evaluate_pde", "as_qp", "TrainingWarning"]


class TrainingWarning(RuntimeWarning):
    """On the validation split the trained start does not pay against a cold solve (it cuts
    no iterations, or no time): the checkpoint is still written, and the solver still has the
    last word, but solving cold may be the better choice for this family."""


def as_qp(instance: Any) -> QPData:
    """One instance in the canonical form the model reads: a ``QPData`` as it is, a
    ``cvxpy.Problem`` compiled as the cvxpy plugins compile it, a ``pyscipopt.Model`` read as
    ``scip_plugin.optimize`` reads it, or the path of an MPS/LP/QPS/``.mat`` file (the solvers'
    own readers)."""
    if isinstance(instance, QPData):
        return instance
    if isinstance(instance, (str, os.PathLike)):
        from .formats.mps import read_problem

        return read_problem(instance)
    module = type(instance).__module__.partition(".")[0]
    if module == "cvxpy":
        from .formats.cvxpy import from_cvxpy

        qp = from_cvxpy(instance)[0]
    elif module == "pyscipopt":
        from .formats.scip import from_scip

        qp = from_scip(instance)
    else:
        raise TypeError(f"expected a cvxpy.Problem, a pyscipopt.Model, a QPData or the path of an MPS/LP/QPS/.mat "
                        f"file, got {type(instance).__name__}")
    return qp


def train(instances: Iterable[Any], *, solver: str, family: str = "instances", config: Any = None,
          tol: float | None = None, time_limit: float | None = None, scheduler: str = "local",
          workers: int | None = None,
          out: str | os.PathLike[str] | None = None, progress: bool = True) -> LearnedWarmStarter:
    """Train a warm starter for ``solver`` on ``instances`` (at least 2; see ``as_qp``).

    Each instance is solved by the reference solver (HiGHS for LPs, Clarabel for QPs: on a
    local Dask cluster by default, ``scheduler="serial"`` in this process, or a scheduler's
    address); those it does not find optimal are dropped with a warning. The model then trains
    (``config``: a ``training.train.TrainConfig``, default that of ``learned-solvers train``:
    40 epochs, width 64, the CPU), and its k and polish are chosen on a tenth held out, timed
    with ``solver`` ('pdlp', 'osqp', 'scs' or 'highs', at ``tol`` or its default tolerance, each
    solve within ``time_limit`` seconds or the backend's own limit).

    family: the name the starter and its checkpoint record, which ``from_checkpoint(family=...)``
    checks. out: also save the checkpoint there (``learned-solvers info`` reads it). Returns the
    starter, for ``LearnedOSQP(starter)``, ``LearnedSolver(starter, solver=...)``,
    ``scip_plugin.optimize(model, starter)`` or ``starter.solve(qp, solver)``; its ``meta``
    holds the validation figures (``val_error``, ``k_sweep``, ``best_k``) and ``dropped``, the
    positions of the instances not solved to optimality. A ``TrainingWarning`` says where the
    start did not pay on the validation split.

    cvxpy's idiom of one problem over ``cp.Parameter``s compiles at the values it has when
    ``train`` reads it: pass ``as_qp(problem)`` taken after each change of the values.
    """
    _one_process("train")
    from .bench.qp import bench_backend, train_starter
    from .bench.timing import PYTHON_ADVICE, Outcome, outcome, validation_verdict
    from .training.data import IN_TRAINING, check_distinct, label_and_drop
    from .training.train import TrainConfig

    if not isinstance(family, str) or not family.strip():
        raise ValueError(f"family must be a non-empty name, got {family!r}")
    if solver not in BACKENDS:
        raise ValueError(f"solver must be one of {', '.join(BACKENDS)}, got {solver!r}")
    cfg = TrainConfig(epochs=40) if config is None else config
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a learned_solvers.training.train.TrainConfig, got {type(cfg).__name__}")
    if out is not None and Path(out).suffix != ".safetensors":
        raise ValueError(f"out={str(out)!r}: a checkpoint is a .safetensors file (weights and JSON metadata)")
    # a tolerance or limit out of range, or a limit SCS does not take, is refused before any work
    backend = bench_backend(solver, tol=tol, time_limit=time_limit)
    qps = _read_all(instances, backend)
    if len(qps) < 2:
        raise ValueError(f"train needs at least 2 instances (it holds a tenth out to choose k), got {len(qps)}")
    check_distinct(qps, what="instances", consequence=IN_TRAINING)
    data, dropped = label_and_drop(qps, scheduler=scheduler, workers=workers, progress=progress,
                                   hint="their positions are in the starter's meta['dropped']")
    if len(data) < 2:
        raise ValueError(f"only {len(data)} of the {len(qps)} instances were solved to optimality by the reference "
                         "solver (the warnings above say why): nothing to train on")
    starter, info = train_starter(family, data, config=cfg, progress=progress, backend=backend,
                                  repeats_checked=True)
    starter.meta.update({key: info[key] for key in ("val_error", "train_seconds", "interrupted") if key in info},
                        n_drawn=len(qps), dropped=dropped)
    if out is not None:
        starter.save(out, solver=solver, **info)  # with the meta above: n_drawn, dropped
    chosen = next((r for r in info.get("k_sweep", [])
                   if r["k"] == info.get("best_k") and r["polish"] == info.get("best_polish")), None)
    if chosen is not None and "time_ratio" in chosen and outcome(
            iteration_ratio=chosen["iteration_ratio"], time_ratio=chosen["time_ratio"]) is not Outcome.PAYS:
        warnings.warn(f"family {family!r}: {validation_verdict(chosen, more=PYTHON_ADVICE.more)}",
                      TrainingWarning, stacklevel=2)
    return starter


def evaluate(starter: LearnedWarmStarter | str | os.PathLike[str], instances: Iterable[Any], *,
             solver: str | None = None, k: int | None = None, tol: float | None = None, pinned: bool = False,
             time_limit: float | None = None, scheduler: str = "local", workers: int | None = None,
             out: str | os.PathLike[str] | None = None, progress: bool = True) -> dict[str, Any]:
    """``learned-solvers bench`` on held-out instances in hand (see ``as_qp``): each is solved
    cold, from the learned start (inference timed one instance at a time), from the nearest
    training instance's solution (the baseline) and from its own optimum (the limit), and the
    report has bench's keys (``iteration_ratio``, ``time_ratio``, ``nearest_iteration_ratio``,
    ``same_answer``, ... and ``instances``, one row each).

    starter: a ``LearnedWarmStarter`` or a checkpoint's path; its anchor bank holds the training
    solutions the baseline searches. solver: default the one it was trained for; k: the model
    iterations (``bench --k``; default the starter's own, which is left as it is); tol, pinned,
    time_limit: that solver's (``pinned``: OSQP's or SCS's fixed settings; ``time_limit``: seconds
    per solve, as ``bench --time-limit``). out: also write the JSON report there
    (``learned-solvers plot`` draws it). ``learned_solvers.bench.qp.format_report(report)`` is
    bench's table. Instances no reference solver finds optimal are dropped with a warning.
    """
    _one_process("evaluate")
    import time

    from .bench.qp import bench_backend, bench_report, bench_rows, in_training_text, write_report
    from .options import check_k
    from .training.data import IN_HELD_OUT, check_distinct, label_and_drop
    from .warmstart import starter_from

    if out is not None and Path(out).suffix != ".json":
        raise ValueError(f"out={str(out)!r}: the report is a .json file")
    check_k(k, allow_zero=True)
    # a path: its checkpoint, refused here if it is not an LP/QP one; a starter is copied for k
    # (the caller's keeps its own)
    st = starter_from(starter, k=k)
    name = solver or st.meta.get("solver") or "pdlp"
    if name not in BACKENDS:
        raise ValueError(f"solver must be one of {', '.join(BACKENDS)}, got {name!r}")
    backend = bench_backend(name, tol=tol, pinned=pinned, time_limit=time_limit)
    if st.anchors is None:
        raise ValueError(f"this starter (family {st.family!r}) holds no training solutions (it was trained with no "
                         "anchor), and the nearest-instance baseline searches them: bench it on its family with "
                         "`learned-solvers bench --family F --checkpoint C` instead")
    qps = _read_all(instances, backend)
    if not qps:
        raise ValueError("evaluate needs at least 1 instance")
    check_distinct(qps, what="instances", refuse=False, consequence=IN_HELD_OUT)
    if seen := [i for i, qp in enumerate(qps) if st.anchors.holds(qp)]:
        warnings.warn(f"{in_training_text(seen, len(qps))}: evaluate the starter on instances it was not trained on",
                      RuntimeWarning, stacklevel=2)
    t0 = time.perf_counter()
    test, dropped = label_and_drop(qps, scheduler=scheduler, workers=workers, progress=progress,
                                   hint="their positions are in the report's 'dropped_instances'")
    label_seconds = time.perf_counter() - t0
    if not test:
        raise ValueError(f"none of the {len(qps)} instances was solved to optimality by the reference solver (the "
                         "warning above says why): nothing to compare on")
    rows, stopped = bench_rows(test, st.anchors, st, backend, progress=progress)
    ran_ks = {r["k"] for r in rows if "error" not in r}
    k = ran_ks.pop() if len(ran_ks) == 1 else (st.k if st.k is not None else st.default_k)
    chosen = "best_polish" in st.meta and st.polish == st.meta["best_polish"]  # the checkpoint's own choice
    rep = bench_report(st.family, rows, k, int(st.meta.get("n_train", 0)), label_seconds, {}, backend, st.polish,
                       chosen, solver=name, pinned=pinned, seed=None)
    rep.update(train_family=st.family, k_automatic=st.k is None, anchor=st.anchors.kind,
               dropped={"train": 0, "test": len(qps) - len(test), "train_drawn": 0, "test_drawn": len(qps),
                        "refilled": False},
               dropped_instances=dropped, api="python",  # format_report's advice in this call's terms
               in_training=seen)
    if stopped:
        rep["bench_interrupted"] = stopped[0]
    if out is not None:
        write_report(rep, out)
    return rep


def _one_process(what: str) -> None:
    """Refuse the call under mpirun or torchrun, before any work: each rank would run it whole
    (label, train, write the same files), and the Dask workers of an MPI rank die at start, as the
    command line's do (which it refuses the same way)."""
    from ._mpi import launched_ranks, torchrun_ranks

    if (world := torchrun_ranks()) > 1:
        raise RuntimeError(f"{what} runs as one process, not under torchrun (WORLD_SIZE={world}): each rank would "
                           "train the whole model and write the same files; data-parallel training is the command "
                           "line's: torchrun --nproc_per_node N -m learned_solvers.cli train --family F ...")
    if (ranks := launched_ranks()) > 1:
        raise RuntimeError(f"{what} runs as one process, not under mpirun ({ranks} ranks): run it once (a notebook, "
                           "`python script.py`), then call the starter from your own script under mpirun, where "
                           "a dolfinx mesh spread over the ranks is gathered to rank 0 for the model (docs/pde.md, "
                           "'MPI'); for more labelling workers pass scheduler= a Dask scheduler's address")


def _read_all(instances: Iterable[Any], backend: Any) -> list[QPData]:
    """The instances in canonical form, each checked against ``backend`` (a MIP for a continuous
    solver, a non-diagonal P for PDLP), refused by position before any work."""
    if isinstance(instances, (str, os.PathLike, QPData)) or not isinstance(instances, Iterable):
        raise TypeError("instances must be a list (or another iterable) of instances, not one instance")
    qps = []
    for i, inst in enumerate(instances):
        try:
            qp = as_qp(inst)
        except (InvalidProblemError, TypeError) as exc:
            raise type(exc)(f"instance {i}: {exc}") from exc
        if qp.name.startswith("cvxpy:"):  # named by the object's id: its position says more in a warning
            qp = dataclasses.replace(qp, name=f"instance {i}")
        backend.check(qp)
        qps.append(qp)
    return qps


def train_pde(family: str | Callable[[], Any], *, solver: str | None = None, n_train: int = 100, seed: int = 0,
              config: PDETrainConfig | None = None, ksp_type: str | None = None, pc: str | None = None,
              rtol: float | None = None, scheduler: str | None = None, out: str | os.PathLike[str] | None = None,
              progress: bool = True) -> LearnedPDEStarter:
    """Train a learned initial guess for a dolfinx family: ``learned-solvers train --family F``
    from Python. Returns a ``LearnedPDEStarter`` (``starter.solve(problem, fields=...)``).

    family: a PDE family's spec ('darcy:n=32', 'nonlinear-poisson', 'dolfinx:MODULE:FUNCTION'), or
    the user's own function of no arguments that returns a ``problems.dolfinx_family.UserPDE``
    (the problem, the fields the model sees, the parameters to draw with their ranges, and
    ``apply(params)``), or ``functools.partial(build, n=32)`` for its keywords (its spec
    'dolfinx:MODULE:build:n=32'). ``n_train`` draws (seeded by ``seed``) are solved tightly for labels,
    those without a solution replaced by further draws; the mesh model then trains (``config``: a
    ``training.train_pde.PDETrainConfig``, default that of the command line: 40 epochs, width 32,
    the CPU), and its k is chosen on a tenth held out, timed with ``solver`` ('ksp' for a linear
    problem, 'snes' for a nonlinear one: the default) with the problem's own KSP/SNES settings
    on a user's family, CG + GAMG to 1e-8 on a built-in one, unless ``ksp_type``, ``pc`` or
    ``rtol`` say otherwise.

    scheduler: where the labels are solved: 'serial' (this process), 'local' (a local Dask
    cluster) or a scheduler's address; None: 'local' for a spec or a function a worker can
    import from its module, 'serial' for one defined in a notebook or a script's ``__main__``,
    which no other process can import. out: also save the checkpoint there. The starter's
    ``meta`` holds the validation figures (``val_error``, ``k_sweep``, ``n_train``); a
    ``TrainingWarning`` says where the start did not pay on the validation split.
    """
    _one_process("train_pde")
    from ._fenicsx import require

    require("train_pde")
    from .bench.pde import PDEBenchConfig, family_backend, train_pde_starter
    from .bench.timing import Outcome, outcome, validation_verdict
    from .training.train_pde import PDETrainConfig

    cfg_t = PDETrainConfig(seed=seed) if config is None else config
    if not isinstance(cfg_t, PDETrainConfig):
        raise TypeError(f"config must be a learned_solvers.training.train_pde.PDETrainConfig, got "
                        f"{type(cfg_t).__name__}")
    if out is not None and Path(out).suffix != ".safetensors":
        raise ValueError(f"out={str(out)!r}: a checkpoint is a .safetensors file (weights and JSON metadata)")
    if not isinstance(n_train, int) or n_train < 2:
        raise ValueError(f"train_pde needs n_train >= 2 (it holds a tenth out to choose k), got {n_train!r}")
    fam, scheduler = _pde_family(family, scheduler)
    solver = _pde_solver(fam, solver)
    cfg = PDEBenchConfig(family=fam.spec(), solver=solver, n_train=n_train, seed=seed, device=cfg_t.device,
                         ksp_type=ksp_type, pc=pc, rtol=rtol, scheduler=scheduler,
                         save_checkpoint=None if out is None else str(out))
    backend = family_backend(fam, solver, ksp_type=ksp_type, pc=pc, rtol=rtol)  # a wrong solver: refused here
    starter, *_ = train_pde_starter(fam, cfg, backend, progress=progress, train_config=cfg_t)
    row = next((r for r in starter.meta.get("k_sweep", []) if r["k"] == starter.k), None)
    if row is not None and "time_ratio" in row and outcome(
            iteration_ratio=row["iteration_ratio"], time_ratio=row["time_ratio"]) is not Outcome.PAYS:
        warnings.warn(f"family {fam.spec()!r}: {validation_verdict(row, more='train on more draws (n_train)')}",
                      TrainingWarning, stacklevel=2)
    return starter


def evaluate_pde(starter: LearnedPDEStarter | str | os.PathLike[str], family: str | Callable[[], Any], *,
                 n_test: int = 20, seed: int = 0,
                 solver: str | None = None, k: int | None = None, ksp_type: str | None = None,
                 pc: str | None = None, rtol: float | None = None, scheduler: str | None = None,
                 out: str | os.PathLike[str] | None = None, progress: bool = True) -> dict[str, Any]:
    """``learned-solvers bench --checkpoint C`` from Python: ``n_test`` held-out draws of
    ``family`` (the seeds ``bench --seed seed`` holds out, apart from the training ones) solved
    cold, from the learned start (extraction and inference timed), from the nearest training
    solution and from their own solution; the report has bench's keys (``iteration_ratio``,
    ``time_ratio``, ``prediction_rel_l2_median``, ``same_answer``, ``rows``, ...).

    starter: a ``LearnedPDEStarter`` or a checkpoint's path, trained on ``family`` (another is
    refused). family, scheduler: as ``train_pde``'s; a finer mesh of the family is its spec
    ('darcy:n=128') or its builder's keyword (``functools.partial(build, n=128)``). solver:
    default the one it was trained for; k: default the starter's own.
    out: also write the JSON report there. ``bench.pde.format_pde_report(report)`` is bench's table.
    """
    _one_process("evaluate_pde")
    from ._fenicsx import require

    require("evaluate_pde")
    from .bench.pde import PDEBenchConfig, run_pde_bench, write_pde_report
    from .warmstart_pde import LearnedPDEStarter

    if out is not None and Path(out).suffix != ".json":
        raise ValueError(f"out={str(out)!r}: the report is a .json file")
    if not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"evaluate_pde needs n_test >= 1, got {n_test!r}")
    fam, scheduler = _pde_family(family, scheduler)
    path = None if isinstance(starter, LearnedPDEStarter) else starter
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"starter must be a LearnedPDEStarter or a checkpoint's path, got {type(starter).__name__}")
    st = starter if path is None else LearnedPDEStarter.from_checkpoint(path, family=fam.family_key())
    solver = _pde_solver(fam, solver or st.meta.get("solver"))
    cfg = PDEBenchConfig(family=fam.spec(), solver=solver, n_train=None, n_test=n_test, k=k, seed=seed,
                         device=st.device, ksp_type=ksp_type, pc=pc, rtol=rtol, scheduler=scheduler,
                         precision=st.precision, checkpoint=None if path is None else str(path))
    rep = run_pde_bench(cfg, progress=progress, fam=fam, starter=st)
    rep.update(n_train=st.meta.get("n_train"), api="python")  # format_pde_report's advice in this call's terms
    if out is not None:
        write_pde_report(rep, out)
    return rep


def _pde_solver(fam: Any, solver: str | None) -> str:
    """``solver``, or where None the one for the family's problem: 'ksp' (linear) or 'snes' (nonlinear)."""
    own = {"linear": "ksp", "nonlinear": "snes"}[fam.kind]
    if solver not in (None, own):
        raise ValueError(f"{fam.spec()} is a {fam.kind} problem, solved by solver={own!r} ({own.upper()}), "
                         f"not {solver!r}")
    return own


def _pde_family(family: str | Callable[[], Any], scheduler: str | None) -> tuple[Any, str]:
    """(the family object, the labelling scheduler) for ``train_pde``'s ``family``: a spec is
    made by the registry; a function importable from its module becomes its ``dolfinx:`` spec, so
    Dask workers rebuild it as they rebuild any family, and ``functools.partial(build, n=128)``
    its ``dolfinx:MODULE:build:n=128`` (the same family on another mesh); one defined in
    ``__main__`` (a notebook, a script) stays an object, labelled in this process."""
    from problems.dolfinx_family import DolfinxFamily
    from problems.registry import is_pde_family, make_family
    from problems.user_code import builder_keywords, keywords_text

    if isinstance(family, str):
        if not is_pde_family(family):
            raise ValueError(f"{family!r} is not a PDE family (darcy, nonlinear-poisson, navier-stokes, "
                             "dolfinx:MODULE:FUNCTION); LP/QP instances train with learned_solvers.train")
        return make_family(family), scheduler or "local"
    if not callable(family):
        raise TypeError(f"family must be a PDE family's spec (e.g. 'darcy:n=32') or a function of no arguments that "
                        f"returns a problems.dolfinx_family.UserPDE, got {type(family).__name__}")
    keywords: dict[str, Any] = {}
    if isinstance(family, functools.partial) and not family.args:  # the builder on another mesh: partial(build, n=128)
        family, keywords = family.func, dict(family.keywords)
    module, name = getattr(family, "__module__", None) or "__main__", getattr(family, "__qualname__", "function")
    fam = DolfinxFamily(build=family, name=f"dolfinx:{module}:{name}", keywords=keywords)
    try:  # keywords a spec writes and reads back as they are
        written = builder_keywords(fam.name, family, keywords_text(keywords)) == keywords
    except ValueError:
        written = False
    importable = module != "__main__" and name.isidentifier() and getattr(sys.modules.get(module), name, None) is family
    if importable and written:
        return make_family(fam.spec()), scheduler or "local"  # what a Dask worker rebuilds from the spec
    if scheduler not in (None, "serial") and importable:
        raise ValueError(f"{name}'s keywords {keywords} do not read back from a spec (numbers, true/false, plain "
                         "words), which is how Dask's worker processes rebuild a family: label in this process "
                         "(scheduler='serial', the default for it), or give keywords a spec can write")
    if scheduler not in (None, "serial"):
        raise ValueError(f"{name} is defined in {module} (a notebook, a script or another function), which Dask's "
                         "worker processes cannot import: label in this process (scheduler='serial', the default "
                         "for it), or define it at the top of a module and pass it or 'dolfinx:MODULE:FUNCTION'")
    return fam, "serial"
