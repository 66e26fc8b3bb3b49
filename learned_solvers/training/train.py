"""Training the LP/QP implicit model on labelled instances (CPU by default, CUDA on request)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.config import K_LIMIT, check_fields
from ..models.anchors import ANCHOR_KINDS, AnchorBank
from ..models.qp_gnn import QPGNNConfig, QPGraph, QPImplicitModel, build_graph
from ..options import check_device, check_seed
from .data import Labelled
from .loop import fit, validation_split

__all__ = ["TrainConfig", "TrainResult", "train_qp_model", "graph_targets"]


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """jacobian_weight: weight of the Hutchinson estimate of |d block / dz|_F^2 at the
    training fixed point (``core.jacobian_penalty``, Bai et al. 2021): it keeps the block a
    contraction, so that the iterates settle and more of them never drift off; 0 turns it off.
    anchor: what the model corrects, ``"linear"`` (a ridge regression of the training optima
    on the family's varying data), ``"nearest"`` (the nearest training optimum) or None (no
    anchor: the model starts from zeros); see ``models.anchors``."""

    epochs: int = 60
    batch: int = 16
    lr: float = 2e-3
    width: int = 64
    train_k: int = 20
    backward: str = "implicit"
    device: str = "cpu"
    seed: int = 0
    val_fraction: float = 0.1
    anchor: str | None = "linear"
    jacobian_weight: float = 1.0

    def __post_init__(self) -> None:
        check_device(self.device)
        check_seed(self.seed)
        # here, where they are given, not after the labelling (a NaN rate failed in torch's optimiser, batch 0 in
        # range()); the model's own fields are checked again by QPGNNConfig
        check_fields(self, positive=("epochs", "batch", "width", "train_k"), at_most={"train_k": K_LIMIT},
                     rates=("lr",), weights=("jacobian_weight",), fractions=("val_fraction",),
                     choices={"backward": ("implicit", "phantom")})
        if self.anchor is not None and self.anchor not in ANCHOR_KINDS:
            raise ValueError(f"anchor must be one of {', '.join(ANCHOR_KINDS)} or None, got {self.anchor!r}")


@dataclass
class TrainResult:
    model: QPImplicitModel
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    val_error: float = math.nan
    val: list[Labelled] = field(default_factory=list)
    anchors: AnchorBank | None = None
    interrupted: str | None = None  # how a Ctrl-C stopped training early (``fit``), else None


def graph_targets(g: QPGraph, items: list[Labelled]) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised targets (N,), (M,) for a graph built from ``items``."""
    dev, dt = g.x_scale.device, g.x_scale.dtype
    x = torch.as_tensor(np.stack([it.x for it in items]), dtype=dt, device=dev) / g.x_scale
    y = torch.as_tensor(np.stack([it.y for it in items]), dtype=dt, device=dev) / g.y_scale
    return x, y


def _loss(x: torch.Tensor, y: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, g: QPGraph) -> torch.Tensor:
    """Mean over instances of relative squared errors of x and y; x, tx: (B, n), y, ty: (B, m)."""
    ex = (x - tx).pow(2).sum(1) / (tx.pow(2).sum(1) + 1e-6)
    ey = (y - ty).pow(2).sum(1) / (ty.pow(2).sum(1) + 1e-6)
    return (ex + ey).mean()


def _batches(items: list[Labelled], size: int, device: str, bank: AnchorBank | None, leave_one_out: bool,
             anchor_scale: bool = True):
    """Graphs of up to ``size`` same-size instances with their targets and anchors."""
    pos = {id(it): i for i, it in enumerate(items)}
    by_size: dict[tuple[int, int], list[Labelled]] = {}
    for it in items:
        by_size.setdefault((it.qp.n, it.qp.m), []).append(it)
    out = []
    for group in by_size.values():
        for i in range(0, len(group), size):
            chunk = group[i:i + size]
            anchors = None
            if bank is not None:
                found = [bank.anchor(it.qp, exclude=_index_in_group(items, pos[id(it)], bank) if leave_one_out
                                     else None)
                         for it in chunk]
                anchors = [a if a is not None else (np.zeros(it.qp.n), np.zeros(it.qp.m)) for a, it in zip(found, chunk)]
            g = build_graph([it.qp for it in chunk], anchors=anchors, anchor_scale=anchor_scale).to(device)
            out.append((g, *graph_targets(g, chunk)))
    return out


def _index_in_group(items: list[Labelled], i: int, bank: AnchorBank) -> int:
    """The index of ``items[i]`` in its bank group (the bank was built from ``items``)."""
    key = bank.key(items[i].qp)
    return sum(1 for it in items[:i] if bank.key(it.qp) == key)


def train_qp_model(data: list[Labelled], *, config: TrainConfig = TrainConfig(), progress: bool = True) -> TrainResult:
    """Train on ``data`` (a ``val_fraction`` is held out for model selection). Under torchrun
    (``training.distributed``) every rank passes the same ``data`` and trains on its share of
    each epoch's batches, with gradients averaged by DDP; every rank returns the same model."""
    if len(data) < 2:
        raise ValueError(f"training needs at least 2 solved instances, got {len(data)}: the family's instances "
                         "must solve to optimality (the warnings above say how the others ended)")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    val_i, tr_i = validation_split(len(data), config.val_fraction, rng)
    val, train = [data[i] for i in val_i], [data[i] for i in tr_i]
    dev = torch.device(config.device)
    model = QPImplicitModel(QPGNNConfig(width=config.width, train_k=config.train_k, backward=config.backward))
    model = model.to(dev, torch.float32)
    bank = AnchorBank.build(train, kind=config.anchor) if config.anchor is not None else None
    if bank is not None:
        # the untrained model hands over its anchor at every k (a zero correction): training then
        # keeps a correction only where one beats the anchor on the validation split
        for lin in (model.block.dec_x, model.block.dec_y):
            torch.nn.init.zeros_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
    scale = model.cfg.anchor_scale
    train_b = _batches(train, config.batch, config.device, bank, leave_one_out=True, anchor_scale=scale)
    val_b = _batches(val, config.batch, config.device, bank, leave_one_out=False, anchor_scale=scale)

    def batch_loss(net, batch):
        g, tx, ty = batch
        x, y, rec = net(g)
        return _loss(x, y, tx, ty, g), g, rec

    def val_score() -> float:
        return sum(_loss(*model(g)[:2], tx, ty, g).item() for g, tx, ty in val_b) / len(val_b)

    res = fit(model, train_b, batch_loss=batch_loss, val_score=val_score, epochs=config.epochs, lr=config.lr,
              jacobian_weight=config.jacobian_weight, rng=rng, desc="training (implicit diff)", val_key="val_loss",
              progress=progress, keep_initial=bank is not None)
    return TrainResult(model=model, history=res.history, seconds=res.seconds, val_error=math.sqrt(res.best_val / 2),
                       val=val, anchors=bank, interrupted=res.interrupted)
