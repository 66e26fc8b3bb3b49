"""Active-set polish of a predicted primal-dual pair (classical post-processing, timed as
part of inference).

A prediction accurate to a few percent usually names the right active constraints even when
its values are off. Given that guess of the active set, the optimum is the solution of an
equality-constrained problem: one sparse factorisation gives primal and dual values to
machine precision. The polished pair is kept only if its KKT residuals beat the raw
prediction's, so a wrong active set costs a little time and never a worse start.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import qdldl
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .qp import QPData, kkt_residuals

__all__ = ["polish", "PolishResult", "predicted_active_set", "active_set_distance", "optimal_active_set",
           "active_set_point"]


@dataclass(frozen=True)
class PolishResult:
    """x: (n,), y: (m,), r: (n,) reduced costs; polished: whether the polished pair won."""

    x: np.ndarray
    y: np.ndarray
    r: np.ndarray
    polished: bool
    merit_raw: float
    merit: float


def _merit(qp: QPData, x: np.ndarray, y: np.ndarray) -> float:
    return kkt_residuals(qp, x, y).worst


DENSE_LU_LIMIT = 2000
DENSE_A_LIMIT = 4_000_000
"""entries of A up to which an LP's active rows are cut from its dense copy"""


def _dense_solver(dense: np.ndarray, *, check: bool = True):
    """``solve(b, transposed)`` by dense LU; raises ValueError if (numerically) singular and
    ``check`` (a regularised system is nonsingular by construction: no check)."""
    from scipy.linalg.lapack import dgetrf, dgetrs

    # LAPACK itself: scipy.linalg's wrappers cost more than a factorisation of a few dozen
    # unknowns, and the polish solves each system several times (iterative refinement)
    lu, piv, _ = dgetrf(dense)  # info > 0 (an exact zero pivot) is the check's to catch
    d = np.abs(np.diag(lu))
    if check and d.min(initial=np.inf) <= 1e-12 * max(d.max(initial=0.0), 1e-300):
        raise ValueError("singular active set")
    return lambda b, t: dgetrs(lu, piv, b, trans=1 if t else 0)[0]


def _square_solver(mat: sp.csr_matrix):
    """``solve(b, transposed)`` for a square sparse matrix; raises ValueError if singular.

    Dense LU below ``DENSE_LU_LIMIT`` (fast at these sizes, and SuperLU has crashed the
    process on some structurally singular inputs); SuperLU above, after a structural check.
    """
    if mat.shape[0] <= DENSE_LU_LIMIT:
        return _dense_solver(mat.toarray())
    csc = mat.tocsc()
    if (np.diff(csc.indptr) == 0).any() or (np.diff(mat.tocsr().indptr) == 0).any():
        raise ValueError("structurally singular active set")
    lu = spla.splu(csc)
    return lambda b, t: lu.solve(b, trans="T" if t else "N")


