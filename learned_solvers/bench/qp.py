"""`learned-solvers bench` for LP/QP families.

On ``n_test`` held-out instances, every start is handed to the same backend:
  cold     - the solver's own start;
  warm     - the learned start (inference timed one instance at a time, polish included);
  nearest  - the optimum of the nearest training instance (by normalised data distance);
  nearest_polished - the same start through the same active-set polish (to show what the
             polish alone buys);
  oracle   - the instance's own optimum (the limit).
Seconds of cold, warm and nearest_polished: the fastest of three runs each (inference and
polish included), so that the machine's noise hits neither side of a time ratio more.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from problems.registry import (drawer, dropped_hint, family_key, family_names, is_pde_family, make_family,
                               refills)

from .._files import write_json
from .._interrupt import held_interrupts
from .._provenance import stamped
from .._progress import tqdm
from ..backends import WarmStart, make_backend
from ..canonical import QPData, kkt_residuals
from ..canonical.polish import active_set_distance, optimal_active_set, polish, predicted_active_set
from ..models.anchors import AnchorBank
from ..options import check_counts, check_device, check_k, check_seed, check_threads
from ..training.data import IN_HELD_OUT, IN_TRAINING, Drawn, Labelled, check_distinct, label_drawn
from ..training.train import TrainConfig, train_qp_model
from ..warmstart import LearnedWarmStarter, names_by_size, warm_solve
from .plots import missing
from .timing import (TIMING_REPEATS, advice, cut_short, disagreement, dropped_line, failed_row, fastest,
                     parsimonious_start, reached_optimum, short_starts, stop_on_ctrl_c, sweep_cut_short, sweep_skipped,
                     verdict, warn_cold_cut_short)

__all__ = ["BenchConfig", "run_bench", "bench_rows", "bench_report", "format_report", "write_report",
           "train_starter", "choose_polish_first", "in_training_text"]

STARTS = ("cold", "warm", "nearest", "nearest_polished", "oracle")


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    family: str
    solver: str = "pdlp"
    n_train: int = 200
    n_test: int = 30
    k: int | None = None
    checkpoint: str | None = None
    seed: int = 0
    tol: float | None = None
    pinned: bool = False
    time_limit: float | None = None  # the solver's seconds per solve (None: the backend's own)
    perturb: float | None = None
    epochs: int = 40
    width: int = 64
    device: str = "cpu"
    scheduler: str = "local"
    polish: bool | None = None  # None: chosen with the automatic k (or the checkpoint's choice)
    progress: bool = True
    save_checkpoint: str | None = None
    train_k: int | None = None  # training iterations (None: TrainConfig's)
    jacobian_weight: float | None = None  # Jacobian penalty in training (None: TrainConfig's)
    anchor: str | None = None  # what the model corrects, "linear" or "nearest" (None: TrainConfig's)
    # the held-out instances' family: another size of the training family (the model is size-agnostic)
    test_family: str | None = None
    threads: int | None = None  # torch's CPU threads for inference (None: the starters' rule by graph size)

    def __post_init__(self) -> None:
        check_k(self.k, allow_zero=True)
        check_device(self.device)
        check_seed(self.seed)
        check_threads(self.threads)
        check_counts(n_test=self.n_test, n_train=self.n_train)
        if self.polish is not None and not isinstance(self.polish, bool):
            raise TypeError(f"polish must be True, False or None (chosen with the automatic k), got {self.polish!r}")
        if self.train_k is not None and self.train_k < 1:
            raise ValueError(f"train_k must be at least 1, got {self.train_k}")
        # the nearest-neighbour baseline needs training solutions even with a checkpoint
        if self.n_test < 1 or self.n_train < (1 if self.checkpoint else 2):
            raise ValueError(f"bench needs --test >= 1 and --train >= {1 if self.checkpoint else 2} "
                             f"(got {self.n_test} and {self.n_train})")


AUTO_KS = (1, 2, 4, 8, 16, 32)


def timed_warm_solve(starter: LearnedWarmStarter, qp, backend, k: int, *, repeats: int = TIMING_REPEATS):
    """(warm start, result, inference + solve seconds), the fastest of ``repeats`` runs."""
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ws, info = starter.warm_start(qp, k=k)
            res = warm_solve(backend, qp, ws)  # as the product solves: a limit or an error retried cold
        return (ws, res), info.inference_seconds + res.seconds

    (ws, res), total = fastest(run, repeats)
    return ws, res, total


def timed_cold_solve(qp, backend, *, repeats: int = TIMING_REPEATS):
    """The cold solve's result, the fastest of ``repeats`` runs."""
    def run():
        res = backend.solve(qp)
        return res, res.seconds

    return fastest(run, repeats)[0]


