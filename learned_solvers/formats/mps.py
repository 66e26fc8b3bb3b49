"""MPS and LP files (plain or gzipped), read with HiGHS' own reader.

HiGHS' MPS reader is lenient with numbers: ``1,5`` reads as 1 and ``zz`` as 0, silently. So an
MPS file HiGHS accepts is also parsed by OR-Tools' strict MPS reader (linear files: its model
builder takes no quadratic objective); when that one refuses it, the file is refused, with the
first value field that is not a number when one can be pointed at. Quadratic files get that
scan alone.

``read_problem`` also takes the ``.mat`` QPs of the OSQP benchmarks (Maros–Meszaros), which
``mat.read_mat`` reads: one entry point for every instance file.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .._highs import quiet_highs
from ..canonical import InvalidProblemError, QPData

__all__ = ["read_problem", "solution_dict", "MPSFormatError", "MPSReadWarning", "PROBLEM_SUFFIXES"]

_MPS_SUFFIXES = (".mps", ".mps.gz", ".qps", ".qps.gz")
# every instance file read_problem takes (``files:GLOB`` matches these)
PROBLEM_SUFFIXES = (*_MPS_SUFFIXES, ".lp", ".lp.gz", ".mat")
# BOUNDS types whose last field is a value (FR, MI, PL, BV take none; SC's is optional)
_VALUED_BOUNDS = {"UP", "LO", "FX", "LI", "UI"}


class MPSFormatError(InvalidProblemError):
    """The file could not be read as an MPS or LP model."""


class MPSReadWarning(UserWarning):
    """The file is read one way where readers differ or a likely slip reads as another problem (several RHS,
    RANGES or BOUNDS vectors; a Latin-1 file; both halves of Q under QUADOBJ; a bound on an undeclared column)."""


def _reader_complaint(log: str) -> str:
    """HiGHS' parse error in one line. Its LP reader draws the place in the style of a compiler
    (``ERROR: what``, `` --> file:line:col``, the source line, ``= help: ...``); the MPS reader
    writes plain lines."""
    lines = [ln.rstrip() for ln in log.splitlines() if ln.strip() and "Running HiGHS" not in ln
             and "Copyright" not in ln and "third-party" not in ln]
    where = next(filter(None, (re.match(r"\s*-->\s*.*:(\d+):(\d+)\s*$", ln) for ln in lines)), None)
    errors = [ln.split("ERROR:", 1)[1].strip() for ln in lines if "ERROR:" in ln]
    if where is not None and errors:
        row = where.group(1)
        source = next((ln.split("|", 1)[1].strip() for ln in lines if re.match(rf"\s*{row}\s*\|", ln)), "")
        helps = [ln.split("= help:", 1)[1].strip() for ln in lines if "= help:" in ln]
        return (f"line {row}: {errors[0]}" + (f" in `{source}`" if source else "")
                + (f" ({helps[0]})" if helps else ""))
    # (its counts of BOUNDS entries by type are news, not the complaint)
    lines = [ln for ln in lines if not re.match(r"\s*Number of \w+ entries in", ln)]
    return "; ".join(re.sub(r"^ERROR:\s*", "", ln.strip()) for ln in lines[-3:]) or "HiGHS could not parse it"


def _near_names(p: Path) -> str:
    """``"; did you mean ..."`` naming the files beside ``p`` that differ from it only by ``.gz``
    (Netlib and MIPLIB come gzipped), or ``""``."""
    near = [q for q in (p.with_name(p.name + ".gz"), p.with_suffix("") if p.suffix.lower() == ".gz" else None)
            if q is not None and q.is_file()]
    return f"; did you mean {near[0]}?" if near else ""


# formats SCIP reads and HiGHS does not: its CIP (what SCIP writes a presolved model in), and others
_SCIP_SUFFIXES = (".cip", ".opb", ".wbo", ".pip", ".zpl", ".fzn", ".osil", ".gms", ".rlp")


def _extension_hint(p: Path) -> str:
    """What to do with a file of an extension the reader does not take: ``"; ..."`` or ``""``."""
    last = p.suffix.lower()
    if last in (".bz2", ".xz", ".zst", ".zip", ".7z") and p.stem.lower().endswith(PROBLEM_SUFFIXES):
        return "; decompress it, or recompress it with gzip, which the readers take"
    inner = Path(p.stem).suffix.lower() if last == ".gz" else last
    if inner in _SCIP_SUFFIXES:
        return ("; SCIP reads it: read it with pyscipopt (model.readProblem(path)) and solve it with "
                "learned_solvers.scip_plugin.optimize(model, ...), or write it as MPS with "
                "model.writeProblem('model.mps')")
    return ""


def read_problem(path: str | os.PathLike[str]) -> QPData:
    """Read an ``.mps``, ``.lp`` or ``.qps`` (optionally ``.gz``), or a benchmark ``.mat`` file
    into ``QPData``.

    Integer columns are kept in ``integrality``; a quadratic objective (QMPS) becomes ``P``.
    Raises ``FileNotFoundError``, or ``MPSFormatError`` (``mat.MatFormatError`` for a ``.mat``)
    naming the file and what is wrong.
    """
    import highspy

    p = Path(path)
    if p.is_dir():
        raise FileNotFoundError(f"{p} is a folder, not a problem file: give the files in it (e.g. {p / '*.mps.gz'}), "
                                f"or train on them with --family 'files:{p / '*.mps.gz'}'")
    if not p.is_file():
        raise FileNotFoundError(f"no such problem file: {p}{_near_names(p)}")
    suffixes = "".join(p.suffixes[-2:]).lower()
    if not suffixes.endswith(PROBLEM_SUFFIXES):
        raise MPSFormatError(f"{p}: unknown extension; expected .mps, .lp or .qps (optionally .gz), or .mat"
                             f"{_extension_hint(p)}")
    if p.stat().st_size == 0:  # else each reader blames the format ("the model has no variables", a parser error)
        raise MPSFormatError(f"{p}: the file is empty (0 bytes); was it written completely?")
    if suffixes.endswith(".mat"):
        from .mat import read_mat

        return read_mat(p)
    through = _check_compression(p)
    h = quiet_highs()
    mps = suffixes.endswith(_MPS_SUFFIXES)
    with tempfile.TemporaryDirectory() as tmp:
        h.setOptionValue("log_to_console", False)
        # HiGHS' reader takes an entry of 1e-9 or less for zero by default; at its least setting, of
        # 1e-12 or less, and the warning it gives refuses the file below
        h.setOptionValue("small_matrix_value", 1e-12)
        src = p  # what is read: the file, or its UTF-8 copy (HiGHS' names must be UTF-8)
        if through.not_utf8 is not None:
            line, byte = through.not_utf8
            warnings.warn(f"{p}: not UTF-8 text (byte {byte:#04x} on line {line}); it is read as Latin-1, each byte "
                          "a character, so names in another encoding may print oddly (write the file as UTF-8 to "
                          "keep them)", MPSReadWarning, stacklevel=2)
            src = Path(tmp) / ("utf8" + suffixes.removesuffix(".gz"))
            src.write_text("".join(_lines(p, encoding=through.encoding)), encoding="utf-8")
        head = _lines(src, until="COLUMNS") if mps else []
        # HiGHS' first sign of fixed MPS, a ROWS name with a blank (it finds others as it reads on)
        fixed = _fixed_with_blanks(head)
        in_order = False  # a column's bounds rewritten as they leave it in the file's order
        while True:
            target = source = src  # source: what the readers read, the file or its free-format copy
            blank = None  # the character standing for a blank inside a name in the free-format copy
            if suffixes.endswith((".qps", ".qps.gz")):
                # HiGHS picks its reader by the extension and knows no .qps: QPS is MPS with a
                # quadratic section (QUADOBJ, QMATRIX), which its MPS reader takes
                # (a link to the user's file: the copies below are written under other names)
                target = Path(tmp) / ("qps-as.mps.gz" if src.suffix.lower() == ".gz" else "qps-as.mps")
                target.unlink(missing_ok=True)
                target.symlink_to(src.resolve())
            if fixed:
                # HiGHS' fixed-format reader loops forever on an empty line and reads BV, LI, UI
                # and OBJSENSE as other things: it reads a free-format copy
                try:
                    blank, copy = _fixed_as_free(_lines(src))
                except MPSFormatError as exc:
                    raise MPSFormatError(f"{p}: {exc}") from None
                target = source = Path(tmp) / "fixed.mps"
                source.write_text(_starred(copy))
                head = _lines(source, until="COLUMNS")
            # several RHS, RANGES or BOUNDS vectors: the first is the problem's (the format's,
            # Netlib's and SCIP's reading), where HiGHS and OR-Tools read them all as one
            vectors = _vector_names(copy if fixed else through.tail) if mps else {}
            keep = {section: names[0] for section, names in vectors.items() if len(names) > 1}
            try:
                cleaned = _as_highs_reads(source, head, in_order=in_order, keep=keep,
                                          tail=(copy if fixed else through.tail) if mps else "")
            except MPSFormatError as exc:
                raise MPSFormatError(f"{p}: {exc}") from None
            if cleaned is not None:
                target = Path(tmp) / "copy.mps"
                target.write_text(_starred(cleaned))
            elif mps and source == src and through.empty_line:
                # HiGHS may switch to its fixed-format reader as it reads on (below), and that
                # one never returns from an empty line
                target = Path(tmp) / "copy.mps"
                target.write_text(_starred("".join(_lines(src))))
            log = Path(tmp) / f"highs{int(fixed)}{int(in_order)}.log"  # one per reading: HiGHS appends
            h.setOptionValue("log_file", str(log))
            status = h.readModel(str(target))
            h.setOptionValue("log_file", "")
            # the copy HiGHS read is named as the user's file
            text = (log.read_text(errors="replace") if log.exists() else "").replace(str(target), str(p))
            if not in_order and re.search(r"BOUNDS section has duplicate (lower|upper) bound", text):
                in_order = True  # HiGHS kept a column's first bound of a side: read them in order
                continue
            if "switching to fixed format parser" not in text:
                break
            if fixed:
                _refuse_unknown_section(_lines(src), p)  # HiGHS read the lines under it as another section's
                why = next((re.sub(r"^WARNING:\s*", "", ln.strip()).replace(blank or " ", " ")
                            for ln in text.splitlines() if "assume fixed format" in ln), "")
                raise MPSFormatError(
                    f"{p}: HiGHS' reader takes it for fixed MPS (a name with a blank{': ' + why if why else ''}), "
                    "but its lines do not keep fixed MPS's columns (fields at 2-3, 5-12, 15-22, 25-36, 40-47, "
                    "50-61); write it in those columns, or as free MPS with names without blanks."
                    + _no_endata(_lines(src)))
            fixed = True  # HiGHS found a name with a blank further on: read it as fixed MPS
        for section, first in keep.items():
            others = [named for named in vectors[section] if named != first]
            name = lambda v: repr(v or "(unnamed)")  # noqa: E731
            warnings.warn(f"{p}: its {section} section holds {len(others) + 1} vectors; the first, {name(first)}, is "
                          f"read and {', '.join(map(name, others))} left out, as the MPS format, Netlib and SCIP "
                          "read such a file (HiGHS and OR-Tools would read them all as one)", MPSReadWarning,
                          stacklevel=2)
        if status == highspy.HighsStatus.kError:
            if mps:  # a section HiGHS passed over, whose lines it took for the section's before
                _refuse_unknown_section(_lines(src), p)
            # HiGHS' MPS reader says only "Parser error" for a file cut off mid-section
            cut = _no_endata(_lines(src)) if mps else ""
            # a QMATRIX of one triangle: HiGHS counts the entries on each side of the diagonal
            half = (" QMATRIX lists the whole symmetric matrix, each entry off the diagonal twice (x y and y x); a "
                    "section that lists one triangle is QUADOBJ." if "so is not symmetric" in text else "")
            if re.search(r"(?i)quadratic (rows|constraints) (are )?not supported|SOS (constraints are )?not supported"
                         r"|cannot parse INDICATORS|indicator constraints are not supported", text):
                half += (" The canonical form (and every backend here) takes linear constraints, a convex quadratic "
                         "objective and integer columns: no quadratic constraints, SOS or indicator constraints; "
                         "solve it with SCIP itself (pyscipopt's Model.readProblem, then optimize), without a "
                         "learned start.")
            raise MPSFormatError(f"{p}: not a readable MPS/LP model: {_reader_complaint(text)}." + half + cut)
        # HiGHS reads on past entries it drops (a row or column no section declared) with a
        # warning only: that is another model than the file's, so it is refused
        # (a fractional bound of an integer column, which HiGHS counts as "ignored", it keeps, as
        # SCIP does: 2.5 <= x for an integer x, so that one line drops nothing)
        dropped = [ln.strip() for ln in text.splitlines()
                   if "WARNING" in ln and any(w in ln for w in ("ignored", "not defined", "undefined"))
                   and not re.search(r"ignored 0 duplicate values and \d+ fractional integer bounds", ln)]
        if dropped:
            tiny = (" (HiGHS' reader takes a matrix entry of 1e-12 or less in size for zero: rescale that row, column "
                    "or variable, its units, so that no entry is so small)"
                    if any("at/below tolerance" in ln for ln in dropped) else "")
            raise MPSFormatError(f"{p}: HiGHS' reader would drop entries: {'; '.join(dropped[:3])}{tiny}")
        # HiGHS reads a second ROWS line of a name, or a column's entries resumed after another
        # column's, as a row or column of its own (entries naming the row, and bounds, go to the first)
        same = [re.sub(r"^WARNING:\s*", "", ln.strip()) for ln in text.splitlines() if "have the same name" in ln]
        if same and mps:
            raise MPSFormatError(f"{p}: {same[0]} (counting from 0): an MPS file declares each row once in ROWS "
                                 "and gives each column's entries together in COLUMNS; HiGHS' reader would read two "
                                 "of that name, another problem, and SCIP's reader refuses the file")
        lp = h.getLp()
        if lp.num_col_ == 0:
            raise MPSFormatError(f"{p}: the model has no variables")
        hess = h.getModel().hessian_
        # the lines the check read (a quadratic file's always), for the checks below
        checked = _check_lines(source, quadratic=hess.dim_ > 0, name=p, free=blank is not None) if mps else None
        read, fortran = checked if checked is not None else (None, None)
        if mps and hess.dim_ > 0 and (both := _listed_both_ways(read)) is not None:
            section, one, other, first, second = both
            readers = "HiGHS and SCIP read" if section == "QUADOBJ" else "HiGHS reads"  # SCIP refuses QSECTION
            warnings.warn(f"{p}: its {section} section lists both {one} {other} (line {first}) and {other} {one} "
                          f"(line {second}); read as their sum, as {readers} it, which doubles that cross term "
                          f"where the two halves of a symmetric matrix were meant: {section} takes one triangle "
                          "of Q, and the whole matrix goes in a QMATRIX section", MPSReadWarning, stacklevel=2)
        if fortran is not None:
            # (OR-Tools' strict check refuses such a value, so the lines of a file holding one are read)
            no, token, section = fortran
            scip = ("SCIP's reader refuses the file" if section.startswith("Q") else
                    f"SCIP's reader cuts the exponent off and reads {token[:token.upper().index('D')]}")
            warnings.warn(f"{p}: line {no} writes {token!r} with a Fortran exponent: read as {_number(token)!r}, as "
                          f"HiGHS reads it, where {scip}; write it with an E to be read alike", MPSReadWarning,
                          stacklevel=2)
        if mps and (found := _bounded_undeclared(source, lp, hess, read)) is not None:
            column = found[0] if blank is None else found[0].replace(blank, " ")
            warnings.warn(f"{p}: line {found[1]} bounds {column!r}, a column the COLUMNS section does not declare: "
                          "read as a column of its own with no entries, as HiGHS, SCIP and OR-Tools read it; if the "
                          "name is misspelt, the bound meant is not applied", MPSReadWarning, stacklevel=2)
    named = (lambda v: v) if blank is None else (lambda v: v.replace(blank, " "))  # noqa: E731
    col_names, row_names = [named(v) for v in lp.col_names_], [named(v) for v in lp.row_names_]
    a = lp.a_matrix_
    n, m = lp.num_col_, lp.num_row_
    if a.format_ == highspy.MatrixFormat.kRowwise:
        A = sp.csr_matrix((a.value_, a.index_, a.start_), shape=(m, n))
    else:
        A = sp.csc_matrix((a.value_, a.index_, a.start_), shape=(m, n))
    if ((np.abs(A.data) <= 1e-9) & (A.data != 0)).any():
        coo = A.tocoo()
        small = (np.abs(coo.data) <= 1e-9) & (coo.data != 0)
        k = int(np.flatnonzero(small)[np.argmin(np.abs(coo.data[small]))])
        i, j, count = int(coo.row[k]), int(coo.col[k]), int(small.sum())
        warnings.warn(f"{p}: {count} entr{'ies' if count > 1 else 'y'} of the constraint matrix of 1e-9 or less "
                      f"in size (the least {coo.data[k]:g}, row {row_names[i]!r}, column {col_names[j]!r}) read as "
                      "given, where SCIP's reader, and HiGHS' at its default small_matrix_value, take them for zero "
                      "and so answer another problem", MPSReadWarning, stacklevel=2)
    maximize = lp.sense_ == highspy.ObjSense.kMaximize
    if mps:
        # HiGHS 1.16 reads "OBJSENSE MAXIMIZE" on one line as minimise; the file's word stands
        declared = _objsense(head)[0]
        maximize = maximize if declared is None else declared == "MAX"
    sense = -1.0 if maximize else 1.0  # canonical form minimises
    P = None
    if hess.dim_ > 0:
        P = sp.csc_matrix((hess.value_, hess.index_, hess.start_), shape=(n, n))
        if sp.triu(P, 1).nnz == 0 or sp.tril(P, -1).nnz == 0:
            # one triangle stored (HiGHS keeps the lower one): the objective's Q is symmetric
            P = (P + P.T - sp.diags(P.diagonal())).tocsc()
        P = sense * P
    integ = np.asarray(lp.integrality_, dtype=int) if len(lp.integrality_) else None
    inf = highspy.kHighsInf
    if integ is not None:
        _refuse_semi(p, integ, lp, col_names)
    integrality = None if integ is None else integ == int(highspy.HighsVarType.kInteger)

    def fix(v) -> np.ndarray:  # HiGHS' infinity, whatever its value, as numpy's
        a = np.asarray(v, dtype=float)
        return np.where(np.abs(a) >= inf, np.copysign(np.inf, a), a)

    lb, ub = fix(lp.col_lower_), fix(lp.col_upper_)
    if suffixes.endswith((".lp", ".lp.gz")) and integrality is not None and integrality.any() \
            and (binary := _lp_binaries(_lines(p, encoding=through.encoding))):
        # HiGHS keeps a binary column's Bounds-section bounds (a free binary ranged over the
        # integers up to 1); a binary is 0 or 1 within them, as SCIP reads it
        cols = np.array([name in binary for name in col_names], dtype=bool)
        lb[cols], ub[cols] = np.maximum(lb[cols], 0.0), np.minimum(ub[cols], 1.0)
    try:
        return QPData(
            c=sense * np.asarray(lp.col_cost_), A=A, l=fix(lp.row_lower_), u=fix(lp.row_upper_),
            lb=lb, ub=ub, P=P, integrality=integrality,
            offset=sense * lp.offset_, name=p.name, maximize=sense < 0,
            var_names=tuple(col_names) or None, con_names=tuple(row_names) or None,
        )
    except InvalidProblemError as exc:
        hint = ""
        if not np.isfinite(cost := np.asarray(lp.col_cost_, dtype=float)).all():
            j = int(np.flatnonzero(~np.isfinite(cost))[0])
            name = col_names[j] if col_names else f"column {j}"
            hint = (f" ({name!r} has an objective coefficient of 1e20 or more in size, which HiGHS and SCIP read as "
                    "infinite: no solver takes it; scale the objective, or give a large finite cost)")
        elif ((lb == 0) & (ub < 0)).any():
            j = int(np.flatnonzero((lb == 0) & (ub < 0))[0])
            name = col_names[j] if col_names else f"column {j}"
            hint = (f" ({name!r} has an upper bound below 0 and a lower bound of 0: where a file gives none, the "
                    "lower bound is 0, as HiGHS, SCIP and OR-Tools read it, though some readers take -inf there; "
                    "give the lower bound (MI or LO in an MPS file, -inf <= x in an LP file) to say which)")
        raise MPSFormatError(f"{p}: {exc}{hint}") from exc


def _refuse_semi(p: Path, integ: np.ndarray, lp, names: list[str]) -> None:
    """Refuse semi-continuous and semi-integer columns (MPS ``SC``/``SI`` bounds, an LP file's
    ``semi-continuous`` section): read as plain columns on ``[lb, ub]`` they would lose the value
    0 and the solvers would answer another problem."""
    import highspy

    semi = np.flatnonzero((integ == int(highspy.HighsVarType.kSemiContinuous))
                          | (integ == int(highspy.HighsVarType.kSemiInteger)))
    if not len(semi):
        return
    j = int(semi[0])
    name = names[j] if names else f"column {j}"
    lo, hi = float(lp.col_lower_[j]), float(lp.col_upper_[j])
    kind = "semi-integer" if integ[j] == int(highspy.HighsVarType.kSemiInteger) else "semi-continuous"
    more = f" (and {len(semi) - 1} more)" if len(semi) > 1 else ""
    raise MPSFormatError(
        f"{p}: {name!r} is {kind}{more}: {name} = 0 or {lo:g} <= {name} <= {hi:g}. The canonical form has no "
        f"semi-continuous variables; write it with a binary z: {lo:g} z <= {name} <= {hi:g} z (z integer, 0 <= z <= 1)")


def _check_lines(p: Path, *, quadratic: bool, name: Path,
                 free: bool = False) -> tuple[list[str], tuple[int, str, str] | None] | None:
    """Refuse an MPS file whose lines the readers would read as another problem, naming the line:
    a section the format does not know, a line of more than two (row, value) pairs, a COLUMNS
    row without its value, and (a linear file: when OR-Tools' strict reader refuses it) a value
    field that is not a number (``_first_bad_number``), or else OR-Tools' refusal itself; a
    quadratic file gets these scans alone. ``p``: the file read (the user's, or its free-format
    copy: ``free``), ``name``: the user's, which the refusal names. Returns the file's lines where
    it read them (always for a quadratic one), with the first value it writes with a Fortran
    exponent other than 0 (``_fortran_in``, found in the same pass), else None
    (OR-Tools' reader took it whole)."""
    if not quadratic:
        from ortools.linear_solver.python import model_builder_helper

        strict = lambda path: model_builder_helper.ModelBuilderHelper().import_from_mps_file(str(path))  # noqa: E731
        if strict(p):
            return None
    lines = _lines(p)
    _refuse_unknown_section(lines, name)
    fortran = None
    for no, section, raw in _data_lines(lines, 1):
        # the format's fields hold two (row, value) pairs a line: HiGHS and SCIP read the first two
        # and drop the rest without a word (OR-Tools' check refuses the line, naming nothing)
        tok = raw.split()
        if fortran is None and ("D" in raw or "d" in raw):
            fortran = _fortran_in(no, section, tok, raw)
        named = 1 if section == "COLUMNS" or len(tok) % 2 else 0  # a column's, or a vector's, name first
        if section not in ("COLUMNS", "RHS", "RANGES") or "'MARKER'" in raw.upper():
            continue
        if len(tok) - named > 4:
            raise MPSFormatError(f"{name}: line {no} holds {(len(tok) - named) // 2} (row, value) pairs: an MPS line "
                                 "holds two at most, and HiGHS and SCIP read the first two and drop the rest "
                                 "without a word; write the others on lines of their own")
        if section == "COLUMNS" and len(tok) % 2 == 0:  # HiGHS and SCIP drop the row named last
            raise MPSFormatError(f"{name}: line {no}: row {tok[-1]!r} has no value (a COLUMNS line is the column's "
                                 "name, then one or two pairs of a row and its value); HiGHS and SCIP would drop "
                                 "that entry without a word")
    if not quadratic and (normal := _normalised(lines)) != lines:
        with tempfile.TemporaryDirectory() as d:
            blanks = Path(d) / "model.mps"
            blanks.write_text("".join(normal))
            if strict(blanks):
                return lines, fortran
    bad = _first_bad_number(lines, fixed=not free)
    if bad is not None:
        line, token, section = bad
        raise MPSFormatError(f"{name}: line {line}: {token!r} in {section} is not a number (a decimal comma, a "
                             "letter, nan or inf?); HiGHS' reader would silently take another value")
    if not quadratic:
        # HiGHS reads a file cut off at a line's end as the model up to there
        cut = _no_endata(lines)
        raise MPSFormatError(f"{name}: OR-Tools' strict MPS reader refuses this file, although HiGHS' lenient one "
                             "reads it; check that every value field is a number and every name is declared."
                             + cut)
    return lines, fortran


_SENSES = {"MAX": "MAX", "MAXIMIZE": "MAX", "MAXIMISE": "MAX", "MIN": "MIN", "MINIMIZE": "MIN", "MINIMISE": "MIN"}


def _header_word(lines: list[str], key: str) -> tuple[str | None, int, int]:
    """The word of the header section ``key`` (OBJSENSE, OBJNAME) before ROWS, written on the
    header's line or on the next data line; with the index of the header line and of the line
    holding the word. (None, -1, -1) where there is no such section; (None, header, header) where
    it holds no word."""
    for i, raw in enumerate(lines):
        if not raw.strip() or raw.startswith(("*", "$")) or raw[0].isspace():
            continue
        words = raw.split()
        if words[0].upper() in ("ROWS", "COLUMNS"):
            break
        if words[0].upper() == key:
            if len(words) > 1:
                return words[1], i, i
            nxt = next((j for j in range(i + 1, len(lines))
                        if lines[j].strip() and not lines[j].startswith(("*", "$"))), None)
            if nxt is not None and lines[nxt][0].isspace():
                return lines[nxt].split()[0], i, nxt
            return None, i, i
    return None, -1, -1


def _objsense(lines: list[str]) -> tuple[str | None, int, int]:
    """The sense an ``OBJSENSE`` section declares ("MAX", "MIN" or None: none, or a word no
    reader knows), the index of its header line and that of the line with the word (-1: none)."""
    word, header, at = _header_word(lines, "OBJSENSE")
    sense = _SENSES.get(word.upper()) if word is not None else None
    return (sense, header, at) if sense is not None else (None, -1, -1)


def _objective_first(lines: list[str]) -> list[str]:
    """``lines`` without an ``OBJNAME`` section and with the ROWS line of the N row it names
    first among the rows: HiGHS' and OR-Tools' readers take the first N row for the objective
    (HiGHS without a word, OR-Tools refuses the section); SCIP and the format take the named
    one. Lines as given where there is no OBJNAME."""
    out = list(lines)
    name, header, at = _header_word(out, "OBJNAME")
    if header < 0:
        return out
    if name is None:
        raise MPSFormatError("its OBJNAME section names no row")
    del out[header: at + 1]
    start = next((j for j, raw in enumerate(out) if raw[:1].strip() and raw.split()[0].upper() == "ROWS"), None)
    if start is None:
        return out  # no ROWS section: HiGHS' reader names what is wrong
    end = next((j for j in range(start + 1, len(out)) if out[j][:1].strip()), len(out))
    row = next((j for j in range(start + 1, end) if out[j].split()[1:2] == [name] and out[j].split()[0].upper() == "N"),
               None)
    if row is None:
        raise MPSFormatError(f"OBJNAME names {name!r}, which no N row of the ROWS section declares")
    out.insert(start + 1, out.pop(row))
    return out


def _data_lines(lines: list[str], start: int = 0):
    """(number, section, line) of each data line of an MPS text, numbered from ``start``: the
    section is the last header's first word, upper-cased; empty and comment lines are skipped."""
    section = ""
    for no, raw in enumerate(lines, start):
        if not raw.strip() or raw.startswith(("*", "$")):
            continue
        if raw[0].isspace():
            yield no, section, raw
        else:
            section = raw.split()[0].upper()


# the section headers of MPS and its extensions (CPLEX's, Gurobi's, QPS) that HiGHS or SCIP know;
# HiGHS passes over a header it does not know, with the lines under it, without a word
_MPS_SECTIONS = frozenset({
    "NAME", "OBJSENSE", "OBJNAME", "ROWS", "LAZYCONS", "USERCUTS", "COLUMNS", "RHS", "RANGES", "BOUNDS", "SOS",
    "QUADOBJ", "QMATRIX", "QSECTION", "QCMATRIX", "CSECTION", "INDICATORS", "GENCONS", "PWLOBJ", "PWLNAM", "PWLCON",
    "ENDATA"})


def _refuse_unknown_section(lines: list[str], name: Path) -> None:
    """Refuse the file at a line that stands where a section header does (no blank before it)
    and is no header of ``_MPS_SECTIONS`` (in any case: HiGHS reads ``columns`` as ``COLUMNS``):
    one before the ROWS section, or a word alone. HiGHS passes over it, and reads the lines under
    it as the section's before, or drops them (a QP's ``OBJSENCE`` then ``MAX`` was read as a
    minimisation without a word). A data line without its blank, which HiGHS reads as data, is
    left to the readers."""
    header = ""
    for no, raw in enumerate(lines, 1):
        if not raw[:1].strip() or raw.startswith(("*", "$")):
            continue
        words = raw.split()
        if words[0].upper() in _MPS_SECTIONS:
            header = words[0].upper()
        elif header in ("", "NAME") or (len(words) == 1 and header not in ("OBJSENSE", "OBJNAME")):
            near = difflib.get_close_matches(words[0].upper(), sorted(_MPS_SECTIONS), n=1, cutoff=0.75)
            raise MPSFormatError(f"{name}: line {no}: {words[0]!r} is no section of the MPS format"
                                 + (f" (did you mean {near[0]}?)" if near else "")
                                 + "; HiGHS' reader passes over such a header, and the lines under it are lost or "
                                 "read as the section's before")


def _bounded_undeclared(p: Path, lp, hess, lines: list[str] | None = None) -> tuple[str, int] | None:
    """(column, line) of the first BOUNDS entry of the file ``p`` that HiGHS read (``lp``, its
    Hessian ``hess``) naming a column no COLUMNS line declares, or None. Such a column has no
    entry and no cost: the file is read again (unless its ``lines`` are given) only where one
    has neither."""
    import highspy

    a, n = lp.a_matrix_, lp.num_col_
    start = np.asarray(a.start_, dtype=np.int64)
    used = (np.bincount(np.asarray(a.index_, dtype=np.int64)[:start[-1] if start.size else 0], minlength=n) > 0
            if a.format_ == highspy.MatrixFormat.kRowwise else np.diff(start) > 0)
    used |= np.asarray(lp.col_cost_) != 0
    if hess.dim_ > 0:  # HiGHS stores a 0 on the diagonal of a column the quadratic section leaves out
        hs = np.asarray(hess.start_, dtype=np.int64)
        nonzero = np.asarray(hess.value_)[:hs[-1]] != 0
        used[np.repeat(np.arange(hess.dim_), np.diff(hs))[nonzero]] = True
        used[np.asarray(hess.index_, dtype=np.int64)[:hs[-1]][nonzero]] = True
    names = {lp.col_names_[j] for j in np.flatnonzero(~used)}
    if not names:
        return None
    declared: set[str] = set()
    for no, section, raw in _data_lines(_lines(p) if lines is None else lines, 1):
        tok = raw.split()
        if section == "COLUMNS" and "'MARKER'" not in raw.upper():
            declared.add(tok[0])
        elif section == "BOUNDS" and (col := _bound_names(tok)[1]) in names and col not in declared:
            return col, no
    return None


def _listed_both_ways(lines: list[str]) -> tuple[str, str, str, int, int] | None:
    """(section, x, y, line, line) of the first off-diagonal entry of Q that a QUADOBJ or
    QSECTION section (one triangle) lists both as ``x y`` and as ``y x``, or None."""
    seen: dict[tuple[str, str], int] = {}
    for no, section, raw in _data_lines(lines, 1):
        tok = raw.split()
        if section in ("QUADOBJ", "QSECTION") and len(tok) >= 3 and tok[0] != tok[1]:
            if (tok[1], tok[0]) in seen:
                return section, tok[1], tok[0], seen[tok[1], tok[0]], no
            seen.setdefault((tok[0], tok[1]), no)
    return None


def _vector(section: str, tok: list[str]) -> str:
    """The vector an RHS, RANGES or BOUNDS line's words name (``""``: none; the name is optional,
    so an RHS or RANGES line names one where its words are odd in number)."""
    if section == "BOUNDS":
        return _bound_names(tok)[0] or ""
    return tok[0] if len(tok) % 2 else ""


def _as_highs_reads(p: Path, head: list[str], *, in_order: bool = False,
                    keep: dict[str, str] | None = None, tail: str = "") -> str | None:
    """The file's text as HiGHS must be given it to read the file's problem, or None where that
    is the file itself: the objective row ``OBJNAME`` names first (``_objective_first``), rows
    of a ``LAZYCONS`` section as rows, no right-hand sides or ranges on free (N) rows other
    than the objective, and no range on the objective. Every reader drops such rows, and the
    format, SCIP and OR-Tools ignore these entries, but HiGHS 1.16 takes such a right-hand side
    for the objective's constant (and then calls the objective's own a duplicate) and warns of
    such a range as an entry it drops.
    ``in_order``: also the bounds of a column that sets one side twice (``MI`` then ``LO``) as
    the bounds they leave in the file's order (``_bounds_in_order``). ``keep``: the one vector
    of each RHS, RANGES or BOUNDS section holding several that is read (the first: the format's
    and SCIP's reading; HiGHS and OR-Tools read them all as one). ``head``: the lines up to
    COLUMNS; ``tail``: the text from the first RHS, RANGES or BOUNDS header on."""
    # CPLEX's LAZYCONS rows are rows of the model; HiGHS reads the header as a row "AZYCONS"
    first = [ln for ln in _objective_first(head) if not (ln[:1].strip() and ln.split()[0].upper() == "LAZYCONS")]
    free = [raw.split()[1] for _, section, raw in _data_lines(first)
            if section == "ROWS" and len(raw.split()) > 1 and raw.split()[0].upper() == "N"]
    keep = keep or {}
    # a range on the objective row: it bounds no row, so the format and SCIP ignore it and
    # HiGHS warns of an entry it drops
    ranged = bool(free) and re.search(r"(?mi)^ranges\b", tail) is not None and any(
        section == "RANGES" and free[0] in raw.split()[-2::-2][:2]
        for _, section, raw in _data_lines(tail.splitlines()))
    if first == head and len(free) < 2 and not in_order and not keep and not ranged:
        return None
    dropped, lines = set(free[1:]), _lines(p)
    changed = first != head
    lines = first + lines[len(head):]
    for no, section, raw in _data_lines(lines):
        tok = raw.split()
        if section in keep and _vector(section, tok) != keep[section]:
            lines[no], changed = "", True
        elif section in ("RHS", "RANGES"):
            lead = tok[:1] if len(tok) % 2 else []  # the set's name is optional
            pairs = list(zip(tok[len(lead)::2], tok[len(lead) + 1::2]))
            kept = [pair for pair in pairs if pair[0] not in dropped and (section == "RHS" or pair[0] != free[0])]
            if len(kept) < len(pairs):
                changed = True
                lines[no] = " ".join(["", *lead, *(w for pair in kept for w in pair)]) + "\n" if kept else ""
    if in_order:  # after the vectors left out: the bounds of the one read
        changed = _bounds_in_order(lines) or changed
    return "".join(lines) if changed else None


def _bound_names(tok: list[str]) -> tuple[str | None, str | None]:
    """(the vector's name or None, the column or None) of a BOUNDS line's words: the vector's
    name is optional, and UP, LO, FX, LI and UI carry a value (SC one of its own choosing)."""
    if tok[0].upper() in _VALUED_BOUNDS:
        return (tok[1], tok[2]) if len(tok) >= 4 else (None, tok[1]) if len(tok) == 3 else (None, None)
    return (tok[1], tok[2]) if len(tok) >= 3 else (None, tok[1]) if len(tok) == 2 else (None, None)


def _vector_names(text: str) -> dict[str, list[str]]:
    """The names of the vectors each RHS, RANGES and BOUNDS section of ``text`` holds, in the
    order they first appear (``""``: entries that name none)."""
    out: dict[str, list[str]] = {"RHS": [], "RANGES": [], "BOUNDS": []}
    for _, section, raw in _data_lines(text.splitlines()):
        if section in out and (name := _vector(section, raw.split())) not in out[section]:
            out[section].append(name)
    return out


# which side of a column's bounds each BOUNDS type sets (SC and SI: refused after reading)
_SETS_LOWER = {"LO", "MI", "FX", "FR", "BV", "LI"}
_SETS_UPPER = {"UP", "PL", "FX", "FR", "BV", "UI"}


def _bounds_in_order(lines: list[str]) -> bool:
    """Rewrite, in place, the BOUNDS entries of each column that sets one side twice (``MI``
    then ``LO``, ``FR`` then ``LO``, ``UP`` then ``PL``) as the bounds they leave when taken in
    the file's order, as SCIP and OR-Tools take them: HiGHS keeps the first and warns that it
    drops the rest. Returns whether anything changed."""
    by_col: dict[str, list] = {}  # column -> its entries (line, type, value) in the file's order
    for no, section, raw in _data_lines(lines):
        if section == "BOUNDS":
            tok = raw.split()
            kind, col = tok[0].upper(), _bound_names(tok)[1]
            if col is not None:
                by_col.setdefault(col, []).append((no, kind, tok[-1] if kind in _VALUED_BOUNDS else None))
    changed = False
    for col, mine in by_col.items():
        kinds = [kind for _, kind, _ in mine]
        if (sum(k in _SETS_LOWER for k in kinds) < 2 and sum(k in _SETS_UPPER for k in kinds) < 2) or any(
                k in ("SC", "SI") for k in kinds) or not all(v is None or _is_number(v) for _, _, v in mine):
            continue  # no side set twice; or refused, or pointed at, after reading
        lo = up = None  # None: the side is never set
        integer = False
        for _, kind, v in mine:
            x = _number(v) if v is not None else None
            lo = {"LO": x, "LI": x, "FX": x, "MI": -np.inf, "FR": -np.inf, "BV": 0.0}.get(kind, lo)
            up = {"UP": x, "UI": x, "FX": x, "PL": np.inf, "FR": np.inf, "BV": 1.0}.get(kind, up)
            integer = integer or kind in ("BV", "LI", "UI")
        out = []
        if lo is not None:
            out.append(f" MI BND {col}" if lo == -np.inf and not integer else
                       f" {'LI' if integer else 'LO'} BND {col} {max(lo, -1e30)!r}")
        if up is not None:
            out.append(f" PL BND {col}" if up == np.inf and not integer else
                       f" {'UI' if integer else 'UP'} BND {col} {min(up, 1e30)!r}")
        for k, (no, _, _) in enumerate(mine):
            lines[no] = "".join(ln + "\n" for ln in out) if k == 0 else ""
        changed = True
    return changed


# fixed MPS's six fields as slices of a line (columns 2-3, 5-12, 15-22, 25-36, 40-47, 50-61)
_F1, _F2, _F3, _F4, _F5, _F6 = (slice(1, 3), slice(4, 12), slice(14, 22), slice(24, 36), slice(39, 47),
                                slice(49, 61))
# what may stand for a blank inside a name in a free-format copy: the first the file does not hold
_BLANK_STANDS = "_~#@!|^"


def _fixed_with_blanks(head: list[str]) -> bool:
    """Whether a ROWS entry's name holds a blank (8 characters at most): HiGHS' sign that the
    file is fixed MPS, on which it switches to its fixed-format reader. ``head``: the lines up
    to COLUMNS."""
    names = (raw.strip()[1:].strip() for _, section, raw in _data_lines(head) if section == "ROWS")
    return any(len(name.split()) > 1 and len(name) <= 8 for name in names)


def _fixed_as_free(lines: list[str]) -> tuple[str, str]:
    """Fixed MPS as free MPS, line for line (so line numbers hold): each field cut at its
    columns, a blank inside a name written as a character the file does not hold. Returns that
    character and the text. HiGHS' fixed-format reader loops forever on an empty line, drops BV
    bounds, reads LI and UI as MI and refuses OBJSENSE unless its word starts in column 3."""
    blank = next((ch for ch in _BLANK_STANDS if not any(ch in raw for raw in lines)), None)
    if blank is None:
        raise MPSFormatError(f"it is fixed MPS with blanks in names and holds each of {' '.join(_BLANK_STANDS)}, "
                             "one of which the reader needs to stand for a blank; write it as free MPS, with names "
                             "without blanks")
    name = lambda ln, f: ln[f].strip().replace(" ", blank)  # noqa: E731
    pairs = lambda ln: [w for f in ((_F3, _F4), (_F5, _F6)) if ln[f[0]].strip() or ln[f[1]].strip()  # noqa: E731
                        for w in (name(ln, f[0]), ln[f[1]].strip())]
    out, section = [], ""
    for raw in lines:
        ln = raw.rstrip("\r\n")
        if not ln.strip() or ln.startswith(("*", "$")) or not ln[0].isspace():
            if ln[:1].strip() and not ln.startswith(("*", "$")):
                section = ln.split()[0].upper()
            out.append(raw)
            continue
        if section in ("OBJSENSE", "OBJNAME"):
            words = [ln.strip().replace(" ", blank)]
        elif section == "ROWS":
            words = [ln[_F1].strip(), name(ln, _F2)]
        elif section == "COLUMNS" and "'MARKER'" in ln.upper():
            words = [name(ln, _F2), *ln[_F3.start:].split()]
        elif section == "COLUMNS":
            words = [name(ln, _F2), *pairs(ln)]
        elif section in ("RHS", "RANGES"):
            words = [name(ln, _F2) or section, *pairs(ln)]  # a blank set name: one set
        elif section == "BOUNDS":
            words = [ln[_F1].strip(), name(ln, _F2) or "BOUNDS", name(ln, _F3), ln[_F4].strip()]
        elif section in ("QUADOBJ", "QMATRIX", "QSECTION"):
            words = [name(ln, _F2), name(ln, _F3), ln[_F4].strip()]
        else:  # a section the readers refuse or leave (SOS, INDICATORS, ...): as written
            out.append(raw)
            continue
        out.append("    " + " ".join(w for w in words if w) + "\n")
    return blank, "".join(out)


def _starred(text: str) -> str:
    """``text`` with each empty line a comment line (``*``): the same model to every reader,
    but HiGHS' fixed-format reader loops forever on an empty line."""
    return re.sub(r"(?m)^\n", "*\n", text)


def _normalised(lines: list[str]) -> list[str]:
    """The lines as OR-Tools' strict reader takes them: tabs as blanks (free MPS separates
    fields by any whitespace, as HiGHS reads them; OR-Tools splits at blanks only), the
    objective row first in place of an OBJNAME section (``_objective_first``), and the OBJSENSE
    section as ``OBJSENSE`` then ``MAX``/``MIN`` on its own line (OR-Tools refuses ``MAXIMIZE``
    there, which the MPS format and the other readers take), and a BOUNDS line without its
    vector's name given one (OR-Tools refuses ``UP x 4``, which HiGHS and SCIP read), a Fortran
    exponent as an E (``1.5D+01``: 1.5E+01, as HiGHS reads it), the section headers in upper
    case, and each data line begun with a blank."""
    out = _objective_first([ln.replace("\t", " ") for ln in lines])
    for no, raw in enumerate(out):
        if raw[:1].strip() and not raw.startswith(("*", "$")):
            # a header in lower case, or a data line without its blank (``_refuse_unknown_section``
            # passed it): HiGHS reads both, OR-Tools refuses them
            word = raw.split()[0]
            out[no] = raw.replace(word, word.upper(), 1) if word.upper() in _MPS_SECTIONS else " " + raw
    for no, section, raw in _data_lines(out):
        tok = raw.split()
        if fortran := [i for i in _value_at(section, tok, raw)[0] if _FORTRAN.fullmatch(tok[i])]:
            # OR-Tools refuses a Fortran exponent (1.5D+01), which HiGHS reads as 1.5E+01
            for i in fortran:
                tok[i] = tok[i].replace("d", "E").replace("D", "E")
            out[no] = raw = " ".join(["", *tok]) + "\n"
        if section == "BOUNDS" and len(tok) > 1 and _bound_names(tok)[0] is None:
            out[no] = " ".join(["", tok[0], "BND", *tok[1:]]) + "\n"
    sense, header, at = _objsense(out)
    if sense is not None:
        out[header] = "OBJSENSE\n"
        if at != header:
            out[at] = f"    {sense}\n"
        else:
            out.insert(header + 1, f"    {sense}\n")
    return out


_LP_SECTIONS = ("minimize", "maximize", "minimise", "maximise", "minimum", "maximum", "min", "max", "subject",
                "such", "st", "s.t.", "st.", "bounds", "bound", "general", "generals", "gen", "integer", "integers",
                "binary", "binaries", "bin", "semi-continuous", "semi", "semis", "sos", "end")
_LP_NAME_LISTS = ("general", "generals", "gen", "integer", "integers", "binary", "binaries", "bin")


def _lp_binaries(lines: list[str]) -> set[str]:
    """The names an LP file's Binary section lists (``binary``, ``binaries`` or ``bin``)."""
    names: set[str] = set()
    inside = False
    for raw in lines:
        words = raw.split("\\", 1)[0].split()  # a backslash starts a comment
        if not words:
            continue
        head = words[0].lower()
        if head in _LP_SECTIONS and (len(words) == 1 or head in ("subject", "such") or head in _LP_NAME_LISTS):
            inside = head in ("binary", "binaries", "bin")
            words = words[1:] if head in _LP_NAME_LISTS else []  # "Binaries x y" on one line, as HiGHS reads it
        if inside:
            names.update(words)
    return names


def _no_endata(lines: list[str]) -> str:
    """``" It ends at line N, in SECTION, with no ENDATA line: is it truncated?"``, or ``""``
    where the file has its ENDATA line."""
    if any(ln.strip().upper() == "ENDATA" for ln in lines):
        return ""
    section, last = "", 0
    for no, raw in enumerate(lines, 1):
        if raw.strip() and not raw.startswith(("*", "$")):
            last = no
            if not raw[0].isspace():
                section = raw.split()[0].upper()
    where = f"at line {last}, in {section}," if section else f"at line {last}"
    return f" It ends {where} with no ENDATA line: is it truncated?"


@dataclass(frozen=True)
class _ReadThrough:
    """What one pass through the file finds: whether it holds an empty line, and its text from
    the first RHS, RANGES or BOUNDS header on (``""``: none), where the vectors are named."""

    empty_line: bool
    tail: str
    # (line, byte) of the first byte that is not UTF-8, where the file is not UTF-8 text (a
    # Latin-1 file's accented names): read as Latin-1, where every byte is a character
    not_utf8: tuple[int, int] | None = None

    @property
    def encoding(self) -> str:
        return "utf-8" if self.not_utf8 is None else "latin-1"


# an MPS section header after COLUMNS, alone on its line
_TAIL_HEADER = re.compile(rb"(?m)^(RHS|RANGES|BOUNDS)[ \t\r]*$")


def _check_compression(p: Path) -> _ReadThrough:
    """Refuse a file whose name and contents disagree on gzip (the readers go by the name:
    OR-Tools' read a gzipped ``.mps`` as text and blamed a missing ENDATA line), and a
    truncated or corrupt gzip file: HiGHS reads such a stream as the model up to where it
    stops, without a word. Returns what the same pass through the file finds (``_ReadThrough``)."""
    import gzip

    with p.open("rb") as f:
        head = f.read(2)
    named = p.suffix.lower() == ".gz"
    if head == b"\x1f\x8b" and not named:
        raise MPSFormatError(f"{p}: the file is gzip-compressed but its name does not end in .gz; rename it "
                             f"{p.name}.gz (the readers go by the name)")
    if named and head != b"\x1f\x8b":
        raise MPSFormatError(f"{p}: the name ends in .gz but the file is not gzip-compressed (it starts {head!r}); "
                             f"rename it {p.with_suffix('').name} (the readers go by the name)")
    empty, last = False, b"\n"  # an empty first line
    tail: list[bytes] | None = None
    pending = b""  # the unfinished last line of the chunk before
    utf8, lines, bad = codecs.getincrementaldecoder("utf-8")(), 0, None
    try:
        with (gzip.open if named else open)(p, "rb") as f:
            while chunk := f.read(1 << 22):
                if bad is None:
                    try:
                        utf8.decode(chunk)
                        lines += chunk.count(b"\n")
                    except UnicodeDecodeError as exc:
                        # exc.object: the few bytes the decoder held (no newline among them), then chunk
                        bad = (lines + exc.object[:exc.start].count(b"\n") + 1, exc.object[exc.start])
                empty = empty or b"\n\n" in last + chunk[:1] or b"\n\n" in chunk
                last = chunk[-1:]
                if tail is not None:
                    tail.append(chunk)
                    continue
                text = pending + chunk
                if found := _TAIL_HEADER.search(text):
                    tail = [text[found.start():]]
                else:
                    pending = text[text.rfind(b"\n") + 1:]
    except (EOFError, OSError) as exc:
        raise MPSFormatError(f"{p}: the gzip stream is truncated or corrupt ({exc})") from exc
    if bad is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends inside a character
            bad = (lines + 1, utf8.getstate()[0][0])
    found = _ReadThrough(empty_line=empty, tail="", not_utf8=bad)
    return dataclasses.replace(found, tail=b"".join(tail or []).decode(found.encoding, errors="replace"))


def _lines(p: Path, *, until: str | None = None, encoding: str = "utf-8") -> list[str]:
    """The file's text lines, plain or gzipped (a whole stream: ``_check_compression``); with
    ``until``, only those up to that section's header line (``COLUMNS``: OBJSENSE, OBJNAME and
    ROWS come before it)."""
    import gzip

    opener = gzip.open if p.suffix.lower() == ".gz" else open
    with opener(p, "rt", encoding=encoding, errors="replace") as f:
        if until is None:
            return f.readlines()
        head: list[str] = []
        for raw in f:
            head.append(raw)
            if raw[:1].strip() and raw.split()[0].upper() == until:
                break
        return head


def _value_at(section: str, tok: list[str], raw: str) -> tuple[list[int], tuple[str, ...]]:
    """Where a data line of ``section`` holds its values: the indices of its whitespace-split
    words ``tok`` (free MPS), and its fixed MPS fields 4 and 6 (names there may hold blanks)."""
    if section == "COLUMNS" and "'MARKER'" not in raw.upper():
        return list(range(2, len(tok), 2)), (raw[24:36], raw[49:61])
    if section in ("RHS", "RANGES"):  # the vector's name is optional
        return list(range(2 if len(tok) % 2 else 1, len(tok), 2)), (raw[24:36], raw[49:61])
    if section == "BOUNDS" and tok[0].upper() in _VALUED_BOUNDS:
        return [len(tok) - 1], (raw[24:36],)
    if section in ("QUADOBJ", "QMATRIX", "QSECTION"):
        return [2] if len(tok) > 2 else [], (raw[24:36],)
    return [], ()


def _first_bad_number(lines: list[str], *, fixed: bool = True) -> tuple[int, str, str] | None:
    """(line, token, section) of the first value field that does not parse as a number, or
    None. A line passes if its value fields parse in either layout: split on whitespace (free
    MPS), or (``fixed``) at fixed MPS's columns 25-36 and 50-61 (names there may hold blanks)."""
    for no, section, raw in _data_lines(lines, 1):
        tok = raw.split()
        at, fields = _value_at(section, tok, raw)
        finite = section in ("COLUMNS", "QUADOBJ", "QMATRIX", "QSECTION")
        bad = [tok[i] for i in at if not _is_number(tok[i], finite=finite)]
        fixed_ok = fixed and bool(fields) and bool(fields[0].strip()) and all(
            _is_number(v, finite=finite) for v in fields if v.strip())
        if bad and not fixed_ok:
            return no, bad[0], section
    return None


def _fortran_in(no: int, section: str, tok: list[str], raw: str) -> tuple[int, str, str] | None:
    """(line, token, section) where the data line ``raw`` (its words ``tok``) writes a value with
    a Fortran exponent other than 0 (``1.5D+01``; ``1.5D0`` reads as 1.5 whether the exponent is
    read or not), or None."""
    for i in _value_at(section, tok, raw)[0]:
        if (m := _FORTRAN.fullmatch(tok[i])) and int(m.group(2)) != 0:
            return no, tok[i], section
    return None


# a number as HiGHS' and SCIP's readers parse one (C's strtod): decimal, with an exponent of
# E or, Fortran's, D (which HiGHS reads and SCIP's reader cuts off), or hexadecimal; Python's
# float() also takes ``1_000`` and other digits than ASCII's, which the readers cut short
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?", re.ASCII)
_FORTRAN = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[dD]([+-]?\d+)", re.ASCII)
_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?", re.ASCII)
_WORDS = re.compile(r"[+-]?(inf|infinity|nan)", re.IGNORECASE)


def _number(v: str) -> float | None:
    """The value of an MPS number field as HiGHS reads it, or None where it is not a number."""
    if _DECIMAL.fullmatch(v):
        return float(v.replace("d", "e").replace("D", "e"))
    if _HEX.fullmatch(v):
        return float.fromhex(v)
    return float(v) if _WORDS.fullmatch(v) else None


def _is_number(v: str, *, finite: bool = False) -> bool:
    """A number, not NaN; finite: not infinite either (coefficients, where ``inf`` parses as a
    float but is no value; a bound or right-hand side may be infinite)."""
    x = _number(v)
    if x is None:
        return False
    return bool(np.isfinite(x)) if finite else not np.isnan(x)


def solution_dict(qp: QPData, x: np.ndarray | None, y: np.ndarray | None, objective: float) -> dict:
    """A solution in the file's own terms: the objective in its own sense, primal values by
    column name, row duals by row name in HiGHS' convention for the file's own objective
    (``c = A'y + z``: negated for a maximisation). Non-finite numbers become None (JSON). A name
    that repeats (an LP file may give two rows one name) is keyed ``name#i`` from its second
    place on, ``i`` the row's place counting from 0, so no value is lost."""
    sign = -1.0 if qp.maximize else 1.0

    def names(given: tuple[str, ...] | None, k: int, prefix: str) -> list[str]:
        seen: set[str] = set()
        out = []
        for i, v in enumerate(given or (f"{prefix}{i}" for i in range(k))):
            out.append(v if v not in seen else f"{v}#{i}")
            seen.add(v)
        return out

    num = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731
    return {
        "sense": "maximize" if qp.maximize else "minimize",
        "objective": num(sign * objective),
        "x": None if x is None else dict(zip(names(qp.var_names, qp.n, "c"), map(num, x), strict=True)),
        "y": None if y is None else dict(zip(names(qp.con_names, qp.m, "r"), map(num, sign * np.asarray(y)),
                                             strict=True)),
    }
