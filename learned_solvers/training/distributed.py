"""Data-parallel training under ``torchrun`` (PyTorch DDP), for users who outgrow one process.

``torchrun --nproc_per_node N -m learned_solvers.cli train ...`` starts N processes; each
labels its share of the instances (with its own Dask scheduler setting), the labelled sets
are gathered so that every rank holds the same data, and each rank then trains on its share
of the batches of every epoch while ``DistributedDataParallel`` averages the gradients.
Rank 0 picks the automatic k and writes the checkpoint. Backend: NCCL on CUDA (one GPU per
rank, ``cuda:LOCAL_RANK``), Gloo on the CPU. Outside torchrun (``WORLD_SIZE`` unset or 1)
every function here is a no-op and training runs in this process alone.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

__all__ = ["init_from_env", "rank_and_world", "is_main", "shard", "gather_shards", "wrap", "epoch_share",
           "mean_over_ranks", "StopOnSignal", "barrier", "shutdown"]

T = TypeVar("T")


def _active() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def init_from_env(device: str) -> str:
    """Join the process group torchrun describes in the environment, once; returns this
    rank's device (``cuda:LOCAL_RANK`` when ``device`` is CUDA, else ``device``)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    cuda = torch.device(device).type == "cuda"
    if cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda under torchrun, but torch sees no CUDA device on this node")
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(torch.device(device))
    if not _active():
        # ranks wait for each other's labelling and for rank 0's choice of k: allow hours, not
        # the default 30 minutes
        torch.distributed.init_process_group(backend="nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=4))
    return device


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if not _active():
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def is_main() -> bool:
    return rank_and_world()[0] == 0


def shard(items: Sequence[T]) -> list[T]:
    """This rank's share of ``items``: every world-size-th item from its rank."""
    rank, world = rank_and_world()
    return list(items[rank::world])


def gather_shards(mine: list[T]) -> list[T]:
    """Inverse of ``shard`` for lists whose items were kept or dropped per item: every rank
    gets all ranks' items, in the original interleaved order (dropped ones stay dropped)."""
    rank, world = rank_and_world()
    if world == 1:
        return list(mine)
    parts: list[Any] = [None] * world
    torch.distributed.all_gather_object(parts, mine)  # between this job's own ranks only
    out: list[T] = []
    for i in range(max(len(p) for p in parts)):
        out.extend(p[i] for p in parts if i < len(p))
    return out


def wrap(model: nn.Module, *, find_unused_parameters: bool = False) -> nn.Module:
    """``DistributedDataParallel(model)`` under torchrun (weights broadcast from rank 0), else ``model``."""
    if not _active():
        return model
    dev = next(model.parameters()).device
    ids = [dev.index] if dev.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def epoch_share(n_batches: int, rng: np.random.Generator) -> np.ndarray:
    """This rank's batch indices for one epoch: one permutation drawn alike on every rank
    (same seed), padded by wrapping so every rank takes the same number of steps (DDP
    synchronises each step), then dealt out by rank."""
    perm = rng.permutation(n_batches)
    rank, world = rank_and_world()
    if world == 1:
        return perm
    pad = (-len(perm)) % world
    perm = np.concatenate([perm, perm[:pad]]) if pad <= len(perm) else np.resize(perm, len(perm) + pad)
    return perm[rank::world]


def mean_over_ranks(value: float) -> float:
    """The mean of a scalar over ranks (a training loss for the progress bar)."""
    if not _active():
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if torch.distributed.get_backend() == "nccl":
        t = t.cuda()
    torch.distributed.all_reduce(t)
    return float(t.item()) / torch.distributed.get_world_size()


class StopOnSignal:
    """Under torchrun, within the block: Ctrl-C (SIGINT) and SIGTERM are noted instead of raised,
    and ``agreed()`` (one all-reduce) tells every rank at the same step whether any rank got one.

    A rank that raised KeyboardInterrupt alone left the others waiting in the next collective
    call, and torchrun's agent, which sends the signal on to the ranks, kills them after its
    shutdown timeout (30 s): hours of training were lost. Stopping at one agreed step, every rank
    keeps the best state so far and rank 0 saves it in that time. Once a stop is agreed the
    handlers stay, so a second signal (the agent's, after the terminal's) cannot cut the save
    short. In one process, or off the main thread, this does nothing and ``agreed()`` is False.
    """

    def __init__(self) -> None:
        self.active = False
        self.got = False
        self.stopping = False
        self._before: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        import signal
        import threading

        if rank_and_world()[1] > 1 and threading.current_thread() is threading.main_thread():
            self.active = True
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._before[sig] = signal.signal(sig, self._note)
        return self

    def _note(self, signum: int, frame: Any) -> None:
        from .._interrupt import note_stop

        self.got = True
        note_stop(signum)

    def agreed(self) -> bool:
        """Whether any rank has got a signal: a collective call, so every rank must make it at the same step."""
        if not self.active:
            return False
        t = torch.tensor([1.0 if self.got else 0.0])
        if torch.distributed.get_backend() == "nccl":
            t = t.cuda()
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        self.stopping = self.stopping or bool(t.item() > 0)
        return self.stopping

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.active and not self.stopping:
            for sig, handler in self._before.items():
                signal.signal(sig, handler)


def barrier() -> None:
    if _active():
        torch.distributed.barrier()


def shutdown() -> None:
    if _active():
        torch.distributed.destroy_process_group()
