"""`learned-solvers demo`: the headline pipeline on embedded defaults, then the core's point.

1. LP warm starts: a family made from the embedded Netlib LP ``sc105`` (objective, right-hand
   sides and bounds perturbed by up to 10%); labels solved with HiGHS on a local Dask cluster;
   an implicit model trained on the CPU; held-out instances solved by PDLP (1e-6) cold, from
   the learned start, from the nearest training optimum, and from their own optimum.
2. The core: an implicit model trained on random 8x8 systems ``A x = b``; its held-out error
   falls as the inference iterations ``k`` grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import torch

from problems.linear_systems import generate

from ._progress import tqdm
from .core import Anderson, ImplicitDiff, ImplicitLayer
from .models.dense_system import ResidualBlock, SystemBatch


def embedded_sc105() -> str:
    return str(resources.files("learned_solvers") / "data" / "sc105.mps.gz")


@dataclass(frozen=True, kw_only=True)
class CoreDemoConfig:
    n: int = 8
    train: int = 2000
    test: int = 500
    epochs: int = 10
    batch: int = 100
    lr: float = 1e-3
    train_k: int = 30
    ks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class CoreDemoRow:
    k: int
    error_median: float
    residual_median: float


def run_core_demo(config: CoreDemoConfig = CoreDemoConfig(), *, progress: bool = True) -> list[CoreDemoRow]:
    """Train on ``config.train`` systems, return the held-out error for each ``k``."""
    torch.manual_seed(config.seed)
    dev = torch.device(config.device)
    tr = generate(config.train, n=config.n, seed=config.seed)
    te = generate(config.test, n=config.n, seed=config.seed + 1)
    layer = ImplicitLayer(
        ResidualBlock(config.n), solver=Anderson(),
        backward=ImplicitDiff(tol=1e-6, max_iter=50), train_k=config.train_k,
    ).to(dev)
    opt = torch.optim.Adam(layer.parameters(), lr=config.lr)
    a, b, x = tr.A.to(dev), tr.b.to(dev), tr.x.to(dev)
    bar = tqdm(range(config.epochs), desc="training (implicit diff)", disable=not progress)
    for _ in bar:
        perm = torch.randperm(config.train, device=dev)
        for i in range(0, config.train, config.batch):
            idx = perm[i : i + config.batch]
            z = layer(SystemBatch(a[idx], b[idx])).z
            loss = ((z - x[idx]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        bar.set_postfix(loss=f"{loss.item():.2e}")
    layer.eval()
    rows = []
    ta, tb, tx = te.A.to(dev), te.b.to(dev), te.x.to(dev)
    with torch.no_grad():
        for k in config.ks:
            z = layer(SystemBatch(ta, tb), k=k).z
            err = (z - tx).norm(dim=1) / tx.norm(dim=1)
            res = (tb - torch.einsum("bij,bj->bi", ta, z)).norm(dim=1) / tb.norm(dim=1)
            rows.append(CoreDemoRow(k, err.median().item(), res.median().item()))
    return rows


def format_rows(rows: list[CoreDemoRow]) -> str:
    lines = ["   k | median rel. error | median rel. residual", "-----+-------------------+---------------------"]
    lines += [f"{r.k:4d} | {r.error_median:17.4e} | {r.residual_median:19.4e}" for r in rows]
    return "\n".join(lines)