Triplets = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(rows, cols, values) of a sparse matrix."""


def _kkt_matrix(h: Triplets, c: Triplets, n: int, k: int, delta: float) -> sp.csc_matrix:
    """``[[H, C'], [C, -delta I]]`` (n + k, n + k) from H's (n, n) and C's (k, n) triplets
    (duplicates summed): at a few hundred unknowns scipy's block constructors cost more than
    the factorisation."""
    diag = n + np.arange(k)
    rows = np.concatenate([h[0], c[1], c[0] + n, diag])
    cols = np.concatenate([h[1], c[0] + n, c[1], diag])
    vals = np.concatenate([h[2], c[2], c[2], np.full(k, -delta)])
    return sp.csc_matrix((vals, (rows, cols)), shape=(n + k, n + k))


def _quasidefinite_solve(h: sp.spmatrix, b: sp.spmatrix, r1: np.ndarray, r2: np.ndarray,
                         delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``[[H, B'], [B, -delta I]] [u; v] = [r1; r2]`` (H positive definite: LDL')."""
    n = h.shape[0]
    hc, bc = sp.coo_matrix(h), sp.coo_matrix(b)
    mat = _kkt_matrix((hc.row, hc.col, hc.data), (bc.row, bc.col, bc.data), n, b.shape[0], delta)
    sol = _quasidefinite_factor(mat)(np.concatenate([r1, r2]))
    return sol[:n], sol[n:]


def _quasidefinite_factor(mat: sp.csc_matrix):
    """``solve(b)`` for a quasi-definite ``mat`` (symmetric, CSC)."""
    return _ldl(sp.triu(mat, format="csc"))[1]


def _ldl(upper: sp.csc_matrix, solver: Any = None) -> tuple[Any, Any]:
    """``(solver, solve)`` for the symmetric matrix whose upper triangle is ``upper`` (CSC):
    QDLDL (OSQP's own LDL', no pivoting: a quasi-definite matrix needs none), refactorising
    ``solver`` numerically where one of the same pattern is given; SuperLU, with ``solver``
    None, where QDLDL meets a zero pivot (not quasi-definite to working precision)."""
    try:
        if solver is None:
            solver = qdldl.Solver(upper, upper=True)
        else:
            solver.update(upper, upper=True)
        return solver, solver.solve
    except RuntimeError:  # SuperLU pivots
        return None, spla.splu((upper + sp.triu(upper, k=1).T).tocsc()).solve


ActiveSet = tuple[np.ndarray, np.ndarray]
"""(row_side (m,), var_side (n,)) in {-1, 0, +1}: at the upper side, inactive, at the lower side."""


def polish(qp: QPData, x_hat: np.ndarray, y_hat: np.ndarray, *, candidates: list[ActiveSet] = (),
           delta: float = 1e-9, pdas_steps: int = 8, predicted_first: bool = False) -> PolishResult:
    """Solve for the point of each guessed active set and keep the best by KKT merit.

    Guesses: the active set read off ``(x_hat, y_hat)`` (for LPs the ``n`` constraints that
    look most active, by distance and dual strength) and ``candidates`` (e.g. the optimal
    active sets of the nearest training instances, tried in order of agreement with it). The
    raw pair wins if nothing beats it; the search stops at the first guess whose KKT merit is
    below 1e-9 (an optimum to solver precision). An LP tries the candidates, then the
    predicted vertex. A QP's active set is not fixed by a vertex count: the first candidate
    (the nearest instance's), then the predicted set, are each corrected up to ``pdas_steps``
    times (primal-dual active-set updates, one sparse factorisation each); then the other
    candidates are tried and the best guess corrected. ``predicted_first``: a QP corrects the
    predicted set first, then the first candidate (where starts name the optimum's active set more
    nearly than the nearest instances do: ``LearnedWarmStarter.polish_first``).
    """
    # a wrong guess may be (numerically) singular: its non-finite point loses on merit or is
    # rejected, and numpy's floating-point warnings on the way would reach the user's solve
    with np.errstate(all="ignore"):
        return _polish(qp, x_hat, y_hat, candidates=candidates, delta=delta, pdas_steps=pdas_steps,
                       predicted_first=predicted_first)


def _polish(qp: QPData, x_hat: np.ndarray, y_hat: np.ndarray, *, candidates: list[ActiveSet],
            delta: float, pdas_steps: int, predicted_first: bool) -> PolishResult:
    x_hat, y_hat, r_hat = _pair(qp, x_hat, y_hat)
    merit_raw = _merit(qp, x_hat, y_hat)
    best = PolishResult(x_hat, y_hat, r_hat, False, merit_raw, merit_raw)
    try:
        predicted: ActiveSet | None = _active_from_prediction(qp, x_hat, y_hat, r_hat)
    except (ValueError, np.linalg.LinAlgError):
        predicted = None
    guesses: list[ActiveSet] = list(candidates)
    if predicted is not None:
        agree = [int((g[0] == predicted[0]).sum() + (g[1] == predicted[1]).sum()) for g in guesses]
        guesses = [guesses[i] for i in np.argsort(-np.asarray(agree, dtype=int), kind="stable")]
    is_qp = qp.P is not None
    kkt = _QPKKT(qp, delta) if is_qp else None
    points: dict[bytes, tuple | None] = {}  # active set -> its QP point (reused by the update)
    best_guess: ActiveSet | None = None

    def key_of(guess: ActiveSet) -> bytes:
        return np.asarray(guess[0], dtype=np.int8).tobytes() + np.asarray(guess[1], dtype=np.int8).tobytes()

    def attempt(guess: ActiveSet) -> bool:
        """Try one active set; True once the best pair is an optimum to solver precision."""
        nonlocal best, best_guess
        key = key_of(guess)
        if key in points:
            return False
        points[key] = None
        try:
            if is_qp:
                point = _qp_active_point(qp, kkt, guess[0], guess[1], x_hat)
                points[key] = point
                x, y, r = point[:3]
            else:
                x, y, r = _solve_active(qp, guess[0], guess[1], x_hat, y_hat, r_hat, delta)
        except (RuntimeError, ValueError, np.linalg.LinAlgError):
            return False
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            return False
        merit = _merit(qp, x, y)
        if merit < best.merit:
            best, best_guess = PolishResult(x, y, r, True, merit_raw, merit), guess
        return best.merit < 1e-9

    def corrected(start: ActiveSet) -> bool:
        """Primal-dual active-set updates from ``start`` (tried first); True at an optimum."""
        guess = start
        for _ in range(pdas_steps + 1):
            if key_of(guess) not in points and attempt(guess):
                return True
            point = points.get(key_of(guess))
            if point is None:
                return False  # singular, or already met on another path
            guess = _pdas_update(qp, guess, *point[3:])
            if key_of(guess) in points:
                return False  # a fixed point (or a cycle) of the update
        return False

    if not is_qp:
        for guess in guesses + ([predicted] if predicted is not None else []):
            if attempt(guess):
                return best
        return best
    # a QP: correct the nearest instance's active set (same structure, new data: usually a few
    # updates from this one's) and the predicted one, in the order asked, then try the other candidates
    starts = list(candidates[:1]) + ([predicted] if predicted is not None else [])
    if predicted_first:
        starts.reverse()
    if any(corrected(start) for start in starts) or any(attempt(guess) for guess in guesses):
        return best
    if best_guess is not None:
        corrected(best_guess)
    return best


def _triplets(mat: sp.csr_matrix) -> Triplets:
    """A CSR matrix's (rows, cols, values), duplicates summed (so that a dense system is filled
    by assignment); read off its arrays, which costs a fifth of ``tocoo``."""
    if not mat.has_canonical_format:
        mat = mat.copy()
        mat.sum_duplicates()
    return np.repeat(np.arange(mat.shape[0]), np.diff(mat.indptr)), mat.indices, mat.data


class _QPKKT:
    """What every active set's KKT system of one QP shares: P's and A's triplets, and
    ``rho = 1e-6 max(1, |P|_max)``, a proximal term that keeps each system nonsingular. A small
    system is assembled dense from the triplets (scipy's sparse constructors cost more than its
    factorisation), a larger one in the full pattern of its QP's structure (``_Pattern``)."""

    DENSE_LU = 150
    """unknowns up to which a system is factorised dense: faster than a sparse factorisation on a
    portfolio's few dozen, slower on the few hundred of an MPC's banded one"""

    FULL_FROM = 0.25
    """share of the n + m unknowns from which a sparse system is solved in all of them (``full``),
    its ordering reused; below, the system of the free variables and active rows alone, ordered
    afresh, is the smaller factorisation (a QP with most of its variables at a bound)"""

    def __init__(self, qp: QPData, delta: float) -> None:
        self.p, self.a = _triplets(qp.P), _triplets(qp.A)
        self.rho = 1e-6 * max(1.0, float(np.abs(self.p[2]).max(initial=0.0)))
        self.delta = delta
        self.n, self.m = qp.n, qp.m
        self._pattern: _Pattern | None = None

    def _restricted(self, free: np.ndarray, rows: np.ndarray) -> tuple[Triplets, Triplets]:
        """P_FF's and A_RF's triplets, renumbered: free variables F (indices) 0..|F|-1, active rows
        R 0..|R|-1."""
        pos_v = np.full(self.n, -1)
        pos_v[free] = np.arange(free.size)
        pos_r = np.full(self.m, -1)
        pos_r[rows] = np.arange(rows.size)
        pr, pc, pv = self.p
        keep = (pos_v[pr] >= 0) & (pos_v[pc] >= 0)
        ar, ac, av = self.a
        keep_a = (pos_r[ar] >= 0) & (pos_v[ac] >= 0)
        return (pos_v[pr[keep]], pos_v[pc[keep]], pv[keep]), (pos_r[ar[keep_a]], pos_v[ac[keep_a]], av[keep_a])

    def matrix(self, free: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``[[P_FF + rho I, A_RF'], [A_RF, -delta I]]`` (dense) for free variables F and active
        rows R."""
        nf, nr = free.size, rows.size
        (hi, hj, hv), (ci, cj, cv) = self._restricted(free, rows)
        mat = np.zeros((nf + nr, nf + nr))
        mat[hi, hj] = hv
        mat[np.arange(nf), np.arange(nf)] += self.rho
        mat[ci + nf, cj] = cv
        mat[cj, ci + nf] = cv
        mat[np.arange(nf, nf + nr), np.arange(nf, nf + nr)] = -self.delta
        return mat

    def sparse(self, free: np.ndarray, rows: np.ndarray) -> sp.csc_matrix:
        """The same system as ``matrix``, sparse (CSC)."""
        nf = free.size
        (hi, hj, hv), c = self._restricted(free, rows)
        diag = np.arange(nf)  # rho I as separate triplets: the CSC constructor sums duplicates
        h = (np.concatenate([hi, diag]), np.concatenate([hj, diag]), np.concatenate([hv, np.full(nf, self.rho)]))
        return _kkt_matrix(h, c, nf, rows.size, self.delta)

    def full(self, free: np.ndarray, active: np.ndarray):
        """The system for free variables ``free`` (n,) and active rows ``active`` (m,) (boolean
        masks) in all n + m unknowns: ``(solve, matvec)`` for ``[[P + rho I, A'], [A, -delta I]]``
        with a fixed variable's row and column made the identity's (so its unknown is its
        right-hand side) and an inactive row's ``-1`` on the diagonal alone (its unknown 0)."""
        if self._pattern is None:
            self._pattern = _pattern(self)
        return self._pattern.system(self, free, active)


PATTERNS_KEPT = 4
"""sparsity structures whose KKT pattern (and factorisation) each thread keeps: a family's
instances share one"""

_patterns = threading.local()


def _pattern(kkt: _QPKKT) -> _Pattern:
    """The ``_Pattern`` of ``kkt``'s structure, from this thread's cache (its factorisation
    object is updated in place, so threads do not share it), most recently used last."""
    cache: list[_Pattern] = _patterns.__dict__.setdefault("cache", [])
    for i, found in enumerate(cache):
        # compared, not hashed: hashing the index arrays on every start cost more (HISTORY, session 85)
        if found.fits(kkt):
            cache.append(cache.pop(i))
            return found
    cache.append(_Pattern(kkt))
    del cache[:-PATTERNS_KEPT]
    return cache[-1]


class _Pattern:
    """The upper triangle of ``[[P + I, A'], [A, -I]]`` ((n + m) square, CSC) for one sparsity
    structure of P and A, with every entry of P and A kept in it whatever the active set, and the
    QDLDL factorisation (OSQP's own LDL', AMD-ordered, no pivoting: a quasi-definite matrix needs
    none) whose symbolic part (the ordering, most of a factorisation's cost at a few thousand
    unknowns) serves every active set of every instance of the structure: a system changes the
    values, zeros included, never the pattern, and QDLDL refactorises it numerically alone."""

    def __init__(self, kkt: _QPKKT) -> None:
        n, m = kkt.n, kkt.m
        pr, pc, _ = kkt.p
        ar, ac, _ = kkt.a
        self.p_off, self.p_diag = np.flatnonzero(pr < pc), np.flatnonzero(pr == pc)
        rows = np.concatenate([pr[self.p_off], np.arange(n), ac, n + np.arange(m)])
        cols = np.concatenate([pc[self.p_off], np.arange(n), n + ar, n + np.arange(m)])
        upper = sp.csc_matrix((np.arange(1.0, rows.size + 1), (rows, cols)), shape=(n + m, n + m))
        upper.sort_indices()
        self.slot = (upper.data - 1).astype(np.intp)  # the entry each stored position holds
        self.upper = upper  # its data rewritten for each system
        self.solver: Any = None
        self.structure = (n, m) + tuple(np.array(v) for v in (pr, pc, ar, ac))

    def fits(self, kkt: _QPKKT) -> bool:
        """Whether ``kkt``'s P and A have this pattern's sparsity structure, entry for entry."""
        n, m, *index = self.structure
        return (kkt.n, kkt.m) == (n, m) and all(
            np.array_equal(mine, theirs) for mine, theirs in zip(index, (kkt.p[0], kkt.p[1], kkt.a[0], kkt.a[1])))

    def system(self, kkt: _QPKKT, free: np.ndarray, active: np.ndarray):
        """``(solve, matvec)`` of one active set's system (``_QPKKT.full``)."""
        pr, pc, pv = kkt.p
        ar, ac, av = kkt.a
        o = self.p_off
        p_diag = np.zeros(kkt.n)
        p_diag[pr[self.p_diag]] = pv[self.p_diag]
        diag = np.concatenate([np.where(free, p_diag + kkt.rho, 1.0), np.where(active, -kkt.delta, -1.0)])
        values = np.concatenate([pv[o] * (free[pr[o]] & free[pc[o]]), diag[:kkt.n], av * (active[ar] & free[ac]),
                                 diag[kkt.n:]])
        upper = self.upper
        upper.data[:] = values[self.slot]
        self.solver, solve = _ldl(upper, self.solver)
        return solve, lambda w: upper @ w + upper.T @ w - diag * w


def _refined(solve, matvec, rhs: np.ndarray, reg: np.ndarray, shift: np.ndarray, refine: int) -> np.ndarray:
    """The solution of the unregularised system ``(K - diag(reg)) w = rhs`` from the regularised
    ``K`` (``solve``: its factorisation; ``matvec``: ``K w``) started at ``K w = rhs + shift``:
    ``refine`` steps of iterative refinement, stopped where one does not halve the residual or it is
    1e-13 of ``rhs`` already."""
    w = solve(rhs + shift)

    def residual(w: np.ndarray) -> np.ndarray:
        return rhs - matvec(w) + reg * w  # against the unregularised system

    res = residual(w)
    size = float(np.linalg.norm(res))
    floor = 1e-13 * float(np.linalg.norm(rhs))
    for _ in range(refine):
        if size <= floor:
            break  # at rounding already: a further step would not halve it (a solve and a product saved)
        w2 = w + solve(res)
        res2 = residual(w2)
        new = float(np.linalg.norm(res2))
        if not new < 0.5 * size:
            break  # no solution to refine towards (a flat or unbounded face): keep the last
        w, res, size = w2, res2, new
    return w


def _qp_active_point(qp: QPData, kkt: _QPKKT, row_side, var_side, x_ref: np.ndarray, refine: int = 3):
    """The optimum of the QP with the constraints of an active set held as equalities.

    Returns (x (n,) clipped to its bounds, y (m,) and r (n,) with multipliers of the sign their
    side allows, u (n,) unclipped, y_raw (m,), r_raw (n,)). The variables at an active bound
    are fixed there and eliminated, so that the system has one unknown per free variable and
    per active row (a QP whose optimum sits on many bounds, like a portfolio's, gives a small
    one): ``[[P_FF + rho I, A_RF'], [A_RF, -delta I]]``, regularised so that it is always
    nonsingular (a proximal term ``rho |x - x_ref|^2``, and ``-delta I`` on the rows' block).
    Above ``_QPKKT.DENSE_LU`` unknowns the same system is solved in all n + m unknowns, the fixed
    variables and inactive rows decoupled, so that every system of the QP's structure shares one
    sparsity pattern and the ordering of its factorisation (``_Pattern``), unless it keeps less than
    ``_QPKKT.FULL_FROM`` of them.
    Iterative refinement against the unregularised system, reusing the one factorisation,
    removes their bias (as OSQP's own polish does). The bounds' multipliers then follow from
    stationarity, ``r = P u + c - A'y``."""
    row_side, var_side = np.asarray(row_side, dtype=int), np.asarray(var_side, dtype=int)
    act_r, act_v = np.flatnonzero(row_side), np.flatnonzero(var_side)
    free = np.flatnonzero(var_side == 0)
    nf, nr = free.size, act_r.size
    u = np.zeros(qp.n)
    u[act_v] = np.where(var_side[act_v] > 0, qp.lb[act_v], qp.ub[act_v])
    b_r = np.where(row_side[act_r] > 0, qp.l[act_r], qp.u[act_r])
    # the unregularised system's right-hand side, with the fixed variables moved over
    rhs_v, rhs_r = -qp.c[free] - (qp.P @ u)[free], b_r - (qp.A @ u)[act_r]
    if nf + nr == 0:
        v = np.zeros(0)
    elif nf + nr <= kkt.DENSE_LU or nf + nr < kkt.FULL_FROM * (qp.n + qp.m):
        # the free variables and active rows alone: dense where few, else sparse and ordered afresh
        if nf + nr <= kkt.DENSE_LU:
            mat = kkt.matrix(free, act_r)
            lu = _dense_solver(mat, check=False)
            solve = lambda b: lu(b, False)  # noqa: E731
        else:
            mat = kkt.sparse(free, act_r)
            solve = _quasidefinite_factor(mat)
        w = _refined(solve, lambda w: mat @ w, np.concatenate([rhs_v, rhs_r]),
                     np.concatenate([np.full(nf, kkt.rho), np.full(nr, -kkt.delta)]),
                     np.concatenate([kkt.rho * x_ref[free], np.zeros(nr)]), refine)
        u[free], v = w[:nf], w[nf:]
    else:  # in all n + m unknowns: a fixed variable's is its value, an inactive row's 0
        is_free, is_active = var_side == 0, row_side != 0
        solve, matvec = kkt.full(is_free, is_active)
        rhs, reg, shift = np.zeros(qp.n + qp.m), np.zeros(qp.n + qp.m), np.zeros(qp.n + qp.m)
        rhs[act_v], rhs[free], rhs[qp.n + act_r] = u[act_v], rhs_v, rhs_r
        reg[free], reg[qp.n + act_r] = kkt.rho, -kkt.delta
        shift[free] = kkt.rho * x_ref[free]
        w = _refined(solve, matvec, rhs, reg, shift, refine)
        u[free], v = w[free], w[qp.n + act_r]
    # stationarity P u + c = A'y + r: the rows' multipliers are -v, the bounds' what remains
    y_raw = np.zeros(qp.m)
    y_raw[act_r] = -v
    r_raw = np.zeros(qp.n)
    r_raw[act_v] = (qp.P @ u + qp.c - qp.At @ y_raw)[act_v]
    x = np.clip(u, qp.lb, qp.ub)
    eq = np.isfinite(qp.l) & (qp.l == qp.u)
    y = y_raw.copy()
    y[act_r] = np.where(eq[act_r], y[act_r],
                        np.where(row_side[act_r] > 0, np.maximum(y[act_r], 0.0), np.minimum(y[act_r], 0.0)))
    r = qp.c + qp.P @ x - qp.At @ y
    return x, y, r, u, y_raw, r_raw


def _pdas_update(qp: QPData, guess: ActiveSet, u: np.ndarray, y: np.ndarray, r: np.ndarray) -> ActiveSet:
    """One primal-dual active-set update for a QP (as in Hintermueller, Ito & Kunisch 2002),
    from the point ``_qp_active_point`` found for ``guess`` (u (n,), raw multipliers y (m,),
    r (n,)): drop the constraints whose multipliers have the wrong sign and add the
    inequalities the point violates."""
    row_side, var_side = (np.asarray(g, dtype=int).copy() for g in guess)
    ax = qp.A @ u
    free_r = ~(np.isfinite(qp.l) & (qp.l == qp.u))
    free_v = ~(np.isfinite(qp.lb) & (qp.lb == qp.ub))
    for side, val, mult, lo, hi, free in ((row_side, ax, y, qp.l, qp.u, free_r),
                                          (var_side, u, r, qp.lb, qp.ub, free_v)):
        tol_lo = 1e-9 * (1.0 + np.abs(np.where(np.isfinite(lo), lo, 0.0)))
        tol_hi = 1e-9 * (1.0 + np.abs(np.where(np.isfinite(hi), hi, 0.0)))
        was = side.copy()
        side[free & (was == 1) & (mult < 0)] = 0
        side[free & (was == -1) & (mult > 0)] = 0
        side[free & (was == 0) & np.isfinite(lo) & (val < lo - tol_lo)] = 1
        side[free & (was == 0) & np.isfinite(hi) & (val > hi + tol_hi)] = -1
    return row_side, var_side


def _pair(qp: QPData, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x clipped to its bounds, y, reduced costs r = c + P x - A'y)."""
    x = np.clip(np.asarray(x, dtype=float), qp.lb, qp.ub)
    y = np.asarray(y, dtype=float)
    return x, y, qp.c + (qp.P @ x if qp.P is not None else 0.0) - qp.At @ y


def predicted_active_set(qp: QPData, x: np.ndarray, y: np.ndarray) -> ActiveSet:
    """The active set the polish reads off a primal-dual pair (x (n,), y (m,))."""
    return _active_from_prediction(qp, *_pair(qp, x, y))


def optimal_active_set(qp: QPData, x: np.ndarray, y: np.ndarray, *, rel_tol: float = 1e-6) -> ActiveSet:
    """The active set of an accurate optimum (x (n,), y (m,)) that carries no basis (an
    interior-point solution): a row or bound is active at the side its multiplier's sign says,
    where the multiplier exceeds ``rel_tol`` of the largest; equality rows and fixed variables
    are always active. A constraint that is tight with a zero multiplier is left out: the
    point of the set without it is the same optimum."""
    x, y, r = _pair(qp, x, y)
    tol = rel_tol * max(np.abs(y).max(initial=0.0), np.abs(r).max(initial=0.0), 1e-12)
    row_side = np.where(y > tol, 1, np.where(y < -tol, -1, 0))
    var_side = np.where(r > tol, 1, np.where(r < -tol, -1, 0))
    row_side[np.isfinite(qp.l) & (qp.l == qp.u)] = 1
    var_side[np.isfinite(qp.lb) & (qp.lb == qp.ub)] = 1
    return row_side.astype(np.int8), var_side.astype(np.int8)


def active_set_distance(qp: QPData, a: ActiveSet, b: ActiveSet) -> int:
    """How many of the m + n constraints two active sets disagree on (an equality row or a
    fixed variable is active whatever side a solver reports it at)."""
    two_sided = np.concatenate([np.isfinite(qp.l) & (qp.l == qp.u), np.isfinite(qp.lb) & (qp.lb == qp.ub)])
    sa = np.concatenate([np.asarray(a[0], dtype=int), np.asarray(a[1], dtype=int)])
    sb = np.concatenate([np.asarray(b[0], dtype=int), np.asarray(b[1], dtype=int)])
    same = np.where(two_sided, (sa != 0) == (sb != 0), sa == sb)
    return int((~same).sum())


def active_set_point(qp: QPData, active: ActiveSet, *, delta: float = 1e-9) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    """An LP's primal-dual point (x (n,), y (m,), r (n,)) of an active set alone, with no
    prediction to lean on: its vertex when it names n constraints, else the point of its face
    nearest the origin. Raises ValueError if the set is singular."""
    if qp.P is not None:
        raise ValueError(f"{qp.name}: active_set_point takes LPs only (this problem has a quadratic objective)")
    zero_x, zero_y, zero_r = _pair(qp, np.zeros(qp.n), np.zeros(qp.m))
    return _solve_active(qp, np.asarray(active[0]), np.asarray(active[1]), zero_x, zero_y, zero_r, delta)


def _active_from_prediction(qp: QPData, x_hat, y_hat, r_hat) -> ActiveSet:
    ax = qp.A @ x_hat
    scale_y = max(np.abs(y_hat).max(initial=0.0), np.abs(r_hat).max(initial=0.0), 1e-12)
    fin_l, fin_u = np.isfinite(qp.l), np.isfinite(qp.u)
    fin_lb, fin_ub = np.isfinite(qp.lb), np.isfinite(qp.ub)

    # Distance of x_hat to each constraint's hyperplane, in x-space units, so that rows and
    # bounds rank on one scale; rows with a clearly nonzero predicted dual come first.
    row_norm = qp.row_norms + 1e-30
    d_l = np.where(fin_l, np.abs(ax - qp.l) / row_norm, np.inf)
    d_u = np.where(fin_u, np.abs(qp.u - ax) / row_norm, np.inf)
    d_lb = np.where(fin_lb, np.abs(x_hat - qp.lb), np.inf)
    d_ub = np.where(fin_ub, np.abs(qp.ub - x_hat), np.inf)
    eq = fin_l & fin_u & (qp.l == qp.u)
    fixed = fin_lb & fin_ub & (qp.lb == qp.ub)
    row_side = np.zeros(qp.m, dtype=int)
    row_side[eq] = 1
    var_side = np.zeros(qp.n, dtype=int)
    var_side[fixed] = 1
    if qp.P is None:
        # An LP optimum is a vertex: pick the n constraints that look most active, ranking by
        # distance (relative to the size of x) minus dual strength (relative to the largest
        # dual); a dual of the wrong sign for that side counts as none.
        sx = np.abs(x_hat).mean() + 1e-12
        dual_l = np.where(y_hat > 0, y_hat, 0.0) / scale_y
        dual_u = np.where(y_hat < 0, -y_hat, 0.0) / scale_y
        dual_lb = np.where(r_hat > 0, r_hat, 0.0) / scale_y
        dual_ub = np.where(r_hat < 0, -r_hat, 0.0) / scale_y
        s_l, s_u = d_l / sx - dual_l, d_u / sx - dual_u
        s_lb, s_ub = d_lb / sx - dual_lb, d_ub / sx - dual_ub
        need = qp.n - int((row_side != 0).sum() + (var_side != 0).sum())
        if need > 0:
            cand = np.concatenate([
                np.where(row_side == 0, np.minimum(s_l, s_u), np.inf),
                np.where(var_side == 0, np.minimum(s_lb, s_ub), np.inf),
            ])
            order = np.argsort(cand, kind="stable")[:need]
            order = order[np.isfinite(cand[order])]
            rows = order[order < qp.m]
            cols = order[order >= qp.m] - qp.m
            row_side[rows] = np.where(s_l[rows] <= s_u[rows], 1, -1)
            var_side[cols] = np.where(s_lb[cols] <= s_ub[cols], 1, -1)
    else:
        # a QP optimum need not be a vertex: take what the prediction says is tight
        tol_x = 1e-2 * (1.0 + np.abs(x_hat).max())
        near_r = (np.minimum(d_l, d_u) < tol_x) & (row_side == 0)
        row_side[near_r] = np.where(d_l[near_r] <= d_u[near_r], 1, -1)
        near_v = (np.minimum(d_lb, d_ub) < tol_x) & (var_side == 0)
        var_side[near_v] = np.where(d_lb[near_v] <= d_ub[near_v], 1, -1)

    return row_side, var_side


def _vertex(qp: QPData, act_r: np.ndarray, b_r: np.ndarray, act_v: np.ndarray, b_v: np.ndarray):
    """The vertex of n active constraints, primal and dual. The variables at an active bound are
    fixed there, which leaves a square system in the others, ``A_RF x_F = b_R - A_RV b_V``
    (as many free variables as active rows; a Netlib vertex sits mostly on bounds, so it is
    small): one LU gives x and, transposed, the rows' multipliers ``A_RF' y_R = c_F``; the
    bounds' follow as reduced costs."""
    free = np.ones(qp.n, dtype=bool)
    free[act_v] = False
    x = np.zeros(qp.n)
    x[act_v] = b_v
    y = np.zeros(qp.m)
    if act_r.size:
        rows = qp.A_dense[act_r] if qp.m * qp.n <= DENSE_A_LIMIT else qp.A[act_r]
        sub = rows[:, free]
        solve = _dense_solver(sub) if isinstance(sub, np.ndarray) else _square_solver(sub.tocsr())
        x[free] = solve(b_r - rows[:, act_v] @ b_v, False)
        y[act_r] = solve(qp.c[free], True)
    return np.clip(x, qp.lb, qp.ub), y, qp.c - qp.At @ y


def _solve_active(qp: QPData, row_side, var_side, x_hat, y_hat, r_hat, delta):
    """Primal and dual of an LP's active set: its vertex when it has n constraints, else the
    point of its face nearest the prediction (QPs: ``_qp_active_point``)."""
    eq = np.isfinite(qp.l) & (qp.l == qp.u)
    act_r = np.flatnonzero(row_side)
    act_v = np.flatnonzero(var_side)
    b_r = np.where(row_side[act_r] > 0, qp.l[act_r], qp.u[act_r])
    b_v = np.where(var_side[act_v] > 0, qp.lb[act_v], qp.ub[act_v])
    if act_r.size + act_v.size == qp.n:
        return _vertex(qp, act_r, b_r, act_v, b_v)
    rhs = np.concatenate([b_r, b_v])
    eye_v = sp.csr_matrix((np.ones(act_v.size), (np.arange(act_v.size), act_v)), shape=(act_v.size, qp.n))
    cons = sp.vstack([qp.A[act_r], eye_v]).tocsr()

    # primal: the nearest point of the active face
    u, _ = _quasidefinite_solve(sp.identity(qp.n, format="csr"), cons, x_hat, rhs, delta)
    x = np.clip(u, qp.lb, qp.ub)

    # dual: multipliers of the active constraints closest to the prediction, exact stationarity
    g = qp.c
    mult_hat = np.concatenate([y_hat[act_r], r_hat[act_v]])
    w, _ = _quasidefinite_solve(sp.identity(cons.shape[0], format="csr"), cons.T.tocsr(), mult_hat, g, delta)
    y = np.zeros(qp.m)
    y[act_r] = w[: act_r.size]
    r = g - qp.At @ y
    # sign-consistency: multipliers must point the way their side allows
    y[act_r] = np.where(eq[act_r], y[act_r],
                        np.where(row_side[act_r] > 0, np.maximum(y[act_r], 0.0), np.minimum(y[act_r], 0.0)))
    r = g - qp.At @ y
    return x, y, r
