"""pyscipopt models (linear constraints, SCIP's special cases of them included, any variable
types, and a quadratic objective in SCIP's epigraph form) <-> canonical ``QPData``.

Out: ``from_scip`` reads a model. Back: ``write_back`` stores an answer in the model as a SCIP
solution (``model.getVal(var)``, ``model.getBestSol()`` read it; a later ``model.optimize()``
starts from it, after SCIP's own feasibility check) and returns the duals by constraint.

SCIP takes no quadratic objective: a QP is written as ``min t`` with ``q(x) <= t``
(``pyscipopt.recipes.nonlinear.set_nonlinear_objective``). That constraint and its free
variable ``t`` are read back as the canonical form's ``P`` and ``c`` (``_epigraph``), and ``t``
is written back at ``q(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..canonical import InvalidProblemError, QPData

__all__ = ["from_scip", "to_scip_solution", "write_back", "check_problem_stage", "LINEAR_HANDLERS"]

# SCIP's linear constraint and the special cases its presolve upgrades linear rows to (a CIP file
# of a presolved model holds them): pyscipopt reads each one's row through SCIP's generic
# getConsVals/getLhs/getRhs, which answer for these handlers only (getConsVals on an SOS1 crashed)
LINEAR_HANDLERS = ("linear", "setppc", "logicor", "knapsack", "varbound")


@dataclass(frozen=True)
class _Epigraph:
    """A quadratic objective in SCIP's epigraph form: the constraint at ``cons`` (position in
    ``model.getConss()``) bounds the free variable at ``var`` (in ``model.getVars()``), whose
    objective pushes it onto that bound, ``t = gamma * (q(x) + l(x)) + const``.
    ``quad``: (i, j, coef) of q over SCIP's variable positions (i == j: a square), ``lin``:
    (i, coef) of l."""

    cons: int
    var: int
    gamma: float
    const: float
    quad: tuple[tuple[int, int, float], ...]
    lin: tuple[tuple[int, float], ...]

    def value(self, x: np.ndarray) -> float:
        """t at the point ``x`` (all of SCIP's variables, ``t``'s own entry unused)."""
        q = sum(c * x[i] * x[j] for i, j, c in self.quad)
        return self.gamma * (q + sum(c * x[i] for i, c in self.lin)) + self.const


def _row(model: Any, cons: Any, variables: list[Any], pos: dict[int, int],
         by_name: dict[str, list[int]]) -> tuple[list[int], list[float], float]:
    """The linear row of ``cons`` (one of LINEAR_HANDLERS) over ``variables`` (``model.getVars()``):
    their positions, coefficients, and a constant to move to its sides. A negated variable (``~x``
    in a CIP file of a presolved model: SCIP's ``x_neg``, lb + ub - x, a binary's 1 - x) is written
    in ``x``; pyscipopt does not give the variable it negates, so it is found by SCIP's name for it."""
    cols, vals, const = [], [], 0.0
    for var, coef in zip(model.getConsVars(cons), model.getConsVals(cons), strict=True):
        j = pos.get(var.getIndex())
        if j is not None:
            cols.append(j)
            vals.append(coef)
            continue
        base = by_name.get(var.name[:-4], []) if var.getStatus() == "NEGATED" and var.name.endswith("_neg") else []
        if len(base) != 1:
            raise InvalidProblemError(
                f"pyscipopt model {model.getProbName()!r}: constraint {cons.name!r} ({cons.getConshdlrName()}) holds "
                f"{var.name!r}, a {var.getStatus().lower()} variable" + (f" of {len(base)} variables named "
                                                                         f"{var.name[:-4]!r}" if base else "")
                + ", not one of the model's own; write the model with model.writeProblem('model.mps') and read that")
        # SCIP's negation of x is (lb + ub of x) - x
        shift = var.getLbOriginal() + variables[base[0]].getUbOriginal()
        cols.append(base[0])
        vals.append(-coef)
        const += coef * shift
    return cols, vals, const


