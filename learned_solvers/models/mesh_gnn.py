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
or (N, H + 2) with the solution state (hidden, u, last step).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..canonical.pde import PDEData, cell_mean_coefficient, row_sums
from ..core import ImplicitDiff, ImplicitLayer, Phantom, Picard, spectral_linear

__all__ = ["MeshGNNConfig", "FamilyNorm", "MeshGraph", "MeshImplicitModel", "build_mesh_graph", "is_symmetric",
           "residual_hat", "CoarseOperatorError"]


class CoarseOperatorError(ValueError):
    """The coarse correction's operator P^T A P is not positive definite (an indefinite or
    singular problem): training goes on without the correction; inference falls back to the cold guess."""


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
        if self.quasilinear is not None:
            object.__setattr__(self, "quasilinear", tuple(float(a) for a in self.quasilinear))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quasilinear"] = list(self.quasilinear) if self.quasilinear is not None else None
        return d


@dataclass
class FamilyNorm:
    """Scales fitted on the training set: u_scale (solution RMS), per-field mean/std, and the
    domain's bounding box (2, gdim) used to place the coarse bins."""

    u_scale: float
    field_mean: list[float]
    field_std: list[float]
    bbox: list[list[float]] = field(default_factory=list)

    @staticmethod
    def fit(pdes: list[PDEData], solutions: list[np.ndarray]) -> FamilyNorm:
        u = np.concatenate(solutions)
        f = np.concatenate([p.fields for p in pdes])
        lo = np.min([p.coords.min(0) for p in pdes], 0)
        hi = np.max([p.coords.max(0) for p in pdes], 0)
        return FamilyNorm(u_scale=float(np.sqrt(np.mean(u ** 2)) or 1.0), field_mean=f.mean(0).tolist(),
                          field_std=np.maximum(f.std(0), 1e-12).tolist(), bbox=[lo.tolist(), hi.tolist()])

    def to_dict(self) -> dict:
        return asdict(self)

    # how far (in training standard deviations) a field may lie from the training mean
    OUT_OF_FAMILY_STDS = 10.0

    def outside(self, fields: np.ndarray) -> str | None:
        """Why fields (n, F) lie outside the training family, or None: a value more than
        ``OUT_OF_FAMILY_STDS`` training standard deviations from the training mean."""
        mean, std = np.asarray(self.field_mean), np.asarray(self.field_std)
        dev = np.abs(np.asarray(fields) - mean)
        far = dev > self.OUT_OF_FAMILY_STDS * std + 1e-9 * (np.abs(mean) + 1.0)
        if not far.any():
            return None
        j = int(np.argmax(far.any(axis=0)))
        worst = float(np.asarray(fields)[:, j][np.argmax(dev[:, j])])
        return (f"field {j} reaches {worst:.4g}, where the training instances had {mean[j]:.4g} +- {std[j]:.4g} "
                f"(mean +- standard deviation)")


@dataclass
class MeshGraph:
    """W, Ahat: (N, N) sparse CSR (each with its transpose); bhat, mask, bc: (N,); feat: (N, F);
    pool: (B*nb, N), unpool: (N, B*nb) sparse; sizes: dofs per instance."""

    W: tuple[Tensor, Tensor]
    Ahat: tuple[Tensor, Tensor]
    bhat: Tensor
    rnorm: Tensor
    mask: Tensor
    bc: Tensor
    anchor: Tensor  # (N,) normalised anchor solution (zeros where there is none)
    feat: Tensor
    pool: tuple[Tensor, Tensor]
    unpool: tuple[Tensor, Tensor]
    sizes: list[int]
    nb: int
    # coarse-grid (Galerkin) correction of the decoded solution, linear problems only:
    # Araw (N, N) = A / a_scale, braw (N,), P (N, B*nc) masked interpolation onto a coarse grid
    # of nc points, Ac_chol (B, nc, nc) Cholesky factors of P^T Araw P (symmetric operators)
    Araw: tuple[Tensor, Tensor] | None = None
    braw: Tensor | None = None
    # the same in float64 for a float32 graph (exact_residual), and rscale (N,) = a_scale / A_ii:
    # a residual near the answer cancels almost every digit, so float32 would stop a
    # solution-state model near 1e-6
    Araw64: tuple[Tensor, Tensor] | None = None
    braw64: Tensor | None = None
    rscale: Tensor | None = None
    P: tuple[Tensor, Tensor] | None = None
    Ac_chol: Tensor | None = None
    nc: int = 0
    spd: bool = False  # every operator symmetric (with the coarse factor, positive definite): energy is a merit
    # the exact residual of a quasilinear problem (PDEData.quasilinear), batched: cells (C, d+1)
    # into the batch's dofs, grad (C*d, N) with its transpose, meas (C,), src (N,) the source and
    # scale (N,) = 1 / (D u_scale), both zero at Dirichlet dofs
    ql_cells: Tensor | None = None
    ql_grad: tuple[Tensor, Tensor] | None = None
    ql_meas: Tensor | None = None
    ql_src: Tensor | None = None
    ql_scale: Tensor | None = None
    ql_coeff: tuple[float, float, float] | None = None
    u_scale: float = 1.0
    # its coarse correction (Newton steps on the coarse space): the masked interpolation P as in
    # the linear case (N, B*nc) onto ``nc`` coarse functions per instance; per cell the L coarse
    # functions its dofs touch (``_CoarseLayout``): P at the cell's dofs (C, d+1, L) and G P on
    # the cell (C, d, L); and per pair of them on one cell (Q pairs): the cell (Q,), the two
    # slots as indices into (C*L,), their gradients' product (Q,) and where the pair lands in
    # the stacked (B*nc, nc) coarse operators (Q,); the free-dof mask (N,)
    ql_P: tuple[Tensor, Tensor] | None = None
    ql_slot_P: Tensor | None = None
    ql_slot_GP: Tensor | None = None
    ql_pair_cell: Tensor | None = None
    ql_pair_a: Tensor | None = None
    ql_pair_b: Tensor | None = None
    ql_pair_gg: Tensor | None = None
    ql_pair_index: Tensor | None = None
    ql_free: Tensor | None = None

    def to(self, device: torch.device | str) -> MeshGraph:
        def move(t):
            if isinstance(t, tuple):
                return tuple(x.to(device) if isinstance(x, Tensor) else x for x in t)
            return t.to(device) if isinstance(t, Tensor) else t

        return MeshGraph(**{k: move(v) for k, v in self.__dict__.items()})


