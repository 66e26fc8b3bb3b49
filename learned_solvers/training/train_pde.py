"""Training the mesh implicit model on solved PDE instances (CPU by default, CUDA on request).

Loss per instance: relative L2 error of the solution plus ``residual_weight`` times the
relative Jacobi-scaled residual ``||D^-1 (b - A u)|| / ||D^-1 b||`` of the (first Newton)
system: Krylov and Newton remove smooth errors cheaply, so rough errors are what a start must
avoid.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .._threads import THREADS_FROM, torch_threads
from ..canonical.pde import PDEData
from ..core.config import K_LIMIT, check_fields
from ..models.mesh_anchors import MESH_ANCHOR_KINDS, MeshAnchorBank
from ..models.mesh_gnn import MeshGNNConfig, MeshImplicitModel, residual_hat
from ..models.mesh_graph import CoarseOperatorError, FamilyNorm, MeshGraph, build_mesh_graph, is_symmetric
from ..options import check_device, check_seed
from .loop import fit, validation_split

__all__ = ["PDETrainConfig", "PDETrainResult", "train_mesh_model", "relative_errors", "DEFAULT_GRID"]

DEFAULT_GRID = {1: 64, 2: 16, 3: 8}
"""pooling cells per axis by the mesh's dimension (64, 256 and 512 cells in all): in 3D, 16 per
axis made the mix 4096 x 4096 and the coarse space up to 4096 dofs, factorised densely per
instance, which made training and inference on 3D meshes impractically slow"""


@dataclass(frozen=True, kw_only=True)
class PDETrainConfig:
    epochs: int = 40
    batch: int = 8
    lr: float = 2e-3
    width: int = 32
    # pooling grid per axis: grid^d cells, each mixed with all (a dense grid^d x grid^d weight);
    # None: DEFAULT_GRID of the mesh's dimension (16 per axis in 2D, 8 in 3D)
    grid: int | None = None
    train_k: int | None = None  # None: 16, or 4 for a solution-state model (its error at 16 is at float32's floor)
    residual_weight: float = 0.01
    # Hutchinson estimate of |d block / dz|_F^2 at the training iterate (core.jacobian_penalty),
    # as the LP/QP model trains with; 0 = off
    jacobian_weight: float = 0.0
    # what the model corrects (MeshAnchorBank): "kernel" the training solutions' kernel regression
    # on the fields where leave-one-out prefers it to the nearest one, else the nearest; "nearest"
    # the nearest training solution; None: zeros
    anchor: str | None = "kernel"
    anchor_dropout: float = 0.25  # batches trained without anchors, so the model also runs on new meshes
    coarse_correction: bool = True  # linear problems, and nonlinear ones with their own residual
    nonlinear_residual: bool = True  # feed back the exact residual when instances carry it (PDEData.quasilinear)
    # MeshGNNConfig.solution_state (the answer is exactly the fixed point, and more iterations
    # converge to it); None: on where the block's step applies: linear problems with symmetric
    # operators (it minimises the energy) and quasilinear ones whose residual the model feeds
    # back (it minimises the linearised residual); off elsewhere (navier-stokes, non-symmetric)
    solution_state: bool | None = None
    device: str = "cpu"
    seed: int = 0
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_device(self.device)
        check_seed(self.seed)
        if self.anchor not in (*MESH_ANCHOR_KINDS, None):
            raise ValueError(f"anchor must be one of {', '.join(MESH_ANCHOR_KINDS)} or None, got {self.anchor!r}")
        # here, where they are given, not after the labelling; the model's own fields are checked again by
        # MeshGNNConfig
        check_fields(self, positive=("epochs", "batch", "width", *(("train_k",) if self.train_k is not None else ())),
                     at_most={"train_k": K_LIMIT}, rates=("lr",), weights=("jacobian_weight", "residual_weight"),
                     fractions=("val_fraction",), shares=("anchor_dropout",),
                     flags=("coarse_correction", "nonlinear_residual"))
        if self.solution_state is not None and not isinstance(self.solution_state, bool):
            raise TypeError(f"PDETrainConfig.solution_state must be True, False or None, got {self.solution_state!r}")
        if self.grid is not None and (isinstance(self.grid, bool) or not isinstance(self.grid, int) or self.grid < 2):
            raise ValueError(f"grid must be at least 2 cells per axis, got {self.grid!r}")


@dataclass
class PDETrainResult:
    model: MeshImplicitModel
    norm: FamilyNorm
    anchors: MeshAnchorBank | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    val_error: float = math.nan
    val_indices: list[int] = field(default_factory=list)  # held out of training and of the anchor bank
    interrupted: str | None = None  # how a Ctrl-C stopped training early (``fit``), else None


def _split(v: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    return list(torch.split(v, sizes))


def _loss(u: torch.Tensor, t: torch.Tensor, g: MeshGraph, residual_weight: float) -> torch.Tensor:
    res = residual_hat(g, u)
    out = []
    for ui, ti, ri, bi in zip(_split(u, g.sizes), _split(t, g.sizes), _split(res, g.sizes), _split(g.bhat, g.sizes)):
        e = (ui - ti).norm() / (ti.norm() + 1e-12)
        out.append(e + residual_weight * ri.norm() / (bi.norm() + 1e-12))
    return torch.stack(out).mean()


def _check_draws_differ(pdes: list[PDEData], solutions: list[np.ndarray]) -> None:
    """Refuse a family whose draws all look the same to the model: it could learn nothing of how
    the answer moves with them, and says which part of the user's ``UserPDE`` to fix."""
    if len({p.data_digest for p in pdes}) > 1:
        return
    scale = max(float(np.linalg.norm(solutions[0])), 1e-300)
    if all(np.linalg.norm(s - solutions[0]) <= 1e-8 * scale for s in solutions[1:]):
        raise ValueError(f"the {len(pdes)} training instances are one problem: every draw of the parameters gave the "
                         "same fields, boundary values, system and solution, so the draws change nothing the problem "
                         "solves; UserPDE.apply(params) must write each draw into the problem's Functions or Constants "
                         "(f.x.array[:] = ..., c.value = ...), not rebuild them")
    raise ValueError(f"the {len(pdes)} training instances look alike to the model (the same fields, boundary values "
                     "and system) though their solutions differ: the parameters change something it does not see; "
                     "name the Function or Constant they change among UserPDE.fields")