def _names(variables: list[Any]) -> dict[str, list[int]]:
    """Positions of the variables by name (SCIP lets two share one)."""
    by_name: dict[str, list[int]] = {}
    for j, v in enumerate(variables):
        by_name.setdefault(v.name, []).append(j)
    return by_name


def _epigraph(model: Any) -> _Epigraph | None:
    """The model's quadratic objective in epigraph form, or None where it has no nonlinear
    constraint. Any other nonlinear constraint is refused, naming what fits the canonical form."""
    inf = model.infinity()
    variables = model.getVars(transformed=False)
    pos = {v.getIndex(): j for j, v in enumerate(variables)}
    name = model.getProbName()
    found: _Epigraph | None = None
    linear_vars: set[int] = set()
    sense = -1.0 if model.getObjectiveSense() == "maximize" else 1.0
    for k, cons in enumerate(model.getConss(transformed=False)):
        if cons.getConshdlrName() in LINEAR_HANDLERS:
            # (a negated variable, never t's, is not among the model's own)
            linear_vars.update(pos.get(v.getIndex(), -1) for v in model.getConsVars(cons))
            continue

        def refuse(why: str) -> InvalidProblemError:
            return InvalidProblemError(
                f"pyscipopt model {name!r}: constraint {cons.name!r} ({cons.getConshdlrName()}) {why}; the canonical "
                "form takes linear constraints and one quadratic objective, written as SCIP's epigraph q(x) <= t "
                "with t free and in the objective alone (pyscipopt.recipes.nonlinear.set_nonlinear_objective)")

        if cons.getConshdlrName() != "nonlinear":
            raise refuse(f"is not a linear row (SCIP's {', '.join(LINEAR_HANDLERS)}) nor quadratic")
        try:
            bilinear, squares, linear = model.getTermsQuadratic(cons)
        except AssertionError:  # pyscipopt's word for a nonlinear constraint that is not quadratic
            raise refuse("is not quadratic") from None
        if found is not None:
            raise refuse("is a second quadratic constraint")
        held = [v for v1, v2, _ in bilinear for v in (v1, v2)] + [v for v, _, _ in squares] + [v for v, _ in linear]
        foreign = [v for v in held if v.getIndex() not in pos]
        if foreign:
            raise refuse(f"holds {foreign[0].name!r}, a {foreign[0].getStatus().lower()} variable, not one of the "
                         "model's own (a negated x is lb + ub - x: write it so)")
        free = [(pos[v.getIndex()], b) for v, b in linear
                if v.getLbOriginal() <= -inf and v.getUbOriginal() >= inf and v.vtype() == "CONTINUOUS"
                and v.getObj() != 0]
        if len(free) != 1:
            raise refuse("has no free continuous variable t in the objective, linear in it (t = "
                         "model.addVar(lb=None): a bound on t is one the objective's value would have to keep)"
                         if not free else
                         "has several free variables in the objective, linear in it")
        t, b = free[0]
        lhs, rhs = model.getLhs(cons), model.getRhs(cons)
        c_t = sense * variables[t].getObj()  # t's cost in the canonical minimisation
        # t is pushed down (c_t > 0) onto a lower bound, or up onto an upper one: b t + q + l on one side
        below = (b < 0 and rhs < inf and lhs <= -inf, b > 0 and lhs > -inf and rhs >= inf)
        above = (b < 0 and lhs > -inf and rhs >= inf, b > 0 and rhs < inf and lhs <= -inf)
        side = below if c_t > 0 else above
        if not any(side):
            raise refuse("does not bound t on the side its objective pushes it to")
        bound = (rhs if b < 0 else lhs) if c_t > 0 else (lhs if b < 0 else rhs)
        quad = tuple((pos[v1.getIndex()], pos[v2.getIndex()], c) for v1, v2, c in bilinear) + tuple(
            (pos[v.getIndex()], pos[v.getIndex()], sq) for v, sq, _ in squares if sq != 0)
        lin = tuple((pos[v.getIndex()], lc) for v, _, lc in squares if lc != 0) + tuple(
            (j, c) for j, c in ((pos[v.getIndex()], c) for v, c in linear) if j != t)
        if any(t in (i, j) for i, j, _ in quad):
            raise refuse("has t in a quadratic term")
        found = _Epigraph(cons=k, var=t, gamma=-1.0 / b, const=bound / b, quad=quad, lin=lin)
    if found is not None and found.var in linear_vars:
        raise InvalidProblemError(f"pyscipopt model {name!r}: the objective's variable "
                                  f"{variables[found.var].name!r} also appears in a linear constraint; the canonical "
                                  "form takes a quadratic objective's epigraph variable in the objective alone")
    return found