def _csr1(m: sp.spmatrix, dtype: torch.dtype, index: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """torch CSR of m; ``index``: m's (indptr, indices) as int64 tensors when already made
    (matrices that share a sparsity pattern share them)."""
    m = sp.csr_matrix(m)
    m.sort_indices()
    if index is None:
        index = (torch.as_tensor(m.indptr, dtype=torch.int64), torch.as_tensor(m.indices, dtype=torch.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(*index, torch.as_tensor(m.data, dtype=dtype), m.shape, check_invariants=False)


def _csr(m: sp.spmatrix, dtype: torch.dtype, transpose: bool = True,
         index: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor | None]:
    """(M, M^T) as torch CSR: the transpose is kept so that backward never converts formats
    (inference, which has no backward, skips it)."""
    return (_csr1(m, dtype, index), _csr1(sp.csr_matrix(m).T, dtype) if transpose else None)


def _block_diag(ms: list[sp.spmatrix]) -> sp.csr_matrix:
    return sp.csr_matrix(ms[0]) if len(ms) == 1 else sp.block_diag(ms, format="csr")


class _SpMM(torch.autograd.Function):
    """M @ x for a constant sparse M (with its transpose precomputed): x (N, H) -> (R, H)."""

    @staticmethod
    def forward(ctx, m: Tensor, mt: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.mt = mt
        return m @ x

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return None, None, ctx.mt @ grad


def take(v: Tensor, index: Tensor) -> Tensor:
    """``v[index]`` along v's first dimension, for an index tensor of any shape: by
    ``index_select``, which on the CPU gathers about five times faster than advanced indexing
    and whose backward adds by index instead of sorting."""
    return torch.index_select(v, 0, index.reshape(-1)).view(*index.shape, *v.shape[1:])


def spmm(pair: tuple[Tensor, Tensor], x: Tensor) -> Tensor:
    """(M, M^T) @ x, x (N, H) or (N,)."""
    if x.dim() == 1:
        return _SpMM.apply(pair[0], pair[1], x.unsqueeze(-1)).squeeze(-1)
    return _SpMM.apply(pair[0], pair[1], x)


def is_symmetric(m: sp.spmatrix) -> bool:
    """Whether m is symmetric to 1e-10 of its largest entry."""
    m = m.tocsr()
    return bool(abs(m - m.T).max() <= 1e-10 * abs(m).max())


@dataclass
class _MeshPart:
    """What a graph needs of one instance's mesh alone (not of its coefficients): the operator's
    sorted sparsity pattern (row of each nonzero) and W's part of it (``w_sel``: off the
    diagonal and off Dirichlet rows; ``w_indptr``, ``w_indices``), the dofs' unit-box
    coordinates x01 (n, d), the pooling weights (grid^d, n) and the masked coarse interpolation
    (n, c * cgrid^d) for c components; for a batch of one, the torch tensors made from them."""

    indptr: np.ndarray
    indices: np.ndarray
    rows: np.ndarray
    w_sel: np.ndarray
    w_indptr: np.ndarray
    w_indices: np.ndarray
    x01: np.ndarray
    interp: sp.csr_matrix
    pm: sp.csr_matrix | None
    tperm: np.ndarray | None = None
    torch_parts: dict = field(default_factory=dict)

    def symmetric(self, m: sp.csr_matrix) -> bool:
        """Whether m (this part's pattern, sorted) is symmetric to 1e-10 of its largest entry."""
        if self.tperm is None:  # an unsymmetric pattern may still hold symmetric values
            return is_symmetric(m)
        return bool(np.abs(m.data - m.data[self.tperm]).max(initial=0.0) <= 1e-10 * np.abs(m.data).max(initial=0.0))


class MeshCache:
    """Mesh-only graph parts kept between inference calls (``MeshImplicitModel.predict``): a
    family's instances share one mesh, so only the coefficient-dependent values are rebuilt.
    Found by the dof coordinates, Dirichlet mask and sparsity pattern (and a quasilinear
    instance's cells), compared whole: cheaper than hashing them; holds ``size`` meshes."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._parts: list[tuple[tuple[np.ndarray, ...], tuple, _MeshPart]] = []

    def part(self, arrays: tuple[np.ndarray, ...], extra: tuple, make: Callable[[], _MeshPart]) -> _MeshPart:
        for kept, kept_extra, part in self._parts:
            if kept_extra == extra and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(kept, arrays)):
                return part
        if len(self._parts) >= self.size:
            self._parts.pop(0)
        part = make()
        self._parts.append((tuple(np.array(a, copy=True) for a in arrays), extra, part))
        return part


def _mesh_arrays(p: PDEData, a: sp.csr_matrix) -> tuple[np.ndarray, ...]:
    """What identifies an instance's mesh to ``MeshCache``: dof coordinates, Dirichlet mask,
    the operator's sparsity pattern and, for a quasilinear instance, its cells (the mesh-only
    parts of its residual are kept as well)."""
    cells = () if p.quasilinear is None else (p.quasilinear.cells,)
    return (p.coords, p.dirichlet, a.indptr, a.indices, *cells)


def _make_part(p: PDEData, a: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, grid: int, cgrid: int,
               coarse: bool) -> _MeshPart:
    rows = np.repeat(np.arange(p.n), np.diff(a.indptr))
    x01 = (p.coords[:, :len(lo)] - lo) / np.maximum(hi - lo, 1e-12)
    interp = _bilinear(x01, grid)
    pm = None
    if coarse:
        ci = _per_component(interp if cgrid == grid else _bilinear(x01, cgrid), p)
        pm = (sp.diags((~p.dirichlet).astype(float)) @ ci.T).tocsr()  # corrections leave Dirichlet dofs alone
    w_sel = (a.indices != rows) & ~p.dirichlet[rows]
    w_indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[w_sel], minlength=p.n))]).astype(a.indptr.dtype)
    # position of each entry's transpose partner in the sorted CSR data, if the pattern is symmetric
    at = sp.csr_matrix((np.arange(a.nnz, dtype=float), a.indices, a.indptr), shape=a.shape).T.tocsr()
    at.sort_indices()
    same = np.array_equal(at.indptr, a.indptr) and np.array_equal(at.indices, a.indices)
    return _MeshPart(indptr=a.indptr, indices=a.indices, rows=rows, w_sel=w_sel, w_indptr=w_indptr,
                     w_indices=a.indices[w_sel], x01=x01, interp=interp, pm=pm,
                     tperm=at.data.astype(np.int64) if same else None)


def build_mesh_graph(pdes: list[PDEData], norm: FamilyNorm, *, grid: int, dtype: torch.dtype = torch.float32,
                     coarse_correction: bool = False, anchors: list[np.ndarray | None] | None = None,
                     for_training: bool = True, quasilinear: tuple[float, float, float] | None = None,
                     cache: MeshCache | None = None, exact_residual: bool = False) -> MeshGraph:
    """Jacobi-scale each instance's system and stack the batch block-diagonally.

    anchors: per instance the solution of the nearest training instance (or None): the model
    predicts a correction to it, and sees it as a feature. quasilinear: the k(u) coefficients
    of a model that feeds back the exact residual; every instance must carry it with them.
    cache: mesh-only parts kept between calls (inference on one mesh after another).
    exact_residual: linear problems with the coarse correction, a float32 graph: also the
    operator and right-hand side in float64, for residuals near the answer."""
    ws, ahs, bh, rn, mk, bcs, feats, pools = [], [], [], [], [], [], [], []
    araws, braws, ps, acs, anc, parts, rscales = [], [], [], [], [], [], []
    symmetric = True
    # the coarse space must be coarser than the mesh, or its operator is singular
    cgrid = max(2, min(grid, int(np.sqrt(min(p.n // _n_components(p) for p in pdes)) / 4)))
    lo, hi = np.asarray(norm.bbox[0]), np.asarray(norm.bbox[1])
    gdim = len(lo)
    nb = grid ** gdim
    fm, fs = np.asarray(norm.field_mean), np.asarray(norm.field_std)
    for p in pdes:
        a = p.operator.tocsr()
        a = a if a.has_sorted_indices else a.sorted_indices()
        make = lambda: _make_part(p, a, lo, hi, grid, cgrid, coarse_correction)  # noqa: E731
        part = make() if cache is None else cache.part(
            _mesh_arrays(p, a), (tuple(lo.tolist()), tuple(hi.tolist()), grid, cgrid, coarse_correction), make)
        parts.append(part)
        d = p.diagonal()
        # D^-1 A on A's own pattern, and W = -(D^-1 A) off the diagonal and off Dirichlet rows
        ah = sp.csr_matrix((a.data / d[part.rows], part.indices, part.indptr), shape=a.shape)
        ws.append(sp.csr_matrix((-ah.data[part.w_sel], part.w_indices, part.w_indptr), shape=a.shape))
        ahs.append(ah)
        b = p.rhs / d / norm.u_scale
        bh.append(b)
        rn.append(np.full(p.n, 1.0 / (np.sqrt(np.mean(b[~p.dirichlet] ** 2)) + 1e-12) if (~p.dirichlet).any() else 1.0))
        mk.append(p.dirichlet)
        bcs.append(p.bc_values / norm.u_scale)
        an = anchors[len(feats)] if anchors is not None else None
        anc.append(np.zeros(p.n) if an is None else np.asarray(an, dtype=float) / norm.u_scale)
        feats.append(np.hstack([(p.fields - fm) / fs, p.dirichlet[:, None], (p.bc_values / norm.u_scale)[:, None],
                                part.x01, anc[-1][:, None], np.full((p.n, 1), float(an is not None))]))
        pools.append(part.interp)
        if coarse_correction and quasilinear is not None:
            ps.append(part.pm)
        elif coarse_correction:
            sa = float(np.mean(np.abs(d)))
            araw = sp.csr_matrix((a.data / sa, part.indices, part.indptr), shape=a.shape)
            symmetric = symmetric and part.symmetric(araw)
            pm = part.pm
            ac = (pm.T @ araw @ pm).toarray()
            araws.append(araw)
            braws.append(p.rhs / sa / norm.u_scale)
            rscales.append(sa / d)
            ps.append(pm)
            acs.append(0.5 * (ac + ac.T))
    nc = _n_components(pdes[0]) * cgrid ** gdim if coarse_correction else 0
    tr = for_training
    # one instance (inference): the pattern's indices and the mesh-only tensors come from its part
    single = parts[0].torch_parts if len(pdes) == 1 and cache is not None else None
    index = w_index = None
    if single is not None:
        if "index" not in single:
            p0 = parts[0]
            single["index"] = tuple(torch.as_tensor(v, dtype=torch.int64) for v in (p0.indptr, p0.indices))
            single["w_index"] = tuple(torch.as_tensor(v, dtype=torch.int64) for v in (p0.w_indptr, p0.w_indices))
        index, w_index = single["index"], single["w_index"]

    def mesh_only(name: str, make: Callable[[], object]):
        if single is None:
            return make()
        key = (name, dtype, tr)
        if key not in single:
            single[key] = make()
        return single[key]

    def pooling():
        pool = _block_diag(pools)
        counts = np.asarray(pool.sum(1)).ravel()
        pool_mean = sp.diags(1.0 / np.maximum(counts, 1e-12)) @ pool
        return _csr(pool_mean, dtype, tr), _csr(pool.T.tocsr(), dtype, tr)

    pool_t, unpool_t = mesh_only("pool", pooling)
    ql: dict = {}
    if quasilinear is not None:
        coeff = tuple(float(a) for a in quasilinear)
        ql = _stack_quasilinear(pdes, norm, coeff, dtype)
        ql.update(mesh_only("quasilinear", lambda: _stack_quasilinear_mesh(pdes, dtype)))
        if coarse_correction:
            def coarse_newton_parts():
                nc_ = ps[0].shape[1]
                lays: list[_CoarseLayout] = []
                for p, pm in zip(pdes, ps):  # a batch's instances usually share one mesh: its layout once
                    same = next((lay for lay in lays if lay.fits(p.quasilinear.cells, pm)), None)
                    lays.append(same or _CoarseLayout.build(p.quasilinear.cells, p.quasilinear.grad, pm))
                width = max(lay.cols.shape[1] for lay in lays)
                pad = lambda a: np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, width - a.shape[-1])])  # noqa: E731
                offs = np.cumsum([0] + [lay.cols.shape[0] for lay in lays])
                cell = np.concatenate([lay.cell + o for lay, o in zip(lays, offs)])
                cat = lambda f: np.concatenate([f(lay) for lay in lays])  # noqa: E731
                return dict(ql_P=_csr(_block_diag(ps), dtype, True),
                            ql_slot_P=torch.as_tensor(cat(lambda lay: pad(lay.cell_p)), dtype=dtype),
                            ql_slot_GP=torch.as_tensor(cat(lambda lay: pad(lay.gp)), dtype=dtype),
                            ql_pair_cell=torch.as_tensor(cell),
                            ql_pair_a=torch.as_tensor(cell * width + cat(lambda lay: lay.a)),
                            ql_pair_b=torch.as_tensor(cell * width + cat(lambda lay: lay.b)),
                            ql_pair_gg=torch.as_tensor(cat(lambda lay: lay.gg), dtype=dtype),
                            ql_pair_index=torch.as_tensor(np.concatenate(
                                [(i * nc_ + lay.cols[lay.cell, lay.a]) * nc_ + lay.cols[lay.cell, lay.b]
                                 for i, lay in enumerate(lays)])),
                            ql_free=torch.as_tensor(np.concatenate([~p.dirichlet for p in pdes]), dtype=dtype))

            ql.update(mesh_only("coarse_newton", coarse_newton_parts))
        coarse_correction = False  # the linear coarse correction's data are not built
    t = lambda v: torch.as_tensor(np.concatenate(v), dtype=dtype)  # noqa: E731
    return MeshGraph(
        W=_csr(_block_diag(ws), dtype, tr, w_index), Ahat=_csr(_block_diag(ahs), dtype, tr, index), bhat=t(bh),
        rnorm=t(rn), mask=torch.as_tensor(np.concatenate(mk)), bc=t(bcs), anchor=t(anc), feat=t(feats),
        pool=pool_t, unpool=unpool_t, sizes=[p.n for p in pdes], nb=nb,
        Araw=_csr(_block_diag(araws), dtype, tr, index) if coarse_correction else None,
        braw=t(braws) if coarse_correction else None,
        P=mesh_only("P", lambda: _csr(_block_diag(ps), dtype, True)) if coarse_correction else None,
        Ac_chol=_chol(acs, dtype) if coarse_correction else None, nc=nc,
        **(dict(Araw64=_csr(_block_diag(araws), torch.float64, tr, index),
                braw64=torch.as_tensor(np.concatenate(braws), dtype=torch.float64), rscale=t(rscales))
           if coarse_correction and exact_residual and dtype != torch.float64 else {}),
        spd=coarse_correction and symmetric, **ql,
    )


def _stack_quasilinear(pdes: list[PDEData], norm: FamilyNorm, coeff: tuple[float, float, float],
                       dtype: torch.dtype) -> dict:
    """The batch's per-instance parts of the quasilinear residual (source, scale), each
    instance checked to carry the model's k(u); ``_stack_quasilinear_mesh`` the mesh's."""
    src, scale = [], []
    for p in pdes:
        q = p.quasilinear
        if q is None or not np.allclose(q.coeff, coeff):
            got = "none" if q is None else f"k(u) coefficients {q.coeff}"
            raise ValueError(f"{p.name}: this model feeds back the residual of -div(k(u) grad u) = f with k(u) "
                             f"coefficients {coeff}, and the instance carries {got}; build it with "
                             f"to_pde(problem, quasilinear={coeff})")
        src.append(np.where(p.dirichlet, 0.0, q.source))
        scale.append(np.where(p.dirichlet, 0.0, 1.0 / (p.diagonal() * norm.u_scale)))
    t = lambda v: torch.as_tensor(np.concatenate(v), dtype=dtype)  # noqa: E731
    return {"ql_src": t(src), "ql_scale": t(scale), "ql_coeff": coeff, "u_scale": norm.u_scale}


def _stack_quasilinear_mesh(pdes: list[PDEData], dtype: torch.dtype) -> dict:
    """The batch's cells (C, d+1) into its dofs, cell gradients (C*d, N) with their transpose and
    cell volumes (C,): mesh-only, kept between inference calls on one mesh."""
    offs = np.cumsum([0] + [p.n for p in pdes])
    qs = [p.quasilinear for p in pdes]
    return {"ql_cells": torch.as_tensor(np.concatenate([q.cells + o for q, o in zip(qs, offs)])),
            "ql_grad": _csr(sp.block_diag([q.grad for q in qs]), dtype, True),
            "ql_meas": torch.as_tensor(np.concatenate([q.measure for q in qs]), dtype=dtype)}


def _ql_terms(g: MeshGraph, uu: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For U (N,) in original units: cell coefficients k (C,), cell gradients (C, d), K(U) U (N,)."""
    uc = take(uu, g.ql_cells)  # (C, d+1)
    d1 = uc.shape[1]
    k = cell_mean_coefficient(uc, g.ql_coeff)
    gu = spmm(g.ql_grad, uu).view(uc.shape[0], d1 - 1)
    ku = spmm((g.ql_grad[1], g.ql_grad[0]), (gu * (g.ql_meas * k)[:, None]).reshape(-1))
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
    """(N,) ``braw - Araw u`` of a linear problem, in float64 where the graph has it."""
    if g.Araw64 is None:
        return g.braw - spmm(g.Araw, u)
    return (g.braw64 - spmm(g.Araw64, u.double())).to(u.dtype)


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
    residual at the normalised u (the scaling of ``residual_hat``)."""
    k, gu, _, dk = _ql_linearised(g, u)
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
    problem itself when the graph carries it, else of the (first Newton) linear system."""
    if g.ql_grad is None:
        return g.bhat - spmm(g.Ahat, u)
    return (g.ql_src - _ql_terms(g, u * g.u_scale)[2]) * g.ql_scale


def _coarse_newton(g: MeshGraph, u: Tensor) -> Tensor:
    """One Newton step of the quasilinear problem restricted to the coarse space (Galerkin:
    ``P' J(u) P c = -P' F(u)``, ``u + P c``), for a normalised u (N,). The Jacobian is exact:
    ``J = K(u) + G' diag(meas grad u) dk/du`` with the closed-form cell means. ``P' J P`` is
    summed over the pairs of coarse functions that share a cell (``_CoarseLayout``): the whole
    coarse space per cell, (C, d, nc), grew with the mesh squared."""
    k, gu, ku, dk = _ql_linearised(g, u)
    nb, nc = len(g.sizes), g.nc
    # per pair (a, b) of coarse functions on a cell: meas k (G P_a . G P_b) + meas (G P_a . grad u) (dk/du . P_b)
    gpu = row_sums(g.ql_slot_GP * gu.unsqueeze(-1)) * g.ql_meas[:, None]  # (C, L)
    dkp = row_sums(g.ql_slot_P * dk.unsqueeze(-1))  # (C, L)
    vals = (take(g.ql_meas * k, g.ql_pair_cell) * g.ql_pair_gg
            + take(gpu.reshape(-1), g.ql_pair_a) * take(dkp.reshape(-1), g.ql_pair_b))
    a = torch.zeros(nb * nc * nc, dtype=u.dtype, device=u.device).index_add(0, g.ql_pair_index, vals).view(nb, nc, nc)
    rc = spmm((g.ql_P[1], g.ql_P[0]), (ku - g.ql_src) * g.ql_free).view(nb, nc, 1)
    c = _solve_each(a, -rc).reshape(-1)
    return u + spmm(g.ql_P, c) / g.u_scale


@dataclass
class _CoarseLayout:
    """For one mesh, the coarse functions each cell's dofs touch: cols (C, L) their indices, P
    at the cell's dofs (C, d+1, L) and G P on the cell (C, d, L), a cell with fewer than L
    padding with zero weights; and every pair of them on one cell (Q pairs): the cell (Q,), the
    two slots a, b (Q,) and their gradients' product (Q,). ``build`` from cells (C, d+1) dof
    indices, grad (C*d, n) the cell gradients (row c*d + i: component i on cell c) and pm
    (n, nc) the masked interpolation."""

    cells: np.ndarray
    pm: sp.csr_matrix
    cols: np.ndarray
    cell_p: np.ndarray
    gp: np.ndarray
    cell: np.ndarray
    a: np.ndarray
    b: np.ndarray
    gg: np.ndarray

    def fits(self, cells: np.ndarray, pm: sp.spmatrix) -> bool:
        """Whether this layout is that of (cells, pm): the same mesh and interpolation."""
        pm = sp.csr_matrix(pm)
        return (np.array_equal(self.cells, cells) and self.pm.shape == pm.shape
                and np.array_equal(self.pm.indptr, pm.indptr) and np.array_equal(self.pm.indices, pm.indices)
                and np.array_equal(self.pm.data, pm.data))

    @classmethod
    def build(cls, cells: np.ndarray, grad: sp.spmatrix, pm: sp.spmatrix) -> _CoarseLayout:
        cells = np.asarray(cells, dtype=np.int64)
        original = sp.csr_matrix(pm)
        pm = sp.csr_matrix(pm, dtype=float, copy=True)
        pm.eliminate_zeros()
        n_cells, d1 = cells.shape
        d = grad.shape[0] // max(n_cells, 1)
        # each dof's row of P, padded to R entries (zero weights, the row's first column)
        nnz = np.diff(pm.indptr)
        r = max(int(nnz.max(initial=0)), 1)
        j = np.arange(r)
        have = j[None, :] < nnz[:, None]
        at = np.minimum(pm.indptr[:-1, None] + j[None, :], max(pm.nnz - 1, 0))
        row_cols = np.where(have, pm.indices[at] if pm.nnz else 0, 0)
        row_cols = np.where(have, row_cols, row_cols[:, :1])
        row_w = np.where(have, pm.data[at] if pm.nnz else 0.0, 0.0)
        cols, w = row_cols[cells].reshape(n_cells, d1 * r), row_w[cells].reshape(n_cells, d1 * r)
        pos = np.broadcast_to(np.repeat(np.arange(d1), r), cols.shape)
        order = np.argsort(cols, axis=1, kind="stable")
        cols, w, pos = (np.take_along_axis(v, order, 1) for v in (cols, w, pos))
        new = np.ones(cols.shape, dtype=bool)
        new[:, 1:] = cols[:, 1:] != cols[:, :-1]
        slot = np.cumsum(new, 1) - 1  # the same coarse function shares a slot within a cell
        width = int(slot.max(initial=0)) + 1
        which = np.broadcast_to(np.arange(n_cells)[:, None], cols.shape)
        out_cols = np.zeros((n_cells, width), dtype=np.int64)
        out_cols[which, slot] = cols
        cell_p = np.zeros((n_cells, d1, width))
        np.add.at(cell_p, (which, pos, slot), w)
        g = sp.csr_matrix(grad)
        g_rows = (np.arange(n_cells)[:, None, None] * d + np.arange(d)[None, :, None]).repeat(d1, 2)
        g_cols = np.broadcast_to(cells[:, None, :], g_rows.shape)
        g_cell = np.asarray(g[g_rows.ravel(), g_cols.ravel()]).reshape(n_cells, d, d1)
        gp = np.einsum("cdq,cql->cdl", g_cell, cell_p)
        used = np.arange(width)[None, :] < (slot.max(1, initial=0) + 1)[:, None]  # (C, L)
        cell, a, b = np.nonzero(used[:, :, None] & used[:, None, :])
        gg = np.einsum("pd,pd->p", gp[cell, :, a], gp[cell, :, b])
        return cls(cells=cells, pm=original, cols=out_cols, cell_p=cell_p, gp=gp, cell=cell, a=a, b=b, gg=gg)


def _chol(acs: list[np.ndarray], dtype: torch.dtype) -> Tensor:
    """Lower Cholesky factors of the coarse operators (B, nc, nc), in float64 then cast; a tiny
    relative shift covers coarse functions without interior support."""
    out = []
    for a in acs:
        d = np.abs(np.diag(a))
        scale = max(float(d.mean()), 1e-300)
        a = a + 1e-10 * scale * np.eye(len(a))
        # torch, not numpy: it keeps to the caller's thread count (one at inference); numpy's
        # multithreaded BLAS stalled on these small matrices whenever another process held a core
        chol, info = torch.linalg.cholesky_ex(torch.as_tensor(a, dtype=torch.float64))
        # a pivot at the shift's size on a function with support: a singular operator (a pure
        # Neumann problem's constants), whose correction along the null space would be the
        # residual divided by the shift (functions without support, e.g. outside an L-shaped
        # domain, have such pivots too, and no correction)
        pivots = torch.diagonal(chol).numpy() ** 2
        live = d > 1e-12 * scale
        if int(info) != 0 or (pivots[live] < 1e-8 * scale).any():
            raise CoarseOperatorError("the coarse operator is not positive definite: the coarse correction needs a "
                                      "symmetric positive definite operator (MeshGNNConfig(coarse_correction=False) "
                                      "for others)")
        out.append(chol)
    return torch.stack(out).to(dtype)


def _bilinear(x01: np.ndarray, grid: int) -> sp.csr_matrix:
    """(grid^d, n) weights of each dof on the 2^d nearest bin centres (multilinear), so that the
    coarse level hands back smooth corrections, not bin-wise constants."""
    n, d = x01.shape
    t = np.clip(x01 * grid - 0.5, 0.0, grid - 1.0)
    i0 = np.minimum(np.floor(t).astype(int), grid - 2) if grid > 1 else np.zeros_like(t, dtype=int)
    f = t - i0
    rows, cols, vals = [], [], []
    for corner in itertools.product((0, 1), repeat=d):
        c = np.asarray(corner)
        w = np.prod(np.where(c, f, 1.0 - f), axis=1)
        idx = np.ravel_multi_index(tuple((i0 + c).T), (grid,) * d) if grid > 1 else np.zeros(n, dtype=int)
        rows.append(idx)
        cols.append(np.arange(n))
        vals.append(w)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(grid ** d, n))


def _n_components(pde: PDEData) -> int:
    """How many components the dofs carry: 1 on scalar spaces, ``to_pde``'s component fields on
    vector and mixed ones."""
    return max(1, sum(name.startswith("component_") for name in pde.field_names))


def _per_component(ci: sp.csr_matrix, pde: PDEData) -> sp.csr_matrix:
    """(c * nc, n) the coarse functions (nc, n) once per component: on a vector or mixed space a
    coarse function moves one component (u_x, u_y or p), as its fine dofs do; shared, it would
    move them all together and miss every mode in which they differ (bending, shear)."""
    c = _n_components(pde)
    if c == 1:
        return ci
    comp = dof_keys(pde)[:, -1].astype(np.int64)
    m = ci.tocoo()
    return sp.csr_matrix((m.data, (m.row + comp[m.col] * ci.shape[0], m.col)), shape=(c * ci.shape[0], ci.shape[1]))


def dof_keys(pde: PDEData) -> np.ndarray:
    """(n, d) the dofs' coordinates, or (n, d + 1) with the component each dof carries last
    (0, 1, ...: ``to_pde``'s component fields) on vector and mixed spaces, whose dofs share points:
    what tells one dof from another."""
    comp = [i for i, name in enumerate(pde.field_names) if name.startswith("component_")]
    if not comp:
        return pde.coords
    return np.hstack([pde.coords, np.argmax(pde.fields[:, comp], axis=1)[:, None]])


def dof_order(ref: np.ndarray, coords: np.ndarray) -> np.ndarray | None:
    """(n,) ``order`` with ``coords[order]`` equal to ``ref`` (both (n, k) ``dof_keys``): the
    same mesh with its dofs in another order (e.g. distributed by MPI and gathered in PETSc's
    global order), ``arange(n)`` for the same order, or None for another mesh, however many dofs
    it has. Keys that repeat are matched only in the same order."""
    if ref.shape != coords.shape:
        return None
    tol = 1e-9 * max(float(np.abs(ref).max(initial=0.0)), 1.0)
    if np.allclose(ref, coords, rtol=0.0, atol=tol):
        return np.arange(len(ref))
    a, b = np.lexsort(np.round(ref / tol).T), np.lexsort(np.round(coords / tol).T)
    if not np.allclose(ref[a], coords[b], rtol=0.0, atol=tol):
        return None
    if (np.abs(np.diff(ref[a], axis=0)).max(axis=1, initial=0.0) <= tol).any():
        return None  # repeated keys: which dof is which is not known
    order = np.empty(len(ref), dtype=np.int64)
    order[a] = b
    return order


@dataclass(frozen=True)
class _Match:
    """How an instance's dofs meet an anchor bank's: ``kind`` "same mesh" or "interpolated";
    ``to_bank`` takes (n, ...) arrays on the instance's dofs to the bank's, ``from_bank`` a bank
    solution to the instance's dofs."""

    kind: str
    to_bank: Callable[[np.ndarray], np.ndarray]
    from_bank: Callable[[np.ndarray], np.ndarray]

    @staticmethod
    def reordered(order: np.ndarray) -> _Match:
        def back(v: np.ndarray) -> np.ndarray:
            out = np.empty(len(order))
            out[order] = v
            return out

        return _Match("same mesh", lambda a: a[order], back)


def linear_transfer(src: np.ndarray, dst: np.ndarray) -> sp.csr_matrix:
    """(len(dst), len(src)) weights of the piecewise-linear interpolant on a Delaunay
    triangulation of the points ``src`` (n, d), d >= 2, at the points ``dst`` (m, d); a point
    outside their hull takes its nearest point's value. Raises scipy's QhullError on points
    that span no d-dimensional simplex."""
    from scipy.spatial import Delaunay, cKDTree

    d = src.shape[1]
    tri = Delaunay(src)
    s = tri.find_simplex(dst)
    inside, outside = np.flatnonzero(s >= 0), np.flatnonzero(s < 0)
    t = tri.transform[s[inside]]
    b = np.einsum("nij,nj->ni", t[:, :d], dst[inside] - t[:, d])
    rows = [np.repeat(inside, d + 1), outside]
    cols = [tri.simplices[s[inside]].ravel(), cKDTree(src).query(dst[outside])[1] if len(outside) else outside]
    vals = [np.hstack([b, 1.0 - b.sum(1, keepdims=True)]).ravel(), np.ones(len(outside))]
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(dst), len(src)))


