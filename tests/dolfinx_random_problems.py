"""Seeded random dolfinx problems as users write them, for the adapter's property tests
(`tests/test_pde.py`, serially, and `tests/mpi_random_script.py`, under mpirun)."""

import numpy as np

try:
    import dolfinx_solver  # noqa: F401  (the PyPI wheel: before dolfinx; conda-forge's dolfinx has none)
except ImportError:
    pass
import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402
import ufl  # noqa: E402
from mpi4py import MPI  # noqa: E402

_SIDES = {  # boundary parts a random problem holds fixed: (axis, side)
    "x0": (0, 0.0), "x1": (0, 1.0), "y0": (1, 0.0), "y1": (1, 1.0), "z0": (2, 0.0), "z1": (2, 1.0)}


def random_problem(rng: np.random.Generator, i: int, nonlinear: bool):
    """A seeded random problem as a FEniCSx user writes one: interval, triangles,
    quadrilaterals, tetrahedra or hexahedra; Lagrange P1 or P2, scalar or vector; a DG0 or
    constant coefficient k, a reaction c >= 0, a source f in the space itself; Dirichlet data
    (a random affine Function) on a random part of the boundary, or nowhere (some with c > 0); a
    random KSP (linear) or Newton with LU (nonlinear: -div((1 + u.u) k grad u) + c u = f).
    Returns (problem, u, fields, Dirichlet dofs (blocked), block size, description)."""
    CT = dolfinx.mesh.CellType
    shape = rng.choice(["interval", "triangle", "quadrilateral", "tetrahedron", "hexahedron"],
                       p=[0.15, 0.3, 0.25, 0.15, 0.15])
    if shape == "interval":
        msh = dolfinx.mesh.create_unit_interval(MPI.COMM_WORLD, int(rng.integers(4, 12)))
    elif shape in ("triangle", "quadrilateral"):
        n = int(rng.integers(3, 7))
        msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n + int(rng.integers(0, 3)), cell_type=CT[shape])
    else:
        msh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 2, 2, int(rng.integers(2, 4)), cell_type=CT[shape])
    gdim, tdim = msh.geometry.dim, msh.topology.dim
    degree = int(rng.integers(1, 3))
    vector = tdim > 1 and rng.random() < 0.4
    V = dolfinx.fem.functionspace(msh, ("Lagrange", degree, (gdim,)) if vector else ("Lagrange", degree))
    bs = gdim if vector else 1
    if rng.random() < 0.5:  # two phases, as a rank-independent draw: every MPI rank builds the same problem
        k = dolfinx.fem.Function(dolfinx.fem.functionspace(msh, ("DG", 0)))
        kc = rng.uniform(0.5, 5.0, 2)
        phase = rng.uniform(0, 2 * np.pi)
        k.interpolate(lambda x: np.where(np.sin(7 * x[0] + 5 * x[1] + phase) > 0, kc[0], kc[1]))
    else:
        k = dolfinx.fem.Constant(msh, float(rng.uniform(0.5, 5.0)))
    c = float(rng.choice([0.0, rng.uniform(0.1, 2.0)]))
    coef = rng.normal(size=(3, bs))
    f = dolfinx.fem.Function(V)
    f.interpolate(lambda x: np.stack([coef[0, j] + coef[1, j] * np.sin(3 * x[0]) + coef[2, j] * x[1] * (1 + x[2])
                                      for j in range(bs)]) if vector
                  else coef[0, 0] + coef[1, 0] * np.sin(3 * x[0]) + coef[2, 0] * x[1] * (1 + x[2]))
    sides = [] if c > 0 and rng.random() < 0.3 else [s for s in list(_SIDES)[: 2 * tdim] if rng.random() < 0.5]
    if not sides and c == 0.0:
        sides = [list(_SIDES)[int(rng.integers(0, 2 * tdim))]]
    g = dolfinx.fem.Function(V)
    gc = rng.normal(size=(3, bs))
    g.interpolate(lambda x: np.stack([gc[0, j] + gc[1, j] * x[0] + gc[2, j] * x[1] for j in range(bs)]) if vector
                  else gc[0, 0] + gc[1, 0] * x[0] + gc[2, 0] * x[1])
    facets = dolfinx.mesh.locate_entities_boundary(
        msh, tdim - 1, lambda x: np.any([np.isclose(x[_SIDES[s][0]], _SIDES[s][1]) for s in sides], axis=0)
        if sides else np.zeros(x.shape[1], dtype=bool))
    dofs = dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets)
    bcs = [dolfinx.fem.dirichletbc(g, dofs)] if sides else []
    v = ufl.TestFunction(V)
    prefix = f"t_rand_{'nl' if nonlinear else 'lin'}_{i}_"
    if nonlinear:
        u = dolfinx.fem.Function(V)
        F = ((1 + ufl.inner(u, u)) * k * ufl.inner(ufl.grad(u), ufl.grad(v)) + c * ufl.inner(u, v)
             - ufl.inner(f, v)) * ufl.dx
        prob = dolfinx.fem.petsc.NonlinearProblem(F, u, bcs=bcs, petsc_options_prefix=prefix, petsc_options={
            "snes_type": "newtonls", "ksp_type": "preonly", "pc_type": "lu"})
        ksp = ("preonly", "lu")
    else:
        ksp = [("cg", "jacobi"), ("gmres", "bjacobi"), ("cg", "gamg"), ("preonly", "lu")][int(rng.integers(0, 4))]
        w = ufl.TrialFunction(V)
        prob = dolfinx.fem.petsc.LinearProblem(
            (k * ufl.inner(ufl.grad(w), ufl.grad(v)) + c * ufl.inner(w, v)) * ufl.dx, ufl.inner(f, v) * ufl.dx,
            bcs=bcs, petsc_options_prefix=prefix,
            petsc_options={"ksp_type": ksp[0], "pc_type": ksp[1],
                           **({"ksp_rtol": 1e-12, "ksp_atol": 0.0} if ksp[0] != "preonly" else {})})
        u = prob.u
    what = (f"#{i} {shape} P{degree}{' vector' if vector else ''}, k {type(k).__name__}, c {c:.2f}, "
            f"fixed {sides or 'nowhere'}, {'/'.join(ksp)}")
    return prob, u, {"k": k, "f": f}, dofs, bs, what
