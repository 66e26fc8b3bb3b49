"""A user's own dolfinx problem for the `dolfinx:MODULE:FUNCTION` family tests:
-div(k grad u) = s, u = 0 on the boundary, with k and s named parameters, on the unit square
(``build``) or the unit cube (``build_cube``)."""

import numpy as np


def build(n=8):
    """On an n x n mesh (a finer one: `dolfinx:tests.dolfinx_user_problem:build:n=12`)."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n), "user_pde_")


def build_cube():
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 5, 5, 5), "user_pde_cube_")


def build_singular():
    """``build``, except that draws of k below 1 zero the coefficient: a singular system that
    no LU solves, so those instances cannot be labelled (about a third of the draws)."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8), "user_pde_singular_",
                         singular_below=1.0)


def build_direct():
    """``build`` set up for a direct solve (preonly + LU), as many scripts are: no start to give."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8), "user_pde_direct_",
                         petsc_options={"ksp_type": "preonly", "pc_type": "lu"})


def build_loose():
    """``build`` at the script's own, looser tolerance (CG + Jacobi to rtol 1e-6)."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8), "user_pde_loose_",
                         petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-6})


def build_short():
    """``build`` whose KSP stops after 3 iterations, short of its tolerance (CG + Jacobi)."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8), "user_pde_short_",
                         petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_max_it": 3})


def build_own_guess():
    """``build`` (CG + Jacobi) on 16 x 16 forming its own initial guess (ksp_guess_type fischer,
    PETSc's KSPGuess), which replaces any start the KSP is given."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16), "user_pde_guess_",
                         petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_guess_type": "fischer"})


def build_fischer_call():
    """``build_own_guess`` with the KSPGuess set by a call on the KSP (``setUseFischerGuess``), as a
    script may set it, rather than by an option: no options database holds it."""
    from mpi4py import MPI

    fam = _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16), "user_pde_fischer_")
    fam.problem.solver.setUseFischerGuess(1, 10)
    return fam


def build_fischer_late():
    """``build`` on 16 x 16 (CG + Jacobi), its own problem: a test sets a KSPGuess on its KSP by a
    call after the first learned start, which no later test should meet."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16),
                         "user_pde_fischer_late_")


def build_diagonal_scale():
    """``build`` on 16 x 16 (CG + Jacobi) solving its system diagonally scaled (ksp_diagonal_scale),
    which scales the start it keeps with the system."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16),
                         "user_pde_diagonal_scale_",
                         petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_diagonal_scale": None,
                                        "ksp_diagonal_scale_fix": None})


def build_absolute():
    """``build`` on 16 x 16 with an absolute tolerance alone (ksp_rtol 0, ksp_atol 1e-10), a large source."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 16, 16), "user_pde_abs_",
                         petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 0.0, "ksp_atol": 1e-10},
                         source_scale=1e4)


def _user_problem(make_mesh, prefix: str, singular_below: float | None = None,
                  petsc_options: dict | None = None, source_scale: float = 1.0):
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
                                           petsc_options=petsc_options or {"ksp_type": "cg", "pc_type": "jacobi"})

    def apply(p):
        k.value = 0.0 if singular_below is not None and p["k"] < singular_below else p["k"]
        s.interpolate(lambda x: source_scale * p["s"] * (1 + x[0]))

    return UserPDE(problem=prob, fields={"k": k, "s": s}, params={"k": (0.5, 2.0), "s": (1.0, 3.0)}, apply=apply)


def build_stokes_preconditioned():
    """``build_stokes`` with a preconditioner form of its own, as FEniCSx's Stokes demo has:
    MINRES preconditioned by (the velocity Laplacian, the pressure mass / nu)."""
    return build_stokes(preconditioned=True)


def build_stokes_fieldsplit():
    """``build_stokes_preconditioned`` with its preconditioner set on the PC object as FEniCSx's
    Stokes demo sets it: a fieldsplit over the velocity and pressure dofs (index sets, which no
    option can give), GAMG on the velocity block and Jacobi on the pressure's."""
    fam = build_stokes(preconditioned=True)  # first: it imports dolfinx_solver, which petsc4py needs before it
    from petsc4py import PETSc

    prob = fam.problem
    W = prob.u.function_space
    owned = W.dofmap.index_map.size_local * W.dofmap.index_map_bs
    ises = []
    for i in range(2):
        dofs = np.asarray(W.sub(i).collapse()[1])
        ises.append(PETSc.IS().createGeneral(np.sort(dofs[dofs < owned]).astype(np.int32), comm=W.mesh.comm))
    pc = prob.solver.getPC()
    pc.setType("fieldsplit")
    pc.setFieldSplitType(PETSc.PC.CompositeType.ADDITIVE)
    pc.setFieldSplitIS(("u", ises[0]), ("p", ises[1]))
    ksp_u, ksp_p = pc.getFieldSplitSubKSP()
    ksp_u.setType("preonly")
    ksp_u.getPC().setType("gamg")
    ksp_p.setType("preonly")
    ksp_p.getPC().setType("jacobi")
    return fam


