"""Implicit layer: a weight-tied block iterated to a fixed point, with a choice of backward.

``ImplicitLayer(block)`` evaluates ``z* = block(z*, ctx)``; gradients flow to the block's
parameters and to every tensor in ``ctx`` that requires grad.

Backward options (how gradients are formed, not how the forward pass is solved):
  * ``ImplicitDiff``: exact gradient of the fixed point by solving the adjoint fixed point
    ``g = J^T g + dL/dz*`` (J = d block / d z at z*). Memory: one block evaluation,
    whatever the number of forward iterations.
  * ``JacobianFree``: treat ``(I - J)^{-1}`` as ``I`` (one block step with grad; Fung et al.).
  * ``Phantom``: ``steps`` damped block steps with grad from the detached fixed point
    (Geng et al., "On training implicit models").
  * ``Unrolled``: backprop through every forward iteration (memory grows with k; used as
    the explicit baseline and for comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from .fixed_point import Anderson, FixedPointResult, ForwardSolver, fixed_point

__all__ = [
    "Block",
    "ImplicitDiff",
    "JacobianFree",
    "Phantom",
    "Unrolled",
    "BackwardMode",
    "ImplicitLayer",
    "ImplicitOutput",
]


class Block(Protocol):
    """A weight-tied update ``z <- block(z, ctx)``; ``init(ctx)`` gives ``z0``."""

    def __call__(self, z: Tensor, ctx: Any) -> Tensor: ...

    def init(self, ctx: Any) -> Tensor: ...


@dataclass(frozen=True, kw_only=True)
class ImplicitDiff:
    """Exact implicit gradient; the adjoint fixed point is solved with ``solver``."""

    solver: ForwardSolver = Anderson(memory=5)
    tol: float = 1e-10
    max_iter: int = 200


@dataclass(frozen=True, kw_only=True)
class JacobianFree:
    """Jacobian-free backprop: one block step with grad from the detached fixed point."""


@dataclass(frozen=True, kw_only=True)
class Phantom:
    """Phantom gradient: ``steps`` damped steps with grad from the detached fixed point."""

    steps: int = 5
    damping: float = 0.5

    def __post_init__(self) -> None:
        if self.steps < 1 or not 0.0 < self.damping <= 1.0:
            raise ValueError("Phantom needs steps >= 1 and damping in (0, 1]")


@dataclass(frozen=True, kw_only=True)
class Unrolled:
    """Backprop through all forward iterations (memory grows linearly in k)."""


BackwardMode = ImplicitDiff | JacobianFree | Phantom | Unrolled


@dataclass
class ImplicitOutput:
    """z: ``(B, *S)`` output with grad attached; solve: the forward solve's record."""

    z: Tensor
    solve: FixedPointResult


class ImplicitLayer(nn.Module):
    """Iterate ``block`` to a fixed point; ``k`` or ``tol`` is chosen at call time.

    Args:
        block: an ``nn.Module`` with ``forward(z, ctx)`` and ``init(ctx)``.
        solver: forward solver (``Anderson()`` or ``Picard()``).
        backward: one of ``ImplicitDiff``, ``JacobianFree``, ``Phantom``, ``Unrolled``.
        train_k: forward iterations used in training when the caller gives neither k nor tol.
    """

    def __init__(
        self,
        block: nn.Module,
        *,
        solver: ForwardSolver | None = None,
        backward: BackwardMode | None = None,
        train_k: int = 30,
    ) -> None:
        super().__init__()
        if not hasattr(block, "init"):
            raise TypeError("block must define init(ctx) -> z0")
        self.block = block
        self.solver: ForwardSolver = solver if solver is not None else Anderson()
        self.backward_mode: BackwardMode = backward if backward is not None else ImplicitDiff()
        if not isinstance(self.backward_mode, ImplicitDiff | JacobianFree | Phantom | Unrolled):
            raise TypeError(f"unknown backward mode {self.backward_mode!r}")
        self.train_k = train_k

    def forward(
        self,
        ctx: Any,
        *,
        k: int | None = None,
        tol: float | None = None,
        z0: Tensor | None = None,
        max_iter: int = 100,
        return_iterates: bool = False,
        callback: Callable[[int, Tensor], None] | None = None,
    ) -> ImplicitOutput:
        """Solve for the fixed point of ``block(., ctx)``.

        With neither ``k`` nor ``tol`` given, ``train_k`` iterations are run. With
        ``return_iterates`` the record holds ``z_1 .. z_k`` (inference use: no grad);
        ``callback(i, z_i)`` sees each iterate of the forward solve.
        """
        if k is None and tol is None:
            k = self.train_k
        own_start = z0 is None
        if z0 is None:
            z0 = self.block.init(ctx)

        def f(z: Tensor) -> Tensor:
            return self.block(z, ctx)

        mode = self.backward_mode
        needs_grad = torch.is_grad_enabled() and (
            any(p.requires_grad for p in self.parameters()) or _ctx_requires_grad(ctx)
        )
        if isinstance(mode, Unrolled) and needs_grad:
            rec = fixed_point(
                f, z0, solver=self.solver, k=k, tol=tol, max_iter=max_iter,
                return_iterates=return_iterates, check_start=not own_start, callback=callback,
            )
            return ImplicitOutput(z=rec.z, solve=rec)

        with torch.no_grad():
            rec = fixed_point(
                f, z0.detach(), solver=self.solver, k=k, tol=tol, max_iter=max_iter,
                return_iterates=return_iterates, check_start=not own_start, callback=callback,
            )
        if not needs_grad:
            return ImplicitOutput(z=rec.z, solve=rec)

        z_star = rec.z.detach()
        if isinstance(mode, Phantom):
            z = z_star
            for _ in range(mode.steps):
                z = (1.0 - mode.damping) * z + mode.damping * f(z)
            return ImplicitOutput(z=z, solve=rec)

        z = f(z_star)  # one step attaches the graph to parameters and ctx
        if isinstance(mode, JacobianFree) or not z.requires_grad:
            return ImplicitOutput(z=z, solve=rec)

        z_in = z_star.clone().requires_grad_()
        f_in = f(z_in)
        z.register_hook(_adjoint_hook(f_in, z_in, mode))
        return ImplicitOutput(z=z, solve=rec)


def _ctx_requires_grad(ctx: Any) -> bool:
    if isinstance(ctx, Tensor):
        return ctx.requires_grad
    if isinstance(ctx, dict):
        return any(_ctx_requires_grad(v) for v in ctx.values())
    if isinstance(ctx, list | tuple):
        return any(_ctx_requires_grad(v) for v in ctx)
    if hasattr(ctx, "__dataclass_fields__"):
        return any(_ctx_requires_grad(getattr(ctx, n)) for n in ctx.__dataclass_fields__)
    return False


def _adjoint_hook(f_in: Tensor, z_in: Tensor, mode: ImplicitDiff) -> Callable[[Tensor], Tensor]:
    """Replace dL/dz by g solving ``g = J^T g + dL/dz`` (vector-Jacobian products only)."""
    state = {"done": False}

    def hook(grad: Tensor) -> Tensor:
        # The hook may fire again if the graph is reused; only the first call is the adjoint.
        if state["done"]:
            return grad
        state["done"] = True

        def vjp_step(g: Tensor) -> Tensor:
            (jtg,) = torch.autograd.grad(f_in, z_in, g, retain_graph=True)
            return jtg + grad

        with torch.enable_grad():
            rec = fixed_point(
                vjp_step, grad, solver=mode.solver, tol=mode.tol, max_iter=mode.max_iter,
            )
        return rec.z

    return hook
