"""The graph a mesh model runs on (``MeshGraph``), built from canonical PDE data.

``build_mesh_graph`` Jacobi-scales each instance's assembled operator and stacks a batch
block-diagonally: the messages' weights (W), the scaled operator and right-hand side, the
features, the pooling onto a coarse grid over the domain's bounding box, and the coarse
correction's parts (the masked interpolation P and the Cholesky factors of P^T A P for a
linear problem; the per-cell layout of the coarse Newton system for a quasilinear one).
Mesh-only parts are kept between inference calls (``MeshCache``). Also here: the sparse
products the model takes gradients through (``spmm``, ``take``); and, from ``mesh_data``
(torch-free), the family's scales (``FamilyNorm``) and the dofs' keys (``dof_keys``:
coordinates and, on vector spaces, component).

Shapes: a batch is the disjoint union of B instances, N dofs in all.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from ..canonical.pde import PDEData
from .mesh_data import CoarseOperatorError, FamilyNorm, dof_keys

__all__ = ["FamilyNorm", "MeshGraph", "MeshCache", "build_mesh_graph", "is_symmetric", "spmm", "take", "dof_keys",
           "CoarseOperatorError"]


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
    # grad, meas, src and scale in float64 for a float32 graph (exact_residual), as Araw64: the
    # residual near the answer cancels almost every digit, and float32 stopped the error near 7e-8
    ql_grad64: tuple[Tensor, Tensor] | None = None
    ql_meas64: Tensor | None = None
    ql_src64: Tensor | None = None
    ql_scale64: Tensor | None = None
    # bc (N,) in float64 for a float32 graph (exact_residual): Dirichlet values rounded to float32
    # make the answer another problem's, about 1e-8 away
    bc64: Tensor | None = None
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
    exact_residual: a float32 graph also carries, in float64, the operator and right-hand side
    (linear problems with the coarse correction) or the quasilinear residual's terms, for
    residuals near the answer."""
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
        wide = exact_residual and dtype != torch.float64
        ql = _stack_quasilinear(pdes, norm, coeff, torch.float64 if wide else dtype)
        if wide:  # the float64 terms kept beside the graph's own, rounded from them
            ql.update(ql_src64=ql["ql_src"], ql_scale64=ql["ql_scale"],
                      ql_src=ql["ql_src"].to(dtype), ql_scale=ql["ql_scale"].to(dtype))
        ql.update(mesh_only("quasilinear", lambda: _stack_quasilinear_mesh(pdes, dtype)))
        if wide:
            mesh64 = mesh_only("quasilinear64", lambda: _stack_quasilinear_mesh(pdes, torch.float64))
            ql.update(ql_grad64=mesh64["ql_grad"], ql_meas64=mesh64["ql_meas"])
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
        bc64=torch.as_tensor(np.concatenate(bcs)) if exact_residual and dtype != torch.float64 else None,
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
