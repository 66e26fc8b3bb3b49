"""From a trained model to a solver's warm start: predict, polish, check, or fall back.

``LearnedWarmStarter`` is the piece the CLI, the bench and the cvxpy plugin share. A
prediction that is non-finite, or an instance far outside the training family's scales,
gives ``None`` (a cold start) with a warning: the classical solver has the last word.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._threads import blas_threads, inference_threads, torch_threads
from .backends import Backend, SolveResult, Status, WarmStart, make_backend
from .backends.base import retried_cold
from .canonical import QPData
from .canonical.polish import polish as polish_pair
from .checkpoint import (CheckpointError, LazyNetwork, UnbuiltNetwork, interpreting, load_checkpoint,
                         save_checkpoint)
from .models.anchors import AnchorBank
from .options import (IterationsOption, ThreadsOption, check_device, check_flags, check_k, check_recorded_k,
                      check_threads)

if TYPE_CHECKING:  # torch comes with the network, which a k = 0 start never runs (``_Network``)
    from .models.qp_gnn import QPImplicitModel

__all__ = ["WarmStartInfo", "LearnedWarmStarter", "OutOfFamilyWarning", "UnseenSizeWarning",
           "starter_and_backend", "starter_from", "warm_solve"]

KIND = "qp-implicit-gnn"


class OutOfFamilyWarning(RuntimeWarning):
    """The instance or prediction is unfit for a learned start; the solve runs cold."""


class NameMismatchWarning(RuntimeWarning):
    """An instance of a training size whose variable or constraint names are not the training
    instances': the model reads them by position."""


POLISH_FIRST = ("nearest", "predicted")  # ``LearnedWarmStarter.polish_first``'s values

NAMES_MAX_CHARS = 20_000_000  # names kept in a checkpoint, at most


def names_by_size(qps: list[QPData]) -> list[dict[str, Any]]:
    """For each (n, m) whose instances all carry one list of unique variable names and one of
    unique constraint names (an ``mps:`` family, files written by one model): those names, so that
    a later instance with the same names in another order is read in the training order."""
    groups: dict[tuple[int, int], set] = {}
    for q in qps:
        groups.setdefault((q.n, q.m), set()).add(tuple(None if v is None else tuple(v)
                                                       for v in (q.var_names, q.con_names)))
    out, chars = [], 0
    for (n, m), seen in sorted(groups.items()):
        (vn, cn), = seen if len(seen) == 1 else ((None, None),)
        if vn is not None and cn is not None and len(set(vn)) == n and len(set(cn)) == m:
            chars += sum(map(len, vn)) + sum(map(len, cn))
            if chars > NAMES_MAX_CHARS:  # the checkpoint's JSON header has a limit (100 MB in safetensors)
                break
            out.append({"n": n, "m": m, "var_names": list(vn), "con_names": list(cn)})
    return out


class UnseenSizeWarning(RuntimeWarning):
    """The instance's (variables, constraints) differ from every training instance's: the
    size-agnostic model still predicts, without the nearest-solution anchor."""


class _Network(UnbuiltNetwork):
    """A checkpoint's QP network, not yet built (``UnbuiltNetwork``)."""

    def make(self, config: dict[str, Any]) -> Callable[[], QPImplicitModel]:
        from .models.qp_gnn import QPGNNConfig, QPImplicitModel

        # checkpoints written before the anchor scale or the unit messages were trained without them
        cfg = QPGNNConfig(**{"anchor_scale": False, "unit_messages": False, **config})
        return lambda: QPImplicitModel(cfg)


@dataclass(frozen=True)
class WarmStartInfo:
    """inference_seconds: network + polish wall time; fallback: why a cold start was used;
    load_seconds: the network's one-off build (torch's import included) where this start was
    the first to run it, a checkpoint loaded for k = 0 building it only then: a cost of the
    process, as loading the checkpoint is, so not counted in inference_seconds."""

    inference_seconds: float
    k: int
    polished: bool = False
    fallback: str | None = None
    reordered: bool = False  # the instance's names were in another order than training's, and were matched
    load_seconds: float = 0.0


