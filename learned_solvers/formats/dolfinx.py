"""FEniCSx adapter: a user's ``dolfinx.fem.petsc.LinearProblem`` or ``NonlinearProblem`` in,
``PDEData`` out; a learned guess back in, where PETSc uses it.

* ``to_pde(problem, fields={...})`` assembles the system exactly as ``problem.solve()`` does
  (linear: A and the lifted b; nonlinear: the Jacobian and residual at the current ``u``,
  through the problem's own SNES callbacks) and samples the named coefficient/source fields at
  the dofs (``linearise=False``: the fields and dofs alone, nothing assembled, for a start that
  is the nearest training solution). Under MPI every rank calls it; the data are gathered to
  rank 0 (inference runs there) and only rank 0 gets a ``PDEData`` (the others get ``None``).
* ``set_guess(problem, u)`` scatters a guess (global dof order, from rank 0) into the owned
  dofs: into ``problem.x`` with ``ksp_initial_guess_nonzero`` for a linear problem (``x`` does
  not share memory with ``u`` in dolfinx 0.10+), into ``problem.u`` for a nonlinear one
  (``solve()`` copies ``u`` into its work vector first).
* ``petsc_handles(problem)`` gives the KSP or SNES with its vectors to a backend.

Supported: scalar, vector (blocked) and mixed (e.g. Taylor-Hood) spaces of dolfinx 0.10 and 0.11 (tested on 0.11),
Lagrange and DG, and RT, BDM and Nedelec (each dof at its facet's or edge's midpoint), and block problems
(``u=[u_0, u_1, ...]``, one matrix or ``kind="nest"``, a block on a submesh too), read block by block (``Unknown``);
the component each dof carries is added to the fields for vector, mixed and block problems. Import
``dolfinx_solver`` before ``dolfinx`` when using the PyPI wheel; this module does so.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._fenicsx import import_dolfinx
from .._interrupt import held_interrupts
from .._mpi import abort_job_on_uncaught, on_rank0
from ..canonical.pde import PDEData, QuasilinearResidual

__all__ = ["to_pde", "set_guess", "scatter_guess", "get_solution", "in_adapter_signs", "Unknown", "petsc_handles",
           "problem_kind", "residual_function", "NewtonSystem", "UnsupportedProblemError"]


# the meshes of the problem's blocks while its fields are sampled: a Function on one of them may be
# sampled on another's (a submesh) by point location
_block_meshes: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("block_meshes", default=())


class UnsupportedProblemError(TypeError):
    """The dolfinx problem is of a kind this adapter does not read (say which and why)."""


def problem_kind(problem: Any) -> str:
    dfx = import_dolfinx()
    if isinstance(problem, dfx.fem.petsc.LinearProblem):
        return "linear"
    if isinstance(problem, dfx.fem.petsc.NonlinearProblem):
        return "nonlinear"
    name = type(problem).__name__
    advice = {
        # dolfinx's deprecated Newton solver, and its problem
        "NewtonSolverNonlinearProblem": "; dolfinx's NewtonSolver (deprecated since 0.10) is not read: build the "
        "problem as dolfinx.fem.petsc.NonlinearProblem(F, u, bcs=bcs, petsc_options_prefix='name_', petsc_options="
        "{'snes_type': 'newtonls', ...}), which solves by PETSc's SNES with the same Newton steps",
        # a script that assembles and solves by hand (the heat equation's loop in the FEniCSx tutorial)
        "KSP": "; a KSP the script assembles for itself is not read (the adapter needs the forms, to extract the "
        "data at the dofs and assemble each instance): build dolfinx.fem.petsc.LinearProblem(a, L, bcs=bcs, u=uh, "
        "petsc_options_prefix='name_', petsc_options={'ksp_type': ..., 'pc_type': ...}) from the same forms and "
        "solve that",
        "SNES": "; a SNES the script sets up for itself is not read (the adapter needs the forms): build "
        "dolfinx.fem.petsc.NonlinearProblem(F, u, bcs=bcs, petsc_options_prefix='name_', petsc_options={...}) from "
        "the same residual form and solve that"}
    advice["NewtonSolver"] = advice["NewtonSolverNonlinearProblem"]
    raise UnsupportedProblemError(
        f"expected a dolfinx.fem.petsc.LinearProblem or NonlinearProblem, got {name}{advice.get(name, '')}")


COMPLEX_PROBLEM = ("a complex-valued problem (its unknown complex, as in a dolfinx and PETSc built with complex "
                   "scalars) is not read: the canonical data and the models are real; solve it as it is "
                   "(problem.solve()), or write it as a real block problem of its real and imaginary parts")
COMPLEX_FIELD = "the models take real fields: give its real and imaginary parts as two real fields"


def _complex_valued(value: Any) -> bool:
    """Whether a field (a Constant, a Function, a UFL expression of them, a number) holds
    complex values, which a cast to float would drop without a word but numpy's warning."""
    dfx = import_dolfinx()
    if isinstance(value, (complex, np.complexfloating)):
        return True
    if isinstance(value, dfx.fem.Function):  # the common field, read at every solve: no traversal
        return np.iscomplexobj(value.x.array)
    import ufl
    from ufl.constantvalue import ComplexValue
    from ufl.corealg.traversal import unique_pre_traversal

    if not isinstance(value, ufl.core.expr.Expr):
        return False
    for node in unique_pre_traversal(value):
        if isinstance(node, ComplexValue):
            return True
        if isinstance(node, dfx.fem.Constant) and np.iscomplexobj(node.value):
            return True
        if isinstance(node, dfx.fem.Function) and np.iscomplexobj(node.x.array):
            return True
    return False


class Unknown:
    """What PETSc solves for: ``problem.u``, one Function, or a block problem's Functions
    (``u=[u_0, u_1, ...]``, assembled into one matrix, dolfinx's default kind) in one vector.
    Owned entries are each block's owned entries in turn on every rank, so that PETSc's global
    order, which the canonical data follow, is the ranks' in turn, each with its blocks in turn.

    A nest (``kind="nest"``: a MatNest, a VecNest per block) has the same global order; its
    vectors are read and written block by block (``owned_of``, ``put``).

    ``functions``, ``spaces``, ``sizes`` (owned entries of each: dofs times block size),
    ``n_owned``, ``comm``, ``block`` (whether ``problem.u`` is a list)."""

    def __init__(self, problem: Any) -> None:
        u = problem.u
        self.block = isinstance(u, (list, tuple))
        self.functions = list(u) if self.block else [u]
        if any(np.iscomplexobj(f.x.array) for f in self.functions):
            raise UnsupportedProblemError(COMPLEX_PROBLEM)
        self.spaces = [f.function_space for f in self.functions]
        if len({V.mesh.geometry.dim for V in self.spaces}) > 1:
            raise UnsupportedProblemError("the blocks' meshes lie in spaces of different dimensions: the model places "
                                          "every dof in one space")
        self.sizes = [_n_owned(V) for V in self.spaces]
        self.n_owned = sum(self.sizes)
        self.comm = self.spaces[0].mesh.comm

    def signs(self) -> np.ndarray | None:
        """(n_owned,) +-1, the adapter's sign of each owned entry (``_dof_signs``: flux and edge
        dofs oriented by a fixed direction, where dolfinx orients them by the facet's vertex
        numbers, which MPI changes); None where every space's dofs are point values (all +1)."""
        sign = np.concatenate([_layout(V, n)[3] for V, n in zip(self.spaces, self.sizes)])
        return None if (sign > 0).all() else sign

    def vectors(self) -> np.ndarray | None:
        """(n_owned, gdim + gdim * gdim) each owned entry's value on the unit constant fields and
        on the unit linear ones about its point, in the adapter's signs, where it is a flux or edge
        dof (``_dof_vectors``; zero rows at point values); None where every space's dofs are point
        values."""
        vec = np.concatenate([_layout(V, n)[4] for V, n in zip(self.spaces, self.sizes)])
        return vec if vec.any() else None

    def owned(self) -> np.ndarray:
        """The owned entries (n_owned,), blocks in turn (a copy)."""
        return np.concatenate([f.x.array[:n] for f, n in zip(self.functions, self.sizes)])

    def set_owned(self, values: np.ndarray) -> None:
        """Owned entries from ``values`` (n_owned,), blocks in turn; ghosts updated."""
        for f, lo, n in zip(self.functions, np.cumsum([0, *self.sizes]), self.sizes):
            f.x.array[:n] = values[lo:lo + n]
            f.x.scatter_forward()

    def owned_of(self, vec: Any) -> np.ndarray:
        """The owned entries (n_owned,) of a PETSc vector of the problem's layout (a copy)."""
        if vec.getType() != "nest":
            return vec.array_r[:self.n_owned].copy()
        return np.concatenate([sub.array_r[:n] for sub, n in zip(vec.getNestSubVecs(), self.sizes)])

    def put(self, vec: Any, values: np.ndarray) -> None:
        """Owned entries (n_owned,) into a PETSc vector of the problem's layout; ghosts updated."""
        from petsc4py import PETSc

        nest = vec.getType() == "nest"
        for sub, lo, n in zip(_parts(vec), np.cumsum([0, *self.sizes]), self.sizes if nest else [self.n_owned]):
            sub.array_w[:n] = values[lo:lo + n]
            sub.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)

    def saved(self) -> list[np.ndarray]:
        """Each Function's values with ghosts, for ``restore``."""
        return [f.x.array.copy() for f in self.functions]

    def restore(self, saved: list[np.ndarray]) -> None:
        for f, a in zip(self.functions, saved):
            f.x.array[:] = a


