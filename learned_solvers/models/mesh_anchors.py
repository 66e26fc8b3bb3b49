"""The anchor a mesh model corrects and the start that k = 0 hands over (``MeshAnchorBank``):
the nearest training solution, or a kernel regression of the training solutions on the
instance's fields (``KernelFit``: where leave-one-out says it is nearer than the nearest one),
matched to a problem's dofs by their order, by their coordinates (another dof numbering, a
parallel gather) or interpolated from the training mesh onto another mesh of the same domain
(``linear_transfer``, ``key_transfer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from ..canonical.pde import PDEData
from .anchors import RidgeFit, best_ridge
from .mesh_graph import FamilyNorm, dof_keys

__all__ = ["MeshAnchorBank", "KernelFit", "MESH_ANCHOR_KINDS", "KERNEL_SHAPES", "kernel_values", "dof_order",
           "linear_transfer", "key_transfer"]

MESH_ANCHOR_KINDS = ("kernel", "nearest")

KERNEL_MIN_INSTANCES = 8
"""a bank with fewer training solutions keeps the nearest one as its anchor"""

KERNEL_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""the kernel's width, in units of the median squared distance between training instances"""

KERNEL_PENALTIES = (1e-8, 1e-6, 1e-4, 1e-2, 1e-1)

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
    """The kernel anchor's choice, made by leave-one-out on the training solutions: ``shape``
    (``KERNEL_SHAPES``), ``bandwidth`` (x the median squared distance) and ``penalty`` of a
    kernel ridge regression, its median relative L2 error ``loo_error``, and the nearest other
    training solution's ``nearest_loo_error``. ``used``: the regression is the anchor (its error
    is the lower)."""

    bandwidth: float
    penalty: float
    loo_error: float
    nearest_loo_error: float
    shape: str = "gaussian"

    @property
    def used(self) -> bool:
        return self.loo_error < self.nearest_loo_error

    def to_dict(self) -> dict[str, float | str]:
        return {"kind": "kernel" if self.used else "nearest", "shape": self.shape, "bandwidth": self.bandwidth,
                "penalty": self.penalty, "loo_error": self.loo_error, "nearest_loo_error": self.nearest_loo_error}

    @staticmethod
    def from_dict(d: dict) -> KernelFit:
        shape = str(d.get("shape", "gaussian"))
        kernel_values(np.zeros(1), shape)  # an unknown shape is refused here, not at the first start
        return KernelFit(float(d["bandwidth"]), float(d["penalty"]), float(d["loo_error"]),
                         float(d["nearest_loo_error"]), shape)