def build_stokes(preconditioned: bool = False):
    """A saddle point: Stokes flow in the unit square on Taylor-Hood P2/P1 (8x8), a lid moving
    at 1 + s sin(pi x), viscosity nu; the pressure pinned at one corner. MINRES + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import basix.ufl
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
    cell = msh.basix_cell()
    W = dolfinx.fem.functionspace(msh, basix.ufl.mixed_element([
        basix.ufl.element("Lagrange", cell, 2, shape=(2,)), basix.ufl.element("Lagrange", cell, 1)]))
    V0, _ = W.sub(0).collapse()
    Q0, _ = W.sub(1).collapse()
    (u, p), (v, q) = ufl.TrialFunctions(W), ufl.TestFunctions(W)
    nu = dolfinx.fem.Constant(msh, 1.0)
    zero = dolfinx.fem.Constant(msh, np.zeros(2))
    a = nu * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx - p * ufl.div(v) * ufl.dx - q * ufl.div(u) * ufl.dx
    lid = dolfinx.fem.Function(V0)
    facets = lambda where: dolfinx.mesh.locate_entities_boundary(msh, 1, where)  # noqa: E731
    walls = facets(lambda x: np.isclose(x[0], 0) | np.isclose(x[0], 1) | np.isclose(x[1], 0))
    top = facets(lambda x: np.isclose(x[1], 1))
    corner = dolfinx.fem.locate_dofs_geometrical((W.sub(1), Q0), lambda x: np.isclose(x[0], 0) & np.isclose(x[1], 0))
    on_velocity = lambda f: dolfinx.fem.locate_dofs_topological((W.sub(0), V0), 1, f)  # noqa: E731
    bcs = [dolfinx.fem.dirichletbc(dolfinx.fem.Function(V0), on_velocity(walls), W.sub(0)),
           dolfinx.fem.dirichletbc(lid, on_velocity(top), W.sub(0)),
           dolfinx.fem.dirichletbc(dolfinx.fem.Function(Q0), corner, W.sub(1))]
    P = nu * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + p * q / nu * ufl.dx if preconditioned else None
    prob = dolfinx.fem.petsc.LinearProblem(a, ufl.inner(zero, v) * ufl.dx, bcs=bcs, P=P,
                                           petsc_options_prefix="user_stokes_p_" if preconditioned else "user_stokes_",
                                           petsc_options={"ksp_type": "minres", "pc_type": "jacobi"})

    def apply(prm):
        nu.value = prm["nu"]
        lid.interpolate(lambda x: np.stack([1 + prm["s"] * np.sin(np.pi * x[0]), np.zeros(x.shape[1])]))

    return UserPDE(problem=prob, fields={"nu": nu}, params={"nu": (0.5, 2.0), "s": (-0.5, 0.5)}, apply=apply)


def build_neumann():
    """A singular operator: -div(grad u) = s with natural (Neumann) conditions all round, the
    constants its null space (attached to the matrix, as a FEniCSx script does), s mean-zero so
    that it is solvable. CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl
    from petsc4py import PETSc

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    s = dolfinx.fem.Function(V)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    prob = dolfinx.fem.petsc.LinearProblem(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, s * v * ufl.dx, bcs=[],
                                           petsc_options_prefix="user_neumann_",
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi"})
    prob.A.setNullSpace(PETSc.NullSpace().create(constant=True, comm=msh.comm))

    def apply(p):
        s.interpolate(lambda x: p["a"] * np.cos(np.pi * x[0]) + p["b"] * np.cos(np.pi * x[1]))

    return UserPDE(problem=prob, fields={"s": s}, params={"a": (0.5, 2.0), "b": (-1.0, 1.0)}, apply=apply)


def build_semilinear_tr():
    """``build_semilinear`` by a trust-region Newton to the script's own rtol 1e-6, 20 steps at most."""
    return build_semilinear(prefix="user_semilinear_tr_", snes={"snes_type": "newtontr", "snes_rtol": 1e-6,
                                                               "snes_max_it": 20})


def build_semilinear_qn():
    """``build_semilinear`` by quasi-Newton (snes_type qn, L-BFGS), which keeps its pairs from one
    solve to the next, within PETSc's own iteration limit for it (10,000)."""
    return build_semilinear(prefix="user_semilinear_qn_", snes={"snes_type": "qn"})


def build_semilinear_qn_m1():
    """``build_semilinear_qn`` keeping one quasi-Newton pair (snes_qn_m 1): 54 to 69 steps to the
    labels' 1e-11, more than Newton's 50."""
    return build_semilinear(prefix="user_semilinear_qn_m1_", snes={"snes_type": "qn", "snes_qn_m": 1})


def build_semilinear_npc_qn():
    """``build_semilinear`` by nonlinear GMRES preconditioned by three quasi-Newton steps
    (npc_snes_type qn), whose pairs the preconditioner keeps from one solve to the next."""
    return build_semilinear(prefix="user_semilinear_npc_qn_", snes={"snes_type": "ngmres", "npc_snes_type": "qn",
                                                                   "npc_snes_max_it": 3})


def build_semilinear_lagged():
    """``build_semilinear`` rebuilding its Jacobian every third step, the count carried from one
    solve to the next (snes_lag_jacobian 3, snes_lag_jacobian_persists): which steps rebuild it
    depends on the steps of the solves before."""
    return build_semilinear(prefix="user_semilinear_lag_", snes={"snes_type": "newtonls", "snes_lag_jacobian": 3,
                                                                "snes_lag_jacobian_persists": True})


def build_semilinear_ksponly():
    """``build_semilinear`` by one Newton step (snes_type ksponly), which tests no tolerance."""
    return build_semilinear(prefix="user_semilinear_ksponly_", snes={"snes_type": "ksponly"})


def build_semilinear_absolute():
    """``build_semilinear`` to an absolute tolerance alone (snes_rtol 0, snes_atol 1e-9)."""
    return build_semilinear(prefix="user_semilinear_abs_", snes={"snes_type": "newtonls", "snes_rtol": 0.0,
                                                                "snes_atol": 1e-9})


def build_semilinear_ceiling():
    """``build_semilinear`` under a ceiling, u <= 0.5, which the larger loads reach: a variational
    inequality, solved by SNES vinewtonrsls with the bounds set on the SNES object (as a FEniCSx
    obstacle script sets them; no option can)."""
    fam = build_semilinear(prefix="user_semilinear_vi_", snes={"snes_type": "vinewtonrsls"})
    from petsc4py import PETSc

    lower, upper = fam.problem.x.duplicate(), fam.problem.x.duplicate()
    lower.set(PETSc.NINFINITY)
    upper.set(0.5)
    fam.problem.solver.setVariableBounds(lower, upper)
    return fam


def build_stokes_nest():
    """``build_stokes_blocks`` as FEniCSx's Stokes demo's nest solver builds it: a MatNest
    (``kind="nest"``), a preconditioner form (the velocity Laplacian, the pressure mass / nu) and
    MINRES with a fieldsplit over the blocks, GAMG on the velocity's and Jacobi on the pressure's
    (set on the sub-KSPs, as the demo does: the split's index sets come from the nest)."""
    fam = build_stokes_blocks(kind="nest", preconditioned=True)
    ksp_u, ksp_p = fam.problem.solver.getPC().getFieldSplitSubKSP()
    ksp_u.setType("preonly")
    ksp_u.getPC().setType("gamg")
    ksp_p.setType("preonly")
    ksp_p.getPC().setType("jacobi")
    return fam


def build_stokes_blocks(kind=None, preconditioned=False):
    """``build_stokes`` as a block problem, as FEniCSx's Stokes demo builds one: the velocity
    (P2) and pressure (P1) Functions on spaces of their own, forms in a 2 x 2 list, one matrix
    (dolfinx's default kind; ``kind="nest"``: a MatNest, with a fieldsplit over the blocks, its
    sub-solvers left for the caller to set). MINRES + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import basix.ufl
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
    cell = msh.basix_cell()
    V = dolfinx.fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 2, shape=(2,)))
    Q = dolfinx.fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1))
    (u, p), (v, q) = (ufl.TrialFunction(V), ufl.TrialFunction(Q)), (ufl.TestFunction(V), ufl.TestFunction(Q))
    nu = dolfinx.fem.Constant(msh, 1.0)
    zero = dolfinx.fem.Constant(msh, 0.0)
    # the pressure block is a zero form, not None: dolfinx refuses a Dirichlet condition on a None diagonal block
    a = [[nu * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, -p * ufl.div(v) * ufl.dx],
         [-q * ufl.div(u) * ufl.dx, zero * p * q * ufl.dx]]
    L = [ufl.inner(dolfinx.fem.Constant(msh, np.zeros(2)), v) * ufl.dx, zero * q * ufl.dx]
    lid = dolfinx.fem.Function(V)
    facets = lambda where: dolfinx.mesh.locate_entities_boundary(msh, 1, where)  # noqa: E731
    walls = facets(lambda x: np.isclose(x[0], 0) | np.isclose(x[0], 1) | np.isclose(x[1], 0))
    top = facets(lambda x: np.isclose(x[1], 1))
    corner = dolfinx.fem.locate_dofs_geometrical(Q, lambda x: np.isclose(x[0], 0) & np.isclose(x[1], 0))
    bcs = [dolfinx.fem.dirichletbc(dolfinx.fem.Function(V), dolfinx.fem.locate_dofs_topological(V, 1, walls)),
           dolfinx.fem.dirichletbc(lid, dolfinx.fem.locate_dofs_topological(V, 1, top)),
           dolfinx.fem.dirichletbc(0.0, corner, Q)]
    P = [[a[0][0], None], [None, p * q / nu * ufl.dx]] if preconditioned else None
    prob = dolfinx.fem.petsc.LinearProblem(a, L, bcs=bcs, u=[dolfinx.fem.Function(V), dolfinx.fem.Function(Q)],
                                           kind=kind, P=P, petsc_options_prefix=f"user_stokes_blocks_{kind}_",
                                           petsc_options={"ksp_type": "minres", **(
                                               {"pc_type": "fieldsplit", "pc_fieldsplit_type": "additive"}
                                               if kind == "nest" else {"pc_type": "jacobi"})})

    def apply(prm):
        nu.value = prm["nu"]
        lid.interpolate(lambda x: np.stack([1 + prm["s"] * np.sin(np.pi * x[0]), np.zeros(x.shape[1])]))

    return UserPDE(problem=prob, fields={"nu": nu}, params={"nu": (0.5, 2.0), "s": (-0.5, 0.5)}, apply=apply)


def build_coupled_blocks(kind=None, n=8):
    """A nonlinear block problem on an n x n mesh: -div(grad u) + u^3 = s (P1) and -div(grad w) =
    u (P2), both zero on the boundary, the two unknowns' Functions on spaces of their own and the
    residual a list; Newton with LU from u = w = 0 (``kind="nest"``: a MatNest, which no LU
    factors; GMRES with a multiplicative fieldsplit over the blocks, LU on each, to 1e-12)."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    V, W = dolfinx.fem.functionspace(msh, ("Lagrange", 1)), dolfinx.fem.functionspace(msh, ("Lagrange", 2))
    s = dolfinx.fem.Constant(msh, 1.0)
    u, w = dolfinx.fem.Function(V), dolfinx.fem.Function(W)
    v, z = ufl.TestFunction(V), ufl.TestFunction(W)
    F = [ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + u ** 3 * v * ufl.dx - s * v * ufl.dx,
         ufl.inner(ufl.grad(w), ufl.grad(z)) * ufl.dx - u * z * ufl.dx]
    facets = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.full(x.shape[1], True))
    bcs = [dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(S, 1, facets), S) for S in (V, W)]
    prob = dolfinx.fem.petsc.NonlinearProblem(F, [u, w], bcs=bcs, kind=kind,
                                              petsc_options_prefix=f"user_coupled_blocks_{kind}_",
                                              petsc_options={"snes_type": "newtonls", **(
                                                  {"ksp_type": "gmres", "ksp_rtol": 1e-12, "pc_type": "fieldsplit",
                                                   "pc_fieldsplit_type": "multiplicative"} if kind == "nest"
                                                  else {"ksp_type": "preonly", "pc_type": "lu"})})
    if kind == "nest":
        for sub in prob.solver.getKSP().getPC().getFieldSplitSubKSP():
            sub.setType("preonly")
            sub.getPC().setType("lu")

    def apply(p):
        s.value = p["s"]

    return UserPDE(problem=prob, fields={"s": s}, params={"s": (5.0, 20.0)}, apply=apply)