def _n_owned(V) -> int:
    """Owned entries of the PETSc vector (dofs times block size)."""
    return V.dofmap.index_map.size_local * V.dofmap.index_map_bs


_KEPT: dict[int, tuple[Any, np.ndarray, dict[str, Any]]] = {}
_KEPT_SPACES = 8


def _kept(V, what: str, make: Callable[[], Any]) -> Any:
    """``make()``, kept per function space and ``what`` between calls (a family solves every
    instance on one space, and these parts depend on its mesh alone); all of a space's parts
    are made afresh if the space is gone or its mesh has moved (one copy of its geometry). What it
    returns is shared between calls: read-only."""
    geo = V.mesh.geometry.x
    hit = _KEPT.get(id(V))
    if hit is None or hit[0]() is not V or not np.array_equal(hit[1], geo):
        for key in [k for k, v in _KEPT.items() if v[0]() is None]:
            del _KEPT[key]
        if len(_KEPT) >= _KEPT_SPACES:
            del _KEPT[next(iter(_KEPT))]
        hit = _KEPT[id(V)] = (weakref.ref(V), geo.copy(), {})
    parts = hit[2]
    if what not in parts:
        value = make()
        for arr in value if isinstance(value, tuple) else (value,):
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False
        parts[what] = value
    return parts[what]


def _layout(V, n_owned: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_layout_of(V, n_owned)``, kept per function space (``_kept``; for a mixed space the
    sub-space collapses cost more than the assembly)."""
    xyz, comp, box, sign, vectors = _kept(V, f"layout {n_owned}", lambda: _layout_of(V, n_owned))
    return xyz, comp, box, sign, vectors


def _dof_coordinates(V) -> np.ndarray:
    """(n_dofs, 3) a point per dof node: ``V.tabulate_dof_coordinates()``, or on a space whose dofs
    are no point evaluations (Raviart-Thomas, BDM, Nedelec: moments on facets, edges, cells) the
    midpoint of the mesh entity each dof belongs to (``_at_dof_entities``)."""
    if _pointwise(V):
        return _tabulated(V)
    import ufl

    def make() -> np.ndarray:
        x = _at_dof_entities(V, ufl.SpatialCoordinate(V.mesh))
        return np.hstack([x, np.zeros((len(x), 3 - x.shape[1]))])
    return _kept(V, "entity coordinates", make)


def _apart(V, x: np.ndarray) -> np.ndarray:
    """x (n_nodes, 3), where a discontinuous space's dofs share points (DG1: each cell's own copy
    of a vertex), with each dof moved a thousandth of the way to its cell's midpoint: one point
    per dof, so that the same mesh distributed otherwise (MPI) is still matched dof by dof, where
    shared points had left it to interpolation. A continuous space's, or unshared points, as they are."""
    if not getattr(V.ufl_element(), "discontinuous", False) or len(x) < 2:
        return x
    keys = np.round(x / (1e-12 * max(float(np.abs(x).max()), 1.0)))
    if len(np.unique(keys, axis=0)) == len(keys):
        return x
    msh = V.mesh
    cmap = msh.topology.index_map(msh.topology.dim)
    cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
    nodes = V.dofmap.list  # (cells, dofs per cell): a discontinuous space's dofs each in one cell
    cell_of = np.empty(len(x), dtype=np.int64)
    cell_of[nodes.ravel()] = np.repeat(cells, nodes.shape[1])
    mid = import_dolfinx().mesh.compute_midpoints(msh, msh.topology.dim, cells)
    return x + 1e-3 * (mid[cell_of] - x)


# generic directions: a flux or edge dof's sign makes its value on a constant field along the first
# positive (the next where that one is tangent to the facet, or normal to the edge)
_ORIENT = np.array([[1.0, 0.1234, 0.0567], [0.0321, 1.0, 0.0789], [0.0456, 0.0654, 1.0]])