@dataclass(frozen=True)
class _KernelModel:
    """u(v) = mean + kernel_values(d2(v) / scale, shape) @ alpha, d2 the (M,) squared distances to
    the bank's vectors."""

    shape: str
    scale: float
    alpha: np.ndarray  # (M, n)
    mean: np.ndarray  # (n,)
    loo: np.ndarray  # (M, n) each training instance's prediction by the regression fitted without it


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
                 coords: np.ndarray | None = None, *, kernel: KernelFit | None = None) -> None:
        self.fields = np.asarray(fields, dtype=np.float32)  # (M, n * f)
        self.solutions = np.asarray(solutions, dtype=np.float64)  # (M, n)
        self.norm = norm
        self.coords = None if coords is None else np.asarray(coords, dtype=np.float64)  # (n, d or d + 1)
        self._centred: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._last: tuple[np.ndarray, _Match | None] | None = None  # (dof keys, how they match the bank's)
        self.kernel_fit: KernelFit | None = None  # the kernel anchor's choice (``fit_kernel``), used or not
        self._kernel: _KernelModel | None = None
        if kernel is not None:
            self.kernel_fit = kernel
            if kernel.used:
                self._kernel = self._kernel_model(kernel.shape, kernel.bandwidth, kernel.penalty)

    @property
    def kind(self) -> str:
        """What ``anchor`` returns: "kernel" (the regression) or "nearest" (the nearest solution)."""
        return "kernel" if self._kernel is not None else "nearest"

    def _centred_bank(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centred vectors (M, D), their squared norms (M,), the mean (D,)), in float64, made once."""
        if self._centred is None:
            mean = self.fields.mean(0, dtype=np.float64)
            c = self.fields.astype(np.float64) - mean
            self._centred = (c, np.einsum("ij,ij->i", c, c), mean)
        return self._centred

    def _pairwise2(self) -> np.ndarray:
        """(M, M) squared distances between the bank's vectors."""
        c, sq, _ = self._centred_bank()
        return np.maximum(sq[:, None] + sq[None, :] - 2.0 * (c @ c.T), 0.0)

    def _kernel_scale(self, d2: np.ndarray, bandwidth: float) -> float:
        off = d2[~np.eye(len(d2), dtype=bool)]
        return bandwidth * max(float(np.median(off)), 1e-300)

    def _kernel_ridge(self, d2: np.ndarray, shape: str, bandwidth: float, penalties: tuple[float, ...]
                      ) -> tuple[_KernelModel, RidgeFit]:
        """The regression on the (M, M) squared distances ``d2`` with the best of ``penalties``."""
        scale = self._kernel_scale(d2, bandwidth)
        gram = kernel_values(d2 / scale, shape)
        e, v = np.linalg.eigh(gram)
        fit = best_ridge(np.maximum(e, 0.0), v, self.solutions, penalties)
        return _KernelModel(shape, scale, fit.coef, self.solutions.mean(0), fit.loo), fit

    def _kernel_model(self, shape: str, bandwidth: float, penalty: float) -> _KernelModel:
        return self._kernel_ridge(self._pairwise2(), shape, bandwidth, (penalty,))[0]

    def fit_kernel(self) -> KernelFit | None:
        """Choose the kernel regression's shape, width and penalty by leave-one-out (median relative L2
        error over the training solutions) and use it as the anchor where it beats the nearest
        other training solution's error; None (and the nearest anchor) with fewer than
        ``KERNEL_MIN_INSTANCES`` solutions. The fields decide the solution in a family, and
        where they vary smoothly in a few parameters (a Reynolds number, a source's modes) a
        weighted mean of many solutions lies far nearer than the nearest one."""
        y = self.solutions
        m = len(y)
        if m < KERNEL_MIN_INSTANCES:
            return None
        d2 = self._pairwise2()
        norm = np.linalg.norm(y, axis=1) + 1e-12
        own = d2 + np.diag(np.full(m, np.inf))
        nearest_err = float(np.median(np.linalg.norm(y[own.argmin(1)] - y, axis=1) / norm))
        best: tuple[KernelFit, _KernelModel] | None = None
        for shape in KERNEL_SHAPES:
            for bw in KERNEL_BANDWIDTHS:
                model, fit = self._kernel_ridge(d2, shape, bw, KERNEL_PENALTIES)
                if best is None or fit.error < best[0].loo_error:
                    best = (KernelFit(bw, fit.penalty, fit.error, nearest_err, shape), model)
        self.kernel_fit = best[0]
        self._kernel = best[1] if best[0].used else None
        return best[0]

    def _distances2(self, v: np.ndarray) -> np.ndarray:
        """(M,) squared distances of v (n * f,) to every bank vector: one matrix-vector product
        on the bank centred once (in float64, so that the parts every instance shares, e.g.
        component one-hots, cancel exactly instead of swamping the differences)."""
        c, sq, mean = self._centred_bank()
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
                              coords=ref)
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
        d = self._distances2(self.vector(pde, self.norm, m.to_bank(pde.fields)))
        return m.from_bank(km.mean + kernel_values(np.maximum(d, 0.0) / km.scale, km.shape) @ km.alpha)

    def state(self) -> dict[str, torch.Tensor]:
        state = {"anchor_fields": torch.as_tensor(self.fields), "anchor_solutions": torch.as_tensor(self.solutions)}
        if self.coords is not None:
            state["anchor_coords"] = torch.as_tensor(self.coords)
        return state