def key_transfer(src: np.ndarray, dst: np.ndarray, gdim: int) -> sp.csr_matrix | None:
    """``linear_transfer`` between two meshes' ``dof_keys`` (src (n, k), dst (m, k)), component by
    component where the keys carry one (k = gdim + 1); None where it cannot be built (1-D
    points, a component one mesh lacks, degenerate points)."""
    from scipy.spatial import QhullError

    if gdim < 2 or src.shape[1] != dst.shape[1]:
        return None
    if src.shape[1] == gdim:
        groups = [(np.arange(len(src)), np.arange(len(dst)))]
    else:
        groups = [(np.flatnonzero(src[:, -1] == c), np.flatnonzero(dst[:, -1] == c)) for c in np.unique(dst[:, -1])]
    rows, cols, vals = [], [], []
    try:
        for si, di in groups:
            if len(si) <= gdim:
                return None
            m = linear_transfer(src[si, :gdim], dst[di, :gdim]).tocoo()
            rows.append(di[m.row])
            cols.append(si[m.col])
            vals.append(m.data)
    except (QhullError, ValueError):
        return None
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(dst), len(src)))


class MeshAnchorBank:
    """Training instances' fields (normalised) and solutions on their mesh, whose ``dof_keys``
    it keeps as ``coords`` (n, d), or (n, d + 1) with the component last: the nearest instance's
    solution is the anchor the model corrects. On the training mesh (``dof_order``: the same
    dofs in any order, not merely as many) it is that solution; on another mesh of the domain
    (finer, unstructured) the instance's fields are interpolated onto the training dofs to find
    it, and it is interpolated back (``key_transfer``: piecewise linear). Stored in the
    checkpoint as three tensors; one saved without coordinates (before they were kept) serves
    any mesh with as many dofs as it is, and no other."""

    def __init__(self, fields: np.ndarray, solutions: np.ndarray, norm: FamilyNorm,
                 coords: np.ndarray | None = None) -> None:
        self.fields = np.asarray(fields, dtype=np.float32)  # (M, n * f)
        self.solutions = np.asarray(solutions, dtype=np.float64)  # (M, n)
        self.norm = norm
        self.coords = None if coords is None else np.asarray(coords, dtype=np.float64)  # (n, d or d + 1)
        self._centred: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._last: tuple[np.ndarray, _Match | None] | None = None  # (dof keys, how they match the bank's)

    def _distances2(self, v: np.ndarray) -> np.ndarray:
        """(M,) squared distances of v (n * f,) to every bank vector: one matrix-vector product
        on the bank centred once (in float64, so that the parts every instance shares, e.g.
        component one-hots, cancel exactly instead of swamping the differences)."""
        if self._centred is None:
            mean = self.fields.mean(0, dtype=np.float64)
            c = self.fields.astype(np.float64) - mean
            self._centred = (c, np.einsum("ij,ij->i", c, c), mean)
        c, sq, mean = self._centred
        w = v.astype(np.float64) - mean
        return sq - 2.0 * (c @ w) + float(w @ w)

    @staticmethod
    def vector(pde: PDEData, norm: FamilyNorm, fields: np.ndarray | None = None) -> np.ndarray:
        """(n * f,) the instance's normalised fields (or ``fields`` (n, f), the instance's carried
        onto the bank's dofs), scaled by 1/sqrt(n): what distances compare."""
        fm, fs = np.asarray(norm.field_mean), np.asarray(norm.field_std)
        fields = pde.fields if fields is None else fields
        return (((fields - fm) / fs).ravel() / np.sqrt(len(fields))).astype(np.float32)

    @staticmethod
    def build(pdes: list[PDEData], solutions: list[np.ndarray], norm: FamilyNorm) -> MeshAnchorBank | None:
        ref = dof_keys(pdes[0])
        if any(p is not pdes[0] and (p.n != pdes[0].n or not np.array_equal(dof_keys(p), ref)) for p in pdes):
            return None  # several meshes: no common solution vector to start from
        return MeshAnchorBank(np.stack([MeshAnchorBank.vector(p, norm) for p in pdes]), np.stack(solutions), norm,
                              coords=ref)

    def match(self, pde: PDEData) -> _Match | None:
        """How ``pde``'s dofs meet the bank's (the last mesh's kept: a family's instances share
        one mesh); None where the bank cannot serve it."""
        if self.coords is None:
            return _Match.reordered(np.arange(pde.n)) if self.solutions.shape[1] == pde.n else None
        keys = dof_keys(pde)
        if self._last is None or not np.array_equal(self._last[0], keys):
            order = dof_order(self.coords, keys)
            if order is not None:
                m = _Match.reordered(order)
            else:
                to_bank = key_transfer(keys, self.coords, pde.coords.shape[1])
                back = key_transfer(self.coords, keys, pde.coords.shape[1]) if to_bank is not None else None
                m = _Match("interpolated", to_bank.__matmul__, back.__matmul__) if back is not None else None
            self._last = (np.array(keys, dtype=np.float64), m)
        return self._last[1]

    def nearest(self, pde: PDEData, *, exclude: int | None = None) -> np.ndarray | None:
        """(n,) the nearest training solution on ``pde``'s dofs (``match``), or None."""
        m = self.match(pde)
        if m is None or len(self.solutions) < 1 + (exclude is not None):
            return None
        d = self._distances2(self.vector(pde, self.norm, m.to_bank(pde.fields)))
        if exclude is not None:
            d[exclude] = np.inf
        return m.from_bank(self.solutions[int(np.argmin(d))])

    def state(self) -> dict[str, torch.Tensor]:
        state = {"anchor_fields": torch.as_tensor(self.fields), "anchor_solutions": torch.as_tensor(self.solutions)}
        if self.coords is not None:
            state["anchor_coords"] = torch.as_tensor(self.coords)
        return state


COARSE_NEWTON_STEPS = 2


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
        """Normalised solution (N,), Dirichlet values imposed."""
        if self.cfg.solution_state:
            return z[:, -2]  # corrected in the step that made it
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
        h, p = z[:, :-2], z[:, -1]
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
            step = new - u
            change = _per_instance(g, step * (0.5 * spmm(g.Araw, step) - rr), owner)
            new = torch.where(take(change >= 0, owner), u, new)
        return torch.cat([h, new[:, None], (new - u)[:, None]], -1)

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
            u0 = self._coarse(g, torch.where(g.mask, g.bc, g.anchor))
            z = torch.cat([z, u0[:, None], torch.zeros_like(u0)[:, None]], -1)
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
