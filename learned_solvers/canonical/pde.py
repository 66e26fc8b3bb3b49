"""Canonical form of a discretised PDE instance, as the mesh models see it.

``PDEData`` holds, for one instance on one function space (n dofs, gathered to one process):

* ``operator`` (n, n) CSR: the assembled operator with Dirichlet rows replaced by identity
  rows (the linear system of a ``LinearProblem``; for a ``NonlinearProblem`` the Jacobian at
  the cold initial guess, i.e. the first Newton system);
* ``rhs`` (n,): the right-hand side that goes with it (for a nonlinear problem: ``J u0 - F(u0)``,
  so that ``operator u = rhs`` is the first Newton step taken from the cold guess);
* ``coords`` (n, d): dof coordinates; ``fields`` (n, f): coefficient and source values at the
  dofs, named by ``field_names``; ``dirichlet`` (n,) bool and ``bc_values`` (n,);
* ``signature``: what a model trained on this space checks before it runs (element, degree,
  block size, geometric dimension, domain bounding box); the number of dofs may differ, since
  the models are size-agnostic (a finer mesh of the same domain is allowed); also the mesh's
  topological dimension ``tdim`` (a surface in 3-D is carried to another mesh otherwise);
* ``operator`` and ``rhs`` may be None (``linearised`` False): the instance's fields and dofs
  alone, what the nearest training solution is found by (``to_pde(linearise=False)``), with no
  system assembled for a start that needs none;
* ``quasilinear`` (optional, nonlinear problems): the problem's own residual ``F(u)`` when it
  is a quasilinear diffusion ``-div(k(u) grad u) = f`` on P1 simplices, so that a model can
  feed back the residual whose zero is the answer, not only the first Newton system's;
* ``dof_vectors`` (optional, (n, d) or (n, d + d * d)): where some dofs are moments of a vector
  field, not point values (Raviart-Thomas, Nedelec: facet fluxes, edge circulations), each dof's
  value on the unit constant field along each axis e_i (its vector: the dof is to first order
  that vector dotted with the field at its point), then on the fields (x_j - p_j) e_i about its
  point p (column d + i d + j: a higher moment, which has no vector, answers to the field's
  gradient), so that the dof is exact on affine fields (what carries a solution to another
  mesh); zero rows at point values; None where every dof is one;
* ``dof_valued``: the names of the fields whose values are dof values of the unknown's space (a
  field of its shape interpolated into it, a previous state), moments where its dofs are:
  carried to another mesh as the solution is.

Solutions live in the same dof order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .qp import InvalidProblemError, array_digest

__all__ = ["PDEData", "QuasilinearResidual", "space_mismatch", "fields_keys", "cell_mean_coefficient", "row_sums"]


def row_sums(x: Any) -> Any:
    """``x.sum(1)`` for x (C, D, ...) with a small D, added slice by slice: the sums a reduction
    gives, two to five times faster in torch over a short or middle dimension (numpy arrays or
    torch tensors alike)."""
    s = x[:, 0]
    for j in range(1, x.shape[1]):
        s = s + x[:, j]
    return s


def cell_mean_coefficient(uc: Any, coeff: tuple[float, float, float]) -> Any:
    """(C,) exact cell mean of ``k(u) = a0 + a1 u + a2 u^2`` for P1 values at the cells'
    vertices ``uc`` (C, d+1); numpy arrays or torch tensors alike (the model differentiates it)."""
    d1 = uc.shape[1]
    s = row_sums(uc)
    a0, a1, a2 = coeff
    return a0 + a1 * s / d1 + a2 * (s * s + row_sums(uc * uc)) / (d1 * (d1 + 1))


@dataclass
class QuasilinearResidual:
    """``F(u) = K(u) u - source`` on the free dofs of ``-div(k(u) grad u) = f`` with P1 elements
    on simplices, ``k(u) = a0 + a1 u + a2 u^2``. Exact (not a quadrature approximation): on a
    simplex the gradients are constant and the cell means of ``u`` and ``u^2`` have closed forms.

    cells (C, d+1) dof indices; grad (C*d, n) CSR, the P1 gradient of each cell (rows cell-major);
    measure (C,) cell volumes; coeff (a0, a1, a2); source (n,) the assembled ``(f, v)`` (zero at
    Dirichlet dofs, whose residual the models never use)."""

    cells: np.ndarray
    grad: sp.csr_matrix
    measure: np.ndarray
    coeff: tuple[float, float, float]
    source: np.ndarray

    def __post_init__(self) -> None:
        self.cells = np.asarray(self.cells, dtype=np.int64)
        self.grad = sp.csr_matrix(self.grad)
        self.measure = np.asarray(self.measure, dtype=float)
        self.coeff = tuple(float(a) for a in self.coeff)  # type: ignore[assignment]
        self.source = np.asarray(self.source, dtype=float)
        if len(self.coeff) != 3:
            raise ValueError(f"k(u) = a0 + a1 u + a2 u^2 takes three coefficients, got {len(self.coeff)}")
        if self.grad.shape[0] != self.cells.shape[0] * (self.cells.shape[1] - 1):
            raise ValueError(f"grad has {self.grad.shape[0]} rows for {self.cells.shape[0]} cells of dimension "
                             f"{self.cells.shape[1] - 1}")

    def cell_coefficient(self, u: np.ndarray) -> np.ndarray:
        """(C,) cell mean of k(u) for a P1 function u (n,)."""
        return cell_mean_coefficient(u[self.cells], self.coeff)

    def residual(self, u: np.ndarray) -> np.ndarray:
        """F(u) (n,); meaningful on the free dofs."""
        c, d = self.cells.shape[0], self.cells.shape[1] - 1
        gu = (self.grad @ u).reshape(c, d)
        return self.grad.T @ (gu * (self.measure * self.cell_coefficient(u))[:, None]).ravel() - self.source


@dataclass
class PDEData:
    operator: sp.csr_matrix | None
    rhs: np.ndarray | None
    coords: np.ndarray
    fields: np.ndarray
    dirichlet: np.ndarray
    bc_values: np.ndarray
    field_names: tuple[str, ...] = ()
    kind: str = "linear"
    signature: dict[str, Any] = field(default_factory=dict)
    name: str = "pde"
    quasilinear: QuasilinearResidual | None = None
    dof_vectors: np.ndarray | None = None
    dof_valued: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.operator is None) != (self.rhs is None):
            raise InvalidProblemError(f"{self.name}: operator and rhs come together, or neither does")
        if self.operator is not None:
            self.operator = sp.csr_matrix(self.operator)
            self.rhs = np.asarray(self.rhs, dtype=float)
        self.coords = np.asarray(self.coords, dtype=float)
        self.fields = np.asarray(self.fields, dtype=float).reshape(len(self.coords), -1)
        self.dirichlet = np.asarray(self.dirichlet, dtype=bool)
        self.bc_values = np.asarray(self.bc_values, dtype=float)
        if self.dof_vectors is not None:
            self.dof_vectors = np.asarray(self.dof_vectors, dtype=float)
        self.validate()

    @property
    def n(self) -> int:
        return self.coords.shape[0]

    @property
    def linearised(self) -> bool:
        """Whether the system (``operator``, ``rhs``) was assembled, not only the fields and dofs."""
        return self.operator is not None

    def validate(self) -> None:
        n = self.n
        bad = []
        if self.linearised and (self.operator.shape != (n, n) or self.rhs.shape != (n,)):
            bad.append(f"operator is {self.operator.shape} and rhs {self.rhs.shape}, for {n} dofs")
        if self.fields.shape[0] != n:
            bad.append(f"fields has {self.fields.shape[0]} rows, expected {n}")
        for nm, arr in (("dirichlet", self.dirichlet), ("bc_values", self.bc_values)):
            if arr.shape != (n,):
                bad.append(f"{nm} has shape {arr.shape}, expected ({n},)")
        if self.fields.shape[1] != len(self.field_names) and self.field_names:
            bad.append(f"{self.fields.shape[1]} field columns but names {self.field_names}")
        if self.quasilinear is not None and self.quasilinear.grad.shape[1] != n:
            bad.append(f"the quasilinear residual acts on {self.quasilinear.grad.shape[1]} dofs, not {n}")
        d = self.coords.shape[1]
        if self.dof_vectors is not None and self.dof_vectors.shape not in ((n, d), (n, d + d * d)):
            bad.append(f"dof_vectors has shape {self.dof_vectors.shape}, expected {(n, d)} or {(n, d + d * d)}")
        if not set(self.dof_valued) <= set(self.field_names):
            bad.append(f"dof_valued {self.dof_valued} names fields not among {self.field_names}")
        if self.kind not in ("linear", "nonlinear"):
            bad.append(f"kind {self.kind!r} is neither 'linear' nor 'nonlinear'")
        if bad:
            raise InvalidProblemError(f"{self.name}: " + "; ".join(bad))
        system = (("operator", self.operator.data), ("rhs", self.rhs)) if self.linearised else ()
        vectors = () if self.dof_vectors is None else (("dof_vectors", self.dof_vectors),)
        for nm, arr in (*system, ("coords", self.coords), ("fields", self.fields), ("bc_values", self.bc_values),
                        *vectors):
            if not np.isfinite(arr).all():
                where = ""
                if nm == "fields":  # which of the user's fields, at how many dofs
                    off = (~np.isfinite(self.fields)).sum(axis=0)
                    names = self.field_names or tuple(f"column {j}" for j in range(len(off)))
                    where = " (" + ", ".join(f"{names[j]!r} at {off[j]} of {len(self.fields)} dofs"
                                             for j in np.flatnonzero(off)) + ")"
                raise InvalidProblemError(f"{self.name}: {nm} holds NaN or inf{where}; check the coefficient and "
                                          "source data")

    @property
    def data_digest(self) -> str:
        """A hash of what a model reads of the instance: its fields, Dirichlet values, assembled
        system (a linear one's) and source (a quasilinear one's); equal digests, one instance to it."""
        parts = [self.fields, self.bc_values, self.dirichlet]
        parts += [self.operator.data, self.rhs] if self.linearised else []
        parts += [self.quasilinear.source] if self.quasilinear is not None else []
        parts += [self.dof_vectors] if self.dof_vectors is not None else []
        return array_digest(parts)

    def diagonal(self) -> np.ndarray:
        d = self.operator.diagonal()
        return np.where(np.abs(d) > 1e-300, d, 1.0)

    def residual(self, u: np.ndarray) -> np.ndarray:
        """rhs - operator @ u: (n,)."""
        return self.rhs - self.operator @ u


def fields_keys(field_names: list[str] | tuple[str, ...]) -> list[str]:
    """The keys of the ``fields=`` mapping behind a signature's field names: a vector Constant's
    ``name[0]``, ``name[1]`` are one key, and the ``component_i`` columns the adapter adds are none."""
    keys = [name.split("[", 1)[0] for name in field_names if not name.startswith("component_")]
    return list(dict.fromkeys(keys))


def space_mismatch(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    """A readable reason why a model for ``expected`` cannot run on ``got`` (None if it can)."""
    for key in ("element", "degree", "block_size", "components", "gdim", "field_names", "kind"):
        if key in expected and expected[key] != got.get(key):
            return f"{key} is {got.get(key)!r}, the model was trained on {expected[key]!r}"
    if "bbox" in expected and "bbox" in got:
        a, b = np.asarray(expected["bbox"]), np.asarray(got["bbox"])
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-6 * (1 + np.abs(a).max())):
            box = lambda m: " x ".join(f"[{lo:.6g}, {hi:.6g}]" for lo, hi in np.round(m, 12).T + 0.0)  # noqa: E731
            return f"the domain's bounding box is {box(b)}, the model was trained on {box(a)}"
    return None
