"""The anchor a mesh model corrects and the start that k = 0 hands over (``MeshAnchorBank``):
the nearest training solution, or a kernel regression of the training solutions on the
instance's fields or on their linear prediction of the solution (``KernelFit``: where
leave-one-out says it is nearer than the nearest one),
matched to a problem's dofs by their order, by their coordinates (another dof numbering, a
parallel gather) or interpolated from the training mesh onto another mesh of the same domain
(``linear_transfer``, ``key_transfer``; flux and edge dofs by ``vector_transfer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..canonical.pde import PDEData
from .anchors import LINEAR_PENALTIES, RidgeFit, affine_eigh, best_ridge
from .mesh_data import FamilyNorm, dof_keys

if TYPE_CHECKING:  # saved as torch tensors; a start from the bank runs without torch
    import torch

__all__ = ["MeshAnchorBank", "KernelFit", "MESH_ANCHOR_KINDS", "KERNEL_METRICS", "KERNEL_SHAPES", "kernel_values",
           "dof_order", "linear_transfer", "vector_transfer", "key_transfer"]

MESH_ANCHOR_KINDS = ("kernel", "nearest")

KERNEL_MIN_INSTANCES = 8
"""a bank with fewer training solutions keeps the nearest one as its anchor"""

KERNEL_FOLDS = 4
"""the folds of the cross-validation that chooses the kernel's metric"""

KERNEL_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""the kernel's width, in units of the median squared distance between training instances"""

KERNEL_PENALTIES = (1e-8, 1e-6, 1e-4, 1e-2, 1e-1)

KERNEL_METRICS = ("fields", "linear")
"""what the kernel measures distances on: the normalised fields, or their linear ridge prediction of
the solution, which weighs each direction of the fields by how much it moves the solution (a
source's high modes barely do): cross-validation picks (``KERNEL_FOLDS``)"""

LINEAR_RANK_TOL = 1e-9
"""singular values of the training instances' linear predictions below this share of the largest
are rounding: the directions they stand for are dropped from the linear metric"""

KERNEL_SHAPES = ("gaussian", "matern52")
"""exp(-t) and the Matern 5/2 kernel (1 + r + r^2/3) exp(-r), r = sqrt(5 t), t the squared
distance over the width: leave-one-out picks; the Matern kernel's heavier tail fits some
families' solutions (nonlinear-poisson's) better than the Gaussian's"""


def kernel_values(t: np.ndarray, shape: str) -> np.ndarray:
    """The kernel of ``KERNEL_SHAPES`` at the squared distances over the width ``t`` (>= 0)."""
    if shape == "gaussian":
        return np.exp(-t)
    if shape == "matern52":
        r = np.sqrt(5.0 * t)
        return (1.0 + r + r * r / 3.0) * np.exp(-r)
    raise ValueError(f"kernel shape must be one of {', '.join(KERNEL_SHAPES)}, got {shape!r}")


@dataclass(frozen=True)
class KernelFit:
    """The kernel anchor's choice, made on the training solutions (by leave-one-out; the metric by
    cross-validation): ``shape``
    (``KERNEL_SHAPES``), ``metric`` (``KERNEL_METRICS``), ``bandwidth`` (x the median squared
    distance) and ``penalty`` of a kernel ridge regression, its median relative L2 error
    ``loo_error``, and the nearest other training solution's ``nearest_loo_error``. ``used``: the
    regression is the anchor (its error is the lower)."""

    bandwidth: float
    penalty: float
    loo_error: float
    nearest_loo_error: float
    shape: str = "gaussian"
    metric: str = "fields"

    @property
    def used(self) -> bool:
        return self.loo_error < self.nearest_loo_error

    def to_dict(self) -> dict[str, float | str]:
        return {"kind": "kernel" if self.used else "nearest", "shape": self.shape, "metric": self.metric,
                "bandwidth": self.bandwidth, "penalty": self.penalty, "loo_error": self.loo_error,
                "nearest_loo_error": self.nearest_loo_error}

    @staticmethod
    def from_dict(d: dict) -> KernelFit:
        shape, metric = str(d.get("shape", "gaussian")), str(d.get("metric", "fields"))
        kernel_values(np.zeros(1), shape)  # an unknown shape or metric is refused here, not at the first start
        if metric not in KERNEL_METRICS:
            raise ValueError(f"kernel metric must be one of {', '.join(KERNEL_METRICS)}, got {metric!r}")
        return KernelFit(float(d["bandwidth"]), float(d["penalty"]), float(d["loo_error"]),
                         float(d["nearest_loo_error"]), shape, metric)