def build_semilinear(prefix: str = "user_semilinear_", snes: dict | None = None):
    """-div(grad u) + u^3 = s on 8x8 P1, u = 0 on the boundary, solved by Newton from the user's
    own cold guess, u = c everywhere (``UserPDE.cold_guess``)."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 8, 8)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    s = dolfinx.fem.Constant(msh, 1.0)
    u, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
    F = ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + u ** 3 * v * ufl.dx - s * v * ufl.dx
    facets = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.full(x.shape[1], True))
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    # qn solves no linear system: PETSc would list KSP options as unused when the process ends
    linear = {} if "qn" in ((snes or {}).get("snes_type"), (snes or {}).get("npc_snes_type")) else {
        "ksp_type": "preonly", "pc_type": "lu"}
    prob = dolfinx.fem.petsc.NonlinearProblem(F, u, bcs=[bc], petsc_options_prefix=prefix,
                                              petsc_options={**(snes or {"snes_type": "newtonls"}), **linear})

    def apply(p):
        s.value = p["s"]

    def cold():
        u.x.array[:] = 0.25

    return UserPDE(problem=prob, fields={"s": s}, params={"s": (5.0, 20.0)}, apply=apply, cold_guess=cold)


def build_elasticity():
    """A vector problem: 2D linear elasticity of a 4 x 1 beam (32 x 8 cells, vector P1) clamped
    at x = 0, Young's modulus E and a load (fx, -1) drawn per instance, Poisson ratio 0.3. CG +
    GAMG (no near-null space given, as in a plain script)."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_rectangle(MPI.COMM_WORLD, [np.array([0.0, 0.0]), np.array([4.0, 1.0])], [32, 8])
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1, (2,)))
    E = dolfinx.fem.Constant(msh, 1.0)
    load = dolfinx.fem.Constant(msh, np.array([0.0, -1.0]))
    nu = 0.3
    mu, lmbda = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)

    def eps(w):
        return ufl.sym(ufl.grad(w))

    def sigma(w):
        return 2 * mu * eps(w) + lmbda * ufl.tr(eps(w)) * ufl.Identity(2)

    facets = dolfinx.mesh.locate_entities_boundary(msh, 1, lambda x: np.isclose(x[0], 0.0))
    bc = dolfinx.fem.dirichletbc(np.zeros(2), dolfinx.fem.locate_dofs_topological(V, 1, facets), V)
    prob = dolfinx.fem.petsc.LinearProblem(ufl.inner(sigma(u), eps(v)) * ufl.dx, ufl.inner(load, v) * ufl.dx,
                                           bcs=[bc], petsc_options_prefix="user_elasticity_",
                                           petsc_options={"ksp_type": "cg", "pc_type": "gamg",
                                                          "ksp_rtol": 1e-8})

    def apply(p):
        E.value = p["E"]
        load.value = np.array([p["fx"], -1.0])

    return UserPDE(problem=prob, fields={"E": E, "load": load}, params={"E": (0.5, 2.0), "fx": (-0.5, 0.5)},
                   apply=apply)