def choose_start(starter: LearnedWarmStarter, val: list[Labelled], backend, *, ks: tuple[int, ...] = AUTO_KS,
                 polishes: tuple[bool, ...] = (True, False), progress: bool = False
                 ) -> tuple[int, bool, list[dict[str, Any]], str | None]:
    """The (k, polish) that minimises the median (inference + warm solve) seconds on ``val``
    (``timing.parsimonious_start``: the polish solves a KKT system per instance, and on large
    instances can cost more than the iterations it saves). With an anchor bank, k = 0 (no
    network: the anchor, polished) is weighed too, and taken where the network
    does not pay for itself. Returns (k, polish, one row per (polish, k)); each row also holds the medians
    over ``val`` of the per-instance ratios to a cold solve (``time_ratio``, inference included,
    and ``iteration_ratio``), as ``bench`` reports them. A Ctrl-C or SIGTERM cuts the sweep short:
    the choice is made on the instances finished (with none, the starter's own k and polish, and
    no rows), and the last item says how it stopped (None: it ran to the end), so that the trained
    model is still saved."""
    settings = [(p, k) for p in polishes for k in ks if k >= 1]
    if starter.anchors is not None and True in polishes:  # unpolished, k = 0 is the baseline (parsimonious_start)
        settings.insert(0, (True, 0))
    before = starter.polish
    # instances outer, (polish, k) inner: drift of the machine's speed hits every setting alike
    totals: dict[tuple[bool, int], list[float]] = {s: [] for s in settings}
    iters: dict[tuple[bool, int], list[float]] = {s: [] for s in settings}
    cold: list[Any] = []
    desc = f"choosing k and polish ({len(settings)} settings per instance)"
    try:
        with cut_short(len(val), lambda: len(cold)) as stopped, tqdm(val, desc=desc, disable=not progress) as bar:
            if val:
                timed_warm_solve(starter, val[0].qp, backend, 1, repeats=1)  # first calls pay one-off set-up costs
            for item in bar:
                c = timed_cold_solve(item.qp, backend)
                row = {}
                for p, k in totals:
                    starter.polish = p
                    _, res, total = timed_warm_solve(starter, item.qp, backend, k)
                    row[p, k] = (total, res.iterations)
                with held_interrupts():  # an instance counts whole or not at all
                    cold.append(c)
                    for key, (total, its) in row.items():
                        totals[key].append(total)
                        iters[key].append(its)
    finally:
        starter.polish = before
    cut = stopped[0] if stopped else None
    if not cold:
        return starter.default_k, starter.polish, [], cut
    # the choice weighs the settings against each other; its ratios to a cold solve, and the verdict on them, are what
    # such a solve skews
    warn_cold_cut_short(cold, backend.name, what="that time the automatic k",
                        judged="the start's ratios to a cold solve there, and the verdict on them,")
    secs = np.array([c.seconds for c in cold])
    its = np.array([c.iterations for c in cold], dtype=float)
    sweep = [{"polish": p, "k": k, "total_seconds_median": float(np.median(totals[p, k])),
              "iterations_median": float(np.median(iters[p, k])),
              "seconds": [float(v) for v in totals[p, k]], "iterations": [float(v) for v in iters[p, k]],
              "time_ratio": float(np.median(np.asarray(totals[p, k]) / np.maximum(secs, 1e-12))),
              "iteration_ratio": float(np.median(np.asarray(iters[p, k]) / np.maximum(its, 1.0)))}
             for p, k in totals]
    polish, k = parsimonious_start(sweep)
    return k, polish, sweep, cut


def choose_polish_first(starter: LearnedWarmStarter, val: list[Labelled]) -> str | None:
    """Which active set a QP's polish corrects first (``LearnedWarmStarter.polish_first``): the
    one read off the start ("predicted") where, on ``val``, it is nearer the optimum's than the
    nearest training instance's is ("nearest"; medians over the instances, a tie to "nearest"),
    so that the polish needs fewer factorisations. Read off the anchor (k = 0, no network), the
    start every QP family here chooses; None without a QP or an anchor bank."""
    pred, near = [], []
    for item in val:
        qp = item.qp
        if qp.P is None or starter.anchors is None:
            continue
        anchor, cands = starter.anchors.anchor_and_candidates(qp)
        if anchor is None or not cands:
            continue
        opt = item.active if item.active is not None else optimal_active_set(qp, item.x, item.y)
        pred.append(active_set_distance(qp, predicted_active_set(qp, *anchor), opt))
        near.append(active_set_distance(qp, cands[0], opt))
    if not pred:
        return None
    return "predicted" if np.median(pred) < np.median(near) else "nearest"


