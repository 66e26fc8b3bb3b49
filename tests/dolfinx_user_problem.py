"""A user's own dolfinx problem for the `dolfinx:MODULE:FUNCTION` family tests:
-div(k grad u) = s, u = 0 on the boundary, with k and s named parameters, on the unit square
(``build``) or the unit cube (``build_cube``)."""

import numpy as np


def build():
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8), "user_pde_")


def build_cube():
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 5, 5, 5), "user_pde_cube_")


def _user_problem(make_mesh, prefix: str):
    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = make_mesh(dolfinx)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    k = dolfinx.fem.Constant(msh, 1.0)
    s = dolfinx.fem.Function(V)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    fdim = msh.topology.dim - 1
    facets = dolfinx.mesh.locate_entities_boundary(msh, fdim, lambda x: np.full(x.shape[1], True))
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, fdim, facets), V)
    prob = dolfinx.fem.petsc.LinearProblem(k * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, s * v * ufl.dx, bcs=[bc],
                                           petsc_options_prefix=prefix,
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi"})

    def apply(p):
        k.value = p["k"]
        s.interpolate(lambda x: p["s"] * (1 + x[0]))

    return UserPDE(problem=prob, fields={"k": k, "s": s}, params={"k": (0.5, 2.0), "s": (1.0, 3.0)}, apply=apply)