def build_bad(which: str):
    """``build``'s problem with one field of ``UserPDE`` wrong (the family refusal test)."""
    from problems.dolfinx_family import UserPDE

    good = build()
    bad = {"params": {"params": {"k": 1.0}}, "reversed": {"params": {"k": (2.0, float("nan"))}},
           "apply": {"apply": "k"}, "cold": {"cold_guess": 0.25}, "fields": {"fields": ["k", "s"]},
           "quasilinear": {"quasilinear": (1.0, 2.0)}, "fixed": {"params": {"k": (1.0, 1.0), "s": (2.0, 2.0)}},
           "unseen": {"fields": {}}}[which]
    return UserPDE(**{**good.__dict__, **bad})


def build_bad_params():
    return build_bad("params")


def build_bad_reversed():
    return build_bad("reversed")


def build_bad_apply():
    return build_bad("apply")


def build_bad_cold():
    return build_bad("cold")


def build_bad_fields():
    return build_bad("fields")


def build_bad_quasilinear():
    return build_bad("quasilinear")


def build_bad_fixed():
    return build_bad("fixed")


def build_bad_unseen():
    return build_bad("unseen")


def build_raises():
    raise RuntimeError("my mesh file is missing")


def build_apply_raises():
    """``build`` whose ``apply`` fails on a parameter it does not know."""
    from problems.dolfinx_family import UserPDE

    good = build()

    def apply(p):
        return p["kappa"]

    return UserPDE(**{**good.__dict__, "apply": apply})


