"""Forward fixed-point solvers: damped Picard and Anderson acceleration.

Everything is batched: an iterate ``z`` has shape ``(B, *S)``; residuals are computed per
batch element on the flattened ``(B, D)`` view. ``f`` maps ``(B, *S) -> (B, *S)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = [
    "Picard",
    "Anderson",
    "ForwardSolver",
    "FixedPointResult",
    "FixedPointNotConverged",
    "NonFiniteInputError",
    "fixed_point",
]


class NonFiniteInputError(ValueError):
    """Raised when the starting point of a fixed-point solve holds NaN or inf."""


class FixedPointNotConverged(RuntimeError):
    """Raised by ``fixed_point(..., strict=True)`` when the tolerance is not reached."""


@dataclass(frozen=True, kw_only=True)
class Picard:
    """Damped Picard: ``z <- (1 - damping) z + damping f(z)``."""

    damping: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.damping <= 1.0:
            raise ValueError(f"Picard damping must lie in (0, 1], got {self.damping}")


@dataclass(frozen=True, kw_only=True)
class Anderson:
    """Anderson acceleration (type II) with a window of ``memory`` past iterates.

    ``regularization`` is the Tikhonov term of the small least-squares solve; ``damping`` mixes
    the extrapolated point with the extrapolated image (``1.0`` = use the image only).
    """

    memory: int = 5
    damping: float = 1.0
    regularization: float = 1e-10

    def __post_init__(self) -> None:
        if self.memory < 1:
            raise ValueError(f"Anderson memory must be >= 1, got {self.memory}")
        if not 0.0 < self.damping <= 1.0:
            raise ValueError(f"Anderson damping must lie in (0, 1], got {self.damping}")


ForwardSolver = Picard | Anderson


@dataclass
class FixedPointResult:
    """Outcome of a forward solve.

    z: ``(B, *S)`` last iterate.
    residuals: ``(T, B)`` relative residual ``|f(z) - z| / (|f(z)| + eps)`` of each iterate.
    iterations: number of evaluations of ``f`` (T).
    converged: ``(B,)`` bool; ``True`` only where a tolerance was given and reached with
        finite values. With a fixed ``k`` and no tolerance, nothing is claimed: all ``False``
        unless the residual is already below ``1e-6`` (see ``fixed_point``).
    diverged: ``(B,)`` bool; non-finite values appeared or the residual grew by 1e3x.
    iterates: the iterates ``z_1 .. z_T`` (each ``(B, *S)``) when asked for, else ``None``.
    """

    z: Tensor
    residuals: Tensor
    iterations: int
    converged: Tensor
    diverged: Tensor
    iterates: list[Tensor] | None = field(default=None, repr=False)

    @property
    def final_residual(self) -> Tensor:
        """``(B,)`` residual of the last iterate."""
        return self.residuals[-1]


def _rel_residual(fz: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    """Relative and absolute residuals, each ``(B,)``."""
    b = z.shape[0]
    diff = (fz - z).reshape(b, -1).norm(dim=1)
    return diff / (fz.reshape(b, -1).norm(dim=1) + 1e-12), diff


def fixed_point(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    *,
    solver: ForwardSolver | None = None,
    k: int | None = None,
    tol: float | None = None,
    max_iter: int = 100,
    return_iterates: bool = False,
    strict: bool = False,
    default_tol: float = 1e-6,
    check_start: bool = True,
    callback: Callable[[int, Tensor], None] | None = None,
) -> FixedPointResult:
    """Iterate ``z <- f(z)`` from ``z0`` with Picard or Anderson.

    Exactly one of the stopping rules applies:
      * ``k`` given: exactly ``k`` evaluations of ``f`` (anytime inference); the batch is
        flagged ``converged`` where the last residual is below ``tol or default_tol``.
      * otherwise: stop when every batch element's residual is below ``tol`` (default
        ``default_tol``) or after ``max_iter`` evaluations.

    Non-finite values in ``z0`` raise ``NonFiniteInputError``. Non-finite values produced by
    ``f`` stop the solve and are reported as ``diverged`` (never ``converged``), with a
    warning. ``strict=True`` raises ``FixedPointNotConverged`` instead of warning.
    Runs under whatever grad mode the caller set; the implicit layer calls it in ``no_grad``.
    ``check_start=False`` skips the check of ``z0`` (a caller that built it, e.g. zeros).
    ``callback(i, z_i)`` sees every iterate (i = 1, 2, ...) as it is made, e.g. to keep the best
    one by a merit the caller can compute.
    """
    solver = solver if solver is not None else Anderson()
    if check_start and not torch.isfinite(z0).all():
        raise NonFiniteInputError(
            "fixed_point: the starting point holds NaN or inf; check the instance data "
            "that built it (features are computed from the instance)."
        )
    if k is not None and k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    target = tol if tol is not None else default_tol
    n_steps = k if k is not None else max_iter
    bsz = z0.shape[0]

    if isinstance(solver, Anderson):
        z, trace, steps, iterates = _anderson(
            f, z0, solver, n_steps, target, k is None, return_iterates, callback
        )
    elif isinstance(solver, Picard):
        z, trace, steps, iterates = _picard(
            f, z0, solver, n_steps, target, k is None, return_iterates, callback
        )
    else:
        raise TypeError(f"unknown forward solver {solver!r}; use Picard(...) or Anderson(...)")

    if trace:
        residuals = torch.stack(trace)
    else:
        residuals = torch.full((0, bsz), math.nan, device=z0.device, dtype=z0.dtype)
    finite = torch.isfinite(z.reshape(bsz, -1)).all(dim=1)
    if trace:
        last = residuals[-1]
        # a step that grew 1e3-fold is divergence even when the relative residual looks flat
        blown_up = (steps[-1] > 1e3 * steps[0].clamp_min(1e-30)) & (last > target)
        diverged = ~finite | ~torch.isfinite(last) | blown_up
        converged = (last <= target) & ~diverged
    else:
        diverged = ~finite
        converged = torch.zeros(bsz, dtype=torch.bool, device=z0.device)

    if (k is None or tol is not None) and not bool(converged.all()):
        n_bad = int((~converged).sum())
        msg = (
            f"fixed_point: {n_bad} of {bsz} batch elements did not reach residual {target:g} "
            f"in {len(trace)} iterations ({int(diverged.sum())} diverged); "
            "raise max_iter, lower the damping, or keep the block contractive."
        )
        if strict:
            raise FixedPointNotConverged(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return FixedPointResult(
        z=z,
        residuals=residuals,
        iterations=len(trace),
        converged=converged,
        diverged=diverged,
        iterates=iterates,
    )


def _stop(res: Tensor, target: float, use_tol: bool) -> bool:
    if not bool(torch.isfinite(res).all()):
        return True
    return use_tol and bool((res <= target).all())


def _picard(f, z0, cfg: Picard, n_steps, target, use_tol, keep, callback=None):
    z = z0
    trace: list[Tensor] = []
    steps: list[Tensor] = []
    iterates: list[Tensor] | None = [] if keep else None
    for _ in range(n_steps):
        fz = f(z)
        res, step = _rel_residual(fz, z)
        z = fz if cfg.damping == 1.0 else (1.0 - cfg.damping) * z + cfg.damping * fz
        trace.append(res.detach())
        steps.append(step.detach())
        if iterates is not None:
            iterates.append(z)
        if callback is not None:
            callback(len(trace), z)
        if _stop(res, target, use_tol):
            break
    return z, trace, steps, iterates


def _anderson(f, z0, cfg: Anderson, n_steps, target, use_tol, keep, callback=None):
    """Batched Anderson (Walker & Ni form) on the flattened ``(B, D)`` view."""
    bsz = z0.shape[0]
    shape = z0.shape
    m = cfg.memory
    trace: list[Tensor] = []
    steps: list[Tensor] = []
    iterates: list[Tensor] | None = [] if keep else None
    xs: list[Tensor] = []  # past points, each (B, D)
    gs: list[Tensor] = []  # past residuals g = f(x) - x
    fs: list[Tensor] = []  # past images f(x)
    x = z0.reshape(bsz, -1)
    for _ in range(n_steps):
        fx = f(x.reshape(shape)).reshape(bsz, -1)
        g = fx - x
        step = g.norm(dim=1)
        res = step / (fx.norm(dim=1) + 1e-12)
        trace.append(res.detach())
        steps.append(step.detach())
        xs.append(x)
        gs.append(g)
        fs.append(fx)
        if len(xs) > m + 1:
            xs.pop(0)
            gs.pop(0)
            fs.pop(0)
        if len(xs) == 1:
            x_new = fx
        else:
            # minimise |sum_i alpha_i g_i| s.t. sum alpha = 1, via differences
            dg = torch.stack([gs[i + 1] - gs[i] for i in range(len(gs) - 1)], dim=2)  # (B,D,h)
            dx = torch.stack([xs[i + 1] - xs[i] for i in range(len(xs) - 1)], dim=2)
            df = torch.stack([fs[i + 1] - fs[i] for i in range(len(fs) - 1)], dim=2)
            gram = dg.transpose(1, 2) @ dg  # (B,h,h)
            h = gram.shape[-1]
            scale = gram.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-30)[:, None, None]
            eye = torch.eye(h, dtype=x.dtype, device=x.device)
            rhs = dg.transpose(1, 2) @ g.unsqueeze(2)  # (B,h,1)
            reg = max(cfg.regularization, 100 * torch.finfo(x.dtype).eps)
            gamma, info = torch.linalg.solve_ex(gram + reg * scale * eye, rhs)
            # a singular window (e.g. an element that already converged) falls back to Picard
            bad = (info != 0) | ~torch.isfinite(gamma).all(dim=(1, 2))
            gamma = torch.where(bad[:, None, None], torch.zeros_like(gamma), gamma)
            x_bar = x - (dx @ gamma).squeeze(2)
            f_bar = fx - (df @ gamma).squeeze(2)
            x_new = f_bar if cfg.damping == 1.0 else (1 - cfg.damping) * x_bar + cfg.damping * f_bar
        x = x_new
        if iterates is not None:
            iterates.append(x.reshape(shape))
        if callback is not None:
            callback(len(trace), x.reshape(shape))
        if _stop(res, target, use_tol):
            break
    return x.reshape(shape), trace, steps, iterates