@dataclass(frozen=True)
class _Points:
    """What a kernel measures distances between: the bank's instances as (M, p) ``points`` (their
    squared norms ``sq``) and ``embed``, which takes an instance's centred field vector (D,) to its
    point (p,)."""

    points: np.ndarray
    sq: np.ndarray
    embed: Callable[[np.ndarray], np.ndarray]

    @staticmethod
    def of(points: np.ndarray, embed: Callable[[np.ndarray], np.ndarray]) -> _Points:
        return _Points(points, np.einsum("ij,ij->i", points, points), embed)

    def pairwise2(self) -> np.ndarray:
        """(M, M) squared distances between the points."""
        return np.maximum(self.sq[:, None] + self.sq[None, :] - 2.0 * (self.points @ self.points.T), 0.0)

    def distances2(self, w: np.ndarray) -> np.ndarray:
        """(M,) squared distances of the centred field vector w (D,)'s point to the bank's."""
        p = self.embed(w)
        return np.maximum(self.sq - 2.0 * (self.points @ p) + float(p @ p), 0.0)


@dataclass(frozen=True)
class _KernelModel:
    """u(v) = mean + kernel_values(d2(v) / scale, shape) @ alpha, d2 the (M,) squared distances of
    v's point to the bank's (``points``)."""

    shape: str
    scale: float
    alpha: np.ndarray  # (M, n)
    mean: np.ndarray  # (n,)
    loo: np.ndarray  # (M, n) each training instance's prediction by the regression fitted without it
    points: _Points


def dof_order(ref: np.ndarray, coords: np.ndarray, *, ref_vectors: np.ndarray | None = None,
              vectors: np.ndarray | None = None) -> np.ndarray | None:
    """(n,) ``order`` with ``coords[order]`` equal to ``ref`` (both (n, k) ``dof_keys``): the
    same mesh with its dofs in another order (e.g. distributed by MPI and gathered in PETSc's
    global order), ``arange(n)`` for the same order, or None for another mesh, however many dofs
    it has. Keys that repeat are matched only in the same order; the dofs' vectors (both (n,
    gdim) or (n, gdim + gdim * gdim), ``PDEData.dof_vectors``; the columns both have), where both
    are given, tell apart dofs at one point (RT2's two on a facet, its two in a cell)."""
    if ref_vectors is not None and vectors is not None and len(ref_vectors) == len(vectors):
        w = min(ref_vectors.shape[1], vectors.shape[1])
        ref, coords = np.hstack([ref, ref_vectors[:, :w]]), np.hstack([coords, vectors[:, :w]])
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