def build_mixed_poisson(kind="nest", n=8, degree=1):
    """FEniCSx's mixed Poisson demo: a flux sigma (Raviart-Thomas, dofs that are facet moments,
    not point values) and a potential u (DG0) as two blocks, sigma.n given on the top and bottom,
    a Gaussian source of named amplitude and centre. ``kind="nest"``: as the demo, MINRES with an
    additive fieldsplit over a Riesz-map preconditioner form, LU on the flux and Jacobi on the
    potential; ``kind="mpi"``: one matrix, MINRES + Jacobi. ``degree``: RT's (DG's one less; at 2 the
    dofs share points: two on each facet, two in each cell, each DG1 dof a cell's copy of a vertex)."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import basix.ufl
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    cell, fdim = msh.basix_cell(), msh.topology.dim - 1
    V = dolfinx.fem.functionspace(msh, basix.ufl.element("RT", cell, degree))
    W = dolfinx.fem.functionspace(msh, basix.ufl.element("DG", cell, degree - 1))
    (sig, u), (tau, v) = (ufl.TrialFunction(V), ufl.TrialFunction(W)), (ufl.TestFunction(V), ufl.TestFunction(W))
    x = ufl.SpatialCoordinate(msh)
    amp, cx = dolfinx.fem.Constant(msh, 10.0), dolfinx.fem.Constant(msh, 0.5)
    f = amp * ufl.exp(-((x[0] - cx) ** 2 + (x[1] - 0.5) ** 2) / 0.02)
    a = [[ufl.inner(sig, tau) * ufl.dx, ufl.inner(u, ufl.div(tau)) * ufl.dx],
         [ufl.inner(ufl.div(sig), v) * ufl.dx, None]]
    L = [ufl.inner(dolfinx.fem.Constant(msh, np.zeros(2)), tau) * ufl.dx, -ufl.inner(f, v) * ufl.dx]
    P = [[ufl.inner(sig, tau) * ufl.dx + ufl.inner(ufl.div(sig), ufl.div(tau)) * ufl.dx, None],
         [None, ufl.inner(u, v) * ufl.dx]]
    top = dolfinx.mesh.locate_entities_boundary(msh, fdim, lambda x: np.isclose(x[1], 1.0))
    bottom = dolfinx.mesh.locate_entities_boundary(msh, fdim, lambda x: np.isclose(x[1], 0.0))
    g = dolfinx.fem.Function(V)
    bcs = [dolfinx.fem.dirichletbc(g, dolfinx.fem.locate_dofs_topological(V, fdim, top)),
           dolfinx.fem.dirichletbc(g, dolfinx.fem.locate_dofs_topological(V, fdim, bottom))]
    nest = kind == "nest"
    pc = {"pc_type": "fieldsplit", "pc_fieldsplit_type": "additive"} if nest else {"pc_type": "jacobi"}
    prob = dolfinx.fem.petsc.LinearProblem(
        a, L, u=[dolfinx.fem.Function(V), dolfinx.fem.Function(W)], bcs=bcs, kind=kind, P=P if nest else None,
        petsc_options_prefix=f"user_mixed_poisson_{kind}_", petsc_options={"ksp_type": "minres", "ksp_rtol": 1e-8, **pc})
    if nest:
        ksp_sigma, ksp_u = prob.solver.getPC().getFieldSplitSubKSP()
        ksp_sigma.setType("preonly")
        ksp_sigma.getPC().setType("lu")
        ksp_u.setType("preonly")
        ksp_u.getPC().setType("jacobi")

    def apply(prm):
        amp.value, cx.value = prm["amp"], prm["cx"]
        # sigma.n = +-s sin(5 x) on the top (n = +y) and bottom (n = -y), as the demo's
        g.interpolate(lambda x: np.vstack([np.zeros(x.shape[1]), prm["s"] * np.sin(5 * x[0])]))

    return UserPDE(problem=prob, fields={"f": f}, params={"amp": (5.0, 15.0), "cx": (0.3, 0.7), "s": (0.5, 1.5)},
                   apply=apply)


def build_dg_poisson(n=8):
    """-div(k grad u) = s on DG1 (symmetric interior penalty, u = 0 weakly on the boundary), k and
    s as ``build``'s: each dof is a cell's vertex, so several dofs share a point. CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    V = dolfinx.fem.functionspace(msh, ("DG", 1))
    k = dolfinx.fem.Constant(msh, 1.0)
    s = dolfinx.fem.Function(dolfinx.fem.functionspace(msh, ("Lagrange", 1)))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    nrm, h = ufl.FacetNormal(msh), ufl.CellDiameter(msh)
    h_avg, alpha = (h("+") + h("-")) / 2, 8.0
    a = k * (ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
             - ufl.inner(ufl.avg(ufl.grad(u)), ufl.jump(v, nrm)) * ufl.dS
             - ufl.inner(ufl.jump(u, nrm), ufl.avg(ufl.grad(v))) * ufl.dS
             + alpha / h_avg * ufl.inner(ufl.jump(u, nrm), ufl.jump(v, nrm)) * ufl.dS
             - ufl.inner(ufl.grad(u), nrm) * v * ufl.ds - ufl.inner(ufl.grad(v), nrm) * u * ufl.ds
             + alpha / h * u * v * ufl.ds)
    prob = dolfinx.fem.petsc.LinearProblem(a, s * v * ufl.dx, petsc_options_prefix="user_dg_poisson_",
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi"})

    return _coefficient_and_source(prob, "k", k, s)


def _coefficient_and_source(prob, name: str, coeff, s):
    """The family of ``prob`` whose draws set the Constant ``coeff`` (named ``name``, in [0.5, 2])
    and the P1 source ``s`` = s (1 + x) (s in [1, 3])."""
    from problems.dolfinx_family import UserPDE

    def apply(p):
        coeff.value = p[name]
        s.interpolate(lambda x: p["s"] * (1 + x[0]))

    return UserPDE(problem=prob, fields={name: coeff, "s": s}, params={name: (0.5, 2.0), "s": (1.0, 3.0)},
                   apply=apply)


def build_hdg(n=8):
    """FEniCSx's hybridizable DG demo in 2-D as a LinearProblem: -div(c grad u) = s with u on the
    cells (DG1) and its trace ubar on a submesh of the facets (DG1), two blocks coupled through
    ``entity_maps``; ubar = 0 on the boundary. c a named Constant, s a P1 Function of the cell mesh
    (sampled on the facets by point location). CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl
    from dolfinx import fem, mesh

    msh = mesh.create_unit_square(MPI.COMM_WORLD, n, n, ghost_mode=mesh.GhostMode.none)
    tdim = msh.topology.dim
    msh.topology.create_entities(tdim - 1)
    imap = msh.topology.index_map(tdim - 1)
    facets = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    fmesh, emap = mesh.create_submesh(msh, tdim - 1, facets)[:2]
    V, Vbar = fem.functionspace(msh, ("DG", 1)), fem.functionspace(fmesh, ("DG", 1))
    u, ubar = ufl.TrialFunctions(ufl.MixedFunctionSpace(V, Vbar))
    v, vbar = ufl.TestFunctions(ufl.MixedFunctionSpace(V, Vbar))
    per_cell = dolfinx.cpp.mesh.cell_num_entities(msh.topology.cell_type, tdim - 1)
    n_cells = msh.topology.index_map(tdim).size_local
    around = np.vstack([np.repeat(np.arange(n_cells), per_cell), np.tile(np.arange(per_cell), n_cells)]).T.ravel()
    dx, ds = ufl.Measure("dx", domain=msh), ufl.Measure("ds", domain=msh, subdomain_data=[(1, around)])
    h, nrm = ufl.CellDiameter(msh), ufl.FacetNormal(msh)
    c, s = fem.Constant(msh, 1.0), fem.Function(fem.functionspace(msh, ("Lagrange", 1)))
    a = (ufl.inner(c * ufl.grad(u), ufl.grad(v)) * dx - ufl.inner(c * (u - ubar), ufl.dot(ufl.grad(v), nrm)) * ds(1)
         - ufl.inner(ufl.dot(ufl.grad(u), nrm), c * (v - vbar)) * ds(1)
         + 16.0 / h * c * (u - ubar) * (v - vbar) * ds(1))
    L = s * v * dx + fem.Constant(fmesh, 0.0) * vbar * ufl.Measure("dx", domain=fmesh)
    fmesh.topology.create_connectivity(tdim - 1, tdim - 1)
    boundary = emap.sub_topology_to_topology(mesh.exterior_facet_indices(msh.topology), inverse=True)
    bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(Vbar, tdim - 1, boundary), Vbar)
    prob = fem.petsc.LinearProblem(ufl.extract_blocks(a), ufl.extract_blocks(L),
                                   u=[fem.Function(V), fem.Function(Vbar)], bcs=[bc], kind="mpi", entity_maps=[emap],
                                   petsc_options_prefix="user_hdg_",
                                   petsc_options={"ksp_type": "cg", "pc_type": "jacobi"})

    return _coefficient_and_source(prob, "c", c, s)


def build_curl_curl(n=8):
    """curl(curl u) + k u = f on N1curl (edge dofs: moments along the edges, no point values), the
    eddy-current model problem; k a named Constant, f a rotating source of named amplitude and
    centre; u x n = 0 on the boundary. CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx

    return _curl_curl(dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n), centre_y=0.5, width=0.05,
                      cx_range=(0.3, 0.7), prefix="user_curl_")


