"""Canonical LP / QP / MIP form shared by every adapter, model and backend.

    minimise   1/2 x'Px + c'x + offset
    subject to l <= A x <= u,   lb <= x <= ub,   x_j integer where integrality[j]

Dual convention (that of PDLP and HiGHS): ``y`` (m,) multiplies the rows, reduced costs
``r = c + P x - A'y`` (n,). At an optimum ``y_i > 0`` only where row ``i`` sits at ``l_i``,
``y_i < 0`` only where it sits at ``u_i``; likewise ``r_j`` for the bounds. Infinite bounds
are ``+-inf``; a side or bound of magnitude 1e20 or more is read as infinite.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp

__all__ = ["INFINITE_BOUND", "QPData", "QPSolution", "InvalidProblemError", "kkt_residuals"]

INFINITE_BOUND = 1e20
"""A side or bound of this magnitude or more is infinite, as HiGHS, SCIP, Clarabel and MPS
files read it."""


class InvalidProblemError(ValueError):
    """The problem data is malformed: wrong sizes, NaN, or contradictory bounds."""


def array_digest(parts: list[np.ndarray], *, head: tuple = ()) -> str:
    """A hash of the arrays' bytes, after ``head`` (sizes and scalars): equal data, equal digests."""
    h = hashlib.blake2b(repr(head).encode(), digest_size=16)
    for part in parts:
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


def _symmetric(p: sp.csr_matrix, name: str) -> sp.csr_matrix:
    """``p`` itself if symmetric, its symmetric part if it is off by rounding only (1e-7 of its
    largest entry: float32 data); otherwise ``InvalidProblemError``. The backends read different triangles
    (OSQP, SCS and Clarabel the upper, HiGHS the lower), so a P stored as one triangle, as OSQP's
    own API takes it, would be a different QP to each of them."""
    if p.shape[0] != p.shape[1]:
        return p  # validate() names the shape
    diff = (p - p.T).tocoo()
    scale = float(np.abs(p.data).max(initial=0.0))
    if not np.isfinite(scale) or not diff.nnz:
        return p
    worst = int(np.argmax(np.abs(diff.data)))
    if abs(diff.data[worst]) <= 1e-7 * scale:
        return ((p + p.T) * 0.5).tocsr()
    i, j = int(diff.row[worst]), int(diff.col[worst])
    triangle = sp.triu(p, 1).nnz == 0 or sp.tril(p, -1).nnz == 0
    hint = ("it holds one triangle (OSQP's API stores the upper one): give the whole matrix, "
            "P + P.T - diag(P)" if triangle else "x'Px depends only on its symmetric part: give (P + P.T) / 2")
    raise InvalidProblemError(f"problem {name!r}: P is not symmetric (P[{i},{j}] = {p[i, j]:.6g}, P[{j},{i}] = "
                              f"{p[j, i]:.6g}); {hint}")


