"""The epoch loop both trainers share: Adam with cosine decay, optional Jacobian penalty, the
best validation state kept, DDP under torchrun (``training.distributed``)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._interrupt import stop_reason
from .._progress import tqdm
from ..core import jacobian_penalty
from . import distributed

__all__ = ["FitResult", "TrainingInterrupted", "fit", "validation_split"]


class TrainingInterrupted(UserWarning):
    """Training was stopped early by Ctrl-C (or SIGTERM) and goes on with the best state it had."""


@dataclass
class FitResult:
    history: list[dict[str, float]]
    seconds: float
    best_val: float  # the validation score of the state the model holds on return
    epochs_done: int = 0
    interrupted: str | None = None  # how a Ctrl-C stopped training early, else None


def validation_split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (validation, training) of ``n`` instances in a seeded order: a ``fraction`` of
    them, at least one, held out for model selection; where that would leave none to train
    on, the validation instances train too. Both trainers split this way."""
    order = rng.permutation(n)
    n_val = max(1, int(round(fraction * n)))
    return order[:n_val], (order[n_val:] if n_val < n else order[:n_val])


def fit(model: torch.nn.Module, train_b: Sequence[Any], *,
        batch_loss: Callable[[torch.nn.Module, Any], tuple[torch.Tensor, Any, Any]],
        val_score: Callable[[], float], epochs: int, lr: float, jacobian_weight: float,
        rng: np.random.Generator, desc: str, val_key: str, progress: bool,
        keep_initial: bool = False) -> FitResult:
    """Train ``model`` in place and leave it, in eval mode, at its best validation state.

    batch_loss(net, batch) -> (loss, graph, fixed-point record): one batch through ``net`` (the
    model, or its DDP wrapper); the graph and the record's ``z`` give the Jacobian penalty at the
    training iterate. val_score() -> float: lower is better, computed under ``no_grad`` on every
    rank alike, so every rank keeps the same state. keep_initial: the untrained state competes
    too (a model that starts as a known good map keeps it unless an epoch beats it on validation).
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    best, best_state, history = math.inf, None, []
    t0 = time.perf_counter()
    if keep_initial:
        model.eval()
        with torch.no_grad():
            best = val_score()
        best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
    net = distributed.wrap(model)
    rank, world = distributed.rank_and_world()
    desc += f", {world} DDP ranks" if world > 1 else ""
    # counted in batches, not epochs: an epoch of large instances takes minutes, and a bar that
    # moves once an epoch looks hung until then (every rank takes the same number of steps)
    per_epoch = -(-len(train_b) // world)
    bar = tqdm(total=epochs * per_epoch, desc=desc, unit="batch", disable=not progress or rank > 0)
    done, interrupted, skipped, steps = 0, None, 0, 0
    postfix: dict[str, str] = {}
    # under torchrun a Ctrl-C or SIGTERM stops every rank at one agreed step; in one process it raises
    stops = distributed.StopOnSignal()
    try:
        with stops:
            for epoch in range(epochs):
                model.train()
                tot, tot_jac = 0.0, 0.0
                mine = distributed.epoch_share(len(train_b), rng)
                steps += len(mine)
                bar.set_postfix({"epoch": f"{epoch + 1}/{epochs}", **postfix}, refresh=False)
                for j in mine:
                    if stops.agreed():  # every rank stops at the same step
                        raise KeyboardInterrupt
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)  # adjoint tolerance misses are fine in training
                        loss, g, rec = batch_loss(net, train_b[j])
                        tot = tot + loss.detach()  # summed on the device: one sync an epoch, not one a batch
                        if jacobian_weight > 0:
                            blk = model.block
                            jac = jacobian_weight * jacobian_penalty(lambda v: blk(v, g), rec.z)
                            tot_jac = tot_jac + jac.detach()
                            loss = loss + jac
                        opt.zero_grad()
                        loss.backward()
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    bar.update(1)
                    # one batch's NaN or inf would make every weight NaN for good: its step is skipped (under
                    # DDP the gradients are averaged before this, so every rank skips alike)
                    if not torch.isfinite(norm):
                        skipped += 1
                        continue
                    opt.step()
                with warnings.catch_warnings():  # an epoch whose every step was skipped: torch warns of the order
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
                    sched.step()
                model.eval()
                with torch.no_grad():
                    v = val_score()
                # the fit term alone, the validation loss's measure on LP/QP; the penalty apart: it can be
                # tens of times the fit (early in training) and would hide the fit's curve
                train_loss = distributed.mean_over_ranks(float(tot) / max(len(mine), 1))
                history.append({"epoch": epoch, "train_loss": train_loss, val_key: v})
                if jacobian_weight > 0:
                    history[-1]["jacobian_penalty"] = distributed.mean_over_ranks(float(tot_jac) / max(len(mine), 1))
                if v < best:
                    best, best_state = v, {k: t.detach().clone() for k, t in model.state_dict().items()}
                # named as the history names them: an LP/QP val_loss is not the val_error its summary prints
                postfix = {"train_loss": f"{train_loss:.3e}", val_key: f"{v:.3e}",
                           **({"jacobian": f"{history[-1]['jacobian_penalty']:.2e}"} if jacobian_weight > 0 else {})}
                bar.set_postfix({"epoch": f"{epoch + 1}/{epochs}", **postfix})
                done = epoch + 1
            if stops.agreed():  # a signal during the last epoch's validation
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        # stop here and keep the best state so far, so hours of training still give a checkpoint;
        # DDP ranks do so only at a step they agreed on (``StopOnSignal``), as all ranks then do
        if best_state is None or (world > 1 and not stops.stopping):
            raise
        bar.close()
        interrupted = (f"stopped by {stop_reason()} in epoch {done + 1} of {epochs} ({done} completed)" if done < epochs
                       else f"stopped by {stop_reason()} after its last epoch ({done} completed)")
        then = ("What follows training goes on (saving), without the sweep that chooses the automatic k: "
                + ("torchrun's agent ends the ranks 30 s after the signal (its --shutdown-timeout)" if world > 1 else
                   "a batch scheduler's kill follows its SIGTERM")
                if world > 1 or stop_reason() == "SIGTERM" else
                f"What follows training (choosing k, saving) goes on; {stop_reason()} again cuts choosing k short")
        if rank == 0:
            warnings.warn(f"training {interrupted}; the model keeps its best state so far ({val_key} {best:.3g}). "
                          f"{then}", TrainingInterrupted, stacklevel=2)
    finally:
        bar.close()
    if best_state is None:  # a checkpoint of NaN weights would only warn at every later solve
        bad = next((h["epoch"] for h in history if not math.isfinite(h["train_loss"] + h.get("jacobian_penalty", 0.0))),
                   None)
        raise RuntimeError(f"training gave no model with a finite {val_key} in {epochs} epochs"
                           + (f" (the training loss was NaN or inf from epoch {bad})" if bad is not None else "")
                           + ": the instances may hold a singular or ill-posed system; check the family's data, or "
                             "train with a lower learning rate")
    if skipped and skipped == steps:
        raise RuntimeError(f"every one of the {steps} training steps had a NaN or inf loss or gradient, so the model "
                           "was not trained: the instances may hold a singular or ill-posed system; check the "
                           "family's data, or train with a lower learning rate")
    if skipped:
        warnings.warn(f"{skipped} of {steps} training steps had a NaN or inf loss or gradient and were skipped",
                      RuntimeWarning, stacklevel=2)
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(history=history, seconds=time.perf_counter() - t0, best_val=best, epochs_done=done,
                     interrupted=interrupted)