def _curl_curl(msh, *, centre_y: float, width: float, cx_range: tuple[float, float], prefix: str):
    """``build_curl_curl``'s problem and family on ``msh``: the source's centre (cx, centre_y), its
    squared width ``width``."""
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    V = dolfinx.fem.functionspace(msh, ("N1curl", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(msh)
    k, amp, cx = (dolfinx.fem.Constant(msh, c) for c in (1.0, 1.0, float(np.mean(cx_range))))
    bump = amp * ufl.exp(-((x[0] - cx) ** 2 + (x[1] - centre_y) ** 2) / width)
    f = ufl.as_vector((-(x[1] - centre_y) * bump, (x[0] - cx) * bump))
    a = (ufl.inner(ufl.curl(u), ufl.curl(v)) + k * ufl.inner(u, v)) * ufl.dx
    fdim = msh.topology.dim - 1
    msh.topology.create_connectivity(fdim, msh.topology.dim)
    g = dolfinx.fem.Function(V)
    bc = dolfinx.fem.dirichletbc(g, dolfinx.fem.locate_dofs_topological(
        V, fdim, dolfinx.mesh.exterior_facet_indices(msh.topology)))
    prob = dolfinx.fem.petsc.LinearProblem(a, ufl.inner(f, v) * ufl.dx, bcs=[bc], petsc_options_prefix=prefix,
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-8})
    return _k_amp_cx(prob, {"k": k, "f": f}, k, amp, cx, cx_range)


def _k_amp_cx(prob, fields: dict, k, amp, cx, cx_range: tuple[float, float]):
    """The family of ``prob`` whose draws set the Constants k (in [0.5, 2]), amp ([5, 15]) and cx
    (``cx_range``)."""
    from problems.dolfinx_family import UserPDE

    def apply(p):
        k.value, amp.value, cx.value = p["k"], p["amp"], p["cx"]

    return UserPDE(problem=prob, fields=fields, params={"k": (0.5, 2.0), "amp": (5.0, 15.0), "cx": cx_range},
                   apply=apply)


def build_surface(n=8, bend=0.3):
    """-div_s(k grad_s u) + u = s on a curved surface in 3-D (a bent square, z = 0.3 sin(pi x)):
    a 2-D mesh in 3-D space (gdim 3, tdim 2), P1, natural boundary. CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import basix.ufl
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from problems.dolfinx_family import UserPDE

    flat = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n)
    x2 = flat.geometry.x[:, :2]
    cells = flat.geometry.dofmaps[0]
    if MPI.COMM_WORLD.rank == 0:
        pts = np.column_stack([x2, bend * np.sin(np.pi * x2[:, 0])])
        cells = np.asarray(cells, dtype=np.int64)
    else:
        pts, cells = np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    coord = basix.ufl.element("Lagrange", "triangle", 1, shape=(3,))
    msh = dolfinx.mesh.create_mesh(MPI.COMM_WORLD, cells, coord, pts)
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(msh)
    k, amp = dolfinx.fem.Constant(msh, 1.0), dolfinx.fem.Constant(msh, 1.0)
    s = amp * ufl.exp(-((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2) / 0.05) + x[2]
    prob = dolfinx.fem.petsc.LinearProblem(k * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + u * v * ufl.dx,
                                           s * v * ufl.dx, petsc_options_prefix="user_surface_",
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-8})

    def apply(p):
        k.value, amp.value = p["k"], p["amp"]

    return UserPDE(problem=prob, fields={"k": k, "s": s}, params={"k": (0.5, 2.0), "amp": (0.5, 2.0)}, apply=apply)


def build_finite_volume(n=8):
    """Cell-centred finite volumes: -div(k grad u) = s on DG0 over an n x n quadrilateral mesh,
    two-point fluxes k (u_i - u_j) across each facet (a facet's h over the cells' distance h), u = 0
    weakly at the walls; k a named Constant, s a Gaussian of named amplitude and centre. No dof
    sits on the boundary: each is a cell's midpoint. CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    msh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n, dolfinx.mesh.CellType.quadrilateral)
    V = dolfinx.fem.functionspace(msh, ("DG", 0))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(msh)
    k, amp, cx = (dolfinx.fem.Constant(msh, c) for c in (1.0, 1.0, 0.5))
    s = amp * ufl.exp(-((x[0] - cx) ** 2 + (x[1] - 0.5) ** 2) / 0.05)
    # a wall facet's distance to its cell's midpoint is h / 2
    a = k * n * ufl.jump(u) * ufl.jump(v) * ufl.dS + 2 * k * n * u * v * ufl.ds
    prob = dolfinx.fem.petsc.LinearProblem(a, s * v * ufl.dx, petsc_options_prefix="user_fv_",
                                           petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-8})
    return _k_amp_cx(prob, {"k": k, "s": s}, k, amp, cx, (0.3, 0.7))