def linear_transfer(src: np.ndarray, dst: np.ndarray, *, surface: bool = False) -> sp.csr_matrix:
    """(len(dst), len(src)) weights of the piecewise-linear interpolant on a Delaunay
    triangulation of the points ``src`` (n, d) at the points ``dst`` (m, d); a point outside
    their hull takes the affine fit to its nearest ones (``_local_affine``: along the walls of a
    finer DG0 mesh, whose cell midpoints lie outside a coarser one's, the nearest point's value
    had left a step that doubled the start's residual). Points that span fewer dimensions than they have
    coordinates (a plane in 3-D, as gmsh meshes are often read, with gdim 3; a line) are taken in
    the coordinates they span, where Qhull had refused them; on a line, between neighbours.
    ``surface``: the points lie on a curved manifold of lower dimension (a shell in 3-D), whose
    Delaunay triangulation fills the space under it and leaves about half of another mesh's
    points outside: each point takes the affine fit to its nearest ones (``_local_affine``).
    Raises scipy's QhullError on points that span no simplex even so."""
    from scipy.spatial import Delaunay, cKDTree

    centre = src.mean(axis=0)
    _, sv, vt = np.linalg.svd(src - centre, full_matrices=False)
    spans = sv > 1e-9 * max(float(sv[0]) if len(sv) else 0.0, 1e-300)
    if not spans.all():
        basis = vt[spans].T  # (d, d'): the directions the points span
        src, dst = (src - centre) @ basis, (dst - centre) @ basis
    d = src.shape[1]
    if d == 1:
        return _interval_transfer(src[:, 0], dst[:, 0])

    def fitted(at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, weights) of the points ``dst[at]``' affine fits to their nearest ``src``."""
        k = min(LOCAL_NEIGHBOURS * (d + 1), len(src))
        r, j = cKDTree(src).query(dst[at], k=k)
        r, j = r.reshape(len(at), k), j.reshape(len(at), k)
        return np.repeat(at, k), j.ravel(), _local_affine(src[j] - dst[at, None, :], r).ravel()

    if surface:
        rows, cols, vals = fitted(np.arange(len(dst)))
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(dst), len(src)))
    tri = Delaunay(src)
    s = tri.find_simplex(dst)
    inside, outside = np.flatnonzero(s >= 0), np.flatnonzero(s < 0)
    t = tri.transform[s[inside]]
    b = np.einsum("nij,nj->ni", t[:, :d], dst[inside] - t[:, d])
    parts = [(np.repeat(inside, d + 1), tri.simplices[s[inside]].ravel(),
              np.hstack([b, 1.0 - b.sum(1, keepdims=True)]).ravel())]
    if len(outside):
        parts.append(fitted(outside))
    rows, cols, vals = (np.concatenate(v) for v in zip(*parts))
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(dst), len(src)))


LOCAL_NEIGHBOURS = 3
"""times d + 1: the points each point of a surface is fitted to (``_local_affine``)"""


def _local_affine(dx: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(m, k) weights giving, at each of m points, the value of the affine function that fits its k
    neighbours best (``dx`` (m, k, d) their offsets, ``r`` (m, k) their distances, nearest
    first), weighted by inverse squared distance tapered to zero at the k-th, so that the weights
    move smoothly with the point (a neighbour joining or leaving the k had made the carried values
    rough, which Krylov pays for); directions the neighbours barely span (a surface's normal) are
    damped, not extrapolated along."""
    m, k, d = dx.shape
    h = np.maximum(r[:, -1], 1e-300)[:, None] * (1.0 + 1e-9)
    q = (r / h) ** 2
    w = (1.0 - q) ** 2 / (q + 1e-6)
    B = np.concatenate([np.ones((m, k, 1)), dx], axis=2)  # (m, k, d + 1)
    G = np.einsum("mk,mki,mkj->mij", w, B, B)
    G[:, 1:, 1:] += (1e-3 * w.sum(1) * h[:, 0] ** 2)[:, None, None] * np.eye(d)
    e0 = np.zeros((m, d + 1, 1))
    e0[:, 0] = 1.0
    c = np.linalg.solve(G, e0)[:, :, 0]  # (m, d + 1)
    return w * np.einsum("mki,mi->mk", B, c)


def _interval_transfer(src: np.ndarray, dst: np.ndarray) -> sp.csr_matrix:
    """``linear_transfer`` on a line: each dst point (m,) between its two src neighbours (n,);
    beyond the ends, the end's value."""
    order = np.argsort(src, kind="stable")
    xs = src[order]
    if len(xs) < 2 or xs[-1] <= xs[0]:
        raise ValueError("fewer than two distinct points on the line")
    j = np.clip(np.searchsorted(xs, dst, side="right") - 1, 0, len(xs) - 2)
    gap = xs[j + 1] - xs[j]
    w = np.clip(np.divide(dst - xs[j], gap, out=np.zeros(len(dst)), where=gap > 0), 0.0, 1.0)
    rows = np.repeat(np.arange(len(dst)), 2)
    cols = np.column_stack([order[j], order[j + 1]]).ravel()
    vals = np.column_stack([1.0 - w, w]).ravel()
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(dst), len(src)))


