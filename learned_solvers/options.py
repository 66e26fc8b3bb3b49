"""Checks of the options every entry point shares (the CLI, the starters, the configs), so a
bad value is refused where it is given, with what to use instead, before any work is spent."""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["check_counts", "check_device", "check_flags", "check_k", "check_recorded_k", "check_precision",
           "check_seed", "check_threads", "PRECISIONS", "SEED_LIMIT", "IterationsOption", "ThreadsOption"]

# precisions of PDE inference (LearnedPDEStarter), by torch dtype name
PRECISIONS = ("float32", "float64")
# seeds go to numpy (non-negative integers only) and, offset, to torch.manual_seed (64 bits)
SEED_LIMIT = 2**32 - 1


def check_device(device: str, *, what: str = "device") -> None:
    """Refuse a torch device this machine cannot use (``what`` names the option in the message)."""
    if device == "cpu":
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{what} {device!r} is not a torch device (cpu, cuda, cuda:1, ...)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{what} {device}: torch sees no CUDA device here; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{what} {device}: there are {torch.cuda.device_count()} CUDA devices here")
        return
    if dev.type == "meta":
        raise ValueError(f"{what} meta holds shapes and no values: nothing can be solved on it; use cpu or cuda")
    try:  # mps, xpu, ...: whether this torch build and machine can hold a tensor there
        torch.zeros(1, device=dev)
    except Exception as exc:  # torch's own reasons vary by backend: RuntimeError, AssertionError, ImportError
        why = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0][:160]
        raise ValueError(f"{what} {device}: this torch cannot use it here ({why}); use cpu or cuda") from exc


def check_precision(precision: str) -> str:
    """float32 (the default everywhere) or float64 (a solution-state mesh model run past float32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def check_recorded_k(k: Any, *, what: str) -> int | None:
    """A checkpoint's recorded k: 0 or a positive integer up to ``core.K_LIMIT``, or None."""
    from ._limits import K_LIMIT

    n = _count(k, what=what, allow_zero=True)
    if n is not None and n > K_LIMIT:
        raise ValueError(f"{what} {n} is more model iterations than a checkpoint records (at most {K_LIMIT})")
    return n


def check_k(k: int | None, *, what: str = "k", allow_zero: bool = False) -> int | None:
    """Model iterations: a positive integer up to ``core.K_LIMIT``, or None for the checkpoint's
    automatic k. ``allow_zero``: also 0, where it has a meaning (LP/QP: no network, the anchor
    as the start)."""
    from ._limits import K_LIMIT

    n = _count(k, what=what, allow_zero=allow_zero)
    if n is not None and n > K_LIMIT:  # 99999 for 9999 kept a bench running for minutes
        raise ValueError(f"{what} {n} is more model iterations than this package runs (at most {K_LIMIT}); the "
                         "iterate settles long before (`learned-solvers scaling` shows where)")
    return n


def _whole(v: Any) -> int:
    """``v`` as a whole number (an int or numpy integer, not 2.5, "4" or True), else -1."""
    if isinstance(v, bool):
        return -1
    try:
        return operator.index(v)
    except TypeError:
        return -1


def _count(k: Any, *, what: str, allow_zero: bool) -> int | None:
    if k is None:
        return None
    n = _whole(k)
    if n < (0 if allow_zero else 1):
        zero = " (or 0: no network, the anchor)" if allow_zero else ""
        raise ValueError(f"{what} must be a positive integer (model iterations){zero} or None for the "
                         f"checkpoint's automatic k, got {k!r}")
    return n


def check_seed(seed: Any, *, what: str = "seed") -> int:
    """A seed of instances and training: an integer from 0 to ``SEED_LIMIT``."""
    n = _whole(seed)
    if not 0 <= n <= SEED_LIMIT:
        raise ValueError(f"{what} must be an integer from 0 to {SEED_LIMIT}, got {seed!r}")
    return n


def check_flags(**flags: Any) -> None:
    """Switches of a call (``retry_cold=True``): True or False, where a string such as ``"no"``
    had counted as True."""
    for what, v in flags.items():
        if not isinstance(v, bool):
            raise TypeError(f"{what} must be True or False, got {v!r}")


def check_counts(**counts: Any) -> None:
    """Instance counts (``n_test=20, n_train=100``; None: not given, passed over): whole numbers,
    refused by name before any work, where ``2.5`` had failed in ``range()`` after the labelling."""
    for what, n in counts.items():
        if n is not None and _whole(n) < 0:
            raise ValueError(f"{what} must be a whole number of instances, got {n!r}")


def check_threads(threads: int | None) -> int | None:
    """torch's CPU threads for inference: a positive integer, or None for the starter's size
    rule (one thread below ``THREADS_FROM`` graph nodes, else torch's own setting)."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return threads


class _CheckedOption:
    """A class attribute kept in the instance's ``_name`` slot; subclasses check each value in ``__set__``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: object, owner: type | None = None) -> int | None:
        return self if obj is None else getattr(obj, self.slot)  # type: ignore[return-value]


class IterationsOption(_CheckedOption):
    """A class attribute ``k = IterationsOption()``: model iterations at inference, checked by
    ``check_k`` on every assignment (the constructor's and a user's later ``starter.k = ...``).
    ``allow_zero``: as in ``check_k``."""

    def __init__(self, *, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def __set__(self, obj: object, value: int | None) -> None:
        setattr(obj, self.slot, check_k(value, allow_zero=self.allow_zero))


class ThreadsOption(_CheckedOption):
    """A class attribute ``threads = ThreadsOption()``: torch's CPU threads for a starter's
    inference, checked by ``check_threads`` on every assignment (None: the size rule)."""

    def __set__(self, obj: object, value: int | None) -> None:
        setattr(obj, self.slot, check_threads(value))