def train_starter(family_spec: str, train: list[Labelled], *, config: TrainConfig, progress: bool,
                  polish: bool | None = None, backend=None, family_key: str | None = None,
                  threads: int | None = None, repeats_checked: bool = False
                  ) -> tuple[LearnedWarmStarter, dict[str, Any]]:
    """Train a model; with ``backend``, also pick the automatic k on the validation split, and
    the polish unless ``polish`` is given (without a backend: polish unless told otherwise).
    ``family_key``: the family's own key (``problems.registry.family_key``); ``threads``: the
    starter's (``LearnedWarmStarter.threads``), the choice of k timed with them. Instances that
    are all one problem are refused, and repeats warned of, unless the caller did so
    (``repeats_checked``)."""
    if not repeats_checked:
        check_distinct([t.qp for t in train], what="labelled training instances", positions=False,
                       consequence=IN_TRAINING)
    res = train_qp_model(train, config=config, progress=progress)
    starter = LearnedWarmStarter(res.model, family=family_spec,
                                 scale_range=LearnedWarmStarter.scale_range_of([t.qp for t in train]),
                                 polish=True if polish is None else polish, device=config.device, threads=threads,
                                 meta={"train": asdict(config), "n_train": len(train),
                                       **({"family_key": family_key} if family_key else {}),
                                       # the solver its automatic k is chosen for: the plugins' default
                                       **({"solver": backend.name} if backend is not None else {}),
                                       **({"solver_tolerance": backend.tol}
                                          if getattr(backend, "tol", None) is not None else {}),
                                       "canonical_sizes": sorted({(t.qp.n, t.qp.m) for t in train}),
                                       # a bank with a layout reads every instance by name itself
                                       "names": names_by_size([t.qp for t in train])
                                       if res.anchors is None or res.anchors.layout is None else []},
                                 anchors=res.anchors)
    info: dict[str, Any] = {"train_seconds": res.seconds, "val_error": res.val_error, "history": res.history,
                            **({"interrupted": res.interrupted} if res.interrupted else {})}
    if res.anchors is not None and res.val and (first := choose_polish_first(starter, res.val)) is not None:
        starter.polish_first = first  # before the choice of k and polish, which times the polish with it
        info["polish_first"] = first
    if backend is not None and res.val and (cut := sweep_skipped(res.interrupted)) is None:
        best_k, best_polish, sweep, cut = choose_start(starter, res.val, backend, progress=progress,
                                                       polishes=(True, False) if polish is None else (polish,))
        if sweep:
            # what the network runs where the nearest optimum is missing (an unseen size) though k = 0 won
            network_k = parsimonious_start([r for r in sweep if r["k"] >= 1])[1]
            starter.default_k = best_k
            starter.polish = best_polish
            starter.meta.update(best_k=best_k, best_polish=best_polish, best_network_k=network_k, k_sweep=sweep)
            info.update(best_k=best_k, best_polish=best_polish, best_network_k=network_k, k_sweep=sweep)
    if backend is not None and res.val and cut is not None:
        sweep_cut_short(cut, chosen=bool(info.get("k_sweep")),
                        default=f"k = {starter.default_k}, polish {'on' if starter.polish else 'off'}")
        info["k_sweep_interrupted"] = cut  # saved with the rest of info, as training's own "interrupted"
    if res.anchors is not None and res.val:
        # the choice above needed the validation split held out of the bank; once made, its optima
        # serve as anchors too, so the start looks up the same instances as bench's nearest baseline
        starter.anchors = AnchorBank.build(train, kind=config.anchor)
        starter.meta["anchors"] = f"all {len(train)} labelled instances (training and validation splits)"
    return starter, info


def _family(cfg: BenchConfig):
    over = {"perturb": cfg.perturb} if cfg.perturb is not None else {}
    return make_family(cfg.family, **over)


TEST_SEED_OFFSET = 1_000_003
"""Held-out instances are drawn with ``seed + TEST_SEED_OFFSET`` (bench, scaling, sensitivity)."""


def held_out_drawer(fam, seed: int) -> Callable[[int], list]:
    """``n -> n held-out instances``: a generator's draws at ``seed + TEST_SEED_OFFSET``
    (``drawer``), or the held-out pool of a family of files (``sample_held_out``)."""
    if hasattr(fam, "sample_held_out"):
        return lambda n: fam.sample_held_out(n, seed=seed + TEST_SEED_OFFSET)
    return drawer(fam, seed=seed + TEST_SEED_OFFSET)


def held_out_instances(fam, count: int, seed: int) -> list:
    """``count`` held-out instances (``held_out_drawer``)."""
    return held_out_drawer(fam, seed)(count)


def label_held_out(fam, count: int, seed: int, *, scheduler: str, progress: bool,
                   draw: Callable[[int], list] | None = None, first: list | None = None) -> Drawn:
    """``count`` held-out instances labelled (``draw``: the ``held_out_drawer`` that drew
    ``first``, those already drawn), the ones dropped replaced by further draws where the family
    can draw more (``label_drawn``)."""
    return label_drawn(draw or held_out_drawer(fam, seed), count, first=first, refill=refills(fam),
                       scheduler=scheduler, progress=progress, hint=dropped_hint(fam))