VECTOR_NEIGHBOURS = 2
"""times gdim (gdim + 1), the affine field's coefficients: the source dofs each moment dof's field is
fitted to (``vector_transfer``)"""


def vector_transfer(src: np.ndarray, src_vec: np.ndarray, dst: np.ndarray, dst_vec: np.ndarray) -> sp.csr_matrix:
    """(len(dst), len(src)) weights carrying dofs that are moments of a vector field u (flux and
    edge dofs, ``PDEData.dof_vectors``: value = vec . u(point) + grad : Du on an affine u, where
    vec (d,) is the dof's value on constant fields and grad (d, d) on linear ones about its point)
    at the points ``src`` (n, d) with responses ``src_vec`` (n, d or d + d * d) to those at ``dst``
    (m, d), ``dst_vec`` (m, d or d + d * d): around each dst point u is the affine field that fits
    its nearest src dofs with a vector best (least squares weighted by inverse squared distance
    tapered to zero at the farthest, so that a dof at the same point with the same responses is
    kept and the weights move smoothly), and the dst dof's value is its responses applied to u
    there. Interpolating the values themselves would mix facets of other directions and sizes.
    A higher moment (RT2's second on a facet, BDM1's: no vector, a response to the gradient
    alone) is fitted to, not fitted from: it answers to the field's higher derivatives too (RT3's
    to the curvature), which an affine fit through it had taken for the gradient (0.22 off, hand
    check). Without the (d, d) part (a bank saved before it was kept) such a dst dof takes 0."""
    from scipy.spatial import cKDTree

    d = src.shape[1]
    resp = lambda v: (v[:, :d], v[:, d:] if v.shape[1] == d + d * d else np.zeros((len(v), d * d)))  # noqa: E731
    (sv, sg), (dv, dg) = resp(src_vec), resp(dst_vec)
    size = np.abs(sv).max(axis=1)
    use = np.flatnonzero(size > 1e-12 * max(float(size.max(initial=0.0)), 1e-300))
    k = min(VECTOR_NEIGHBOURS * d * (d + 1), len(use))
    if not k:
        return sp.csr_matrix((len(dst), len(src)))
    r, j = cKDTree(src[use]).query(dst, k=k)
    r, j = r.reshape(len(dst), k), use[j.reshape(len(dst), k)]
    h = np.maximum(r[:, -1:], 1e-300) * (1.0 + 1e-9)  # the neighbourhood's size: distances are weighed relative to it
    q = (r / h) ** 2
    w = (1.0 - q) ** 2 / (q + 1e-6)  # (m, k)
    N = sv[j]  # (m, k, d)
    dx = (src[j] - dst[:, None, :]) / h[:, :, None]  # (m, k, d), in units of the neighbourhood
    # the gradient's coefficients are in units of the neighbourhood too: D u h
    B = np.concatenate([N, (N[:, :, :, None] * dx[:, :, None, :]).reshape(len(dst), k, d * d) + sg[j] / h[:, :, None]],
                       axis=2)
    G = np.einsum("mk,mki,mkj->mij", w, B, B)
    # each part damped by its own size (the gradient where barely seen): a src dof at the dst point,
    # weighed most, says nothing of the gradient, and had damped it to 0 with the value's size; by 1e-2
    # of it, as 1e-3 followed the training mesh's answer too closely on curved cells (build_annulus's
    # exact 8 x 8 answer carried to 12 x 12: 0.14 off, 0.11 at 1e-2 and before; hand check)
    value, gradient = (np.trace(G[:, p, p], axis1=1, axis2=2)[:, None] for p in (slice(0, d), slice(d, None)))
    diag = np.arange(d + d * d)
    G[:, diag, diag] += np.hstack([np.repeat(value * 1e-10 / d, d, axis=1),
                                   np.repeat(gradient * 1e-2 / (d * d), d * d, axis=1)]) + 1e-300
    rhs = np.concatenate([dv, dg / h], axis=1)[:, :, None]
    c = np.linalg.solve(G, rhs)[:, :, 0]  # (m, d + d * d)
    vals = w * np.einsum("mki,mi->mk", B, c)
    return sp.csr_matrix((vals.ravel(), (np.repeat(np.arange(len(dst)), k), j.ravel())), shape=(len(dst), len(src)))