def build_annulus(n=8):
    """``build_curl_curl`` on a quarter annulus (radii 1 and 2) meshed with curved, degree-2
    triangles: its edge dofs sit at the edges' midpoints, inside the arcs by an amount that
    shrinks with the mesh size. CG + Jacobi."""
    from mpi4py import MPI

    import dolfinx_solver  # noqa: F401
    import basix.ufl
    import dolfinx

    square = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n)
    P2 = dolfinx.fem.functionspace(square, ("Lagrange", 2))  # its dofs are a degree-2 mesh's nodes
    pts, cells = P2.tabulate_dof_coordinates()[:, :2], np.asarray(P2.dofmap.list, dtype=np.int64)
    r, th = 1.0 + pts[:, 1], 0.5 * np.pi * pts[:, 0]
    if MPI.COMM_WORLD.rank == 0:
        pts = np.column_stack([r * np.cos(th), r * np.sin(th)])
    else:
        pts, cells = np.zeros((0, 2)), np.zeros((0, 6), dtype=np.int64)
    msh = dolfinx.mesh.create_mesh(MPI.COMM_WORLD, cells, basix.ufl.element("Lagrange", "triangle", 2, shape=(2,)),
                                   pts)
    return _curl_curl(msh, centre_y=1.0, width=0.1, cx_range=(0.5, 1.5), prefix="user_annulus_")


def build_interval(n=32):
    """-(k u')' = s on the unit interval (a 1-D mesh), u = 0 at both ends, k and s as ``build``'s. CG + Jacobi."""
    from mpi4py import MPI

    return _user_problem(lambda dolfinx: dolfinx.mesh.create_unit_interval(MPI.COMM_WORLD, n), "user_interval_")

