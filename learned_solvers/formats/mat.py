"""QPs in the ``.mat`` layout of the OSQP benchmarks and qpsolvers' ``maros_meszaros_qpbenchmark``.

A MATLAB file holding ``P`` (n, n) sparse, ``q`` (n,), ``r`` (scalar), ``A`` (m, n) sparse,
``l, u`` (m,) and optionally ``n, m``: minimise 1/2 x'Px + q'x + r s.t. l <= Ax <= u, with
magnitudes of 1e20 and up meaning infinite. The Maros–Meszaros set stores the variable bounds
as the last n rows of ``A`` (an identity block); those rows become ``lb, ub`` here, so the
solvers see bounds rather than rows. Read with scipy's own ``loadmat``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData
from ..canonical.qp import INFINITE_BOUND

__all__ = ["read_mat", "MatFormatError"]


class MatFormatError(InvalidProblemError):
    """The file is not a readable QP in the benchmark ``.mat`` layout."""


def _count(p: Path, key: str, value: object) -> int:
    """The file's own ``n`` or ``m``: one whole number, or a MatFormatError saying so."""
    try:
        a = np.asarray(value.toarray() if sp.issparse(value) else value, dtype=float).reshape(-1)
        ok = a.size == 1 and bool(np.isfinite(a[0])) and a[0] == round(a[0]) and a[0] >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise MatFormatError(f"{p}: {key} must be one whole number (the count of "
                             f"{'variables' if key == 'n' else 'rows'}), got {str(value)[:60]!r}")
    return int(a[0])


def read_mat(path: str | os.PathLike[str]) -> QPData:
    """Read a benchmark ``.mat`` QP into ``QPData`` (named by the file; no variable names,
    so solutions are written by position: ``c0, c1, ...`` and ``r0, r1, ...``)."""
    import scipy.io

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such problem file: {p}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # scipy's notice about sparse arrays
            d = scipy.io.loadmat(p)
    except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
        raise MatFormatError(f"{p}: a MATLAB v7.3 (HDF5) file, which scipy does not read; save it with "
                             f"save(..., '-v7') ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - scipy raises ValueError, TypeError, MatReadError, ...
        raise MatFormatError(f"{p}: not a readable MATLAB file: {exc}") from exc
    missing = [k for k in ("P", "q", "A", "l", "u") if k not in d]
    if missing:
        raise MatFormatError(f"{p}: missing {', '.join(missing)}; a QP .mat holds P, q, r, A, l, u "
                             f"(minimise 1/2 x'Px + q'x + r s.t. l <= Ax <= u); found "
                             f"{', '.join(k for k in d if not k.startswith('__')) or 'nothing'}")
    complex_ = [k for k in ("P", "q", "r", "A", "l", "u", "n", "m") if k in d and np.iscomplexobj(d[k])]
    if complex_:  # a cast to float would drop the imaginary parts: another problem than the file's
        raise MatFormatError(f"{p}: {', '.join(complex_)} hold complex numbers; a QP's data are real")
    vec = lambda k: np.asarray(d[k].toarray() if sp.issparse(d[k]) else d[k], dtype=float).reshape(-1)  # noqa: E731
    try:
        P, A = sp.csr_matrix(d["P"], dtype=float), sp.csr_matrix(d["A"], dtype=float)
        q, lo, hi = vec("q"), vec("l"), vec("u")
        r = vec("r") if "r" in d else np.zeros(1)
    except (TypeError, ValueError) as exc:
        raise MatFormatError(f"{p}: P, q, r, A, l, u must be numeric: {exc}") from exc
    n, m = q.size, A.shape[0]
    for key, want in (("n", n), ("m", m)):
        stated = _count(p, key, d[key]) if key in d else want
        if stated != want:
            raise MatFormatError(f"{p}: {key} = {stated} but the arrays give {want}")
    sizes = {"P": (P.shape, (n, n)), "A": (A.shape, (m, n)), "l": ((lo.size,), (m,)), "u": ((hi.size,), (m,))}
    wrong = [f"{k} is {'x'.join(map(str, got))}, not {'x'.join(map(str, want))}"
             for k, (got, want) in sizes.items() if got != want]
    if A.shape[1] != n:
        wrong.insert(0, f"A has {A.shape[1]} columns and q {n} entries")
    if wrong or r.size != 1:
        raise MatFormatError(f"{p}: mismatched sizes: {'; '.join(wrong) or f'r holds {r.size} values, not one'}")
    # the files hold 1e20 as 9.999999999999998e+19 too (rounded on its way through MATLAB)
    big = INFINITE_BOUND * (1 - 1e-9)
    lo = np.where(lo <= -big, -np.inf, lo)
    hi = np.where(hi >= big, np.inf, hi)
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    if m >= n and n and (A[m - n:] != sp.identity(n, format="csr")).nnz == 0:
        lb, ub = lo[m - n:], hi[m - n:]
        A, lo, hi = A[: m - n], lo[: m - n], hi[: m - n]
        crossed = np.flatnonzero(lb > ub)
        if crossed.size:  # said in the file's terms: QPData would name variable j, which the file has no row for
            i, j = m - n + int(crossed[0]), int(crossed[0])
            raise MatFormatError(f"{p}: l[{i}] = {lb[j]:.17g} > u[{i}] = {ub[j]:.17g} (row {i} of A, in the identity "
                                 f"block of its last n rows, bounds variable {j}), so no point is feasible (the "
                                 f"problem is infeasible as given): check the data that sets them")
    if P.nnz and abs(P - P.T).max() > 1e-12 * max(1.0, abs(P).max()) \
            and (sp.tril(P, -1).nnz == 0 or sp.triu(P, 1).nnz == 0):
        P = P + P.T - sp.diags(P.diagonal())  # one triangle stored: P is symmetric (QPData checks any other)
    try:
        return QPData(c=q, A=A, l=lo, u=hi, lb=lb, ub=ub, P=P, offset=float(r[0]), name=p.name)
    except InvalidProblemError as exc:
        raise MatFormatError(f"{p}: {exc}") from exc
