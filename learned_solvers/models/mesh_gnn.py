"""Implicit message passing on meshes: the sparsity graph of the assembled operator.

One weight-tied block updates a per-dof state from (a) messages along the operator's nonzeros,
weighted by the operator itself (``-A_ij / A_ii``), (b) a coarse level: dofs pooled (multilinear
weights) onto a fixed grid of points over the domain's bounding box, mixed globally by a learned
row-stochastic matrix, and interpolated back (so information crosses the mesh in one iteration), and (c) the
Jacobi-scaled residual ``D^-1 (b - A u)`` of the current decoded estimate, so the exact solution
of the system leaves the block nothing to correct. For a nonlinear problem that is the first
Newton system's, unless the instance carries its own residual (``PDEData.quasilinear``): then
``-D^-1 F(u)``, and the answer itself is the fixed point. The decoded solution gets a coarse-grid
correction: a Galerkin solve for a linear problem, Newton steps on the coarse space for a
quasilinear one. Nothing depends on the number of dofs: the same weights run on a finer mesh
of the same domain.

Two ways to hand out the solution. Decoded (``solution_state=False``): a linear read-out of
the hidden state, added to the anchor; its fixed point is close to the answer, not at it, so
the error stops falling after some iterations. Solution state (``solution_state=True``, the
default for symmetric linear problems): the state also carries the solution u and the last step
p; each step adds a direction that is a learned, per-dof polynomial in the Jacobi-scaled
residual (zero when the residual is), moves along it and p by the amounts that minimise the
energy (a flexible conjugate-gradient step, so the A-norm error never grows), then applies the
coarse correction. The answer is then exactly the fixed point, and each iteration brings the
start closer to it: a learned two-grid Krylov method, whose k is a true accuracy knob. On a
quasilinear problem the amounts minimise the linearised residual instead (exact
Jacobian-vector products), and a step is kept only if the residual shrinks.

Shapes: a batch is the disjoint union of B instances, N dofs in all, width H; state z (N, H),
or (N, H + 3) with the solution state (hidden, u, u's low part, last step). In a float32 model's
inference on a symmetric linear or a quasilinear problem u is carried as two float32 numbers whose
sum is its float64 value, and the residual is computed in float64: a float32 u alone rounds at
about 4e-8 of the answer, where the error stopped falling with k; training keeps the low part zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..canonical.pde import PDEData, cell_mean_coefficient, row_sums
from ..core import K_LIMIT, ImplicitDiff, ImplicitLayer, Phantom, Picard, check_fields, spectral_linear
from .mesh_graph import FamilyNorm, MeshCache, MeshGraph, build_mesh_graph, spmm, take

__all__ = ["MeshGNNConfig", "MeshImplicitModel", "residual_hat"]


@dataclass(frozen=True, kw_only=True)
class MeshGNNConfig:
    """width: state size H; grid: coarse bins per dimension; damping: mixing of old and new
    state; train_k: forward iterations in training; backward: 'phantom' (default) or 'implicit'.

    Phantom gradients by default: the residual feedback makes the block's Jacobian large
    (the residual of a mesh operator amplifies rough changes), and the exact adjoint fixed
    point then diverges in training; the phantom gradient's damped steps stay bounded."""

    width: int = 32
    grid: int = 16
    damping: float = 0.5
    train_k: int = 16
    backward: str = "phantom"
    n_fields: int = 1
    gdim: int = 2
    coarse_correction: bool = True
    # (a0, a1, a2) of k(u) when the block feeds back the exact residual of -div(k(u) grad u) = f
    # (PDEData.quasilinear), so the answer itself is the fixed point; None: the first Newton system's
    quasilinear: tuple[float, float, float] | None = None
    # the solution is part of the state and each step moves it along a learned polynomial in the
    # Jacobi-scaled residual (coefficients per dof, from the hidden state) and the last step, by
    # the amounts that minimise the energy, then applies the coarse correction: the answer is
    # then exactly a fixed point, and more iterations converge to it (a learned two-grid Krylov
    # method; symmetric linear problems, and quasilinear ones with the linearised residual in
    # place of the energy). Off: the solution is decoded from the hidden state.
    solution_state: bool = False

    def __post_init__(self) -> None:
        check_fields(self, positive=("width", "grid", "train_k", "n_fields", "gdim"), fractions=("damping",),
                     flags=("coarse_correction", "solution_state"), choices={"backward": ("phantom", "implicit")},
                     at_most={"train_k": K_LIMIT})
        if self.quasilinear is not None:
            if isinstance(self.quasilinear, (str, bytes)) or len(self.quasilinear) != 3:
                raise ValueError(f"MeshGNNConfig.quasilinear must be (a0, a1, a2) or None, got {self.quasilinear!r}")
            object.__setattr__(self, "quasilinear", tuple(float(a) for a in self.quasilinear))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quasilinear"] = list(self.quasilinear) if self.quasilinear is not None else None
        return d