def _dof_response(V) -> np.ndarray | None:
    """(n_nodes, gdim + gdim * gdim) each dof's value on the unit constant field along each axis
    e_i (column i; dolfinx's signs), then on the fields (x_j - p_j) e_i, p the dof's point
    (column gdim + i * gdim + j), or None on a space of point values. A flux or edge dof is
    exactly these dotted with an affine field's value and gradient at its point: what carries it
    to another mesh. The first part is the dof's vector (the facet's normal times its size, the
    edge's tangent); a higher moment (RT2's second on a facet: against a function that changes
    sign along it) has none, and the second part alone. A scalar space whose dofs are moments
    (serendipity) is taken as a field's first component (i = 0 only). A space of matrices (Regge,
    HHJ: moments of t'St and n'Sn, which no orientation flips) gives zeros: its dofs keep their
    signs and are carried as point values."""
    def make() -> np.ndarray | None:
        if _pointwise(V):
            return None
        dfx = import_dolfinx()
        n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        gdim = V.mesh.geometry.dim
        out = np.zeros((n, gdim + gdim * gdim))
        rank = len(getattr(V.ufl_element(), "reference_value_shape", (gdim,)))
        if rank > 1:
            return out
        scalar = rank == 0

        def value(i: int, of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
            f = dfx.fem.Function(V)
            f.interpolate(lambda x: of(x)[None, :] if scalar else np.eye(gdim)[:, [i]] * of(x)[None, :])
            return f.x.array[:n].copy()

        point = _dof_coordinates(V)[:n, :gdim]
        for i in range(1 if scalar else gdim):
            out[:, i] = value(i, lambda x: np.ones(x.shape[1]))
            for j in range(gdim):
                out[:, gdim + i * gdim + j] = value(i, lambda x, j=j: x[j]) - point[:, j] * out[:, i]
        for part in (out[:, :gdim], out[:, gdim:]):  # rounding (a higher moment's 1e-17 on constants) is none
            part[np.abs(part) <= 1e-12 * np.abs(part).max(initial=0.0)] = 0.0
        return out
    return _kept(V, "response", make)


def _dof_signs(V) -> np.ndarray:
    """(n_nodes,) +-1: the adapter's sign of each dof of V. dolfinx orients a flux (RT) or edge
    (N1curl) dof by its facet's or edge's vertex numbers, which differ between a mesh on one rank
    and the same mesh under MPI (about one RT1 dof in ten on an 8 x 8 square flips); the adapter
    orients each by ``_ORIENT`` instead, so that the same mesh gives the same values however it
    is distributed. +1 on a space of point values, and where a dof takes no value on constant
    fields (a higher moment)."""
    def make() -> np.ndarray:
        D = _dof_response(V)  # (n, gdim + gdim * gdim)
        if D is None:
            n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
            return np.ones(n * V.dofmap.index_map_bs)
        D = D[:, :V.mesh.geometry.dim]  # the vectors
        size = np.abs(D).max(axis=1)
        sign, open_ = np.ones(len(D)), size > 1e-12 * max(float(size.max(initial=0.0)), 1e-300)
        for g in _ORIENT[:, :D.shape[1]]:
            p = D @ g
            now = open_ & (np.abs(p) > 1e-6 * size)
            sign[now], open_ = np.sign(p[now]), open_ & ~now
        return sign
    return _kept(V, "signs", make)


def _dof_vectors(V) -> np.ndarray:
    """(n_nodes * bs, gdim + gdim * gdim) ``_dof_response`` in the adapter's signs (``_dof_signs``);
    zero rows on a space of point values."""
    def make() -> np.ndarray:
        D = _dof_response(V)
        if D is None:
            n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
            gdim = V.mesh.geometry.dim
            return np.zeros((n * V.dofmap.index_map_bs, gdim + gdim * gdim))
        return D * _dof_signs(V)[:, None]
    return _kept(V, "vectors", make)


def _pointwise(V) -> bool:
    """Whether V's dofs are point evaluations (Lagrange, DG), so dolfinx tabulates their points."""
    return _tabulated(V) is not None


def _tabulated(V) -> np.ndarray | None:
    """``V.tabulate_dof_coordinates()`` (kept), or None where V's dofs are no point evaluations."""
    def make() -> np.ndarray | None:
        try:
            return V.tabulate_dof_coordinates()
        except RuntimeError as exc:
            if "pointwise evaluation" not in str(exc):
                raise
            return None
    return _kept(V, "tabulated", make)


def _entity_points(V) -> tuple[np.ndarray, list[np.ndarray]]:
    """(P, tdim) reference midpoints of the cell's sub-entities that hold dofs of V, and for each
    the cell-local dofs it holds."""
    import basix

    cell = V.mesh.basix_cell()
    geometry, layout = basix.geometry(cell), V.dofmap.dof_layout
    pts, dofs = [], []
    for d, entities in enumerate(basix.topology(cell)):
        for i, vertices in enumerate(entities):
            local = np.asarray(layout.entity_dofs(d, i), dtype=np.int64)
            if local.size:
                pts.append(geometry[vertices].mean(axis=0))
                dofs.append(local)
    return np.array(pts), dofs


def _at_dof_entities(V, expr: Any) -> np.ndarray:
    """(n_local_nodes, value size) the UFL expression at the midpoint of each local dof's mesh
    entity (facet, edge, cell), evaluated cell by cell (a dof shared by cells takes one cell's value)."""
    msh = V.mesh
    X, dofs = _entity_points(V)
    cmap = msh.topology.index_map(msh.topology.dim)
    cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
    vals = _compiled(V, expr, X, "entities").eval(msh, cells).reshape(len(cells), len(X), -1)
    imap = V.dofmap.index_map
    out = np.zeros((imap.size_local + imap.num_ghosts, vals.shape[2]))
    nodes = V.dofmap.list
    for p, local in enumerate(dofs):
        out[nodes[:, local]] = vals[:, p, None, :]
    return out


def _layout_of(V, n_owned: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates (n_owned, gdim) and component one-hots (n_owned, c) of the owned dofs, and the
    (2, gdim) box of the mesh's geometry nodes (the domain's, which a checkpoint is checked
    against: the dofs' points are inside it by an amount that shrinks with the mesh size where
    no dof sits at the extremes, as DG0's cell midpoints, DG1's moved copies (``_apart``) and
    a curved boundary's edge midpoints, so a finer mesh of the domain had been refused).

    Scalar spaces: one component. Blocked (vector) spaces: each node's coordinates repeated per
    component. Mixed spaces (Taylor-Hood, ...): through each collapsed sub-space's dof map.
    Also each owned dof's sign (n_owned,) (``_dof_signs``) and vector (n_owned, gdim)
    (``_dof_vectors``).
    """
    gdim = V.mesh.geometry.dim
    bs = V.dofmap.index_map_bs

    nodes = V.mesh.geometry.x[:, :gdim]  # ghosts included: they are inside the domain too
    box = np.array([nodes.min(0), nodes.max(0)]) if len(nodes) else np.array([[np.inf] * gdim, [-np.inf] * gdim])
    if V.num_sub_spaces == 0 or bs > 1:
        raw = _dof_coordinates(V)
        xyz = np.repeat(_apart(V, raw)[:, :gdim], bs, axis=0)[:n_owned]
        comp = np.tile(np.eye(bs), (len(xyz) // bs + 1, 1))[:n_owned]
        return xyz, comp, box, _dof_signs(V)[:n_owned], _dof_vectors(V)[:n_owned]
    blocks = []
    for i in range(V.num_sub_spaces):
        Vi, m = V.sub(i).collapse()
        m = np.asarray(m).ravel()
        bsi = Vi.dofmap.index_map_bs
        if Vi.num_sub_spaces and bsi == 1:
            raise UnsupportedProblemError("nested mixed spaces are not supported yet")
        blocks.append((Vi, m, bsi))
    ncomp = sum(b[2] for b in blocks)
    xyz = np.zeros((n_owned, gdim))
    comp, sign, vectors = np.zeros((n_owned, ncomp)), np.ones(n_owned), np.zeros((n_owned, gdim + gdim * gdim))
    off = 0
    for Vi, m, bsi in blocks:
        node = _dof_coordinates(Vi)
        j = np.arange(len(m))
        own = m < n_owned
        xyz[m[own]] = _apart(Vi, node)[j[own] // bsi, :gdim]
        comp[m[own], off + j[own] % bsi] = 1.0
        sign[m[own]] = _dof_signs(Vi)[j[own]]
        vectors[m[own]] = _dof_vectors(Vi)[j[own]]
        off += bsi
    return xyz, comp, box, sign, vectors


def _bcs(problem: Any) -> list[Any]:
    """The problem's Dirichlet conditions (NonlinearProblem keeps them in its SNES context)."""
    if hasattr(problem, "bcs"):
        return list(problem.bcs or [])
    try:
        _, (_, _, kargs) = problem.solver.getFunction()
        return list(kargs.get("bcs") or [])
    except (TypeError, ValueError, AttributeError) as exc:
        raise UnsupportedProblemError("could not read the problem's Dirichlet conditions from its SNES context") from exc


def _bcs_by_block(problem: Any, kind: str) -> list[list[Any]]:
    """A block problem's Dirichlet conditions by block, as its own assembly sorts them (by the
    test spaces of its right-hand side or residual)."""
    fem = import_dolfinx().fem
    return fem.bcs_by_block(fem.extract_function_spaces(problem.L if kind == "linear" else problem.F), _bcs(problem))


def _gather_parts(comm, local: Any) -> list | None:
    """Every rank's ``local``, in rank order, on rank 0 (``None`` elsewhere). On one rank the
    object itself: mpi4py's gather pickles it, tens of milliseconds on a 256x256 mesh."""
    if comm.size == 1:
        return [local]
    abort_job_on_uncaught(comm)
    return comm.gather(local, root=0)


def _gather(comm, local: np.ndarray) -> np.ndarray | None:
    """Owned rows of every rank, stacked in rank order on rank 0 (= PETSc's global order)."""
    parts = _gather_parts(comm, np.ascontiguousarray(local))
    return np.concatenate(parts) if comm.rank == 0 else None


def _field_columns(V, name: str, value: Any, n_owned: int,
                   xyz: np.ndarray) -> tuple[tuple[str, ...], np.ndarray, bool]:
    """(names, (n_owned, c) values, whether they are dof values of V) of one field: a Constant of
    c > 1 components (a load vector, a tensor) gives one column per component, ``name[0]``,
    ``name[1]``, ...; anything else one (``_field_values``)."""
    if _complex_valued(value):
        raise UnsupportedProblemError(f"its values are complex; {COMPLEX_FIELD}")
    if isinstance(value, import_dolfinx().fem.Constant):
        vals = np.asarray(value.value, dtype=float).ravel()
        if vals.size > 1:
            return tuple(f"{name}[{i}]" for i in range(vals.size)), np.tile(vals, (n_owned, 1)), False
    means = _quadrature_means(value)
    if means is not None:  # a quadrature Function: its cell means, a DG0 Function per component
        cols = [_field_values(V, g, n_owned, xyz)[0] for g in means]
        names = (name,) if len(cols) == 1 else tuple(f"{name}[{i}]" for i in range(len(cols)))
        return names, np.stack(cols, axis=1), False
    values, dof_valued = _field_values(V, value, n_owned, xyz)
    return (name,), values[:, None], dof_valued


def _quadrature_means(value: Any) -> list[Any] | None:
    """A Function on a quadrature space (plasticity's internal variables live on one) as its cell
    means, one DG0 Function per component (weighted by the quadrature's weights), or None for any
    other value. Its values sit at quadrature points, which no other space can be interpolated
    from: dolfinx had refused it ("Missing a Basix element")."""
    dfx = import_dolfinx()
    if not isinstance(value, dfx.fem.Function) or not getattr(value.function_space.ufl_element(), "is_quadrature",
                                                              False):
        return None
    Q = value.function_space
    bs = Q.dofmap.index_map_bs
    cells = Q.dofmap.list  # (cells, quadrature points)
    w = np.asarray(getattr(Q.ufl_element(), "_weights", np.ones(cells.shape[1])), dtype=float)
    w = w / w.sum() if w.shape == (cells.shape[1],) and w.sum() > 0 else np.full(cells.shape[1], 1.0 / cells.shape[1])
    vals = value.x.array[(cells[:, :, None] * bs + np.arange(bs)).reshape(len(cells), -1)].reshape(len(cells), -1, bs)
    means = np.einsum("cqb,q->cb", vals, w)
    DG0 = _kept(Q, "cell means", lambda: dfx.fem.functionspace(Q.mesh, ("DG", 0)))
    out = []
    for b in range(bs):
        g = dfx.fem.Function(DG0)
        g.x.array[DG0.dofmap.list[:, 0]] = means[:, b]
        out.append(g)
    return out


@held_interrupts()  # a Ctrl-C inside a Function's constructor left one that printed "Exception ignored" as freed
def _field_values(V, value: Any, n_owned: int, xyz: np.ndarray) -> tuple[np.ndarray, bool]:
    """((n_owned,) the field at the owned dofs, whether those are its dof values in V: a field
    of the unknown's shape interpolated into its space, or a state of that space, which on a
    flux or edge space are moments, not point values (``PDEData.dof_valued``))."""
    import ufl

    dfx = import_dolfinx()
    if isinstance(value, dfx.fem.Constant):
        return np.full(n_owned, float(np.asarray(value.value).ravel()[0])), False
    # a Function, or a UFL expression of Functions, Constants and x (2 * kappa + 1), on the mesh
    expr = isinstance(value, ufl.core.expr.Expr)
    if not (expr or isinstance(value, (int, float, np.number)) or callable(value)) or isinstance(value, bool):
        raise UnsupportedProblemError(f"a {type(value).__name__} cannot be sampled at the dofs; give a dolfinx "
                                      "Function (any space on the mesh), a UFL expression, a Constant, a number or a "
                                      "callable x -> values")
    if np.isscalar(value):
        return np.full(n_owned, float(value)), False
    if not expr:
        value = _one_value_per_point(value)
    if (V.num_sub_spaces or V.dofmap.index_map_bs > 1 or not _pointwise(V)) and not expr:  # x -> values, at dofs
        pts = np.zeros((3, n_owned))
        pts[: xyz.shape[1]] = xyz.T
        return np.asarray(value(pts), dtype=float).reshape(n_owned), False
    f = dfx.fem.Function(V)
    if V.num_sub_spaces or V.dofmap.index_map_bs > 1:
        if value.ufl_shape == ():  # a scalar coefficient (E(x) in elasticity): each component's dofs sample it
            for Vs, idx in _kept(V, "scalar leaves", lambda: _scalar_leaves(V)):
                f.x.array[idx] = _sampled(Vs, value)
            return f.x.array[:n_owned].copy(), False
        if _on_its_own_space(value, V):  # a state of the unknown's own space (a time step's previous w)
            if value.function_space is V or value.function_space == V:
                return _owned_dofs(V, value.x.array, n_owned), True
            # dolfinx interpolates no mixed Function whole ("Element does not have a value_shape")
            for i in range(V.num_sub_spaces):
                f.sub(i).interpolate(value.sub(i))
            return _owned_dofs(V, f.x.array, n_owned), True
        if value.ufl_shape != f.ufl_shape or V.num_sub_spaces and V.dofmap.index_map_bs == 1:
            mixed = V.dofmap.index_map_bs == 1
            also = ("a Function on the problem's own space (a previous state)" if mixed
                    else f"one of shape {f.ufl_shape}")
            raise UnsupportedProblemError(
                f"a Function or expression of shape {value.ufl_shape} cannot be sampled at the dofs of this "
                f"{'mixed' if mixed else 'vector'} space; give a scalar Function (sampled per component), {also}, "
                "a Constant, a number or a callable x -> values")
    elif expr and value.ufl_shape == () and not _pointwise(V):  # a scalar coefficient on a flux (RT) space
        return _sampled(V, value)[:n_owned], False
    _interpolate(f, value)
    return _owned_dofs(V, f.x.array, n_owned), not _pointwise(V) and value.ufl_shape != ()


def _owned_dofs(V, values: np.ndarray, n_owned: int) -> np.ndarray:
    """(n_owned,) the owned part of a Function's values on V, in the adapter's signs (a flux
    field's, interpolated into an RT space, flips with its dofs; point values keep theirs)."""
    return values[:n_owned] * _layout(V, n_owned)[3]


def _sampled(V, value: Any) -> np.ndarray:
    """(n_local,) a scalar field at each local dof of a space without sub-spaces: interpolated, or
    on a space whose dofs are no point evaluations (RT, N1curl), at their entities' midpoints."""
    if not _pointwise(V):
        return _at_dof_entities(V, value)[:, 0]
    g = import_dolfinx().fem.Function(V)
    _interpolate(g, value)
    return g.x.array


def _on_its_own_space(value: Any, V) -> bool:
    """``value`` a Function on V's mesh whose space has V's (mixed or vector) element: one value
    per dof of V."""
    W = getattr(value, "function_space", None)
    return (isinstance(value, import_dolfinx().fem.Function) and V.num_sub_spaces > 0 and W.mesh is V.mesh
            and W.num_sub_spaces == V.num_sub_spaces and W.ufl_element() == V.ufl_element())


def _one_value_per_point(fn: Any) -> Any:
    """``fn`` checked as dolfinx calls it, x (3, N) -> values (N,): dolfinx reads a wrong shape
    without a word, as values from memory past the array's end."""
    def checked(x: np.ndarray) -> np.ndarray:
        v = np.asarray(fn(x))
        if np.iscomplexobj(v):
            raise UnsupportedProblemError(f"the callable's values are complex; {COMPLEX_FIELD}")
        v = np.asarray(v, dtype=float)
        if v.ndim == 0:  # a constant written as a callable: lambda x: 12.0
            return np.full(x.shape[1], float(v))
        if v.size != x.shape[1] or v.ndim > 2 or (v.ndim == 2 and v.shape[0] != 1):
            raise ValueError(f"the callable returned values of shape {v.shape} for {x.shape[1]} points, "
                             f"where one value per point is needed, shape ({x.shape[1]},)")
        return v.reshape(x.shape[1])
    return checked


def _interpolate(f: Any, value: Any) -> None:
    """``f.interpolate(value)``: a Function or a callable as they are; another UFL expression
    through a ``dolfinx.fem.Expression`` at f's space's interpolation points."""
    import ufl

    dfx = import_dolfinx()
    V = f.function_space
    mesh = getattr(getattr(value, "function_space", None), "mesh", V.mesh)
    if isinstance(value, dfx.fem.Function) and mesh is not V.mesh and any(mesh is m for m in _block_meshes.get()):
        # a block on a submesh (HDG's facets) sampling a Function of another block's mesh, the parent: by point
        # location. Not a mesh the problem lacks: where it covers less, dolfinx gives its points 0 without a word
        cmap = V.mesh.topology.index_map(V.mesh.topology.dim)
        cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
        f.interpolate_nonmatching(value, cells, dfx.fem.create_interpolation_data(V, value.function_space, cells))
        return
    if isinstance(value, ufl.core.expr.Expr) and not isinstance(value, dfx.fem.Function):
        parent = _parent_of(value, V)
        if parent is not None:
            # a block on a submesh (HDG's facets) sampling a UFL expression of its parent's x, which dolfinx
            # evaluates on its own mesh only: made a Function of the parent first, then sampled as one. Its space
            # kept, so that the expression compiled on it is too (``_compiled``)
            deg = max(2, int(getattr(V.ufl_element(), "degree", 1)))
            shape = tuple(value.ufl_shape)
            W = _kept(V, f"parent {id(parent)} DG{deg} {shape}",
                      lambda: dfx.fem.functionspace(parent, ("DG", deg, shape) if shape else ("DG", deg)))
            on_parent = dfx.fem.Function(W)
            _interpolate(on_parent, value)
            _interpolate(f, on_parent)
            return
        pts = V.element.interpolation_points
        value = _compiled(V, value, pts() if callable(pts) else pts, "interpolation")  # a method before dolfinx 0.10
    f.interpolate(value)


def _parent_of(expr: Any, V) -> Any:
    """The mesh of another block of the problem that the UFL expression ``expr`` is on, where V
    (a block on a submesh) is not on it; else None."""
    import ufl

    try:
        domain = ufl.domain.extract_unique_domain(expr)
    except ValueError:  # on several meshes, or on none (a number, Constants alone)
        return None
    if domain is None or domain == V.mesh.ufl_domain():
        return None
    return next((m for m in _block_meshes.get() if m.ufl_domain() == domain), None)


_EXPRESSIONS_KEPT = 16


def _compiled(V, expr: Any, points: np.ndarray, where: str) -> Any:
    """``dolfinx.fem.Expression(expr, points)``, kept per space for the same UFL object (the
    last ``_EXPRESSIONS_KEPT``; ``where``: which points of V). A family passes the same expression
    for every instance, its Constants and Functions changed in place, which an Expression reads
    when it is evaluated; making one looks its code up in the JIT cache by a signature of the
    whole expression, which had cost more than the rest of an extraction."""
    held = _kept(V, "expressions", dict)
    key = (where, id(expr))
    hit = held.pop(key, None)  # re-inserted: the dict's order is the order of use
    if hit is None or hit[0] is not expr:  # an id reused by another object once the first is gone
        hit = (expr, import_dolfinx().fem.Expression(expr, points))
        while len(held) >= _EXPRESSIONS_KEPT:
            del held[next(iter(held))]
    held[key] = hit
    return hit[1]


def _scalar_leaves(V) -> list[tuple[Any, np.ndarray]]:
    """(scalar space, the local indices of its dofs in V's) for each scalar component of a
    vector or mixed space V, through the collapsed sub-spaces' dof maps."""
    if V.num_sub_spaces == 0:
        return [(V, np.arange(len(import_dolfinx().fem.Function(V).x.array)))]
    out = []
    for i in range(V.num_sub_spaces):
        Vi, m = V.sub(i).collapse()
        out += [(Vs, np.asarray(m).ravel()[idx]) for Vs, idx in _scalar_leaves(Vi)]
    return out


@held_interrupts()
def _assemble_linear(problem: Any) -> None:
    from petsc4py import PETSc

    fp = import_dolfinx().fem.petsc
    A, b = problem.A, problem.b
    A.zeroEntries()
    fp.assemble_matrix(A, problem.a, bcs=problem.bcs)
    A.assemble()
    # a preconditioner form of the script's own (LinearProblem(..., P=...)): assembled for each
    # instance as its own solve() does; left as it was, it had been stale, or unassembled at first
    P = getattr(problem, "P_mat", None)
    if P is not None:
        P.zeroEntries()
        fp.assemble_matrix(P, problem.preconditioner, bcs=problem.bcs)
        P.assemble()
    for sub in _parts(b):
        with sub.localForm() as bl:
            bl.set(0.0)
    fp.assemble_vector(b, problem.L)
    if isinstance(problem.u, (list, tuple)):  # a block problem, lifted and constrained block by block as its solve()
        fem = import_dolfinx().fem
        fp.apply_lifting(b, problem.a, bcs=fem.bcs_by_block(fem.extract_function_spaces(problem.a, 1), problem.bcs))
        for sub in _parts(b):
            sub.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fp.set_bc(b, fem.bcs_by_block(fem.extract_function_spaces(problem.L), problem.bcs))
        return
    fp.apply_lifting(b, [problem.a], bcs=[problem.bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    for bc in problem.bcs:
        bc.set(b.array_w)


def _parts(vec: Any) -> list[Any]:
    """A VecNest's blocks, or the vector itself."""
    return vec.getNestSubVecs() if vec.getType() == "nest" else [vec]


@held_interrupts()
def _assemble_nonlinear(problem: Any) -> None:
    fp = import_dolfinx().fem.petsc
    fp.assign(problem.u, problem.x)
    snes = problem.solver
    snes.computeFunction(problem.x, problem.b)
    snes.computeJacobian(problem.x, problem.A, problem.P_mat or problem.A)


def to_pde(problem: Any, *, fields: Mapping[str, Any] | None = None, name: str = "pde",
           quasilinear: tuple[float, float, float] | None = None, linearise: bool = True) -> PDEData | None:
    """Canonical data of ``problem`` (rank 0; ``None`` on other ranks).

    fields: name -> a dolfinx Function (any space on the mesh), a UFL expression of Functions,
    Constants and ``SpatialCoordinate`` (``2 * kappa + 1``), a Constant, a float, or a callable
    ``x -> values`` as for ``Function.interpolate``; sampled at the unknown's dofs. A
    Constant of several components gives one field per component (``name[0]``, ``name[1]``, ...),
    and so does a Function on a quadrature space, taken as its cell means;
    on a vector or mixed space a scalar Function is sampled at every component's dofs, and a
    Function on the unknown's own (mixed) space, a previous state, is its values at the dofs.
    For a nonlinear problem the system is linearised at the current ``problem.u``.
    quasilinear: ``(a0, a1, a2)`` when the nonlinear problem is ``-div(k(u) grad u) = f`` on a
    P1 space, ``k(u) = a0 + a1 u + a2 u^2``: its residual is then carried exactly
    (``PDEData.quasilinear``), checked against the problem's own SNES residual.
    linearise=False: the fields, dofs and Dirichlet data alone (``operator``, ``rhs`` and
    ``quasilinear`` None), all that finding the nearest training solution needs; nothing is
    assembled (a linear problem's solve then assembles its own system).
    """
    kind = problem_kind(problem)
    unk = Unknown(problem)
    comm, n_owned = unk.comm, unk.n_owned
    if linearise and quasilinear is not None and unk.block:
        raise UnsupportedProblemError("the quasilinear residual needs a scalar P1 space, not a block problem")
    system = _linearised(problem, kind, n_owned) if linearise else (None, None, None, None)
    mask, bcv, xyz, comp, box = _dof_data(problem, kind, unk)
    coords = np.concatenate(xyz)
    names, fv, dof_valued = _field_data(fields or {}, unk, xyz, name)
    if comp.shape[1] > 1:  # which component each dof carries: the model must tell u_x, u_y and p apart
        fv = np.hstack([fv, comp])
        names = names + tuple(f"component_{i}" for i in range(comp.shape[1]))
    lo, hi = box[0].copy(), box[1].copy()
    comm.Allreduce(_in_place(), lo, op=_mpi_min())
    comm.Allreduce(_in_place(), hi, op=_mpi_max())
    ql = (_quasilinear_local(problem, unk.spaces[0], n_owned, mask, bcv, coords)
          if linearise and quasilinear is not None else None)
    parts = _gather_parts(comm, (*system, coords, fv, mask, bcv, ql, unk.signs(), unk.vectors()))
    n_global = comm.allreduce(n_owned)

    # built on rank 0 from the gathered parts; data it refuses (NaN) are refused on every rank
    def gathered() -> PDEData:
        A = None
        if linearise:
            blocks = [sp.csr_matrix((p[2], p[1], p[0]), shape=(len(p[0]) - 1, n_global)) for p in parts]
            A = blocks[0] if len(blocks) == 1 else sp.vstack(blocks).tocsr()
        sig = {**_space_signature(unk), "components": int(comp.shape[1]),
               "gdim": int(coords.shape[1]), "tdim": int(unk.spaces[0].mesh.topology.dim),
               "field_names": list(names), "kind": kind,
               "bbox": [np.asarray(lo).tolist(), np.asarray(hi).tolist()]}
        cat = lambda i: np.concatenate([p[i] for p in parts])  # noqa: E731
        rhs, bc_values = cat(3) if linearise else None, cat(7)
        # in the adapter's signs (Unknown.signs, None on a rank whose dofs keep dolfinx's): S A S, S b
        S = np.concatenate([np.ones(len(p[4])) if p[9] is None else p[9] for p in parts])
        if (S < 0).any():
            A, rhs = ((sp.diags(S) @ A @ sp.diags(S)).tocsr(), rhs * S) if linearise else (None, None)
            bc_values = bc_values * S
        vectors = None
        if any(p[10] is not None for p in parts):  # flux or edge dofs on some rank
            width = next(p[10].shape[1] for p in parts if p[10] is not None)
            vectors = np.concatenate([np.zeros((len(p[4]), width)) if p[10] is None else p[10] for p in parts])
        pde = PDEData(operator=A, rhs=rhs, coords=cat(4), fields=cat(5), dirichlet=cat(6),
                      bc_values=bc_values, field_names=names, kind=kind, signature=sig, name=name,
                      dof_vectors=vectors, dof_valued=dof_valued)
        if linearise and quasilinear is not None:
            pde.quasilinear = _quasilinear_residual(pde, [p[8] for p in parts], tuple(float(a) for a in quasilinear))
            pde.validate()
        return pde

    return on_rank0(comm, gathered)


def _dof_data(problem: Any, kind: str,
              unk: Unknown) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    """The owned dofs' Dirichlet mask (n_owned,) and values (n_owned,), each block's coordinates
    (n_i, gdim), the component one-hots (n_owned, c), a block problem's blocks side by side (a
    velocity's two, then a pressure's one), and the (2, gdim) box of the meshes' geometry nodes
    (inf, -inf where this rank has none; ``_layout_of``)."""
    by_block = _bcs_by_block(problem, kind) if unk.block else [_bcs(problem)]
    masks, bc_values, xyz, comps, boxes = [], [], [], [], []
    for f, V, n, bcs in zip(unk.functions, unk.spaces, unk.sizes, by_block):
        mask = np.zeros(len(f.x.array), dtype=bool)
        bcv = np.zeros(len(f.x.array))
        for bc in bcs:
            mask[bc.dof_indices()[0]] = True
            bc.set(bcv)
        masks.append(mask[:n])
        bc_values.append(bcv[:n])
        coords, comp, box, _, _ = _layout(V, n)
        xyz.append(coords)
        comps.append(comp)
        boxes.append(box)
    comp = np.zeros((unk.n_owned, sum(c.shape[1] for c in comps)))
    for c, r, col in zip(comps, np.cumsum([0, *unk.sizes]), np.cumsum([0, *(c.shape[1] for c in comps)])):
        comp[r:r + len(c), col:col + c.shape[1]] = c
    boxes = np.stack(boxes)
    box = np.array([boxes[:, 0].min(0), boxes[:, 1].max(0)])
    return np.concatenate(masks), np.concatenate(bc_values), xyz, comp, box


def _field_data(fields: Mapping[str, Any], unk: Unknown, xyz: list[np.ndarray],
                name: str) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """(names, (n_owned, f) values, the names of those that are dof values) of the named fields
    sampled at the owned dofs, block by block."""
    names: tuple[str, ...] = ()
    dof_valued: tuple[str, ...] = ()
    sampled = [np.zeros((unk.n_owned, 0))]
    meshes = _block_meshes.set(tuple(V.mesh for V in unk.spaces))
    try:
        for k, value in fields.items():
            got, values, as_dofs = _field_on_blocks(k, value, unk, xyz, name)
            names += got
            dof_valued += got if as_dofs else ()
            sampled.append(values)
    finally:
        _block_meshes.reset(meshes)
    return names, np.hstack(sampled), dof_valued


def _field_on_blocks(k: str, value: Any, unk: Unknown, xyz: list[np.ndarray],
                     name: str) -> tuple[tuple[str, ...], np.ndarray, bool]:
    """(names, (n_owned, c) values, whether some block's are dof values) of field ``k`` sampled
    on every block, or why it cannot be."""
    try:
        per_block = _per_block(value, unk)
        columns = [_field_columns(V, k, v, n, x) for V, v, n, x in zip(unk.spaces, per_block, unk.sizes, xyz)]
    except UnsupportedProblemError as exc:
        raise UnsupportedProblemError(f"field {k!r}: {exc}{_per_block_advice(unk, value)}") from None
    except (RuntimeError, ValueError, TypeError) as exc:  # dolfinx's or the callable's own words
        raise UnsupportedProblemError(
            f"field {k!r} could not be sampled at the dofs of {name!r} ({type(exc).__name__}: {exc}); give a "
            "Function or UFL expression on the problem's own mesh (a block on a submesh samples its parent mesh's "
            "by point location), a Constant, a number, or a callable x -> one value per point "
            f"(x: (3, N)){_per_block_advice(unk, value)}") from exc
    if len({got for got, _, _ in columns}) > 1:  # a vector Constant on one block, a number on another
        raise UnsupportedProblemError(f"field {k!r}: its items give the blocks different columns "
                                      f"{[got for got, _, _ in columns]}; give each block the same kind of value")
    return columns[0][0], np.concatenate([values for _, values, _ in columns]), any(d for _, _, d in columns)


def _space_signature(unk: Unknown) -> dict[str, Any]:
    """Element, degree and block size of the unknown's space; a block problem's as lists, one
    entry per block, under an element named ``blocks(...)`` (``blocks(DG, DG on a 1-d mesh)``: the
    second block on a submesh of the first's facets, as HDG's)."""
    got = []
    for V in unk.spaces:
        el = V.ufl_element()
        family = str(getattr(el, "family_name", el))
        family = "DG" if family == "P" and getattr(el, "discontinuous", False) else family  # basix names both P
        if V.mesh is not unk.spaces[0].mesh:  # a block on a submesh (HDG's facets)
            family += f" on a {V.mesh.topology.dim}-d mesh"
        got.append((family, int(getattr(el, "degree", -1)), int(V.dofmap.index_map_bs)))
    if not unk.block:
        return dict(zip(("element", "degree", "block_size"), got[0]))
    return {"element": f"blocks({', '.join(g[0] for g in got)})", "degree": [g[1] for g in got],
            "block_size": [g[2] for g in got]}


def _per_block_advice(unk: Unknown, value: Any) -> str:
    """What to add to a field's refusal on a block problem given one value for every block (a
    velocity Function has no value at a pressure block's dofs)."""
    if not unk.block or isinstance(value, (list, tuple)):
        return ""
    return (f"; on this block problem one value is sampled on all {len(unk.functions)} blocks: give a list of one "
            "value per block instead, e.g. [u_prev, p_prev] or [u_prev, 0.0]")


def _per_block(value: Any, unk: Unknown) -> list[Any]:
    """A field's value for each block: the value itself for every block, or, given a list or
    tuple on a block problem, its items in turn (a previous state [u_prev, p_prev])."""
    if not (unk.block and isinstance(value, (list, tuple))):  # a list on one unknown: refused as unreadable
        return [value] * len(unk.functions)
    if len(value) != len(unk.functions):
        raise UnsupportedProblemError(f"a {type(value).__name__} of {len(value)} items, where the problem has "
                                      f"{len(unk.functions)} blocks: give one item per block, or one value for all")
    return list(value)


def _linearised(problem: Any, kind: str, n_owned: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This rank's rows of the system, assembled as ``problem.solve()`` does: CSR (indptr,
    columns, values) and the right-hand side; for a nonlinear problem the first Newton system
    at the current ``u``, ``J u = J u0 - F(u0)``."""
    (_assemble_linear if kind == "linear" else _assemble_nonlinear)(problem)
    unk = Unknown(problem)
    indptr, cols, vals = _csr(problem.A)
    b_loc = unk.owned_of(problem.b)
    if kind == "nonlinear":
        ju0 = problem.A.createVecLeft()
        problem.A.mult(problem.x, ju0)
        b_loc = unk.owned_of(ju0) - b_loc
        ju0.destroy()
    return indptr, cols, vals, b_loc


def _csr(A: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This rank's rows of ``A`` as CSR (indptr, columns, values); a MatNest (kind="nest"), which
    has no rows of its own, through an AIJ copy in the same global order."""
    from petsc4py import PETSc

    if "sbaij" in A.getType():  # PETSc gives no row of it (upper triangles alone); dolfinx's own solve failed on one
        raise UnsupportedProblemError(
            f"the problem's matrix is {A.getType()} (kind='sbaij'), whose rows PETSc does not give, and which dolfinx "
            "assembles a whole operator into (its own solve of one did not converge here): build the problem with "
            "the default kind (AIJ) or kind='baij'")
    if A.getType() != "nest":
        return A.getValuesCSR()
    aij = A.convert("aij", out=PETSc.Mat())  # out=None would convert the problem's own in place
    try:
        return tuple(a.copy() for a in aij.getValuesCSR())
    finally:
        aij.destroy()


def _quasilinear_local(problem: Any, V, n_owned: int, mask: np.ndarray, bcv: np.ndarray,
                       coords: np.ndarray) -> tuple:
    """This rank's part of the quasilinear residual (collective: evaluates the SNES residual):
    owned cells with global dof indices (C, d+1), basis gradients (C*d, n_global), volumes (C,), and
    the residual F at two states with the Dirichlet values imposed, (u1, F(u1), u2, F(u2)) on the
    owned dofs."""
    if problem_kind(problem) != "nonlinear":
        raise UnsupportedProblemError("quasilinear= is for a NonlinearProblem")
    msh = V.mesh
    el = V.ufl_element()
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    if V.num_sub_spaces or V.dofmap.index_map_bs != 1 or int(getattr(el, "degree", -1)) != 1 or tdim != gdim:
        raise UnsupportedProblemError("the quasilinear residual needs a scalar P1 space on a mesh of full dimension")
    n_cells = msh.topology.index_map(tdim).size_local
    if np.asarray(V.dofmap.list).shape[1] != tdim + 1:
        raise UnsupportedProblemError("the quasilinear residual needs simplex cells (triangles, tetrahedra)")
    glob, grad, measure = _kept(V, "simplices", lambda: _simplices(V, n_cells, tdim, gdim))
    free = ~mask[:n_owned]
    u1 = np.where(free, 0.0, bcv[:n_owned])
    scale = 1.0 + msh.comm.allreduce(float(np.abs(bcv).max(initial=0.0)), op=_mpi_max())
    u2 = u1 + np.where(free, scale * np.sin(1.0 + 7.0 * coords[:, 0] + 3.0 * coords[:, -1]), 0.0)
    return glob, grad, measure, u1, _residual_owned(problem, u1), u2, _residual_owned(problem, u2)


def _simplices(V, n_cells: int, tdim: int, gdim: int) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """This rank's owned P1 simplices: their global dof indices (C, d+1), the gradients of the
    basis on each (C*d, n_global) (row c*d + i: component i on cell c) and volumes (C,)."""
    cells = np.asarray(V.dofmap.list)[:n_cells]
    xc = V.tabulate_dof_coordinates()[:, :gdim][cells]  # (C, d+1, d)
    jac = np.transpose(xc[:, 1:] - xc[:, :1], (0, 2, 1))  # (C, d, d): columns are the edges from vertex 0
    jinv = np.linalg.inv(jac)  # row i: grad of barycentric coordinate i+1
    grads = np.concatenate([-jinv.sum(1, keepdims=True), jinv], 1)  # (C, d+1, d)
    measure = np.abs(np.linalg.det(jac)) / float(np.prod(np.arange(1, tdim + 1)))
    glob = V.dofmap.index_map.local_to_global(cells.ravel().astype(np.int32)).reshape(cells.shape)
    n_global = V.dofmap.index_map.size_global
    rows = np.broadcast_to(np.arange(n_cells)[:, None, None] * gdim + np.arange(gdim)[None, None, :], grads.shape)
    cols = np.broadcast_to(glob[:, :, None], grads.shape)
    grad = sp.csr_matrix((grads.ravel(), (rows.ravel(), cols.ravel())), shape=(n_cells * gdim, n_global))
    return glob, grad, measure


@held_interrupts()
def _residual_owned(problem: Any, v: np.ndarray) -> np.ndarray:
    """F(v) on this rank's owned dofs for v on them (collective); ``problem.u`` is left as it was."""
    unk = Unknown(problem)
    saved = unk.saved()  # the SNES callback copies x into u
    x, f = problem.x.duplicate(), problem.x.duplicate()
    try:
        unk.put(x, v)
        problem.solver.computeFunction(x, f)
        return unk.owned_of(f)
    finally:
        unk.restore(saved)
        x.destroy()
        f.destroy()


def _quasilinear_residual(pde: PDEData, parts: list[tuple], coeff: tuple[float, float, float]) -> QuasilinearResidual:
    """Rank 0: the exact residual of ``-div(k(u) grad u) = f`` from every rank's part.

    The source is read off the problem's own residual at the first state, and the result is
    checked against that residual at the second: a problem of another form is refused rather
    than given a wrong residual."""
    cells = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    grad = parts[0][1] if len(parts) == 1 else sp.vstack([p[1] for p in parts]).tocsr()
    measure = parts[0][2] if len(parts) == 1 else np.concatenate([p[2] for p in parts])
    u1, f1, u2, f2 = (np.concatenate([p[i] for p in parts]) for i in (3, 4, 5, 6))
    q = QuasilinearResidual(cells=cells, grad=grad, measure=measure, coeff=coeff, source=np.zeros(pde.n))
    free = ~pde.dirichlet
    q.source = np.where(free, q.residual(u1) - f1, 0.0)
    q2 = q.residual(u2)[free]
    err = float(np.linalg.norm(q2 - f2[free]) / (np.linalg.norm(f2[free]) + np.linalg.norm(q.source) + 1e-300))
    if not err < 1e-8:
        raise ValueError(f"{pde.name}: the problem's residual is not -div(k(u) grad u) - f with k(u) = "
                         f"{coeff[0]} + {coeff[1]} u + {coeff[2]} u^2 (relative mismatch {err:.1e}); "
                         "give its own coefficients, or train without quasilinear=")
    return q


class NewtonSystem:
    """``F(v)`` and ``J(v)`` (global dof order) of a nonlinear problem by its own SNES callbacks,
    for the learned start's merit; ``problem.u`` is left as it was. Call it for F (n,);
    ``jacobian(v)`` gives J as a SciPy CSR matrix (n, n)."""

    def __init__(self, problem: Any) -> None:
        self.problem = problem
        self._u = Unknown(problem)
        self._sign = self._u.signs()  # v, F and J in the adapter's signs (S v, S F, S J S)
        self._x, self._f = problem.x.duplicate(), problem.x.duplicate()
        self._jac: Any = None  # made at the first jacobian(): most calls never need it
        self._pre: Any = None  # the preconditioner form's matrix, where the problem has one

    @held_interrupts()
    def _at(self, v: np.ndarray, evaluate: Callable[[Any], Any]) -> Any:
        saved = self._u.saved()  # the SNES callbacks copy x into u
        try:
            self._u.put(self._x, v if self._sign is None else v * self._sign)
            return evaluate(self.problem.solver)
        finally:
            self._u.restore(saved)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        def f(snes):
            snes.computeFunction(self._x, self._f)
            F = self._u.owned_of(self._f)
            return F if self._sign is None else F * self._sign

        return self._at(v, f)

    def jacobian(self, v: np.ndarray) -> sp.csr_matrix:
        def j(snes):
            # as SNES does: F first, whose callback copies x into u; J's callback assembles at u
            snes.computeFunction(self._x, self._f)
            if self._jac is None:
                A, P = self.problem.A, self.problem.P_mat
                if not A.assembled:  # a MatNest duplicated before its first assembly: blocks with no pattern, zeros
                    snes.computeJacobian(self._x, A, P or A)  # as the problem's own first Newton step does
                # a preconditioner form of the problem's own (P=...) goes into a matrix of its own: given
                # J's, it had overwritten the Jacobian with the preconditioner's matrix
                self._jac, self._pre = A.duplicate(), None if P is None else P.duplicate()
            snes.computeJacobian(self._x, self._jac, self._pre or self._jac)
            indptr, cols, vals = _csr(self._jac)
            J = sp.csr_matrix((vals, cols, indptr), shape=(len(v), len(v)))
            return J if self._sign is None else (sp.diags(self._sign) @ J @ sp.diags(self._sign)).tocsr()

        return self._at(v, j)


def residual_function(problem: Any) -> NewtonSystem | None:
    """The ``NewtonSystem`` (F, and J on request) of a nonlinear ``problem``, for the learned
    start's merit. ``None`` for a linear problem or under MPI with more than one rank (the merit
    runs on rank 0 only, assembly is collective)."""
    if problem_kind(problem) != "nonlinear":
        return None
    if Unknown(problem).comm.size > 1:
        return None
    return NewtonSystem(problem)


def _in_place():
    from mpi4py import MPI

    return MPI.IN_PLACE


def _mpi_min():
    from mpi4py import MPI

    return MPI.MIN


def _mpi_max():
    from mpi4py import MPI

    return MPI.MAX


def _scatter_owned(unk: Unknown, guess: np.ndarray | None) -> np.ndarray:
    """Each rank's owned part of ``guess`` (n_global,), given on rank 0 in global dof order; a
    guess of another size is refused on every rank."""
    comm = unk.comm
    sizes = _gather_parts(comm, unk.n_owned)

    def chunks() -> list[np.ndarray]:
        ends = np.cumsum([0, *sizes])
        g = None if guess is None else np.asarray(guess, dtype=float).reshape(-1)
        if g is None or g.size != ends[-1]:
            raise ValueError(f"the guess has {'no' if g is None else g.size} values and the problem {ends[-1]} dofs: "
                             "give one value per dof, in global dof order (as to_pde and get_solution give them), "
                             "on rank 0")
        return [g[lo:hi] for lo, hi in zip(ends[:-1], ends[1:])]

    parts = on_rank0(comm, chunks)
    local = parts[0] if comm.size == 1 else comm.scatter(parts, root=0)
    sign = unk.signs()
    return local if sign is None else local * sign  # the adapter's signs to dolfinx's


def scatter_guess(problem: Any, guess: np.ndarray | None) -> np.ndarray:
    """This rank's owned part (n_owned,) of ``guess`` (global dof order, on rank 0; collective)."""
    return _scatter_owned(Unknown(problem), guess)


def in_adapter_signs(problem: Any, values: np.ndarray | None) -> np.ndarray | None:
    """``values`` (one rank: every dof, global order) from dolfinx's signs to the adapter's
    (``Unknown.signs``), or back: a solver's own vector (``SolveResult.x``) beside ``to_pde``'s
    data, or a start from them for a solver. As they are where every dof is a point value, or
    where they are not one per dof (the solver refuses those)."""
    sign = None if values is None else Unknown(problem).signs()
    return values if sign is None or np.shape(values) != sign.shape else np.asarray(values) * sign


def set_guess(problem: Any, guess: np.ndarray | None) -> None:
    """Put ``guess`` (global dof order, on rank 0; ignored elsewhere) where PETSc starts from."""
    kind = problem_kind(problem)
    unk = Unknown(problem)
    local = _scatter_owned(unk, guess)
    if kind == "linear":
        unk.put(problem.x, local)
        problem.solver.setInitialGuessNonzero(True)
    else:
        unk.set_owned(local)


def get_solution(problem: Any) -> np.ndarray | None:
    """The current ``u`` in global dof order on rank 0 (a block problem's blocks in turn on each rank)."""
    unk = Unknown(problem)
    sign = unk.signs()
    return _gather(unk.comm, unk.owned() if sign is None else unk.owned() * sign)


def petsc_handles(problem: Any, *, assemble: bool = True) -> dict[str, Any]:
    """What a PETSc backend needs: {'kind', 'ksp' or 'snes', 'b', 'x', 'finish'}; ``finish()``
    copies the solver's vector back into ``problem.u`` as ``problem.solve()`` does.
    ``assemble=False``: the linear system is assembled already (``to_pde`` just did it)."""
    dfx = import_dolfinx()
    from petsc4py import PETSc

    kind = problem_kind(problem)
    if kind == "linear":
        if assemble:
            _assemble_linear(problem)
        def finish() -> None:
            for sub in _parts(problem.x):  # a nest's blocks (kind="nest"), or x itself
                sub.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
            dfx.fem.petsc.assign(problem.x, problem.u)

        return {"kind": kind, "ksp": problem.solver, "b": problem.b, "x": problem.x, "finish": finish}

    def load_guess() -> None:
        dfx.fem.petsc.assign(problem.u, problem.x)

    def finish() -> None:
        for sub in _parts(problem.x):
            sub.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        dfx.fem.petsc.assign(problem.x, problem.u)

    return {"kind": kind, "snes": problem.solver, "x": problem.x, "load_guess": load_guess, "finish": finish}
