"""How well does a solution carried to another mesh land? A probe, no model: (1) a smooth vector
field's flux and edge dofs carried from an n x n mesh to a finer one (``key_transfer`` through
the dofs' responses, ``PDEData.dof_vectors``), relative L2 error per element; (2) the exact
answer of a test builder on 8 x 8 carried to finer meshes: its relative L2 error against the
finer mesh's answer, its residual ||b - A x0|| / ||b||, and scipy's CG + Jacobi iterations to
1e-8 from it and from zero. Run it at two commits to compare them (session 106: dd008c0 and
64e0158, in benchmarks/HISTORY.md).

Usage: python benchmarks/mesh_transfer_probe.py [--builders build_finite_volume build_annulus ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dolfinx_solver  # noqa: E402,F401  (before dolfinx)

import basix.ufl  # noqa: E402
import dolfinx  # noqa: E402
from mpi4py import MPI  # noqa: E402

from learned_solvers.formats.dolfinx import _layout, to_pde  # noqa: E402
from learned_solvers.models.mesh_anchors import key_transfer  # noqa: E402
from learned_solvers.models.mesh_graph import dof_keys  # noqa: E402

ELEMENTS = [(("RT", 1), "triangle", (8, 12)), (("RT", 2), "triangle", (8, 12)), (("BDM", 1), "triangle", (8, 12)),
            (("N1curl", 2), "triangle", (8, 12)), (("RT", 3), "triangle", (8, 12)),
            (("RTCF", 1), "quadrilateral", (8, 12)), (("S", 3), "quadrilateral", (8, 12)),
            (("N1curl", 1), "tetrahedron", (4, 6)), (("RT", 2), "tetrahedron", (4, 6)),
            (("N1curl", 2), "tetrahedron", (4, 6))]
FIELD = [lambda x: np.sin(3 * x[0]) * x[1], lambda x: np.cos(2 * x[1]) + x[0] ** 2, lambda x: x[2] * x[0] + 1]


def _dofs(element, cell: str, m: int):
    """(points, responses, the field's dofs in the adapter's signs) on an m-a-side mesh."""
    cube = cell == "tetrahedron"
    msh = getattr(dolfinx.mesh, "create_unit_cube" if cube else "create_unit_square")(
        MPI.COMM_WORLD, *(m,) * (3 if cube else 2), cell_type=getattr(dolfinx.mesh.CellType, cell))
    V = dolfinx.fem.functionspace(msh, basix.ufl.element(element[0], msh.basix_cell(), element[1]))
    f = dolfinx.fem.Function(V)
    rows = 1 if element[0] == "S" else msh.geometry.dim  # serendipity: a scalar space of moments
    f.interpolate(lambda x: np.vstack([c(x) for c in FIELD[:rows]]))
    n = V.dofmap.index_map.size_local
    xyz, _, _, sign, vectors = _layout(V, n)
    return xyz, vectors, f.x.array[:n] * sign


def _cg_iterations(A: sp.csr_matrix, b: np.ndarray, x0: np.ndarray) -> int:
    its = [0]
    spla.cg(A, b, x0=x0, rtol=1e-8, maxiter=10_000, M=sp.diags(1.0 / A.diagonal()),
            callback=lambda _: its.__setitem__(0, its[0] + 1))
    return its[0]


def _answer(builder: str, n: int):
    from tests import dolfinx_user_problem

    fam = getattr(dolfinx_user_problem, builder)(n=n)
    # each parameter 0.4 of the way through its range: a centred source's symmetry would flatter the zero guess
    fam.apply({name: lo + 0.4 * (hi - lo) for name, (lo, hi) in fam.params.items()})
    pde = to_pde(fam.problem, fields=fam.fields)
    return pde, spla.spsolve(pde.operator.tocsc(), pde.rhs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builders", nargs="*", default=["build_finite_volume", "build_annulus", "build_curl_curl"])
    args = ap.parse_args()
    print("flux and edge dofs of a smooth field carried to a finer mesh (relative L2 error)")
    for element, cell, (m0, m1) in ELEMENTS:
        (xa, va, ua), (xb, vb, ub) = _dofs(element, cell, m0), _dofs(element, cell, m1)
        u = key_transfer(xa, xb, xa.shape[1], src_vec=va, dst_vec=vb) @ ua
        err = np.linalg.norm(u - ub) / np.linalg.norm(ub)
        print(f"  {element[0]}{element[1]} on {cell}, {m0} -> {m1} a side: {err:.4f}")
    for builder in args.builders:
        pc, uc = _answer(builder, 8)
        print(f"{builder}: the exact 8 x 8 answer carried to finer meshes")
        for n in (12, 16, 24):
            pf, uf = _answer(builder, n)
            x0 = key_transfer(dof_keys(pc), dof_keys(pf), pc.coords.shape[1], src_vec=pc.dof_vectors,
                              dst_vec=pf.dof_vectors) @ uc
            err = np.linalg.norm(x0 - uf) / np.linalg.norm(uf)
            res = np.linalg.norm(pf.rhs - pf.operator @ x0) / np.linalg.norm(pf.rhs)
            print(f"  {n} x {n}: error {err:.3e}, residual {res:.3f}, CG + Jacobi from it "
                  f"{_cg_iterations(pf.operator, pf.rhs, x0)}, from zero {_cg_iterations(pf.operator, pf.rhs, 0 * uf)}")


if __name__ == "__main__":
    main()