def bench_backend(solver: str, *, tol: float | None = None, pinned: bool = False, time_limit: float | None = None):
    """The backend at its default tolerance unless ``tol``; ``pinned``: OSQP's fixed settings;
    ``time_limit``: seconds per solve (None: the backend's own)."""
    opts: dict[str, Any] = {}
    if tol is not None:
        opts["tol"] = tol
    if pinned:
        opts["pinned"] = True
    if time_limit is not None:
        opts["time_limit"] = time_limit
    return make_backend(solver, **opts)


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Train (unless a checkpoint is given), solve held-out instances with every start."""
    fam = _family(cfg)
    spec = fam.spec()
    test_fam = _test_family(cfg, fam)
    backend = bench_backend(cfg.solver, tol=cfg.tol, pinned=cfg.pinned, time_limit=cfg.time_limit)
    # a family this solver cannot take, or a checkpoint of another family, before any labelling
    starter = (LearnedWarmStarter.from_checkpoint(cfg.checkpoint, family=family_names(fam), k=cfg.k,
                                                  polish=cfg.polish, device=cfg.device, threads=cfg.threads)
               if cfg.checkpoint else None)
    # a checkpoint whose bank holds its labelled training instances is the nearest baseline's pool,
    # as on the PDE side: the baseline searches what the model was trained on, and nothing is relabelled
    own_bank = starter is not None and starter.anchors is not None and "anchors" in starter.meta
    # with that bank no training instance is used but the one the solver's check reads: --train's
    # default of 200 had been drawn anyway, and refused by a files: family of fewer files
    draw, draw_held_out = drawer(fam, seed=cfg.seed), held_out_drawer(test_fam, cfg.seed)
    train_qps = draw(1 if own_bank else cfg.n_train)
    backend.check(train_qps[0])
    test_qps = draw_held_out(cfg.n_test)
    if test_fam is not fam:
        backend.check(test_qps[0])
    t0 = time.perf_counter()
    opts = {"scheduler": cfg.scheduler, "progress": cfg.progress}
    # dropped instances are replaced by further draws of the same seed where the family can draw more
    trained = Drawn(kept=[], drawn=0, refilled=False) if own_bank else label_drawn(
        draw, cfg.n_train, first=train_qps, refill=refills(fam), hint=dropped_hint(fam), **opts)
    tested = label_held_out(test_fam, cfg.n_test, cfg.seed, draw=draw_held_out, first=test_qps, **opts)
    train, test = trained.kept, tested.kept
    label_seconds = time.perf_counter() - t0
    if not (train or own_bank) or not test:
        hint = dropped_hint(test_fam if train or own_bank else fam)
        raise RuntimeError(f"family {spec}: no instance was solved to optimality; nothing to train or test on"
                           + (f" ({hint})" if hint else ""))
    train_info: dict[str, Any] = {}
    if starter is None:
        tc = TrainConfig(epochs=cfg.epochs, width=cfg.width, device=cfg.device, seed=cfg.seed,
                         **({"train_k": cfg.train_k} if cfg.train_k is not None else {}),
                         **({"jacobian_weight": cfg.jacobian_weight} if cfg.jacobian_weight is not None else {}),
                         **({"anchor": cfg.anchor} if cfg.anchor is not None else {}))
        starter, train_info = train_starter(spec, train, config=tc, progress=cfg.progress, polish=cfg.polish,
                                            backend=backend if cfg.k is None else None,
                                            family_key=family_key(fam), threads=cfg.threads)
        starter.k = cfg.k
        if cfg.save_checkpoint:
            starter.save(cfg.save_checkpoint, solver=cfg.solver, n_drawn=trained.drawn, **train_info)
    k_used = cfg.k if cfg.k is not None else starter.default_k

    # the nearest-neighbour baseline searches the training instances: a starter trained here, or
    # loaded, with every labelled instance in its bank (meta "anchors") already holds them
    bank = starter.anchors if own_bank or (train_info and "anchors" in starter.meta) else AnchorBank.build(train)
    # a family whose draws repeat (a build(rng) choosing among a few scenarios) can draw a training
    # instance again as a held-out one, on which neither the model nor the baseline is held out
    check_distinct([t.qp for t in test], what="held-out instances", refuse=False, positions=False,
                   consequence=IN_HELD_OUT)
    if in_training := [i for i, t in enumerate(test) if bank.holds(t.qp)]:
        warnings.warn(in_training_text(in_training, len(test), what="held-out instances") + "; draw the family's "
                      "data from a continuous range", RuntimeWarning, stacklevel=2)
    rows, stopped = bench_rows(test, bank, starter, backend, progress=cfg.progress)
    # automatic: chosen with k on the validation split, here or by the checkpoint's training
    auto = cfg.polish is None and "best_polish" in starter.meta
    ran_ks = {r["k"] for r in rows if "error" not in r}
    if len(ran_ks) == 1:  # the k the starts ran: k = 0 needs an anchor, so sizes never trained on ran the network's
        k_used = ran_ks.pop()
    n_train = int(starter.meta.get("n_train", 0)) if own_bank else len(train)
    rep = bench_report(test_fam.spec(), rows, k_used, n_train, label_seconds, train_info, backend, starter.polish,
                       auto, solver=cfg.solver, pinned=cfg.pinned, seed=cfg.seed)
    rep["train_family"] = spec
    rep["in_training"] = in_training
    rep["k_automatic"] = cfg.k is None
    rep["threads"] = cfg.threads  # None: one below THREADS_FROM graph nodes, else torch's setting
    # the family keeps only the instances the reference solver finds optimal (mps: perturbations
    # can make a file infeasible): how many of those drawn are behind the figures
    rep["dropped"] = {"train": trained.drawn - len(train), "test": tested.drawn - len(test),
                      "train_drawn": trained.drawn, "test_drawn": tested.drawn,
                      "refilled": trained.refilled or tested.refilled}
    if stopped:
        rep["bench_interrupted"] = stopped[0]
    rep["anchor"] = starter.anchors.kind if starter.anchors is not None else None
    return rep


def bench_rows(test: list[Labelled], bank: AnchorBank, starter: LearnedWarmStarter, backend, *,
               progress: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """Every start on each held-out instance (``_bench_one``), and how far a Ctrl-C let the loop
    get (``stop_on_ctrl_c``; empty where it ran to its end). An instance whose run raises is
    kept as a failed row, so one bad instance loses none of the others."""
    rows: list[dict[str, Any]] = []
    with stop_on_ctrl_c(len(test), lambda: len(rows)) as stopped:
        for item in tqdm(test, desc=f"bench {backend.name}", disable=not progress):
            try:
                rows.append(_bench_one(item, bank, starter, backend))
            except Exception as exc:  # one bad instance must not lose the others
                rows.append(failed_row(item.qp.name, exc, trace=True))
    return rows, stopped


def _test_family(cfg: BenchConfig, fam):
    """The held-out instances' family: ``fam``, or ``cfg.test_family``, the same generator at
    other parameters (e.g. random-lp:m=400,n=800 for a model trained on random-lp:m=200,n=400)."""
    if cfg.test_family is None:
        return fam
    name, given = fam.spec().partition(":")[0], cfg.test_family.partition(":")[0]
    if name in ("cvxpy", "scip") and given == name:  # the user's function at other keywords: the same key
        test_fam = make_family(cfg.test_family)
        if family_key(test_fam) == family_key(fam):
            return test_fam
    if is_pde_family(cfg.test_family) or given != name or name in ("mps", "cvxpy", "scip"):
        why = ("one file's instances; another is another problem, not another size" if name == "mps" else
               f"the same function at other keywords, e.g. {family_key(fam)}:n=200" if name in ("cvxpy", "scip")
               else f"the same generator at another size, e.g. {name}:...")
        own = family_key(fam) if name in ("cvxpy", "scip") else name
        raise ValueError(f"--test-family {cfg.test_family} is not {own} at other parameters: --test-family is {why}")
    return make_family(cfg.test_family, **({"perturb": cfg.perturb} if cfg.perturb is not None else {}))


def _bench_one(item: Labelled, bank: AnchorBank, starter: LearnedWarmStarter, backend) -> dict[str, Any]:
    """Every start on one instance. The timed starts (cold; learned and nearest-polished with
    their inference) keep the fastest of ``TIMING_REPEATS`` runs: the iterations are the same
    each time, millisecond timings on a shared machine are not."""
    qp = item.qp

    def solve_learned():
        ws, info = starter.warm_start(qp)  # the starter's k: the given one or the automatic choice
        res = warm_solve(backend, qp, ws)  # as the product solves: a limit or an error retried cold
        return (ws, info, res), info.inference_seconds + res.seconds

    nb, nb_sets = bank.lookup(qp)
    nb_x, nb_y = nb or (np.zeros(qp.n), np.zeros(qp.m))

    def solve_nearest_polished():
        t = time.perf_counter()
        pn = polish(qp, nb_x, nb_y, candidates=bank.candidates(qp))
        secs = time.perf_counter() - t
        res = backend.solve(qp, warm_start=WarmStart(x=pn.x, y=pn.y, r=pn.r))
        return (secs, res), secs + res.seconds

    cold = timed_cold_solve(qp, backend)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (ws, info, warm), _ = fastest(solve_learned)
    nearest = backend.solve(qp, warm_start=WarmStart(x=nb_x, y=nb_y))
    (pn_seconds, nearest_p), _ = fastest(solve_nearest_polished)
    oracle = backend.solve(qp, warm_start=WarmStart(x=item.x, y=item.y))
    rel_err = lambda x: float(np.linalg.norm(x - item.x) / (np.linalg.norm(item.x) + 1e-12))  # noqa: E731
    pred_err = raw_err = math.nan
    if ws is not None:
        pred_err = rel_err(ws.x)
        # the network's own iterate, before the polish (untimed): what the model contributes
        raw_err = rel_err(np.clip(starter.iterate(qp, k=info.k)[0], qp.lb, qp.ub))  # the k it ran
    row = {"name": qp.name, "prediction_error": pred_err, "raw_prediction_error": raw_err,
           "k": info.k, "polished": info.polished, "fallback": info.fallback or warm.extra.get("fallback"),
           "warnings": list(dict.fromkeys(str(w.message) for w in caught))[:3],
           "inference_seconds": info.inference_seconds, "nearest_polish_seconds": pn_seconds,
           "same_answer": bool(backend.same_answer(cold, warm))}
    # the start in the solver's terms: how far from its stopping test each start begins
    row["start_kkt"] = None if ws is None else start_kkt(qp, ws.x, ws.y)
    row["nearest_start_kkt"] = start_kkt(qp, nb_x, nb_y) if nb else None
    if item.active is not None:
        row["constraints"] = qp.m + qp.n
        # how far each start's active set is from the optimum's: what the polish has to fix
        row["active_mismatch"] = None if ws is None else active_set_distance(
            qp, predicted_active_set(qp, ws.x, ws.y), item.active)
        row["nearest_active_mismatch"] = active_set_distance(qp, nb_sets[0], item.active) if nb_sets else None
        # the optimum itself read as the learned start is: at a degenerate optimum (a constraint active with
        # a zero multiplier) the values name another active set than the solver's basis, and the learned
        # start's count includes that many without being any further from the optimum
        row["oracle_active_mismatch"] = active_set_distance(qp, predicted_active_set(qp, item.x, item.y),
                                                            item.active)
    for name, res in (("cold", cold), ("warm", warm), ("nearest", nearest), ("nearest_polished", nearest_p),
                      ("oracle", oracle)):
        row[name] = {"status": res.status, "objective": res.objective, "iterations": res.iterations,
                     "seconds": res.seconds, "accepted": res.warm_start_accepted, "inaccurate": res.inaccurate,
                     # at the optimum from this start: the learned one not in a cold start's place either
                     "converged": reached_optimum(res) and not (name == "warm" and row["fallback"]),
                     # a solver that ended its (child) process: each way it did, the warm one's before its retry
                     "ended": [e for e in (res.extra.get("warm_ended"), res.extra.get("ended")) if e]}
    return row


def start_kkt(qp: QPData, x: np.ndarray, y: np.ndarray) -> float:
    """A start's relative KKT residual, the largest of its primal, dual and gap parts
    (``kkt_residuals``): 0 at the optimum, and comparable with a solver's relative tolerance."""
    return float(kkt_residuals(qp, x, y).worst)


