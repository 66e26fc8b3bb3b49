"""A user's own dolfinx problem for the `dolfinx:MODULE:FUNCTION` family test:
-div(k grad u) = s on the unit square, u = 0 on the boundary, with k and s named parameters."""

import numpy as np


def build():
    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl
    from mpi4py import MPI

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    k = dolfinx.fem.Constant(msh, 1.0)
    s = dolfinx.fem.Function(V)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    facets = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.full(x.shape[1], True))
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    prob = dolfinx.fem.petsc.LinearProblem(k * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, s * v * ufl.dx, bcs=[bc],
                                           petsc_options_prefix="user_pde_",
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi"})

    def apply(p):
        k.value = p["k"]
        s.interpolate(lambda x: p["s"] * (1 + x[0]))

    return UserPDE(problem=prob, fields={"k": k, "s": s}, params={"k": (0.5, 2.0), "s": (1.0, 3.0)}, apply=apply)
