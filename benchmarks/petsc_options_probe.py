"""Do a KSP backend's PETSc options take effect? A probe, no model: each solve runs as
``starter.solve(problem, backend=KSPBackend(options=...))`` runs it (``private_where_switched``
on the problem's own KSP), cold, to rtol 1e-8. (1) CG + GAMG on the test builder ``build:n=32``
with options the PC reads itself (``pc_gamg_threshold``) and at its set-up (``mg_levels_*``);
(2) the Stokes test builder whose script sets a fieldsplit on its PC object, as its own split
and as the split a PC's options copy (before the split's first solve too): additive (MINRES) and
Schur (GMRES, lower, selfp). Prints the iterations, or the error a solve raised. Run it at two commits to compare them (session
107: 3b5cdef and HEAD, in benchmarks/HISTORY.md).

Usage: python benchmarks/petsc_options_probe.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dolfinx_solver  # noqa: E402,F401  (before petsc4py)

from learned_solvers.backends.petsc import KSPBackend, kept_settings, private_where_switched  # noqa: E402
from learned_solvers.formats.dolfinx import petsc_handles  # noqa: E402
from problems.registry import make_family  # noqa: E402


def iterations(prob, **backend) -> str:
    be = KSPBackend(rtol=1e-8, **backend)
    h = petsc_handles(prob)
    try:
        with kept_settings(h), private_where_switched(h, be) as hb:
            res = be.solve(hb)
    except Exception as exc:  # the probe reports what a user met
        return f"error: {str(exc).splitlines()[0][:80]}"
    return f"{res.iterations} ({res.status})"


def loaded(spec: str):
    fam = make_family(spec)
    return fam.load(fam.sample(1, seed=5)[0])[0]


def main() -> None:
    prob = loaded("dolfinx:tests.dolfinx_user_problem:build:n=32")
    print("CG + GAMG, build:n=32")
    for options in ({}, {"pc_gamg_threshold": 0.1}, {"mg_levels_ksp_max_it": 6}, {"mg_levels_pc_type": "sor"}):
        print(f"  {str(options):40s} {iterations(prob, ksp_type='cg', pc_type='gamg', options=options)}")

    for name, ksp, split in (("additive, MINRES", "minres", {"pc_fieldsplit_type": "additive"}),
                             ("Schur lower selfp, GMRES", "gmres",
                              {"pc_fieldsplit_type": "schur", "pc_fieldsplit_schur_fact_type": "lower",
                               "pc_fieldsplit_schur_precondition": "selfp"})):
        prob = loaded("dolfinx:tests.dolfinx_user_problem:build_stokes_fieldsplit")
        if ksp == "gmres":  # the script's split made a Schur one, on its PC object
            from petsc4py import PETSc

            pc = prob.solver.getPC()
            prob.solver.setType("gmres")
            pc.setFieldSplitType(PETSc.PC.CompositeType.SCHUR)
            pc.setFieldSplitSchurFactType(PETSc.PC.FieldSplitSchurFactType.LOWER)
            pc.setFieldSplitSchurPreType(PETSc.PC.FieldSplitSchurPreType.SELFP)
        # in this order: a split's count can move with its history (its inner solves' state)
        print(f"Stokes, the script's fieldsplit ({name})")
        for what, options in (("the split copied, before any solve", split), ("its own split", None),
                              ("its own split again", None), ("ksp_gmres_restart 30 (a KSP option)",
                                                              {"ksp_gmres_restart": 30}),
                              ("the split copied again", split)):
            print(f"  {what:40s} {iterations(prob, ksp_type=None, pc_type=None, options=options or {})}")


if __name__ == "__main__":
    main()