def _median(v: list[float]) -> float:
    v = [x for x in v if not missing(x)]
    return float(np.median(v)) if v else math.nan


def bench_report(spec: str, rows: list[dict[str, Any]], k: int, n_train: int, label_seconds: float,
                 train_info: dict[str, Any], backend, polish: bool, polish_automatic: bool, *, solver: str,
                 pinned: bool, seed: int | None) -> dict[str, Any]:
    """The bench's report from its rows (``bench_rows``): medians of every start, the ratios to
    the cold solve per instance, and the rows themselves (``instances``)."""
    ok = [r for r in rows if "error" not in r]
    rep: dict[str, Any] = {
        "family": spec, "solver": solver, "solver_options": {"tol": getattr(backend, "tol", None), "pinned": pinned,
                                                             "time_limit": getattr(backend, "time_limit", None)},
        "n_train": n_train, "n_test": len(rows), "n_failed": len(rows) - len(ok), "k": k, "polish": polish,
        "polish_automatic": polish_automatic, "seed": seed, "label_seconds": label_seconds, **train_info,
    }
    for s in STARTS:
        rep[s] = {"iterations_median": _median([r[s]["iterations"] for r in ok]),
                  "seconds_median": _median([r[s]["seconds"] for r in ok])}
    rep["warm"]["inference_seconds_median"] = _median([r["inference_seconds"] for r in ok])
    ratio = lambda a, b: a / b if b else (1.0 if a == 0 else math.inf)  # noqa: E731
    for s in ("warm", "nearest", "nearest_polished", "oracle"):
        key = "iteration_ratio" if s == "warm" else f"{s}_iteration_ratio"
        rep[key] = _median([ratio(r[s]["iterations"], r["cold"]["iterations"]) for r in ok])
    rep["time_ratio"] = _median([(r["inference_seconds"] + r["warm"]["seconds"]) / r["cold"]["seconds"] for r in ok])
    rep["nearest_polished_time_ratio"] = _median(
        [(r["nearest_polish_seconds"] + r["nearest_polished"]["seconds"]) / r["cold"]["seconds"] for r in ok])
    rep["same_answer"] = (sum(r["same_answer"] for r in ok) / len(rows)) if rows else math.nan
    rep["prediction_error_median"] = _median([r["prediction_error"] for r in ok])
    rep["raw_prediction_error_median"] = _median([r["raw_prediction_error"] for r in ok])
    for key in ("active_mismatch", "nearest_active_mismatch", "oracle_active_mismatch", "start_kkt",
                "nearest_start_kkt"):
        rep[f"{key}_median"] = _median([r.get(key) for r in ok])
    rep["constraints"] = _median([r.get("constraints") for r in ok])
    rep["polished_fraction"] = (sum(bool(r["polished"]) for r in ok) / len(ok)) if ok else math.nan
    rep["fallbacks"] = sum(r["fallback"] is not None for r in ok)
    rep["solver_ended"] = solver_ended(ok)
    rep["converged"] = {s: sum(r[s]["converged"] for r in ok) for s in STARTS}
    rep["instances"] = rows
    return rep