def _wide(g: MeshGraph, u: Tensor) -> bool:
    """Whether the quasilinear terms at u are computed in float64: u is float64 (a pair's sum,
    ``_paired``) and the graph carries the terms in float64."""
    return u.dtype == torch.float64 and g.ql_grad64 is not None


def _ql_terms(g: MeshGraph, uu: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For U (N,) in original units: cell coefficients k (C,), cell gradients (C, d), K(U) U (N,);
    in float64 where ``_wide``."""
    grad, meas = (g.ql_grad64, g.ql_meas64) if _wide(g, uu) else (g.ql_grad, g.ql_meas)
    uc = take(uu, g.ql_cells)  # (C, d+1)
    d1 = uc.shape[1]
    k = cell_mean_coefficient(uc, g.ql_coeff)
    gu = spmm(grad, uu).view(uc.shape[0], d1 - 1)
    ku = spmm((grad[1], grad[0]), (gu * (meas * k)[:, None]).reshape(-1))
    return k, gu, ku


def _owner(g: MeshGraph) -> Tensor:
    """(N,) the instance of each dof."""
    return torch.repeat_interleave(torch.arange(len(g.sizes), device=g.bc.device),
                                   torch.as_tensor(g.sizes, device=g.bc.device))


def _per_instance(g: MeshGraph, v: Tensor, owner: Tensor) -> Tensor:
    """(B,) sums of v (N,) over each instance's dofs."""
    return torch.zeros(len(g.sizes), dtype=v.dtype, device=v.device).index_add_(0, owner, v)


def _energy(g: MeshGraph, u: Tensor, owner: Tensor) -> Tensor:
    """(B,) ``1/2 u'Au - b'u`` per instance (scaled operator), in float64 where the graph has it:
    near the answer two energies differ in their last float32 digits."""
    if g.Araw64 is not None:
        u = u.double()
        return _per_instance(g, 0.5 * u * spmm(g.Araw64, u) - g.braw64 * u, owner)
    return _per_instance(g, 0.5 * u * spmm(g.Araw, u) - g.braw * u, owner)


def raw_residual(g: MeshGraph, u: Tensor) -> Tensor:
    """(N,) ``braw - Araw u`` of a linear problem, computed in float64 where the graph has it,
    in the graph's dtype whatever u's (u may be the float64 sum of a float32 pair)."""
    if g.Araw64 is None:
        return g.braw - spmm(g.Araw, u)
    return (g.braw64 - spmm(g.Araw64, u.double())).to(g.braw.dtype)


def _energy_step(g: MeshGraph, rr: Tensor, d: Tensor, p: Tensor, owner: Tensor) -> Tensor:
    """The step a d + b p (N,) that minimises the energy ``1/2 v'Av - b'v`` at v = u + a d + b p,
    per instance, given the residual rr = b - A u: the A-norm error never grows, whatever the
    learned direction d; with the previous step p it is a flexible conjugate-gradient step."""
    ad, ap = spmm(g.Araw, d), spmm(g.Araw, p)
    gram = [_per_instance(g, x, owner) for x in (d * ad, d * ap, p * ap, d * rr, p * rr)]
    return _two_directions(*gram, d, p, owner)


def _two_directions(dd: Tensor, dp: Tensor, pp: Tensor, rd: Tensor, rp: Tensor, d: Tensor, p: Tensor,
                    owner: Tensor) -> Tensor:
    """a d + b p (N,) with (a, b) (B,) solving [[dd, dp], [dp, pp]] (a, b) = (rd, rp) per
    instance; b = 0 where p is parallel to d (or zero: the first step)."""
    det = dd * pp - dp * dp
    both = det > 1e-10 * dd * pp
    safe = lambda x: torch.where(x != 0, x, torch.ones_like(x))  # noqa: E731
    a = torch.where(both, (rd * pp - rp * dp) / safe(det), rd / safe(dd))
    b = torch.where(both, (rp * dd - rd * dp) / safe(det), torch.zeros_like(rd))
    return take(a, owner) * d + take(b, owner) * p


def _ql_linearised(g: MeshGraph, u: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """At the normalised u (N,): ``_ql_terms`` (k (C,), cell gradients (C, d), K(U) U (N,)) and
    dk (C, d+1), the derivative of each cell's mean coefficient by its vertex values."""
    uu = u * g.u_scale
    k, gu, ku = _ql_terms(g, uu)
    uc = take(uu, g.ql_cells)
    d1 = uc.shape[1]
    _, a1, a2 = g.ql_coeff
    dk = a1 / d1 + a2 * (2.0 * row_sums(uc)[:, None] + 2.0 * uc) / (d1 * (d1 + 1))
    return k, gu, ku, dk


def _ql_jvp(g: MeshGraph, u: Tensor, vs: list[Tensor]) -> list[Tensor]:
    """``D^-1 J(u) v`` (N,) for each normalised v, J the exact Jacobian of the quasilinear
    residual at the normalised u (the scaling of ``residual_hat``); in the graph's dtype (a
    direction, unlike the residual, needs no more digits than it has)."""
    k, gu, _, dk = _ql_linearised(g, u.to(g.ql_src.dtype))
    c, d1 = dk.shape
    out = []
    for v in vs:
        vv = v * g.u_scale
        gv = spmm(g.ql_grad, vv).view(c, d1 - 1)
        dkv = row_sums(dk * take(vv, g.ql_cells))
        flux = gv * (g.ql_meas * k)[:, None] + gu * (g.ql_meas * dkv)[:, None]
        out.append(spmm((g.ql_grad[1], g.ql_grad[0]), flux.reshape(-1)) * g.ql_scale)
    return out


def _solve_each(a: Tensor, b: Tensor) -> Tensor:
    """``torch.linalg.solve`` of a batch (B, n, n) x (B, n, 1), one system at a time on a CPU
    with several threads: there torch's batched LU (MKL's getrf) returned zero pivots for a batch
    of 8 coarse Newton systems of nonlinear-poisson 128x128 (torch 2.14, two threads; the solve
    then failed), while each system alone, or the batch on one thread, factors correctly."""
    if a.shape[0] == 1 or a.device.type != "cpu" or torch.get_num_threads() == 1:
        return torch.linalg.solve(a, b)
    return torch.stack([torch.linalg.solve(a[i], b[i]) for i in range(a.shape[0])])


def _gauss_newton_step(g: MeshGraph, u: Tensor, r: Tensor, d: Tensor, p: Tensor, owner: Tensor) -> Tensor:
    """The step (N,) in span{d, p, r} that minimises the linearised scaled residual
    ``|r - D^-1 J s|`` per instance (r = residual_hat at u): for a nonlinear problem what the
    energy step is for a linear one. The residual itself is the third direction: with the
    learned d and the last step p alone the iteration stalled near 3e-5 on nonlinear-poisson,
    as restarted GMRES with a short memory can."""
    dirs = [d, p, r]
    js = _ql_jvp(g, u, dirs)
    gram = torch.stack([torch.stack([_per_instance(g, a * b, owner) for b in js], -1) for a in js], -2)  # (B, 3, 3)
    rhs = torch.stack([_per_instance(g, a * r, owner) for a in js], -1).unsqueeze(-1)  # (B, 3, 1)
    # p is zero at the first step, or parallel to another direction: a relative shift of the
    # diagonal at the dtype's resolution keeps the solve regular and leaves such a direction out
    shift = 100 * torch.finfo(r.dtype).eps * gram.diagonal(dim1=-2, dim2=-1).amax(-1).clamp_min(1e-300)
    coef = _solve_each(gram + shift[:, None, None] * torch.eye(3, dtype=r.dtype, device=r.device), rhs)
    return sum(take(coef[:, i, 0], owner) * v for i, v in enumerate(dirs))


def residual_hat(g: MeshGraph, u: Tensor) -> Tensor:
    """(N,) Jacobi-scaled residual at the normalised solution u (N,): of the quasilinear
    problem itself when the graph carries it, else of the (first Newton) linear system. In the
    graph's dtype; computed in float64 where ``_wide``."""
    if g.ql_grad is None:
        return g.bhat - spmm(g.Ahat, u)
    if _wide(g, u):
        return ((g.ql_src64 - _ql_terms(g, u * g.u_scale)[2]) * g.ql_scale64).to(g.ql_src.dtype)
    return (g.ql_src - _ql_terms(g, u * g.u_scale)[2]) * g.ql_scale


def _coarse_newton(g: MeshGraph, u: Tensor) -> Tensor:
    """One Newton step of the quasilinear problem restricted to the coarse space (Galerkin:
    ``P' J(u) P c = -P' F(u)``, ``u + P c``), for a normalised u (N,). The Jacobian is exact:
    ``J = K(u) + G' diag(meas grad u) dk/du`` with the closed-form cell means. ``P' J P`` is
    summed over the pairs of coarse functions that share a cell (``_CoarseLayout``): the whole
    coarse space per cell, (C, d, nc), grew with the mesh squared. Where ``_wide`` the residual
    is computed in float64 and the coarse Jacobian in the graph's dtype."""
    k, gu, ku, dk = _ql_linearised(g, u)
    res = ku - (g.ql_src64 if _wide(g, u) else g.ql_src)
    dt = g.ql_src.dtype
    k, gu, dk = k.to(dt), gu.to(dt), dk.to(dt)
    nb, nc = len(g.sizes), g.nc
    # per pair (a, b) of coarse functions on a cell: meas k (G P_a . G P_b) + meas (G P_a . grad u) (dk/du . P_b)
    gpu = row_sums(g.ql_slot_GP * gu.unsqueeze(-1)) * g.ql_meas[:, None]  # (C, L)
    dkp = row_sums(g.ql_slot_P * dk.unsqueeze(-1))  # (C, L)
    vals = (take(g.ql_meas * k, g.ql_pair_cell) * g.ql_pair_gg
            + take(gpu.reshape(-1), g.ql_pair_a) * take(dkp.reshape(-1), g.ql_pair_b))
    a = torch.zeros(nb * nc * nc, dtype=dt, device=u.device).index_add(0, g.ql_pair_index, vals).view(nb, nc, nc)
    rc = spmm((g.ql_P[1], g.ql_P[0]), (res.to(dt) * g.ql_free)).view(nb, nc, 1)
    c = _solve_each(a, -rc).reshape(-1)
    return u + spmm(g.ql_P, c) / g.u_scale


COARSE_NEWTON_STEPS = 2


def _paired(g: MeshGraph) -> bool:
    """Whether a solution-state model carries u as a float32 pair summing to its float64 value:
    in inference on a float32 graph whose residual is computed in float64 (a symmetric linear
    problem's or a quasilinear one's)."""
    return (g.spd and g.Araw64 is not None or g.ql_grad64 is not None) and not torch.is_grad_enabled()


def _pair(u: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(high, low) (N, 1) each of dtype, with high + low = u to float64 precision when u is
    float64 and dtype float32; else (u, 0)."""
    hi = u.to(dtype)
    lo = (u - hi.double()).to(dtype) if u.dtype != dtype else torch.zeros_like(hi)
    return hi[:, None], lo[:, None]


class _Block(nn.Module):
    def __init__(self, cfg: MeshGNNConfig) -> None:
        super().__init__()
        h = cfg.width
        self.cfg = cfg
        n_feat = cfg.n_fields + 2 + cfg.gdim + 2
        self.enc = nn.Sequential(nn.Linear(n_feat, h), nn.ReLU(), nn.Linear(h, h))
        self.lin_z = spectral_linear(h, h)
        self.lin_m = spectral_linear(h, h, bias=False)
        self.lin_c = spectral_linear(h, h, bias=False)
        self.mix = nn.Parameter(torch.zeros(cfg.grid ** cfg.gdim, cfg.grid ** cfg.gdim))
        self.lin_r = nn.Linear(3, h, bias=False)
        if cfg.solution_state:
            # weights of (r, W r, W^2 r) in each step, weighted Jacobi before training
            self.smooth = nn.Linear(h, 3)
            nn.init.zeros_(self.smooth.weight)
            with torch.no_grad():
                self.smooth.bias.copy_(torch.tensor([2.0 / 3.0, 0.0, 0.0]))
        else:
            self.dec = nn.Linear(h, 1)
            # the correction to the anchor starts at zero: an untrained model hands on the anchor
            nn.init.zeros_(self.dec.weight)
            nn.init.zeros_(self.dec.bias)
        self._enc_cache: tuple[int, bool, Tensor] | None = None
        self._decoded: tuple[Tensor, MeshGraph, Tensor] | None = None

    def decode(self, z: Tensor, g: MeshGraph) -> Tensor:
        """Normalised solution (N,), Dirichlet values imposed; float64 where the state carries
        u's low part (``_paired``)."""
        if self.cfg.solution_state:
            # corrected in the step that made it
            hi, lo = z[:, -3], z[:, -2]
            return hi.double() + lo.double() if _paired(g) else hi + lo
        return self._coarse(g, torch.where(g.mask, g.bc, g.anchor + self.dec(z).squeeze(-1)))

    def _coarse(self, g: MeshGraph, u: Tensor) -> Tensor:
        if g.P is not None:
            # Galerkin correction on the coarse space: P^T (b - A (u + P c)) = 0. The smooth,
            # global part of the error, which Krylov methods remove slowest, is solved exactly
            r = raw_residual(g, u)
            rc = spmm((g.P[1], g.P[0]), r).view(len(g.sizes), g.nc, 1)
            c = torch.cholesky_solve(rc, g.Ac_chol).reshape(-1)
            u = u + spmm(g.P, c)
        elif g.ql_P is not None:
            # a nonlinear problem: Newton on the coarse space, with its exact Jacobian
            for _ in range(COARSE_NEWTON_STEPS):
                u = _coarse_newton(g, u)
        return u

    def _enc(self, g: MeshGraph) -> Tensor:
        hit = self._enc_cache
        if hit is None or hit[0] != id(g) or hit[1] != torch.is_grad_enabled():
            hit = (id(g), torch.is_grad_enabled(), self.enc(g.feat))
            self._enc_cache = hit
        return hit[2]

    def forward(self, z: Tensor, g: MeshGraph) -> Tensor:
        hit = self._decoded
        # the safeguard decoded this very iterate already (inference only)
        u = hit[2] if hit is not None and hit[0] is z and hit[1] is g else self.decode(z, g)
        self._decoded = None
        if not self.cfg.solution_state:
            r = residual_hat(g, u) * g.rnorm
            wr = spmm(g.W, r)
            return self._hidden(z, g, torch.stack([r, wr, spmm(g.W, wr)], -1))
        h, p = z[:, :-3], z[:, -1]
        rr = raw_residual(g, u) if g.spd else None
        r = g.rscale * rr if g.rscale is not None and rr is not None else residual_hat(g, u)
        wr = spmm(g.W, r)
        rraw = torch.stack([r, wr, spmm(g.W, wr)], -1)
        owner = _owner(g)
        # the residual's shape, not its size, drives the hidden state: the same regime at every
        # stage of the convergence
        rms = torch.sqrt(_per_instance(g, r * r, owner) / torch.as_tensor(g.sizes, dtype=r.dtype, device=r.device))
        h = self._hidden(h, g, rraw / (take(rms, owner)[:, None] + 1e-30))
        # linear in the residual: a zero residual leaves u where it is
        d = torch.where(g.mask, torch.zeros_like(r), (self.smooth(h) * rraw).sum(-1))
        if g.spd:
            d = _energy_step(g, rr, d, p, owner)
        elif g.ql_grad is not None:
            d = _gauss_newton_step(g, u, r, d, p, owner)
        new = self._coarse(g, u + d)
        if g.ql_grad is not None and not torch.is_grad_enabled():
            # a nonlinear problem has no energy: a step is kept if it shrinks the scaled residual
            grew = _per_instance(g, residual_hat(g, new) ** 2, owner) >= _per_instance(g, r * r, owner)
            new = torch.where(take(grew, owner), u, new)
        if rr is not None and not torch.is_grad_enabled():
            # in floating point a step can fail to lower the energy only once rounding dominates
            # it: the start has reached working precision, and is kept. The change of energy,
            # -s'r + s'As/2 for the step s, is computed as such: the energies themselves would
            # agree to all their digits long before
            step = (new - u).to(rr.dtype)
            change = _per_instance(g, step * (0.5 * spmm(g.Araw, step) - rr), owner)
            new = torch.where(take(change >= 0, owner), u, new)
        return torch.cat([h, *_pair(new, h.dtype), (new - u).to(h.dtype)[:, None]], -1)

    def _hidden(self, z: Tensor, g: MeshGraph, rf: Tensor) -> Tensor:
        loc = spmm(g.W, self.lin_m(z))
        pooled = spmm(g.pool, self.lin_c(z)).view(len(g.sizes), g.nb, -1)
        mixed = torch.einsum("ij,bjh->bih", torch.softmax(self.mix, -1), pooled).reshape(-1, z.shape[-1])
        coarse = spmm(g.unpool, mixed)
        new = torch.tanh(self.lin_z(z) + loc + coarse + self._enc(g) + self.lin_r(torch.tanh(rf)))
        a = self.cfg.damping
        return (1 - a) * z + a * new

    def init(self, g: MeshGraph) -> Tensor:
        z = torch.zeros(g.feat.shape[0], self.cfg.width, dtype=g.feat.dtype, device=g.feat.device)
        if self.cfg.solution_state:
            u0 = (torch.where(g.mask, g.bc64, g.anchor.double()) if _paired(g)
                  else torch.where(g.mask, g.bc, g.anchor))
            u0 = self._coarse(g, u0)
            z = torch.cat([z, *_pair(u0, z.dtype), torch.zeros_like(z[:, :1])], -1)
        return z


class _MeritGuard:
    """Fixed-point callback: keeps, per instance, the decoded iterate of least merit.
    merit: normalised solutions (N,) -> (B,) values; default the energy ``1/2 u'Au - b'u``."""

    def __init__(self, block: _Block, g: MeshGraph, merit: Callable[[Tensor], Tensor] | None = None) -> None:
        self.block, self.g = block, g
        self.merit = merit if merit is not None else self.energy
        self.best: Tensor | None = None
        self.best_merit: Tensor | None = None
        self.owner = _owner(g)

    def energy(self, u: Tensor) -> Tensor:
        """(B,) ``1/2 u'Au - b'u`` of each instance (scaled operator and right-hand side)."""
        return _energy(self.g, u, self.owner)

    def __call__(self, i: int, z: Tensor) -> None:
        u = self.block.decode(z, self.g)
        self.block._decoded = (z, self.g, u)  # the next block step starts by decoding z
        e = self.merit(u)
        if self.best is None:
            self.best, self.best_merit = u, e
            return
        better = e < self.best_merit
        self.best = torch.where(take(better, self.owner), u, self.best)
        self.best_merit = torch.where(better, e, self.best_merit)


class MeshImplicitModel(nn.Module):
    """Predicts the normalised solution at every dof of every instance in a ``MeshGraph``."""

    def __init__(self, cfg: MeshGNNConfig = MeshGNNConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        backward = (ImplicitDiff(solver=Picard(), tol=1e-4, max_iter=30) if cfg.backward == "implicit"
                    else Phantom(steps=5, damping=0.5))
        self.layer = ImplicitLayer(_Block(cfg), solver=Picard(), backward=backward, train_k=cfg.train_k)
        self._mesh_cache: MeshCache | None = None  # made at the first predict

    @property
    def block(self) -> _Block:
        return self.layer.block  # type: ignore[return-value]

    def forward(self, g: MeshGraph, *, k: int | None = None, return_iterates: bool = False,
                safeguard: bool = False, merit: Callable[[Tensor], Tensor] | None = None):
        """Returns (u_norm (N,), solve record); k defaults to train_k.

        safeguard (inference): per instance, the iterate of least merit among ``u_1 .. u_k``
        instead of ``u_k``. ``merit`` maps normalised solutions (N,) to (B,) values; without it,
        for symmetric positive definite operators, the energy ``1/2 u'Au - b'u``: the squared
        A-norm error up to a constant, so more iterations never give a worse start in that
        norm, even past the k the model was trained at. Otherwise the k-th iterate. A
        solution-state model on such an operator needs no guard: it only takes steps that lower
        the energy (computed as the change, which stays exact near the answer), so its k-th
        iterate is already the least."""
        self.block._enc_cache = None
        if torch.is_grad_enabled():
            out = self.layer(g, k=k, return_iterates=return_iterates)
            return self.block.decode(out.z, g), out.solve
        # with one iterate there is nothing to choose from; a solution-state model on an SPD
        # operator takes only steps that lower the energy, so its last iterate is the least
        own = self.cfg.solution_state and g.spd and merit is None
        guard = (_MeritGuard(self.block, g, merit)
                 if safeguard and not own and (merit is not None or g.spd) and (k or self.layer.train_k) > 1
                 else None)
        try:
            with parametrize.cached():
                out = self.layer(g, k=k, return_iterates=return_iterates, callback=guard)
        finally:
            self.block._decoded = None
        if guard is not None and guard.best is not None:
            return guard.best, out.solve
        return self.block.decode(out.z, g), out.solve

    def predict(self, pdes: list[PDEData], norm: FamilyNorm, *, k: int | None = None, device: str = "cpu",
                anchors: list[np.ndarray | None] | None = None, safeguard: bool = True,
                merit: Callable[[Tensor], Tensor] | None = None) -> list[np.ndarray]:
        """Solutions (n_i,) in original units (inference, no grad); ``safeguard`` and ``merit``
        as in ``forward``."""
        if self._mesh_cache is None:
            self._mesh_cache = MeshCache()
        g = build_mesh_graph(pdes, norm, grid=self.cfg.grid, dtype=self.block.enc[0].weight.dtype,
                             coarse_correction=self.cfg.coarse_correction, anchors=anchors,
                             for_training=False, quasilinear=self.cfg.quasilinear, cache=self._mesh_cache,
                             exact_residual=self.cfg.solution_state).to(device)
        with torch.no_grad():
            u, _ = self(g, k=k, safeguard=safeguard, merit=merit)
        u = (u * norm.u_scale).double().cpu().numpy()
        return np.split(u, np.cumsum(g.sizes)[:-1])