def from_scip(model: Any) -> QPData:
    """Canonical form of a ``pyscipopt.Model``: linear constraints, and a quadratic objective in
    SCIP's epigraph form (read into ``P`` and ``c``, its variable dropped). The model's original
    problem, also after ``model.presolve()`` or ``model.optimize()`` (whose transformed problem
    SCIP's calls return by default: presolve's reductions had been read as the problem).

    Variables keep SCIP's order (``model.getVars()``, less an epigraph's variable); integrality
    marks binary and integer variables. A maximisation becomes a minimisation of its negation.
    """
    inf = model.infinity()
    epi = _epigraph(model)
    variables = model.getVars(transformed=False)
    kept = [j for j in range(len(variables)) if epi is None or j != epi.var]
    # by SCIP's own index, not by name: SCIP lets two variables share a name
    pos = {v.getIndex(): j for j, v in enumerate(variables)}
    by_name = _names(variables)
    col = {j: i for i, j in enumerate(kept)}
    n = len(kept)
    rows, cols, vals, lo, hi, names = [], [], [], [], [], []
    for cons in model.getConss(transformed=False):
        if cons.getConshdlrName() not in LINEAR_HANDLERS:
            continue  # the epigraph (any other was refused)
        i = len(lo)
        at, coefs, const = _row(model, cons, variables, pos, by_name)
        rows += [i] * len(at)
        cols += [col[j] for j in at]
        vals += coefs
        lhs, rhs = model.getLhs(cons), model.getRhs(cons)
        lo.append(lhs - const if lhs > -inf else -np.inf)
        hi.append(rhs - const if rhs < inf else np.inf)
        names.append(cons.name)
    m = len(lo)
    fix = lambda v: np.where(np.asarray(v) <= -inf, -np.inf, np.where(np.asarray(v) >= inf, np.inf, v))  # noqa: E731
    sense = -1.0 if model.getObjectiveSense() == "maximize" else 1.0
    c = sense * np.array([variables[j].getObj() for j in kept], dtype=float)
    offset = sense * model.getObjoffset()
    P = None
    if epi is not None:
        # t's cost times t = gamma (q + l) + const: 1/2 x'Px + c'x + offset in the kept variables
        w = sense * variables[epi.var].getObj() * epi.gamma
        pi, pj, pv = [], [], []
        for a, b, v in epi.quad:
            if a == b:
                pi.append(col[a]), pj.append(col[a]), pv.append(2 * w * v)
            else:
                pi += [col[a], col[b]]
                pj += [col[b], col[a]]
                pv += [w * v, w * v]
        P = sp.csr_matrix((pv, (pi, pj)), shape=(n, n))
        for a, v in epi.lin:
            c[col[a]] += w * v
        offset += sense * variables[epi.var].getObj() * epi.const
        # a negative diagonal entry at any size; the eigenvalues where they cost well under a solve
        tol = -1e-9 * max(1.0, abs(P).max())
        if P.diagonal().min(initial=0.0) < tol or (n <= 200 and np.linalg.eigvalsh(P.toarray()).min() < tol):
            raise InvalidProblemError(
                f"pyscipopt model {model.getProbName()!r}: the quadratic objective (constraint "
                f"{model.getConss(transformed=False)[epi.cons].name!r}) is not convex "
                f"{'(minimised)' if sense > 0 else '(maximised: it must be concave)'}; the backends solve convex QPs")
    lb = fix([variables[j].getLbOriginal() for j in kept])
    ub = fix([variables[j].getUbOriginal() for j in kept])
    # an implied integral variable ("IMPLINT", continuous and implied integral in SCIP 10) stays
    # continuous: SCIP takes its integrality as given, not enforced (where the claim is false its
    # optimum may be fractional there), and where the claim holds both readings have one optimum
    integ = np.array([variables[j].vtype() in ("BINARY", "INTEGER") for j in kept])
    return QPData(
        c=c, A=sp.csr_matrix((vals, (rows, cols)), shape=(m, n)), l=fix(lo), u=fix(hi), lb=lb, ub=ub, P=P,
        integrality=integ, offset=offset, name=model.getProbName() or "scip",
        var_names=tuple(variables[j].name for j in kept), con_names=tuple(names), maximize=sense < 0,
    )


