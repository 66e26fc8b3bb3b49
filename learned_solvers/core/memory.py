"""Measure what a forward pass keeps for backward (device-agnostic memory accounting)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

__all__ = ["SavedTensors", "saved_tensors", "peak_cuda_bytes"]


@dataclass
class SavedTensors:
    """Count and bytes of tensors autograd saved for backward inside the context."""

    count: int = 0
    bytes: int = 0


@contextmanager
def saved_tensors() -> Iterator[SavedTensors]:
    """Record every tensor autograd saves for backward (``saved_tensors_hooks``).

    Storage shared by several saves is counted once, so views of one buffer are not
    double-counted. Works on CPU and CUDA alike.
    """
    rec = SavedTensors()
    seen: set[int] = set()

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            rec.count += 1
            rec.bytes += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield rec


def peak_cuda_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak CUDA memory allocated while running ``fn`` (CUDA devices only)."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base
