"""Train and evaluate a learned warm start from Python on instances already in hand: cvxpy
problems, pyscipopt models, MPS/LP/QPS/``.mat`` files or ``QPData``. ``train`` is the pipeline of
``learned-solvers train`` (label with the reference solver, train, choose k and the polish on a
validation split), ``evaluate`` that of ``learned-solvers bench`` on held-out instances (cold,
learned, nearest training solution, the instance's own optimum), without a family module to
write::

    from learned_solvers import evaluate, train, LearnedOSQP
    starter = train(last_months_problems, solver="osqp", out="ck.safetensors")
    report = evaluate(starter, this_weeks_problems)      # bench's report: iteration_ratio, time_ratio, ...
    prob.solve(solver=LearnedOSQP(starter))
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .backends import BACKENDS
from .canonical import InvalidProblemError, QPData
from .warmstart import LearnedWarmStarter

__all__ = ["train", "evaluate", "as_qp", "TrainingWarning"]

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
          tol: float | None = None, scheduler: str = "local", workers: int | None = None,
          out: str | os.PathLike[str] | None = None, progress: bool = True) -> LearnedWarmStarter:
    """Train a warm starter for ``solver`` on ``instances`` (at least 2; see ``as_qp``).

    Each instance is solved by the reference solver (HiGHS for LPs, Clarabel for QPs: on a
    local Dask cluster by default, ``scheduler="serial"`` in this process, or a scheduler's
    address); those it does not find optimal are dropped with a warning. The model then trains
    (``config``: a ``training.train.TrainConfig``, default that of ``learned-solvers train``:
    40 epochs, width 64, the CPU), and its k and polish are chosen on a tenth held out, timed
    with ``solver`` ('pdlp', 'osqp', 'scs' or 'highs', at ``tol`` or its default tolerance).

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
    from .bench.qp import bench_backend, train_starter
    from .bench.timing import Outcome, outcome, validation_verdict
    from .training.data import label_and_drop
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
    backend = bench_backend(solver, tol=tol)  # a tolerance out of range is refused before any work
    qps = _read_all(instances, backend)
    if len(qps) < 2:
        raise ValueError(f"train needs at least 2 instances (it holds a tenth out to choose k), got {len(qps)}")
    data, dropped = label_and_drop(qps, scheduler=scheduler, workers=workers, progress=progress,
                                   hint="their positions are in the starter's meta['dropped']")
    if len(data) < 2:
        raise ValueError(f"only {len(data)} of the {len(qps)} instances were solved to optimality by the reference "
                         "solver (the warnings above say why): nothing to train on")
    starter, info = train_starter(family, data, config=cfg, progress=progress, backend=backend)
    starter.meta.update({key: info[key] for key in ("val_error", "train_seconds", "interrupted") if key in info},
                        n_drawn=len(qps), dropped=dropped)
    if out is not None:
        starter.save(out, solver=solver, **info)  # with the meta above: n_drawn, dropped
    chosen = next((r for r in info.get("k_sweep", [])
                   if r["k"] == info.get("best_k") and r["polish"] == info.get("best_polish")), None)
    if chosen is not None and "time_ratio" in chosen and outcome(
            iteration_ratio=chosen["iteration_ratio"], time_ratio=chosen["time_ratio"]) is not Outcome.PAYS:
        warnings.warn(f"family {family!r}: {validation_verdict(chosen, more='pass more instances to train')}",
                      TrainingWarning, stacklevel=2)
    return starter


def evaluate(starter: LearnedWarmStarter | str | os.PathLike[str], instances: Iterable[Any], *,
             solver: str | None = None, tol: float | None = None, pinned: bool = False, scheduler: str = "local",
             workers: int | None = None, out: str | os.PathLike[str] | None = None, progress: bool = True
             ) -> dict[str, Any]:
    """``learned-solvers bench`` on held-out instances in hand (see ``as_qp``): each is solved
    cold, from the learned start (inference timed one instance at a time), from the nearest
    training instance's solution (the baseline) and from its own optimum (the limit), and the
    report has bench's keys (``iteration_ratio``, ``time_ratio``, ``nearest_iteration_ratio``,
    ``same_answer``, ... and ``instances``, one row each).

    starter: a ``LearnedWarmStarter`` or a checkpoint's path; its anchor bank holds the training
    solutions the baseline searches. solver: default the one it was trained for; tol, pinned:
    that solver's (``pinned``: OSQP's or SCS's fixed settings). out: also write the JSON report there
    (``learned-solvers plot`` draws it). ``learned_solvers.bench.qp.format_report(report)`` is
    bench's table. Instances no reference solver finds optimal are dropped with a warning.
    """
    import time

    from .bench.qp import bench_backend, bench_report, bench_rows, write_report
    from .training.data import label_and_drop
    from .warmstart import starter_from

    if out is not None and Path(out).suffix != ".json":
        raise ValueError(f"out={str(out)!r}: the report is a .json file")
    st = starter_from(starter)  # a path: its checkpoint, refused here if it is not an LP/QP one
    name = solver or st.meta.get("solver") or "pdlp"
    if name not in BACKENDS:
        raise ValueError(f"solver must be one of {', '.join(BACKENDS)}, got {name!r}")
    backend = bench_backend(name, tol=tol, pinned=pinned)
    if st.anchors is None:
        raise ValueError(f"this starter (family {st.family!r}) holds no training solutions (it was trained with no "
                         "anchor), and the nearest-instance baseline searches them: bench it on its family with "
                         "`learned-solvers bench --family F --checkpoint C` instead")
    qps = _read_all(instances, backend)
    if not qps:
        raise ValueError("evaluate needs at least 1 instance")
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
               dropped_instances=dropped)
    if stopped:
        rep["bench_interrupted"] = stopped[0]
    if out is not None:
        write_report(rep, out)
    return rep


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