def key_transfer(src: np.ndarray, dst: np.ndarray, gdim: int, *, src_vec: np.ndarray | None = None,
                 dst_vec: np.ndarray | None = None, surface: bool = False) -> sp.csr_matrix | None:
    """``linear_transfer`` between two meshes' ``dof_keys`` (src (n, k), dst (m, k)), component by
    component where the keys carry one (k = gdim + 1); None where it cannot be built (a
    component one mesh lacks, degenerate points). A component whose dofs have vectors
    on both meshes (``src_vec`` (n, gdim), ``dst_vec`` (m, gdim): flux, edge dofs) is carried
    by ``vector_transfer`` instead. ``surface``: the mesh is a curved manifold of lower
    dimension than the space (``linear_transfer``)."""
    from scipy.spatial import QhullError

    if src.shape[1] != dst.shape[1]:
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
            if src_vec is not None and dst_vec is not None and src_vec[si].any() and dst_vec[di].any():
                m = vector_transfer(src[si, :gdim], src_vec[si], dst[di, :gdim], dst_vec[di]).tocoo()
            else:
                m = linear_transfer(src[si, :gdim], dst[di, :gdim], surface=surface).tocoo()
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
    it, and it is carried back (``key_transfer``: piecewise linear; flux and edge dofs through
    their ``vectors`` (n, gdim + gdim * gdim), ``PDEData.dof_vectors``, where the bank has them). Stored in the
    checkpoint as three or four tensors; one saved without coordinates (before they were kept)
    serves any mesh with as many dofs as it is, and no other; one without vectors carries flux
    and edge dofs as point values, as it did when it was saved."""

    def __init__(self, fields: np.ndarray, solutions: np.ndarray, norm: FamilyNorm,
                 coords: np.ndarray | None = None, *, kernel: KernelFit | None = None,
                 vectors: np.ndarray | None = None) -> None:
        self.fields = np.asarray(fields, dtype=np.float32)  # (M, n * f)
        self.solutions = np.asarray(solutions, dtype=np.float64)  # (M, n)
        self.norm = norm
        self.coords = None if coords is None else np.asarray(coords, dtype=np.float64)  # (n, d or d + 1)
        self.vectors = None if vectors is None else np.asarray(vectors, dtype=np.float64)  # (n, gdim [+ gdim^2])
        self._centred: tuple[np.ndarray, np.ndarray] | None = None
        self._point_sets: dict[str, _Points] = {}
        self._last: tuple[np.ndarray, _Match | None] | None = None  # (dof keys, how they match the bank's)
        self.kernel_fit: KernelFit | None = None  # the kernel anchor's choice (``fit_kernel``), used or not
        self._kernel: _KernelModel | None = None
        if kernel is not None:
            self.kernel_fit = kernel
            if kernel.used:
                self._kernel = self._kernel_model(kernel)

    @property
    def kind(self) -> str:
        """What ``anchor`` returns: "kernel" (the regression) or "nearest" (the nearest solution)."""
        return "kernel" if self._kernel is not None else "nearest"

    def _centred_bank(self) -> tuple[np.ndarray, np.ndarray]:
        """(centred vectors (M, D), the mean (D,)), in float64, made once (so that the parts every
        instance shares, e.g. component one-hots, cancel exactly instead of swamping the differences)."""
        if self._centred is None:
            mean = self.fields.mean(0, dtype=np.float64)
            self._centred = (self.fields.astype(np.float64) - mean, mean)
        return self._centred

    def _centre(self, v: np.ndarray) -> np.ndarray:
        return v.astype(np.float64) - self._centred_bank()[1]

    def _points(self, metric: str) -> _Points:
        """The bank's instances as the kernel of ``metric`` (``KERNEL_METRICS``) measures them,
        made once: the centred fields, or their linear ridge prediction of the solution (the
        fit's own, as an instance outside the bank gets it: the leave-one-out predictions, which
        do not see their instance, scatter a one-parameter family's training points off the line
        its new instances lie on)."""
        if metric not in self._point_sets:
            c, _ = self._centred_bank()
            if metric == "fields":
                pts = _Points.of(c, lambda w: w)
            elif metric == "linear":
                e, v, scale = affine_eigh(c)
                fit = best_ridge(e, v, self.solutions, LINEAR_PENALTIES)
                coef = fit.coef / scale  # the intercept's term, the same for every point, drops out of distances
                # the predictions span as many directions as the fields vary in (a source's few modes),
                # not the mesh's dofs: distances taken in those directions cost that many products
                u, sv, vt = np.linalg.svd((c @ c.T) @ coef, full_matrices=False)
                r = max(1, int((sv > LINEAR_RANK_TOL * sv[0]).sum()))
                to_r = c.T @ (coef @ vt[:r].T)  # (D, r): a centred field vector to its coordinates
                pts = _Points.of(u[:, :r] * sv[:r], lambda w: w @ to_r)
            else:
                raise ValueError(f"kernel metric must be one of {', '.join(KERNEL_METRICS)}, got {metric!r}")
            self._point_sets[metric] = pts
        return self._point_sets[metric]

    def _kernel_scale(self, d2: np.ndarray, bandwidth: float) -> float:
        off = d2[~np.eye(len(d2), dtype=bool)]
        return bandwidth * max(float(np.median(off)), 1e-300)

    def _kernel_ridge(self, points: _Points, d2: np.ndarray, shape: str, bandwidth: float,
                      penalties: tuple[float, ...]) -> tuple[_KernelModel, RidgeFit]:
        """The regression on the (M, M) squared distances ``d2`` between ``points`` with the best of
        ``penalties``."""
        scale = self._kernel_scale(d2, bandwidth)
        e, v = np.linalg.eigh(kernel_values(d2 / scale, shape))
        fit = best_ridge(np.maximum(e, 0.0), v, self.solutions, penalties)
        return _KernelModel(shape, scale, fit.coef, self.solutions.mean(0), fit.loo, points), fit

    def _kernel_model(self, fit: KernelFit) -> _KernelModel:
        pts = self._points(fit.metric)
        return self._kernel_ridge(pts, pts.pairwise2(), fit.shape, fit.bandwidth, (fit.penalty,))[0]

    def fit_kernel(self) -> KernelFit | None:
        """Choose the kernel regression's shape, width and penalty by leave-one-out (median relative
        L2 error over the training solutions) for each metric, the metric by ``KERNEL_FOLDS``-fold
        cross-validation, and use the regression as the anchor where its leave-one-out error beats
        the nearest other training solution's; None (and the nearest anchor) with fewer than
        ``KERNEL_MIN_INSTANCES`` solutions. The fields decide the solution in a family, and
        where they vary smoothly in a few parameters (a Reynolds number, a source's modes) a
        weighted mean of many solutions lies far nearer than the nearest one."""
        y = self.solutions
        m = len(y)
        if m < KERNEL_MIN_INSTANCES:
            return None
        norm = np.linalg.norm(y, axis=1) + 1e-12
        d2s = {metric: self._points(metric).pairwise2() for metric in KERNEL_METRICS}
        own = d2s["fields"] + np.diag(np.full(m, np.inf))
        nearest_err = float(np.median(np.linalg.norm(y[own.argmin(1)] - y, axis=1) / norm))
        best: dict[str, tuple[KernelFit, _KernelModel]] = {}
        for metric, d2 in d2s.items():
            pts = self._points(metric)
            for shape in KERNEL_SHAPES:
                for bw in KERNEL_BANDWIDTHS:
                    model, fit = self._kernel_ridge(pts, d2, shape, bw, KERNEL_PENALTIES)
                    if metric not in best or fit.error < best[metric][0].loo_error:
                        best[metric] = (KernelFit(bw, fit.penalty, fit.error, nearest_err, shape, metric), model)
        # the linear metric's points are fitted to the solutions, its own among them, so its
        # leave-one-out error flatters it; a fold left out of everything does not. That error, not
        # the flattering one, must also beat the nearest solution's for the linear metric to be used
        cv = {metric: self._cv_error(b[0]) for metric, b in best.items()}
        metric = min(cv, key=cv.__getitem__)
        chosen = best[metric if metric == "fields" or cv[metric] < nearest_err else "fields"]
        self.kernel_fit = chosen[0]
        self._kernel = chosen[1] if chosen[0].used else None
        return chosen[0]

    def _cv_error(self, fit: KernelFit) -> float:
        """Median relative L2 error of ``fit``'s regression, the linear prediction included, refitted
        without each of ``KERNEL_FOLDS`` folds and predicting it."""
        y, errs = self.solutions, []
        for k in range(KERNEL_FOLDS):
            held = np.arange(k, len(y), KERNEL_FOLDS)
            rest = np.setdiff1d(np.arange(len(y)), held)
            part = MeshAnchorBank(self.fields[rest], y[rest], self.norm)
            model = part._kernel_model(fit)
            pred = np.stack([part._predict(model, v) for v in self.fields[held]])
            errs.extend(np.linalg.norm(pred - y[held], axis=1) / (np.linalg.norm(y[held], axis=1) + 1e-12))
        return float(np.median(errs))

    def _predict(self, km: _KernelModel, v: np.ndarray) -> np.ndarray:
        """(n,) the regression ``km`` at the field vector v (n * f,) on the bank's dofs."""
        return km.mean + kernel_values(km.points.distances2(self._centre(v)) / km.scale, km.shape) @ km.alpha

    def _distances2(self, v: np.ndarray) -> np.ndarray:
        """(M,) squared distances of v (n * f,) to every bank vector: one matrix-vector product
        on the bank centred once."""
        return self._points("fields").distances2(self._centre(v))

    @staticmethod
    def vector(pde: PDEData, norm: FamilyNorm, fields: np.ndarray | None = None) -> np.ndarray:
        """(n * f,) the instance's normalised fields (or ``fields`` (n, f), the instance's carried
        onto the bank's dofs), scaled by 1/sqrt(n): what distances compare."""
        fm, fs = np.asarray(norm.field_mean), np.asarray(norm.field_std)
        fields = pde.fields if fields is None else fields
        return (((fields - fm) / fs).ravel() / np.sqrt(len(fields))).astype(np.float32)

    @staticmethod
    def build(pdes: list[PDEData], solutions: list[np.ndarray], norm: FamilyNorm, *,
              kind: str = "nearest") -> MeshAnchorBank | None:
        """The bank of the training instances (one mesh); ``kind`` "kernel" fits the kernel
        anchor (``fit_kernel``: used where leave-one-out prefers it), "nearest" does not."""
        if kind not in MESH_ANCHOR_KINDS:
            raise ValueError(f"anchor kind must be one of {', '.join(MESH_ANCHOR_KINDS)}, got {kind!r}")
        ref = dof_keys(pdes[0])
        if any(p is not pdes[0] and (p.n != pdes[0].n or not np.array_equal(dof_keys(p), ref)) for p in pdes):
            return None  # several meshes: no common solution vector to start from
        bank = MeshAnchorBank(np.stack([MeshAnchorBank.vector(p, norm) for p in pdes]), np.stack(solutions), norm,
                              coords=ref, vectors=pdes[0].dof_vectors)
        if kind == "kernel":
            bank.fit_kernel()
        return bank

    def match(self, pde: PDEData) -> _Match | None:
        """How ``pde``'s dofs meet the bank's (the last mesh's kept: a family's instances share
        one mesh); None where the bank cannot serve it."""
        if self.coords is None:
            return _Match.reordered(np.arange(pde.n)) if self.solutions.shape[1] == pde.n else None
        keys = dof_keys(pde)
        if self._last is None or not np.array_equal(self._last[0], keys):
            order = dof_order(self.coords, keys, ref_vectors=self.vectors, vectors=pde.dof_vectors)
            if order is not None:
                m = _Match.reordered(order)
            else:
                m = self._carried(pde, keys)
            self._last = (np.array(keys, dtype=np.float64), m)
        return self._last[1]

    def _carried(self, pde: PDEData, keys: np.ndarray) -> _Match | None:
        """The "interpolated" match of another mesh's dofs (``key_transfer``), or None: fields as
        point values, but those that are dof values (``PDEData.dof_valued``), which are carried as
        the solution is, through the dofs' vectors where both meshes have them."""
        gdim = pde.coords.shape[1]
        surface = pde.signature.get("tdim", gdim) < gdim  # a shell in 3-D, a curve in the plane
        as_points = key_transfer(keys, self.coords, gdim, surface=surface)
        back = key_transfer(self.coords, keys, gdim, src_vec=self.vectors, dst_vec=pde.dof_vectors, surface=surface)
        if as_points is None or back is None:
            return None
        cols = [i for i, nm in enumerate(pde.field_names) if nm in pde.dof_valued]
        as_dofs = None if not cols or self.vectors is None or pde.dof_vectors is None else key_transfer(
            keys, self.coords, gdim, src_vec=pde.dof_vectors, dst_vec=self.vectors, surface=surface)
        if as_dofs is None:
            return _Match("interpolated", as_points.__matmul__, back.__matmul__)

        def to_bank(fields: np.ndarray) -> np.ndarray:
            out = as_points @ fields
            out[:, cols] = as_dofs @ fields[:, cols]
            return out

        return _Match("interpolated", to_bank, back.__matmul__)

    def nearest(self, pde: PDEData, *, exclude: int | None = None) -> np.ndarray | None:
        """(n,) the nearest training solution on ``pde``'s dofs (``match``), or None: the
        baseline, and the anchor of a "nearest" bank."""
        m = self.match(pde)
        if m is None or len(self.solutions) < 1 + (exclude is not None):
            return None
        d = self._distances2(self.vector(pde, self.norm, m.to_bank(pde.fields)))
        if exclude is not None:
            d[exclude] = np.inf
        return m.from_bank(self.solutions[int(np.argmin(d))])

    def anchor(self, pde: PDEData, *, exclude: int | None = None) -> np.ndarray | None:
        """(n,) what the model corrects and k = 0 hands over, on ``pde``'s dofs, or None: the
        kernel regression where the bank uses it (``kind``), else the nearest training
        solution. ``exclude``: ``pde`` is the bank's instance of that index (training): its own
        solution is left out (the regression's leave-one-out prediction)."""
        km = self._kernel
        if km is None:
            return self.nearest(pde, exclude=exclude)
        m = self.match(pde)
        if m is None:
            return None
        if exclude is not None:
            return m.from_bank(km.loo[exclude])
        return m.from_bank(self._predict(km, self.vector(pde, self.norm, m.to_bank(pde.fields))))

    def state(self) -> dict[str, torch.Tensor]:
        import torch

        state = {"anchor_fields": torch.as_tensor(self.fields), "anchor_solutions": torch.as_tensor(self.solutions)}
        if self.coords is not None:
            state["anchor_coords"] = torch.as_tensor(self.coords)
        if self.vectors is not None:
            state["anchor_vectors"] = torch.as_tensor(self.vectors)
        return state
