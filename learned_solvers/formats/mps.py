"""MPS and LP files (plain or gzipped), read with HiGHS' own reader."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData

__all__ = ["read_problem", "MPSFormatError"]


class MPSFormatError(InvalidProblemError):
    """The file could not be read as an MPS or LP model."""


def read_problem(path: str | os.PathLike[str]) -> QPData:
    """Read an ``.mps``, ``.lp`` (optionally ``.gz``) file into ``QPData``.

    Integer columns are kept in ``integrality``; a quadratic objective (QMPS) becomes ``P``.
    Raises ``FileNotFoundError`` or ``MPSFormatError`` naming the file and HiGHS' complaint.
    """
    import highspy

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such problem file: {p}")
    suffixes = "".join(p.suffixes[-2:]).lower()
    if not any(suffixes.endswith(s) for s in (".mps", ".mps.gz", ".lp", ".lp.gz", ".qps", ".qps.gz")):
        raise MPSFormatError(f"{p}: unknown extension; expected .mps, .lp or .qps (optionally .gz)")
    h = highspy.Highs()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "highs.log"
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", str(log))
        status = h.readModel(str(p))
        h.setOptionValue("log_file", "")
        text = log.read_text(errors="replace") if log.exists() else ""
    if status == highspy.HighsStatus.kError:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "Running HiGHS" not in ln
                 and "Copyright" not in ln and "third-party" not in ln]
        why = "; ".join(lines[-3:]) or "HiGHS could not parse it"
        raise MPSFormatError(f"{p}: not a readable MPS/LP model: {why}")
    lp = h.getLp()
    a = lp.a_matrix_
    n, m = lp.num_col_, lp.num_row_
    if a.format_ == highspy.MatrixFormat.kRowwise:
        A = sp.csr_matrix((a.value_, a.index_, a.start_), shape=(m, n))
    else:
        A = sp.csc_matrix((a.value_, a.index_, a.start_), shape=(m, n))
    sense = 1.0
    if lp.sense_ == highspy.ObjSense.kMaximize:
        sense = -1.0  # canonical form minimises
    hess = h.getModel().hessian_
    P = None
    if hess.dim_ > 0:
        P = sp.csc_matrix((hess.value_, hess.index_, hess.start_), shape=(n, n))
        P = sp.triu(P) + sp.triu(P, 1).T if (sp.tril(P, -1).nnz == 0) else P
        P = sense * P
    integ = np.asarray(lp.integrality_, dtype=int) if len(lp.integrality_) else None
    integrality = None if integ is None else integ == int(highspy.HighsVarType.kInteger)
    inf = highspy.kHighsInf
    fix = lambda v: np.clip(np.asarray(v, dtype=float), -inf, inf) * np.where(np.abs(np.asarray(v, dtype=float)) >= inf, np.inf, 1.0)  # noqa: E731
    try:
        return QPData(
            c=sense * np.asarray(lp.col_cost_), A=A, l=fix(lp.row_lower_), u=fix(lp.row_upper_),
            lb=fix(lp.col_lower_), ub=fix(lp.col_upper_), P=P, integrality=integrality,
            offset=sense * lp.offset_, name=p.name,
            var_names=tuple(lp.col_names_) or None, con_names=tuple(lp.row_names_) or None,
        )
    except InvalidProblemError as exc:
        raise MPSFormatError(f"{p}: {exc}") from exc