class LearnedWarmStarter(LazyNetwork):
    """A trained ``QPImplicitModel`` plus what is needed to use it safely.

    family: the family spec it was trained on; scale_range: (3, 2) min/max of the training
    instances' (s_b, s_c, s_a) scales, used to refuse out-of-family instances. polish: run the
    active-set polish on the prediction (None: the checkpoint's choice, ``meta["best_polish"]``,
    made with the automatic k on the validation split, ``timing.parsimonious_start``; True without one). Inference runs a
    frozen copy of ``model`` taken here (``QPImplicitModel.frozen``): wrap a trained model.

    k = 0 runs no network: the start is the anchor (``models.anchors``: the family's linear
    model, or the nearest training instance's optimum), polished as any other. The automatic
    choice takes it where, on the validation split, the network's iterations do not pay for
    themselves (``timing.parsimonious_start``). A checkpoint loaded for such a start builds its
    network (and imports torch) only where one runs: ``model`` builds it on first use.
    """

    k = IterationsOption(allow_zero=True)  # None: the checkpoint's automatic k (``default_k``)
    # torch's CPU threads for inference where a call names none (None: one below THREADS_FROM graph nodes)
    threads = ThreadsOption()

    def __init__(self, model: QPImplicitModel | _Network, *, family: str, scale_range: np.ndarray,
                 k: int | None = None, polish: bool | None = None, device: str = "cpu",
                 meta: dict[str, Any] | None = None, anchors: AnchorBank | None = None,
                 threads: int | None = None) -> None:
        check_device(device)
        self.device = device
        self.threads = threads
        self._hold(model)
        self.anchors = anchors
        self.family = family
        self.scale_range = np.asarray(scale_range, dtype=float)
        best_k = (meta or {}).get("best_k")
        self.default_k = check_recorded_k(self.model.cfg.train_k if best_k is None else best_k, what="best_k")
        self.k = k
        _check_polish(polish)
        # None: the checkpoint's choice (picked with k on the validation split), else polish
        self.polish = bool((meta or {}).get("best_polish", True)) if polish is None else bool(polish)
        self.meta = dict(meta or {})
        # which active set a QP's polish corrects first: the nearest training instance's (checkpoints
        # from before the choice) or the start's own, where training found it nearer the optimum's
        self.polish_first = str(self.meta.get("polish_first", "nearest"))
        if self.polish_first not in POLISH_FIRST:
            raise ValueError(f"polish_first is {self.polish_first!r}, not one of {', '.join(POLISH_FIRST)}")
        # (n, m) of the training instances: the checkpoint's, else the anchor bank's groups
        sizes = self.meta.get("canonical_sizes")
        if sizes is None and anchors is not None:
            sizes = list(anchors.groups)
        self.sizes = {(int(n), int(m)) for n, m in sizes} if sizes else None
        self._names = {(int(g["n"]), int(g["m"])): (tuple(g["var_names"]), tuple(g["con_names"]))
                       for g in self.meta.get("names") or []}

    def _take(self, model: QPImplicitModel) -> None:
        self._model = model.to(self.device).eval()
        self._frozen = self._model.frozen()  # what inference runs: a snapshot of the model as given

    @property
    def model(self) -> QPImplicitModel:
        """The trained network (built from the checkpoint on first use, where it was loaded for a
        start that runs none)."""
        return self._network()

    @property
    def _net(self) -> QPImplicitModel:
        self._network()
        return self._frozen

    def _training_order(self, qp: QPData) -> tuple[QPData, tuple[np.ndarray, np.ndarray] | None]:
        """``qp`` with its variables and constraints in the training instances' order where its
        names are theirs in another order, and the (cols, rows) that did it; else ``qp``, None
        (with a ``NameMismatchWarning`` where the names are not the training ones)."""
        known = self._names.get((qp.n, qp.m))
        if known is None or qp.var_names is None or qp.con_names is None:
            return qp, None
        var_names, con_names = known
        if tuple(qp.var_names) == var_names and tuple(qp.con_names) == con_names:
            return qp, None
        cols_at = {name: i for i, name in enumerate(qp.var_names)}
        rows_at = {name: i for i, name in enumerate(qp.con_names)}
        stranger = next((("variable", v) for v in var_names if v not in cols_at), None) or next(
            (("constraint", c) for c in con_names if c not in rows_at), None)
        if stranger is not None or len(cols_at) < qp.n or len(rows_at) < qp.m:
            what = (f"it has no {stranger[0]} {stranger[1]!r}" if stranger is not None
                    else "its names repeat, so they cannot be matched")
            warnings.warn(f"{qp.name}: its variable and constraint names are not the training instances' ({what}); "
                          "the model reads them by position, so if this is another model the start may not help "
                          "(the solver still has the last word)", NameMismatchWarning, stacklevel=3)
            return qp, None
        cols = np.array([cols_at[v] for v in var_names])
        rows = np.array([rows_at[c] for c in con_names])
        return qp.reordered(cols, rows), (cols, rows)

    def __repr__(self) -> str:
        shown = sorted(self.sizes or ())
        sizes = ", ".join(f"{n}x{m}" for n, m in shown[:3]) + (", ..." if len(shown) > 3 else "") if shown else "any"
        return (f"LearnedWarmStarter(family={self.family!r}, k={self.k if self.k is not None else self.default_k}"
                f"{'' if self.k is not None else ' (automatic)'}, polish={self.polish}, sizes=[{sizes}] (variables x "
                f"constraints), device={self.device!r})")

    @staticmethod
    def scale_range_of(qps: list[QPData]) -> np.ndarray:
        s = np.array([q.scales for q in qps])
        return np.stack([s.min(0), s.max(0)], 1)

    def save(self, path: str | Path, **meta: Any) -> Path:
        full = {**self.meta, **meta, "kind": KIND, "family": self.family, "model": self.model.cfg.to_dict(),
                "scale_range": self.scale_range.tolist(), "best_k": self.meta.get("best_k", self.default_k),
                "best_polish": self.meta.get("best_polish", self.polish), "polish_first": self.polish_first,
                **({"canonical_sizes": sorted(self.sizes)} if self.sizes else {})}
        state = dict(self.model.state_dict())
        if self.anchors is not None:
            state.update(self.anchors.state())
        return save_checkpoint(path, state, full)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, family: str | None = None, k: int | None = None,
                        polish: bool | None = None, device: str = "cpu", threads: int | None = None
                        ) -> LearnedWarmStarter:
        check_device(device)
        check_k(k, allow_zero=True)
        check_threads(threads)
        _check_polish(polish)  # the caller's options are checked before the file, whose faults are its own
        ck = load_checkpoint(path, kind=KIND, family=family, arrays="numpy")
        with interpreting(path):
            weights = {k: v for k, v in ck.state.items() if not k.startswith("anchors.")}
            network = _Network(path, ck.meta["model"], weights)
            bank = AnchorBank.from_state(ck.state) if len(weights) < len(ck.state) else None
            # the network is built now, its weights checked, unless the start runs none (k = 0, on
            # any device): then where it first runs (an instance of a size without an anchor, k >= 1)
            best_k = ck.meta.get("best_k")
            lazy = bank is not None and best_k is not None and (k if k is not None else best_k) == 0
            model = network if lazy else network.build()
            scale_range = np.asarray(ck.meta["scale_range"], dtype=float)
            if scale_range.ndim != 2 or scale_range.shape[1] != 2:
                raise ValueError(f"scale_range has shape {scale_range.shape}, not (scales, 2)")
            return cls(model, family=ck.meta["family"], scale_range=scale_range, k=k,
                       polish=polish, device=device, meta=ck.meta, anchors=bank, threads=threads)

    def _in_family(self, qp: QPData) -> bool:
        s = np.asarray(qp.scales)
        lo, hi = self.scale_range[:, 0], self.scale_range[:, 1]
        return bool(np.all(s >= lo / 10) and np.all(s <= hi * 10))

    def iterate(self, qp: QPData, *, k: int, safeguard: bool = True,
                anchor: tuple[np.ndarray, np.ndarray] | None = None,
                threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The model's unpolished (x (n,), y (m,)) for ``qp`` after ``k`` iterations: with
        ``safeguard``, the iterate of least relative KKT residual among the first k. k = 0:
        the anchor itself, no network. threads: torch's CPU threads for the call (default: the
        starter's ``threads``; where that is None, one below ``THREADS_FROM`` graph nodes, n + m,
        else torch's own setting)."""
        k = check_k(k, allow_zero=True)
        if k is None:
            raise ValueError("iterate needs k, the model iterations to run (warm_start takes the automatic one)")
        check_threads(threads)
        n_threads = inference_threads(threads, self.threads, qp.n + qp.m)
        if anchor is None and self.anchors is not None:
            with blas_threads(1 if n_threads != 1 else None):  # as torch may run on more: see blas_threads
                anchor = self.anchors.anchor(qp)
        if k == 0:
            if anchor is None:
                raise ValueError(f"{qp.name}: k = 0 starts from the anchor, and the checkpoint has no training instance "
                                 f"of this size ({qp.n} variables x {qp.m} constraints): use k >= 1")
            return np.array(anchor[0], dtype=float), np.array(anchor[1], dtype=float)
        import torch

        net = self._net  # built here where it was not yet, outside inference mode: its weights stay plain tensors
        with torch_threads(n_threads), torch.inference_mode():
            (x, y), = net.predict([qp], k=k, device=self.device, safeguard=safeguard,
                                  anchors=[anchor] if anchor is not None else None)
        return x, y

    def warm_start(self, qp: QPData, *, k: int | None = None, safeguard: bool = True, threads: int | None = None
                   ) -> tuple[WarmStart | None, WarmStartInfo]:
        """Predict (and polish) a start for ``qp``; ``None`` means: solve cold. ``safeguard``,
        ``threads``: see ``iterate``."""
        if not isinstance(qp, QPData):
            raise TypeError(f"expected a QPData, got {type(qp).__name__}: make one with learned_solvers.formats "
                            "(mps.read_problem(path), cvxpy.from_cvxpy(problem), scip.from_scip(model))")
        k = check_k(k, allow_zero=True)
        check_threads(threads)
        check_flags(safeguard=safeguard)
        automatic = k is None and self.k is None
        k = k if k is not None else self.k if self.k is not None else self.default_k
        t0 = time.perf_counter()
        layout = self.anchors.layout if self.anchors is not None else None
        # with a layout of names, an instance of any size that reads into it has its anchor
        unseen = (not self.anchors.covers(qp) if layout is not None
                  else self.sizes is not None and (qp.n, qp.m) not in self.sizes)
        if not self._in_family(qp):
            size = ("" if not unseen else " and its names are mostly not the training instances'" if layout is not None
                    else f" and its size ({qp.n} variables x {qp.m} constraints) was never seen in training")
            warnings.warn(f"{qp.name}: data scales lie far outside the training family {self.family!r}{size}; "
                          "solving from a cold start", OutOfFamilyWarning, stacklevel=2)
            return None, WarmStartInfo(time.perf_counter() - t0, k, fallback="out of family")
        if unseen and layout is not None:
            warnings.warn(f"{qp.name}: fewer than half its variables or constraints carry the training instances' "
                          "names; predicting anyway, without an anchor to start from, so the start may help less "
                          "(the solver still has the last word)", UnseenSizeWarning, stacklevel=2)
        elif unseen:
            seen = ", ".join(f"{n}x{m}" for n, m in sorted(self.sizes)[:4])
            warnings.warn(f"{qp.name}: {qp.n} variables x {qp.m} constraints, a size this model never saw in training "
                          f"({seen}); predicting anyway, without an anchor to start from, so the "
                          "start may help less (the solver still has the last word)", UnseenSizeWarning, stacklevel=2)
        # an instance whose names are the training ones in another order is read in that order (a
        # layout reads every instance by name)
        qp, order = self._training_order(qp) if layout is None else (qp, None)
        anchor, cands = self.anchors.anchor_and_candidates(qp) if self.anchors is not None else (None, [])
        load = 0.0
        if k == 0 and anchor is None:  # no training instance of this size: no nearest optimum
            if not automatic:
                which = "whose names this one shares" if layout is not None else "of this size"
                warnings.warn(f"{qp.name}: k = 0 starts from the anchor, and the checkpoint has no training "
                              f"instance {which}; solving from a cold start (k >= 1 runs the network)",
                              OutOfFamilyWarning, stacklevel=2)
                return None, WarmStartInfo(time.perf_counter() - t0, k, fallback="no training instance of this size")
            try:  # loaded for k = 0, the checkpoint builds its network here
                load = self._built_in()
                model = self.model
            except CheckpointError as exc:
                warnings.warn(f"{qp.name}: no training instance of this size gives an anchor, and the network that "
                              f"would start it cannot be built ({exc}); solving from a cold start",
                              OutOfFamilyWarning, stacklevel=2)
                return None, WarmStartInfo(time.perf_counter() - t0, k, fallback="the checkpoint's network is damaged")
            k = int(self.meta.get("best_network_k", model.cfg.train_k))
        if k > 0:
            load += self._built_in()
        x, y = self.iterate(qp, k=k, safeguard=safeguard, anchor=anchor, threads=threads)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            warnings.warn(f"{qp.name}: the model predicted NaN or inf; solving from a cold start",
                          OutOfFamilyWarning, stacklevel=2)
            return None, WarmStartInfo(time.perf_counter() - t0 - load, k, fallback="non-finite prediction",
                                       load_seconds=load)
        polished = False
        r = None
        if self.polish:
            p = polish_pair(qp, x, y, candidates=cands, predicted_first=self.polish_first == "predicted")
            x, y, r, polished = p.x, p.y, p.r, p.polished
        if order is not None:  # back to the instance's own order
            cols, rows = order
            x, y, r = _placed(x, cols), _placed(y, rows), _placed(r, cols) if r is not None else None
        return WarmStart(x=x, y=y, r=r), WarmStartInfo(time.perf_counter() - t0 - load, k, polished=polished,
                                                       reordered=order is not None, load_seconds=load)

    def solve(self, qp: QPData, backend: Backend | str, *, k: int | None = None, retry_cold: bool = True
              ) -> SolveResult:
        """Warm-started solve; ``backend`` a backend or its name ('pdlp', 'osqp', 'scs', 'highs');
        ``extra`` holds the inference time (the network's one-off build, where this start was the
        first to run it, apart: ``load_seconds``) and any fallback reason. retry_cold: where the warm
        solve ends at a limit or an error, solve cold too and return that (``warm_solve``)."""
        if isinstance(backend, str):
            from .backends import make_backend

            backend = make_backend(backend)
        elif isinstance(backend, type) or not callable(getattr(backend, "solve", None)):
            raise TypeError(f"backend must be a solver's name ('pdlp', 'osqp', 'scs', 'highs') or a backend made by "
                            f"learned_solvers.backends.make_backend(name, ...), got {backend!r}")
        ws, info = self.warm_start(qp, k=k)
        res = warm_solve(backend, qp, ws, retry_cold=retry_cold)
        res.extra.update(inference_seconds=info.inference_seconds, k=info.k, polished=info.polished,
                         fallback=info.fallback or res.extra.get("fallback"), reordered=info.reordered,
                         load_seconds=info.load_seconds)
        return res


def _check_polish(polish: Any) -> None:
    if polish is not None and not isinstance(polish, (bool, np.bool_)):
        raise TypeError(f"polish must be True, False or None (the checkpoint's choice), got {polish!r}")


RETRY_COLD = (Status.LIMIT, Status.ERROR)
"""warm-solve outcomes that a cold solve must confirm: a start may cost time, never the cold solve's outcome"""

CONFIRM_COLD = (Status.INFEASIBLE, Status.UNBOUNDED, Status.INFEASIBLE_OR_UNBOUNDED)
"""warm verdicts of no optimum, which the cold solve gives instead. A first-order solver ends at
whichever certificate it meets first, and which that is depends on its start: on a problem both
primal and dual infeasible, PDLP and OSQP ended 'unbounded' from some starts and 'infeasible'
cold (``tests/test_lp_qp.py``)."""


def warm_solve(backend: Backend, qp: QPData, ws: WarmStart | None, *, retry_cold: bool = True) -> SolveResult:
    """``backend.solve(qp, warm_start=ws)``; where that ends at an iteration or time limit or an
    error (``RETRY_COLD``), stops at such a limit with an answer its solver calls inaccurate
    (``SolveResult.inaccurate``: looser than the tolerance asked for), or finds no optimum
    (``CONFIRM_COLD``: infeasible, unbounded), the
    cold solve runs too and its result is returned, with both solves' iterations and seconds,
    ``warm_start_accepted`` False and ``extra['fallback']`` saying why, so that the start never
    changes the outcome (with a time limit the call can take up to twice it: ``retry_cold=False``
    keeps the warm result). A limit or an error is warned of; a verdict of no optimum, which no
    start can shorten much, is not. A MIP's verdict of no optimum stands: branch and bound
    proves it whatever the start, and solving it again could double a long search."""
    check_flags(retry_cold=retry_cold)
    res = backend.solve(qp, warm_start=ws)
    confirm = RETRY_COLD + (CONFIRM_COLD if not qp.is_mip else ())
    # the start cost the solve its limit: the answer is looser than asked, and a cold solve may meet the tolerance
    stopped = res.inaccurate and res.status == Status.OPTIMAL
    if ws is None or not retry_cold or (res.status not in confirm and not stopped):
        return res
    why = (f"the warm-started solve stopped at its limit after {res.iterations} iterations with an inaccurate answer"
           if stopped else f"the warm-started solve ended at {res.status} after {res.iterations} iterations")
    then = "the status is the cold solve's"
    if res.status in RETRY_COLD or stopped:
        warnings.warn(f"{qp.name}: {why} ({res.message or 'no message'}); solving from a cold start as well",
                      OutOfFamilyWarning, stacklevel=3)
        then = "retried cold"
    cold = retried_cold(res, backend.solve(qp, warm_start=None), f"{why}; {then}")
    cold.extra["warm_iterations"] = res.iterations
    cold.extra["warm_status"] = res.status
    return cold


def starter_and_backend(checkpoint: str | Path | LearnedWarmStarter, *, solver: str | None, k: int | None,
                        polish: bool | None, options: dict[str, Any],
                        defaults: dict[str, dict[str, Any]] | None = None) -> tuple[LearnedWarmStarter, Backend]:
    """The plugins' model (``starter_from``) and backend: ``solver`` with ``options``, made (so
    checked) before the checkpoint is read; None: the solver the checkpoint was trained and its
    automatic k chosen for (its metadata's ``solver``), or pdlp where it names none. defaults:
    per solver name, settings where ``options`` give none (the caller's ecosystem's: cp.SCS's
    tolerance, a SCIP model's time limit)."""
    def made(name: str) -> Backend:
        return make_backend(name, **{**(defaults or {}).get(name, {}), **options})

    backend = made(solver) if solver is not None else None
    starter = starter_from(checkpoint, k=k, polish=polish)
    if backend is None:
        recorded = starter.meta.get("solver")
        backend = made(recorded if recorded in ("pdlp", "osqp", "scs", "highs") else "pdlp")
    return starter, backend


def starter_from(checkpoint: str | Path | LearnedWarmStarter, *, k: int | None = None,
                 polish: bool | None = None) -> LearnedWarmStarter:
    """The plugins' model: a checkpoint's, or the caller's own starter (loaded once for a loop
    of solves), with k and polish as given (None: the checkpoint's automatic choice, or the
    starter's own). A starter given with k or polish is copied, not changed: the caller's keeps
    its own for its other uses (``LearnedOSQP(st, k=1)`` beside ``LearnedOSQP(st, k=16)``)."""
    if not isinstance(checkpoint, LearnedWarmStarter):
        return LearnedWarmStarter.from_checkpoint(checkpoint, k=k, polish=polish)
    if k is None and polish is None:
        return checkpoint
    _check_polish(polish)
    starter = copy.copy(checkpoint)  # shares the network, its anchors and its metadata
    if k is not None:
        starter.k = k
    if polish is not None:
        starter.polish = bool(polish)
    return starter


def _placed(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``out[idx[i]] = v[i]``: values in the training order put back in the instance's."""
    out = np.empty_like(v)
    out[idx] = v
    return out