def relative_errors(pred: list[np.ndarray], true: list[np.ndarray]) -> np.ndarray:
    return np.array([np.linalg.norm(p - t) / (np.linalg.norm(t) + 1e-300) for p, t in zip(pred, true)])


def train_mesh_model(pdes: list[PDEData], solutions: list[np.ndarray], *, config: PDETrainConfig = PDETrainConfig(),
                     progress: bool = True) -> PDETrainResult:
    """Fit on (pdes, solutions); a ``val_fraction`` is held out for model selection. Under
    torchrun every rank passes the same data and trains on its share of each epoch's batches
    (DDP), as ``train_qp_model`` does."""
    if len(pdes) < 2:
        raise ValueError(f"training needs at least 2 solved instances, got {len(pdes)}: the family's instances "
                         "must solve to optimality (the warnings above say how the others ended)")
    _check_draws_differ(pdes, solutions)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    val_i, tr_i = validation_split(len(pdes), config.val_fraction, rng)
    norm = FamilyNorm.fit([pdes[i] for i in tr_i], [solutions[i] for i in tr_i])
    gdim = pdes[0].coords.shape[1]
    ql = pdes[0].quasilinear
    use_ql = (config.nonlinear_residual and ql is not None
              and all(p.quasilinear is not None and p.quasilinear.coeff == ql.coeff for p in pdes))
    coarse = config.coarse_correction and (pdes[0].kind == "linear" or use_ql)
    grid = config.grid if config.grid is not None else DEFAULT_GRID[gdim]
    if coarse and not use_ql:
        try:  # the Galerkin correction factors P^T A P by Cholesky
            build_mesh_graph(pdes[:1], norm, grid=grid, coarse_correction=True)
        except CoarseOperatorError as exc:
            warnings.warn(f"training without the coarse correction: {str(exc).split(':')[0]} (an indefinite "
                          "operator, such as a saddle point's, or a singular one, such as a pure Neumann problem's)",
                          RuntimeWarning, stacklevel=2)
            coarse = False
    # the block's step minimises the energy, which a symmetric linear problem has, or (a
    # quasilinear one, whose exact residual the block sees) the linearised residual
    symmetric = coarse and not use_ql and pdes[0].kind == "linear" and all(is_symmetric(p.operator) for p in pdes[:3])
    fits = symmetric or (coarse and use_ql)
    state = fits if config.solution_state is None else config.solution_state
    if state and not fits:
        raise ValueError("solution_state needs a linear problem with a symmetric operator, or a quasilinear one "
                         "whose residual the model feeds back (PDEData.quasilinear), with the coarse correction: "
                         "its step minimises the energy or the residual; this family's instances are "
                         f"{pdes[0].kind}{' with a non-symmetric operator' if pdes[0].kind == 'linear' else ''}: "
                         "leave solution_state unset (or --pde-solution-state auto) for the decoded model")
    cfg = MeshGNNConfig(width=config.width, grid=grid,
                        train_k=config.train_k if config.train_k is not None else (4 if state else 16),
                        n_fields=pdes[0].fields.shape[1], gdim=gdim,
                        coarse_correction=coarse, quasilinear=ql.coeff if use_ql else None, solution_state=state)
    dev = torch.device(config.device)
    model = MeshImplicitModel(cfg).to(dev)

    bank = (MeshAnchorBank.build([pdes[i] for i in tr_i], [solutions[i] for i in tr_i], norm, kind=config.anchor)
            if config.anchor is not None else None)
    pos = {int(i): j for j, i in enumerate(tr_i)}
    drop_rng = np.random.default_rng(config.seed + 1)

    def batches(idx: np.ndarray, train: bool) -> list[tuple[MeshGraph, torch.Tensor]]:
        out = []
        for s in range(0, len(idx), config.batch):
            chunk = idx[s:s + config.batch]
            anchors = None
            if bank is not None and not (train and drop_rng.random() < config.anchor_dropout):
                # leave-one-out: a training instance never sees its own solution
                anchors = [bank.anchor(pdes[i], exclude=pos.get(int(i)) if train else None) for i in chunk]
            g = build_mesh_graph([pdes[i] for i in chunk], norm, grid=grid,
                                 coarse_correction=cfg.coarse_correction, anchors=anchors,
                                 quasilinear=cfg.quasilinear).to(dev)
            t = torch.as_tensor(np.concatenate([solutions[i] for i in chunk]) / norm.u_scale,
                                dtype=torch.float32, device=dev)
            out.append((g, t))
        return out

    train_b, val_b = batches(tr_i, True), batches(val_i, False)
    # a small batch's graph: extra threads spin more than they compute
    small = dev.type == "cpu" and config.batch * max(p.n for p in pdes) < THREADS_FROM
    with torch_threads(1 if small else None):
        res = _fit(model, norm, train_b, val_b, config, rng, progress)
    res.anchors = bank
    res.val_indices = [int(i) for i in val_i]
    return res


def _fit(model: MeshImplicitModel, norm: FamilyNorm, train_b: list, val_b: list, config: PDETrainConfig,
         rng: np.random.Generator, progress: bool) -> PDETrainResult:
    def batch_loss(net, batch):
        g, t = batch
        u, rec = net(g)
        return _loss(u, t, g, config.residual_weight), g, rec

    def val_score() -> float:
        return float(np.mean([torch.stack([(a - b).norm() / (b.norm() + 1e-12) for a, b in
                                           zip(_split(model(g)[0], g.sizes), _split(t, g.sizes))]).mean().item()
                              for g, t in val_b]))

    res = fit(model, train_b, batch_loss=batch_loss, val_score=val_score, epochs=config.epochs, lr=config.lr,
              jacobian_weight=config.jacobian_weight, rng=rng, val_key="val_error", progress=progress,
              desc=f"training mesh model ({model.cfg.backward} gradients)")
    return PDETrainResult(model=model, norm=norm, history=res.history, seconds=res.seconds, val_error=res.best_val,
                          interrupted=res.interrupted)