def in_training_text(positions: list[int], given: int, *, what: str = "instances given") -> str:
    """What it means that the instances at ``positions`` (of ``given``) are training instances."""
    named = ", ".join(map(str, positions[:6])) + (", ..." if len(positions) > 6 else "")
    return (f"{len(positions)} of the {given} {what} are training instances of this starter (their costs, "
            f"sides and bounds are one's; positions {named}): on them the nearest baseline starts from their own "
            "optimum and the model from what it was fitted to, so the figures are not held-out ones")


def format_report(rep: dict[str, Any]) -> str:
    trained = (f" (trained on {rep['train_family']})" if rep.get("train_family", rep["family"]) != rep["family"]
               else "")
    lines = [f"family {rep['family']}{trained} | solver {rep['solver']} | train {rep['n_train']} "
             f"| test {rep['n_test']} "
             f"| k {rep['k']} | polish {rep['polish']}{' (automatic)' if rep.get('polish_automatic') else ''}"
             + (f" | anchor {rep['anchor']}" if rep.get("anchor") else ""),
             f"{'start':<18}{'iterations (median)':>22}{'solver s (median)':>20}{'iter ratio':>12}",
             "-" * 72]
    if rep.get("k_sweep_interrupted"):
        lines.insert(1, f"the automatic k's validation sweep was {rep['k_sweep_interrupted']}")
    if dropped := dropped_line(rep):
        lines.insert(1, dropped)
    if rep.get("in_training"):
        # evaluate's positions are in the list it was given, bench's in the report's instances
        python = rep.get("api") == "python"
        lines.insert(1, in_training_text(rep["in_training"], rep["dropped"]["test_drawn"] if python
                                         else len(rep["instances"]),
                                         what="instances given" if python else "held-out instances"))
    if rep.get("interrupted"):
        lines.insert(1, f"training {rep['interrupted']}")
    if rep.get("bench_interrupted"):
        lines.insert(1, f"bench {rep['bench_interrupted']}: the figures are of those")
    for s in STARTS:
        ratio = rep["iteration_ratio"] if s == "warm" else rep.get(f"{s}_iteration_ratio", 1.0)
        lines.append(f"{s:<18}{rep[s]['iterations_median']:>22.0f}{rep[s]['seconds_median']:>20.5f}{ratio:>12.3f}")
    lines += ["-" * 72,
              f"inference s (median) {rep['warm']['inference_seconds_median']:.5f} | time_ratio {rep['time_ratio']:.3f} "
              f"| same_answer {rep['same_answer']:.3f} | prediction error {_g(rep['prediction_error_median'])} "
              f"({'before the polish' if rep['k'] == 0 else 'network alone'} {_g(rep['raw_prediction_error_median'])}) "
              f"| polished {rep['polished_fraction']:.2f} | failed {rep['n_failed']}"]
    if not missing(rep.get("start_kkt_median")):
        tol = rep.get("solver_options", {}).get("tol")
        near = rep["nearest_start_kkt_median"]
        lines.append(f"the start's relative KKT residual (median; the largest of primal, dual and gap): learned "
                     f"{rep['start_kkt_median']:.3g}, nearest training optimum "
                     + (f"{near:.3g}" if not missing(near) else "none (no training instance of these sizes: "
                        "that baseline starts from zero)")
                     + (f"; the solver stops at a relative tolerance of {tol:g}" if tol else ""))
    if not missing(rep.get("active_mismatch_median")):
        lines.append(f"active set off the optimum's in (median of {rep['constraints']:.0f} constraints): "
                     f"learned start {rep['active_mismatch_median']:.0f}, nearest training optimum "
                     + (f"{rep['nearest_active_mismatch_median']:.0f}"
                        if not missing(rep["nearest_active_mismatch_median"]) else "none of these sizes")
                     + (f"; the optimum itself, read as the learned start is, "
                        f"{rep['oracle_active_mismatch_median']:.0f} (a degenerate optimum: several active sets "
                        "describe it)" if rep.get("oracle_active_mismatch_median", 0) >= 1 else ""))
        if rep["active_mismatch_median"] >= 1 and rep["iteration_ratio"] >= 0.9:
            lines.append("the polish makes a start the optimum only from the optimum's exact active set, and a "
                         "start a few constraints off can be worth nothing to the solver (`learned-solvers "
                         "sensitivity --direction active-set` measures it on an LP family)")
    ran = [r for r in rep["instances"] if "error" not in r]
    fell = [r["fallback"] for r in ran if r.get("fallback")]
    if fell:  # these "learned" solves were cold ones: the figures above say nothing of the model there
        lines.append(f"the learned start fell back to a cold start on {len(fell)} of {len(ran)} instances "
                     f"(first reason: {fell[0]})"
                     + (f"; k = 0 needs an anchor, which exists only at the training sizes: {advice(rep).network} "
                        "runs the network"
                        if rep["k"] == 0 and "no training instance" in fell[0] else ""))
    if rep.get("solver_ended"):
        lines.append(ended_line(rep["solver_ended"]))
    if (short := short_starts(rep.get("converged"), len(ran))) is not None:
        lines.append(short)
    said = lambda end: end["status"] + (" (inaccurate)" if end.get("inaccurate") else "")  # noqa: E731
    differ = disagreement([(said(r["cold"]), said(r["warm"])) for r in ran if not r["same_answer"]], len(ran))
    if ran and len(fell) == len(ran):
        lines.append("verdict: none: no learned start ran (every one fell back to a cold start), so this run says "
                     "nothing of the model")
    else:
        lines.append(verdict(iteration_ratio=rep["iteration_ratio"], time_ratio=rep["time_ratio"],
                             start_seconds=rep["warm"]["inference_seconds_median"],
                             saved_seconds=rep["cold"]["seconds_median"] - rep["warm"]["seconds_median"], k=rep["k"],
                             differ=differ, words=advice(rep)))
    note = network_note(rep) if len(fell) < len(ran) else None
    if note:
        lines.append(note)
    return "\n".join(lines)