def to_scip_solution(model: Any, x: np.ndarray) -> Any:
    """A SCIP solution object holding ``x`` (in ``model.getVars()`` order), not yet added."""
    sol = model.createSol()
    for v, val in zip(model.getVars(), x, strict=True):
        model.setSolVal(sol, v, float(val))
    return sol


def check_problem_stage(model: Any) -> None:
    """Raise ValueError unless ``model`` is in SCIP's problem stage, where solutions can be added
    (after ``model.optimize()`` SCIP refuses them until ``model.freeTransform()``)."""
    stage = model.getStage()
    if stage != 1:  # SCIP_STAGE_PROBLEM
        raise ValueError(f"pyscipopt model {model.getProbName()!r} is past its problem stage (SCIP stage {stage}, "
                         "e.g. already optimised): call model.freeTransform() first, then solve it here")


def write_back(model: Any, qp: QPData, x: np.ndarray, y: np.ndarray | None) -> tuple[Any, dict[Any, float]]:
    """Store ``x`` (n,) in ``model`` as a SCIP solution and map ``y`` (m,) onto its constraints.

    ``qp``: ``from_scip(model)``. Returns the added ``pyscipopt.Solution`` (``sol[var]``) and the
    duals keyed by ``pyscipopt.Constraint`` as ``model.getDualsolLinear`` gives them: those of
    the minimisation SCIP solves (``c = A'y + z`` with a maximisation's ``c`` negated), so the
    same for ``maximize f`` as for ``minimize -f``; empty without ``y``. SCIP stores the
    solution without checking it; ``optimize`` checks it.
    """
    check_problem_stage(model)
    variables, conss = model.getVars(), model.getConss()
    epi = _epigraph(model)
    extra = int(epi is not None)  # the epigraph's variable and constraint are not the answer's
    if len(variables) != qp.n + extra or len(conss) != qp.m + extra:
        raise ValueError(f"pyscipopt model {model.getProbName()!r} has {len(variables)} variables and {len(conss)} "
                         f"constraints, the answer {qp.n} and {qp.m}: was the model changed after from_scip?")
    full = np.asarray(x, dtype=float)
    if epi is not None:
        full = np.insert(full, epi.var, 0.0)
        full[epi.var] = epi.value(full)  # t on its bound: the objective's value, as SCIP's own answer has it
    sol = to_scip_solution(model, full)
    model.addSol(sol, free=False)
    # pyscipopt caches the best solution; only getBestSol refreshes the cache model.getObjVal reads (an
    # AssertionError without it)
    model.getBestSol()
    linear = [cons for cons in conss if cons.getConshdlrName() in LINEAR_HANDLERS]
    duals = {} if y is None else {cons: float(v) for cons, v in zip(linear, y, strict=True)}
    return sol, duals