@dataclass(frozen=True, eq=False)
class QPData:
    """One LP/QP/MIP instance in canonical form.

    c: (n,)  A: (m, n) CSR  l, u: (m,)  lb, ub: (n,)  P: (n, n) CSR upper+lower or None
    integrality: (n,) bool or None.  name: free text for messages.  maximize: the user's own
    problem maximised; c, P and offset here are its negation, so its objective is -objective.
    """

    c: np.ndarray
    A: sp.csr_matrix
    l: np.ndarray
    u: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    P: sp.csr_matrix | None = None
    integrality: np.ndarray | None = None
    offset: float = 0.0
    name: str = "qp"
    var_names: tuple[str, ...] | None = field(default=None, repr=False)
    con_names: tuple[str, ...] | None = field(default=None, repr=False)
    maximize: bool = False

    def __post_init__(self) -> None:
        cast = lambda v: np.ascontiguousarray(np.asarray(v, dtype=np.float64).reshape(-1))  # noqa: E731
        object.__setattr__(self, "c", cast(self.c))
        for side in ("l", "u", "lb", "ub"):
            v = cast(getattr(self, side))
            # HiGHS, Clarabel and SCIP read 1e20 and beyond as infinite, PDLP and OSQP as a
            # number: one reading here, so that every backend solves one problem
            object.__setattr__(self, side, np.where(np.abs(v) >= INFINITE_BOUND, np.copysign(np.inf, v), v))
        object.__setattr__(self, "A", sp.csr_matrix(self.A, dtype=np.float64))
        if self.P is not None:
            p = sp.csr_matrix(self.P, dtype=np.float64)
            object.__setattr__(self, "P", _symmetric(p, self.name) if p.nnz else None)
        if self.integrality is not None:
            given = np.asarray(self.integrality).reshape(-1)
            if given.dtype != bool and given.size and not np.isin(given, (0, 1)).all():
                # HiGHS' codes (2 semi-continuous, 3 semi-integer) or column indices would all read as True
                j = int(np.flatnonzero(~np.isin(given, (0, 1)))[0])
                raise InvalidProblemError(f"problem {self.name!r}: integrality holds {given[j].item()!r} at index {j}; "
                                          "give one boolean per column (True: integer), not type codes or column "
                                          "indices")
            integ = given.astype(bool)
            object.__setattr__(self, "integrality", integ if integ.any() else None)
        self.validate()

    @property
    def n(self) -> int:
        return self.c.shape[0]

    @property
    def m(self) -> int:
        return self.A.shape[0]

    # Derived data, computed once per instance: a learned start reads each several times and
    # its budget is a few milliseconds. (The arrays are treated as immutable, like the dataclass.)
    @cached_property
    def scales(self) -> tuple[float, float, float]:
        """(s_b, s_c, s_a): mean magnitudes of the finite nonzero sides/bounds, costs, and A."""
        sides = np.concatenate([self.l, self.u, self.lb, self.ub])
        sides = np.abs(sides[np.isfinite(sides)])
        sides = sides[sides > 0]
        cc = np.abs(self.c[self.c != 0])
        return (float(sides.mean()) if sides.size else 1.0, float(cc.mean()) if cc.size else 1.0,
                float(np.abs(self.A.data).mean()) if self.A.nnz else 1.0)

    @cached_property
    def At(self) -> sp.csr_matrix:
        """A' (n, m) as CSR."""
        return self.A.T.tocsr()

    @cached_property
    def A_dense(self) -> np.ndarray:
        """A (m, n) as a dense array (for small instances only)."""
        return self.A.toarray()

    @cached_property
    def row_norms(self) -> np.ndarray:
        """(m,) Euclidean norms of the rows of A."""
        return np.sqrt(np.asarray(self.A.multiply(self.A).sum(axis=1)).ravel())

    @cached_property
    def finite(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Masks (l, u, lb, ub) of finite sides."""
        return np.isfinite(self.l), np.isfinite(self.u), np.isfinite(self.lb), np.isfinite(self.ub)

    @cached_property
    def _finite_sides(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(l, u, lb, ub) with infinite entries set to 0."""
        return tuple(np.where(f, v, 0.0) for f, v in zip(self.finite, (self.l, self.u, self.lb, self.ub)))

    @cached_property
    def _infinite_sides(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Indices of the infinite sides (l, u, lb, ub): where a multiplier must not point."""
        return tuple(np.flatnonzero(~f) for f in self.finite)

    @cached_property
    def _kkt_scales(self) -> tuple[float, float]:
        """Scales of the primal and dual KKT residuals: 1 + max |finite row side|, 1 + max |c|."""
        fl, fu, _, _ = self.finite
        finite_b = np.concatenate([self.l[fl], self.u[fu]])
        return (1.0 + (float(np.abs(finite_b).max()) if finite_b.size else 0.0),
                1.0 + float(np.abs(self.c).max(initial=0.0)))

    @cached_property
    def data_digest(self) -> str:
        """A hash of the problem's data (not its name or sense): two instances with equal digests
        are one problem, which a family's instances must not all be."""
        parts = [self.c, self.l, self.u, self.lb, self.ub, self.A.indptr, self.A.indices, self.A.data]
        parts += [self.P.indptr, self.P.indices, self.P.data] if self.P is not None else []
        parts += [self.integrality] if self.integrality is not None else []
        return array_digest(parts, head=(self.n, self.m, self.offset, self.P is not None, self.integrality is not None))

    @property
    def is_lp(self) -> bool:
        return self.P is None

    @property
    def is_mip(self) -> bool:
        return self.integrality is not None

    def validate(self) -> None:
        """Raise ``InvalidProblemError`` naming the first problem found."""
        n, m = self.n, self.A.shape[0]
        where = f"problem {self.name!r}"
        if n == 0:  # solvers fail on it in their own ways (OSQP's set-up blames P), or call it an error
            raise InvalidProblemError(f"{where}: it has no variables, so there is nothing to solve")
        if self.A.shape[1] != n:
            raise InvalidProblemError(f"{where}: A has {self.A.shape[1]} columns but c has {n} entries")
        for nm, v, k in (("l", self.l, m), ("u", self.u, m), ("lb", self.lb, n), ("ub", self.ub, n)):
            if v.shape[0] != k:
                raise InvalidProblemError(f"{where}: {nm} has {v.shape[0]} entries, expected {k}")
            if np.isnan(v).any():
                raise InvalidProblemError(f"{where}: {nm} holds NaN at index {int(np.flatnonzero(np.isnan(v))[0])}")
        if not np.isfinite(self.c).all():
            raise InvalidProblemError(f"{where}: c holds NaN or inf")
        if not np.isfinite(self.offset):
            raise InvalidProblemError(f"{where}: the objective's offset is {self.offset}")
        if not np.isfinite(self.A.data).all():
            raise InvalidProblemError(f"{where}: A holds NaN or inf")
        if self.P is not None:
            if self.P.shape != (n, n):
                raise InvalidProblemError(f"{where}: P is {self.P.shape}, expected ({n}, {n})")
            if not np.isfinite(self.P.data).all():
                raise InvalidProblemError(f"{where}: P holds NaN or inf")
            if why := self._nonconvex():
                # P is the minimisation's: a maximised objective must be concave, its P negated
                what = ("the maximised objective is not concave (in the minimisation of its negation, "
                        if self.maximize else "the objective is not convex (")
                raise InvalidProblemError(f"{where}: {what}{why}); OSQP, SCS, HiGHS, PDLP and Clarabel need P "
                                          "positive semidefinite (a convex QP)")
        if self.integrality is not None and self.integrality.shape[0] != n:
            raise InvalidProblemError(f"{where}: integrality has {self.integrality.shape[0]} entries, expected {n}")
        # no point satisfies such a row or bound: the instance is infeasible as given (HiGHS says
        # so), and OSQP and PDLP refuse it as invalid, so it is refused here, by name
        empty = "so no point is feasible (the problem is infeasible as given): check the data that sets them"
        bad = np.flatnonzero(self.l > self.u)
        if bad.size:
            i = int(bad[0])
            row = f" ({self.con_names[i]})" if self.con_names else ""
            raise InvalidProblemError(f"{where}: row {i}{row} has l > u ({self.l[i]:.17g} > {self.u[i]:.17g}), "
                                      f"{empty}{f'; {bad.size} rows so' if bad.size > 1 else ''}")
        bad = np.flatnonzero(self.lb > self.ub)
        if bad.size:
            j = int(bad[0])
            var = f" ({self.var_names[j]})" if self.var_names else ""
            raise InvalidProblemError(f"{where}: variable {j}{var} has lb > ub ({self.lb[j]:.17g} > {self.ub[j]:.17g}), "
                                      f"{empty}{f'; {bad.size} variables so' if bad.size > 1 else ''}")
        if np.isposinf(self.l).any() or np.isneginf(self.u).any():
            raise InvalidProblemError(f"{where}: a row has l = +inf or u = -inf (1e20 and beyond read as infinite), "
                                      f"{empty}")
        if np.isposinf(self.lb).any() or np.isneginf(self.ub).any():
            raise InvalidProblemError(f"{where}: a variable has lb = +inf or ub = -inf (1e20 and beyond read as "
                                      f"infinite), {empty}")

    def _nonconvex(self) -> str | None:
        """Why P is not positive semidefinite, by two checks that every such P passes, O(nnz):
        no negative diagonal entry, no 2x2 principal minor P_ii P_jj - P_ij^2 < 0; None if both hold
        (a subtler indefinite P is left to the solvers' own factorisations)."""
        d = self.P.diagonal()
        scale = float(np.abs(self.P.data).max(initial=0.0))
        name = lambda j: f" ({self.var_names[j]})" if self.var_names else ""  # noqa: E731
        if (d < -1e-12 * scale).any():
            j = int(np.argmin(d))
            return f"P[{j},{j}]{name(j)} = {d[j]:.6g} < 0"
        m = self.P.tocoo()
        off = m.row != m.col
        i, j, v = m.row[off], m.col[off], m.data[off]
        bad = np.flatnonzero(v * v > d[i] * d[j] * (1 + 1e-9) + 1e-12 * scale * scale)
        if bad.size:
            k = bad[0]
            return (f"P[{i[k]},{j[k]}]^2 = {v[k] ** 2:.6g} exceeds P[{i[k]},{i[k]}] P[{j[k]},{j[k]}] = "
                    f"{d[i[k]] * d[j[k]]:.6g}")
        return None

    def objective(self, x: np.ndarray) -> float:
        val = float(self.c @ x) + self.offset
        if self.P is not None:
            val += 0.5 * float(x @ (self.P @ x))
        return val

    def with_data(self, **changes: object) -> QPData:
        """A copy with some arrays replaced (validated again)."""
        return replace(self, **changes)

    def relaxation(self) -> QPData:
        """The continuous relaxation: the same data without integrality."""
        return replace(self, integrality=None)

    def reordered(self, cols: np.ndarray, rows: np.ndarray) -> QPData:
        """The same problem with its variables in the order ``cols`` (n,) and its constraints in
        the order ``rows`` (m,): position i of the copy holds the original's ``cols[i]``, ``rows[i]``."""
        cols, rows = np.asarray(cols, dtype=np.int64), np.asarray(rows, dtype=np.int64)
        pick = lambda names, idx: tuple(names[i] for i in idx) if names is not None else None  # noqa: E731
        return replace(self, c=self.c[cols], A=self.A[rows][:, cols], l=self.l[rows], u=self.u[rows],
                       lb=self.lb[cols], ub=self.ub[cols], P=self.P[cols][:, cols] if self.P is not None else None,
                       integrality=self.integrality[cols] if self.integrality is not None else None,
                       var_names=pick(self.var_names, cols), con_names=pick(self.con_names, rows))

    def same_structure(self, other: QPData) -> bool:
        """Same sizes and sparsity pattern of A (a family's instances share it)."""
        return (
            self.A.shape == other.A.shape
            and self.A.nnz == other.A.nnz
            and np.array_equal(self.A.indptr, other.A.indptr)
            and np.array_equal(self.A.indices, other.A.indices)
        )


@dataclass(frozen=True)
class QPSolution:
    """x: (n,) primal, y: (m,) row duals, r: (n,) reduced costs (canonical convention)."""

    x: np.ndarray
    y: np.ndarray
    r: np.ndarray | None = None


@dataclass(frozen=True)
class KKTResiduals:
    primal: float  # max violation of l <= Ax <= u and bounds, relative
    dual: float  # max violation of dual sign conditions, relative
    gap: float  # relative primal-dual objective gap

    @property
    def worst(self) -> float:
        """The largest of the three: 0 at the optimum, comparable with a solver's relative tolerance."""
        return max(self.primal, self.dual, self.gap)


def kkt_residuals(qp: QPData, x: np.ndarray, y: np.ndarray) -> KKTResiduals:
    """Relative KKT residuals of ``(x, y)``; the reduced costs are derived from y."""
    ax = qp.A @ x
    # one reduction each (the polish calls this once per active set it tries); np.max, not
    # max(): a NaN must propagate whatever its position
    viol = float(np.max(np.concatenate([qp.l - ax, ax - qp.u, qp.lb - x, x - qp.ub]), initial=0.0))
    scale_p, scale_d = qp._kkt_scales
    px = qp.P @ x if qp.P is not None else None
    r = qp.c - qp.At @ y if px is None else qp.c + px - qp.At @ y
    # sign violations: y_i > 0 needs finite l_i, y_i < 0 needs finite u_i (same for r and bounds)
    il, iu, ilb, iub = qp._infinite_sides
    dviol = float(np.max(np.concatenate([y[il], -y[iu], r[ilb], -r[iub]]), initial=0.0))
    pobj = float(qp.c @ x) + qp.offset
    if px is not None:
        pobj += 0.5 * float(x @ px)
    # dual objective: sum of y_i times the active side of each row, r_j times the bound side
    l0, u0, lb0, ub0 = qp._finite_sides
    dobj = float(y @ np.where(y > 0, l0, u0) + r @ np.where(r > 0, lb0, ub0)) + qp.offset
    if px is not None:
        dobj -= 0.5 * float(x @ px)
    gap = abs(pobj - dobj) / (1.0 + abs(pobj) + abs(dobj))
    return KKTResiduals(primal=viol / scale_p, dual=dviol / scale_d, gap=gap)