def solver_ended(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Solves whose solver ended its process (HiGHS' QPs run in a child), counted apart from the
    statuses they come back as (error, limit): {start: {"crash" or "hang": count}}, only the
    starts with any."""
    ended: dict[str, dict[str, int]] = {}
    for r in rows:
        for s in STARTS:
            for how in r[s].get("ended", ()):
                ended.setdefault(s, {}).setdefault(how, 0)
                ended[s][how] += 1
    return ended


def ended_line(ended: dict[str, dict[str, int]]) -> str:
    """The report's line on solves whose solver ended its process: ``ended`` maps a start to
    {"crash" or "hang": count}."""
    parts = [f"{how} {n} ({start})" for start in STARTS for how, n in ended.get(start, {}).items()]
    return (f"the solver ended its process on some solves: {', '.join(parts)}; each came back as an error "
            "(crash) or a limit (hang), the rows' statuses, and the bench went on")


def _g(v: Any) -> str:
    """A median as the table shows it; none to take (every start fell back): nan."""
    return "nan" if missing(v) else f"{v:.3g}"


def nearest_note(rep: dict[str, Any]) -> str | None:
    """A line when the start runs no network (k = 0): what it is, and why it was chosen."""
    if rep.get("k") != 0:
        return None
    how = "polished" if rep["polish"] else "as it is"
    why = (": on the validation split the network's iterations did not pay for themselves "
           f"({advice(rep).network} shows "
           "the network's start)" if rep.get("k_automatic") else "")
    what = ("the anchor, the family's linear model of the optimum" if rep.get("anchor") == "linear"
            else "the nearest training optimum")
    return f"k 0: no network is run; the learned start is {what}, {how}{why}"


def network_note(rep: dict[str, Any]) -> str | None:
    """A line when the polished nearest training optimum matches the learned start's solver
    iterations for less time: on such a family the network adds cost, not accuracy."""
    if rep.get("k") == 0:
        return nearest_note(rep)
    it, t = rep.get("nearest_polished_iteration_ratio", math.nan), rep.get("nearest_polished_time_ratio", math.nan)
    if not (math.isfinite(it) and math.isfinite(t) and it <= rep["iteration_ratio"] and t < rep["time_ratio"]):
        return None
    if missing(rep.get("nearest_start_kkt_median", 0.0)):  # no training optimum of these sizes: no neighbours
        return (f"note: the zero start through the same polish does as well ({it:.2f}x the solver iterations) in "
                f"less time ({t:.2f}x cold against the learned start's {rep['time_ratio']:.2f}x): at these sizes, "
                "of which no training instance was, the network adds cost, not accuracy")
    return (f"note: the nearest training optimum through the same polish does as well ({it:.2f}x the solver "
            f"iterations) in less time ({t:.2f}x cold against the learned start's {rep['time_ratio']:.2f}x): on this "
            "family the neighbours' active sets carry the start, and the network adds cost, not accuracy")


def write_report(rep: dict[str, Any], path: str | Path) -> Path:
    """The report as JSON, with its ``provenance`` (the code, command and machine that made it)."""
    return write_json(path, stamped(rep))
