"""Implicit bipartite message passing for LP/QP (variables <-> constraints over A).

One weight-tied block updates variable and constraint embeddings from messages along the
nonzeros of ``A`` and from the KKT residual of the current primal-dual estimate (decoded from
the embeddings), so the instance's own residual stays in the loop. Size-agnostic: a batch is
the disjoint union of its instances' graphs, and nothing depends on n or m.

Shapes: N = total variables, M = total constraints in a batch, d = width.
The fixed-point state z has shape (B, n + m, d).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from ..canonical import QPData
from torch.nn.utils import parametrize

from ..core import K_LIMIT, ImplicitDiff, ImplicitLayer, Phantom, Picard, check_fields, spectral_linear

__all__ = ["QPGNNConfig", "QPGraph", "QPImplicitModel", "QPExplicitModel", "build_graph", "kkt_merit"]

_CLIP = 1e3


@dataclass(frozen=True, kw_only=True)
class QPGNNConfig:
    """width: embedding size; damping: mixing of old and new embeddings (contractivity);
    train_k: forward iterations in training; backward: 'implicit' or 'phantom';
    anchor_scale: let the anchor set the instance's scales where they are far beyond the data's
    (``build_graph``; checkpoints from before it load with False);
    unit_messages: messages along A divided by a bound on its spectral norm
    (``QPGraph.msg_scale``), so the message path cannot expand the state; without it the
    iteration failed to settle on the larger and denser families (checkpoints from before it
    load with False)."""

    width: int = 64
    damping: float = 0.5
    train_k: int = 20
    backward: str = "implicit"
    residual_feedback: bool = True
    anchor_scale: bool = True
    unit_messages: bool = True

    def __post_init__(self) -> None:
        check_fields(self, positive=("width", "train_k"), fractions=("damping",),
                     flags=("residual_feedback", "anchor_scale", "unit_messages"),
                     choices={"backward": ("implicit", "phantom")},
                     at_most={"train_k": K_LIMIT})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class QPGraph:
    """B instances of one size (n variables, m constraints), normalised by their own scales.

    A: (B, m, n) dense, or for large sparse instances (``DENSE_LIMIT``, ``SPARSE_FROM``) the B
    blocks on the diagonal of one sparse CSR (B m, B n); At likewise. P: (B, n, n) dense or (B n, B n)
    sparse by the same rule on n * n, or None. var_feat: (B, n, 8); con_feat: (B, m, 7);
    x_anchor: (B, n), y_anchor: (B, m): normalised anchor solution (zeros without anchors);
    c, lb, ub: (B, n); l, u: (B, m) (+-inf kept); x_scale, y_scale: (B, 1).
    msg_scale: (B, 1, 1) ``1 / max(1, sqrt(|A|_1 |A|_inf))`` of the normalised A, a bound on
    ``1 / |A|_2``.
    """

    A: Tensor
    At: Tensor
    P: Tensor | None
    var_feat: Tensor
    con_feat: Tensor
    c: Tensor
    l: Tensor
    u: Tensor
    lb: Tensor
    ub: Tensor
    x_scale: Tensor
    y_scale: Tensor
    x_anchor: Tensor
    y_anchor: Tensor
    msg_scale: Tensor

    @property
    def batch(self) -> int:
        return self.var_feat.shape[0]

    @property
    def n(self) -> int:
        return self.var_feat.shape[1]

    def to(self, device: torch.device | str) -> QPGraph:
        move = lambda t: t.to(device) if isinstance(t, Tensor) else t  # noqa: E731
        return QPGraph(**{k: move(v) for k, v in self.__dict__.items()})


def _mm(a: Tensor, x: Tensor) -> Tensor:
    """(B, p, q) dense, or block-diagonal sparse (B p, B q), times (B, q, d) -> (B, p, d)."""
    if a.layout == torch.sparse_csr:
        b, q, d = x.shape
        return (a @ x.reshape(b * q, d)).reshape(b, -1, d)
    return torch.bmm(a, x)


def _finite_clip(v: np.ndarray) -> np.ndarray:
    return np.clip(np.where(np.isfinite(v), v, 0.0), -_CLIP, _CLIP)


def instance_scales(qp: QPData) -> tuple[float, float, float]:
    """(s_b, s_c, s_a): magnitudes of the right-hand sides/bounds, costs, and A."""
    return qp.scales


# entries (rows x columns) of one instance's matrix above which a batch keeps it sparse, and
# above SPARSE_FROM when at most SPARSE_FILL of them are nonzero: a dense product costs the
# whole rectangle (a Maros-Meszaros QP such as CONT-050, 2,401 x 2,597 and 0.2% filled, trained
# ten times slower dense), while torch's sparse product costs several times a dense one per
# entry (dense wins on random-lp's 5% at 500 x 1000)
DENSE_LIMIT = 4_000_000
SPARSE_FROM = 250_000
SPARSE_FILL = 0.01


ANCHOR_RMS = 10.0


def _anchor_factor(v: np.ndarray, scale: float) -> float:
    """How much to widen ``scale`` so that the normalised anchor's rms is at most ANCHOR_RMS."""
    rms = float(np.sqrt(np.mean(np.square(v)))) if v.size else 0.0
    return max(1.0, rms / (scale * ANCHOR_RMS)) if np.isfinite(rms) else 1.0


def build_graph(qps: list[QPData], *, anchors: list[tuple[np.ndarray, np.ndarray]] | None = None,
                dtype: torch.dtype = torch.float32, anchor_scale: bool = True) -> QPGraph:
    """Normalise each instance by its own scales; all must share (n, m).

    anchors: per instance a known solution (x, y) of a related instance (the nearest training
    instance's optimum); the model predicts a correction to it. anchor_scale: where the anchor,
    in the data's units (x ~ rhs / A, y ~ c / A), has an rms above ANCHOR_RMS, its own rms sets
    the unit instead: on share1b x reaches orders of magnitude more of those units than the
    clipped features and a relative loss dominated by a few entries can learn.
    """
    n, m = qps[0].n, qps[0].m
    if any(q.n != n or q.m != m for q in qps):
        raise ValueError("build_graph: a batch holds instances of one size; group them by (n, m) first")
    mats, pmats = [], []
    vf, cf, cs, ls, us, lbs, ubs, xs, ys, xa, ya, ms_ = [], [], [], [], [], [], [], [], [], [], [], []
    has_p = any(q.P is not None for q in qps)
    for i, q in enumerate(qps):
        s_b, s_c, s_a = instance_scales(q)
        s_x = s_b / max(s_a, 1e-12)
        s_y = s_c / max(s_a, 1e-12)
        if anchors is not None and anchor_scale:
            s_x *= _anchor_factor(anchors[i][0], s_x)
            s_y *= _anchor_factor(anchors[i][1], s_y)
        mats.append(q.A / s_a)
        absa = abs(mats[-1])
        # sqrt(|A|_1 |A|_inf) >= |A|_2, in O(nnz); the loose side only damps messages more
        bound = float(np.sqrt(absa.sum(0).max() * absa.sum(1).max())) if absa.nnz else 1.0
        ms_.append([[1.0 / max(1.0, bound)]])
        p = q.P if q.P is not None else None
        if has_p:
            pmats.append((p if p is not None else sp.csr_matrix((n, n))) * (s_x / s_c))
        pd = np.asarray(p.diagonal()) * (s_x / s_c) if p is not None else np.zeros(n)
        c = q.c / s_c
        ax_ = np.clip(anchors[i][0] / s_x, -_CLIP, _CLIP) if anchors is not None else np.zeros(n)
        ay_ = np.clip(anchors[i][1] / s_y, -_CLIP, _CLIP) if anchors is not None else np.zeros(m)
        xa.append(ax_)
        ya.append(ay_)
        vf.append(np.stack([c, _finite_clip(q.lb / s_x), _finite_clip(q.ub / s_x), np.isfinite(q.lb),
                            np.isfinite(q.ub), pd, np.ones(n), ax_], 1))
        eq = np.isfinite(q.l) & (q.l == q.u)
        cf.append(np.stack([_finite_clip(q.l / s_b), _finite_clip(q.u / s_b), np.isfinite(q.l),
                            np.isfinite(q.u), eq, np.ones(m), ay_], 1))
        cs.append(c)
        ls.append(np.where(np.isfinite(q.l), q.l / s_b, -np.inf))
        us.append(np.where(np.isfinite(q.u), q.u / s_b, np.inf))
        lbs.append(np.where(np.isfinite(q.lb), q.lb / s_x, -np.inf))
        ubs.append(np.where(np.isfinite(q.ub), q.ub / s_x, np.inf))
        xs.append([s_x])
        ys.append([s_y])
    t = lambda v: torch.as_tensor(np.stack(v), dtype=dtype)  # noqa: E731

    def mat(ms: list[sp.spmatrix]) -> Tensor:
        size = ms[0].shape[0] * ms[0].shape[1]
        if size > DENSE_LIMIT or (size > SPARSE_FROM and max(x.nnz for x in ms) <= SPARSE_FILL * size):
            c = sp.block_diag(ms, format="csr")
            c.sort_indices()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
                return torch.sparse_csr_tensor(torch.as_tensor(c.indptr, dtype=torch.long),
                                               torch.as_tensor(c.indices, dtype=torch.long),
                                               torch.as_tensor(c.data, dtype=dtype), c.shape, check_invariants=False)
        return torch.as_tensor(np.stack([x.toarray() for x in ms]), dtype=dtype)

    a = mat(mats)
    # dense: the transpose is a view, not a second conversion
    at = mat([x.T for x in mats]) if a.layout == torch.sparse_csr else a.transpose(1, 2)
    return QPGraph(
        A=a, At=at, P=mat(pmats) if has_p else None,
        var_feat=t(vf), con_feat=t(cf), c=t(cs), l=t(ls), u=t(us), lb=t(lbs), ub=t(ubs),
        x_scale=t(xs), y_scale=t(ys), x_anchor=t(xa), y_anchor=t(ya), msg_scale=t(ms_),
    )


class _Block(nn.Module):
    """z = [h_var; h_con] (B, n+m, d) -> next z."""

    def __init__(self, cfg: QPGNNConfig) -> None:
        super().__init__()
        d = cfg.width
        self.cfg = cfg
        self.enc_v = nn.Sequential(nn.Linear(8, d), nn.ReLU(), nn.Linear(d, d))
        self.enc_c = nn.Sequential(nn.Linear(7, d), nn.ReLU(), nn.Linear(d, d))
        self.msg_vc = spectral_linear(d, d, bias=False)
        self.msg_cv = spectral_linear(d, d, bias=False)
        self.upd_c = spectral_linear(2 * d, d)
        self.upd_v = spectral_linear(2 * d, d)
        n_res = 3 if cfg.residual_feedback else 0
        self.res_c = nn.Linear(n_res, d, bias=False) if n_res else None
        self.res_v = nn.Linear(n_res, d, bias=False) if n_res else None
        self.dec_x = nn.Linear(d, 1)
        self.dec_y = nn.Linear(d, 1)
        self._enc_cache: tuple[int, bool, Tensor, Tensor] | None = None

    def decode(self, z: Tensor, g: QPGraph) -> tuple[Tensor, Tensor]:
        """Normalised (x, y): (B, n), (B, m): the anchor plus a decoded correction."""
        n = g.n
        return (g.x_anchor + self.dec_x(z[:, :n]).squeeze(-1),
                g.y_anchor + self.dec_y(z[:, n:]).squeeze(-1))

    def _enc(self, g: QPGraph) -> tuple[Tensor, Tensor]:
        # the encodings do not depend on z: once per graph and grad mode
        hit = self._enc_cache
        if hit is None or hit[0] != id(g) or hit[1] != torch.is_grad_enabled():
            hit = (id(g), torch.is_grad_enabled(), self.enc_v(g.var_feat), self.enc_c(g.con_feat))
            self._enc_cache = hit
        return hit[2], hit[3]

    def forward(self, z: Tensor, g: QPGraph) -> Tensor:
        n = g.n
        hv, hc = z[:, :n], z[:, n:]
        inj_v, inj_c = self._enc(g)
        if self.res_c is not None:
            x, y = self.decode(z, g)
            ax = _mm(g.A, x.unsqueeze(-1)).squeeze(-1)
            viol = torch.minimum(torch.maximum(ax, g.l), g.u) - ax
            rd = g.c - _mm(g.At, y.unsqueeze(-1)).squeeze(-1)
            if g.P is not None:
                rd = rd + _mm(g.P, x.unsqueeze(-1)).squeeze(-1)
            gl = torch.tanh(torch.clamp(ax - g.l, max=1e3))
            gu = torch.tanh(torch.clamp(g.u - ax, max=1e3))
            slo = torch.tanh(torch.clamp(x - g.lb, max=1e3))
            sup = torch.tanh(torch.clamp(g.ub - x, max=1e3))
            inj_c = inj_c + self.res_c(torch.stack([torch.tanh(viol), gl, gu], -1))
            inj_v = inj_v + self.res_v(torch.stack([torch.tanh(rd), slo, sup], -1))
        # unit_messages: with |A|_2 <= 1 and spectrally normalised weights the message path
        # is 1-Lipschitz in z, and the damping makes the block settle
        to_c = _mm(g.A, self.msg_vc(hv))
        if self.cfg.unit_messages:
            to_c = to_c * g.msg_scale
        hc_new = torch.tanh(self.upd_c(torch.cat([hc, to_c], -1)) + inj_c)
        to_v = _mm(g.At, self.msg_cv(hc_new))
        if self.cfg.unit_messages:
            to_v = to_v * g.msg_scale
        hv_new = torch.tanh(self.upd_v(torch.cat([hv, to_v], -1)) + inj_v)
        a = self.cfg.damping
        return (1 - a) * z + a * torch.cat([hv_new, hc_new], 1)

    def init(self, g: QPGraph) -> Tensor:
        m = g.con_feat.shape[1]
        return torch.zeros(g.batch, g.n + m, self.cfg.width, dtype=g.var_feat.dtype, device=g.var_feat.device)


def _top(t: Tensor) -> Tensor:
    """(B,) largest entry of each row of a non-negative (B, k), 0 where k = 0: a problem with
    no constraint rows (a cvxpy problem with bounds only, or none) has nothing to violate."""
    return torch.nn.functional.pad(t, (0, 1)).amax(1)


def kkt_merit(g: QPGraph, x: Tensor, y: Tensor) -> Tensor:
    """(B,) relative KKT residual of normalised (x (B, n), y (B, m)): the largest of the
    primal violation, the dual sign violation and the relative objective gap, each measured
    as ``canonical.qp.kkt_residuals`` does (there in original units, here normalised)."""
    ax = _mm(g.A, x.unsqueeze(-1)).squeeze(-1)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    primal = torch.maximum(_top(torch.relu(g.l - ax)), _top(torch.relu(ax - g.u)))
    primal = torch.maximum(primal, torch.maximum(_top(torch.relu(g.lb - x)), _top(torch.relu(x - g.ub))))
    px = _mm(g.P, x.unsqueeze(-1)).squeeze(-1) if g.P is not None else None
    r = g.c - _mm(g.At, y.unsqueeze(-1)).squeeze(-1)
    if px is not None:
        r = r + px
    fl, fu, flb, fub = torch.isfinite(g.l), torch.isfinite(g.u), torch.isfinite(g.lb), torch.isfinite(g.ub)
    # a positive y_i needs a finite l_i, a negative one a finite u_i; the same for r and the bounds
    dual = torch.stack([_top(torch.where(fl, zero, torch.relu(y))), _top(torch.where(fu, zero, torch.relu(-y))),
                        _top(torch.where(flb, zero, torch.relu(r))),
                        _top(torch.where(fub, zero, torch.relu(-r)))]).amax(0)
    pobj = (g.c * x).sum(1)
    side = lambda v, lo, hi: torch.where(v > 0, torch.where(torch.isfinite(lo), lo, zero),  # noqa: E731
                                         torch.where(torch.isfinite(hi), hi, zero))
    dobj = (y * side(y, g.l, g.u)).sum(1) + (r * side(r, g.lb, g.ub)).sum(1)
    if px is not None:
        q = 0.5 * (x * px).sum(1)
        pobj, dobj = pobj + q, dobj - q
    gap = (pobj - dobj).abs() / (1.0 + pobj.abs() + dobj.abs())
    sides = torch.cat([torch.where(fl, g.l.abs(), zero), torch.where(fu, g.u.abs(), zero)], 1)
    return torch.stack([primal / (1.0 + _top(sides)), dual / (1.0 + _top(g.c.abs())), gap]).amax(0)


class _KKTGuard:
    """Fixed-point callback: keeps, per instance, the decoded (x, y) of least ``kkt_merit``."""

    def __init__(self, block: _Block, g: QPGraph) -> None:
        self.block, self.g = block, g
        self.best: tuple[Tensor, Tensor] | None = None
        self.best_merit: Tensor | None = None

    def __call__(self, i: int, z: Tensor) -> None:
        x, y = self.block.decode(z, self.g)
        e = kkt_merit(self.g, x, y).nan_to_num(nan=torch.inf)
        if self.best is None:
            self.best, self.best_merit = (x, y), e
            return
        better = e < self.best_merit
        self.best = (torch.where(better[:, None], x, self.best[0]), torch.where(better[:, None], y, self.best[1]))
        self.best_merit = torch.where(better, e, self.best_merit)


class QPImplicitModel(nn.Module):
    """Predicts normalised primal and dual values of every instance in a ``QPGraph``."""

    def __init__(self, cfg: QPGNNConfig = QPGNNConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        block = _Block(cfg)
        # Picard: the block is damped already, and Anderson's least squares over the whole
        # (B, n+m, d) state costs more than the block itself at these sizes.
        backward = (ImplicitDiff(solver=Picard(), tol=1e-4, max_iter=40) if cfg.backward == "implicit"
                    else Phantom(steps=5, damping=0.5))
        self.layer = ImplicitLayer(block, solver=Picard(), backward=backward, train_k=cfg.train_k)

    @property
    def block(self) -> _Block:
        return self.layer.block  # type: ignore[return-value]

    def forward(self, g: QPGraph, *, k: int | None = None, return_iterates: bool = False,
                safeguard: bool = False):
        """Returns (x_norm (B, n), y_norm (B, m), solve record); k defaults to train_k.

        safeguard (inference): per instance, the iterate of least relative KKT residual
        (``kkt_merit``, what a first-order solver's stopping test measures) among the first k,
        instead of the k-th: more iterations never hand the solver a worse start by that measure."""
        self.block._enc_cache = None
        if torch.is_grad_enabled():
            out = self.layer(g, k=k, return_iterates=return_iterates)
            x, y = self.block.decode(out.z, g)
            return x, y, out.solve
        # with one iterate there is nothing to choose from
        guard = _KKTGuard(self.block, g) if safeguard and (k or self.layer.train_k) > 1 else None
        with parametrize.cached():  # spectral norms computed once per call, not per iteration
            out = self.layer(g, k=k, return_iterates=return_iterates, callback=guard)
        if guard is not None and guard.best is not None:
            return guard.best[0], guard.best[1], out.solve
        x, y = self.block.decode(out.z, g)
        return x, y, out.solve

    def frozen(self) -> QPImplicitModel:
        """An inference copy: eval mode, no gradients, the spectral normalisations baked into
        plain weights (the same outputs, without recomputing them on every call)."""
        # a fresh model, not a deepcopy: parametrized modules share their generated class
        # with their copies, and unparametrizing a copy would break the original
        twin = QPImplicitModel(self.cfg)
        for mod in twin.modules():
            if parametrize.is_parametrized(mod):
                for name in list(mod.parametrizations.keys()):
                    parametrize.remove_parametrizations(mod, name, leave_parametrized=False)
        state = {}
        was_training = self.training
        self.eval()
        with torch.no_grad(), parametrize.cached():
            for mname, mod in self.named_modules():
                if "parametrizations" in mname.split("."):
                    continue  # the originals behind a parametrization: read through its owner below
                pre = f"{mname}." if mname else ""
                for pname, t in mod.named_parameters(recurse=False):
                    state[pre + pname] = t.detach().clone()
                if parametrize.is_parametrized(mod):
                    for tname in mod.parametrizations.keys():
                        state[pre + tname] = getattr(mod, tname).detach().clone()
        self.train(was_training)
        dev = next(self.parameters()).device
        twin.load_state_dict(state, strict=True)
        return twin.to(dev).eval().requires_grad_(False)

    def predict(self, qps: list[QPData], *, k: int | None = None, device: str = "cpu",
                anchors: list[tuple[np.ndarray, np.ndarray]] | None = None,
                safeguard: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """Unnormalised (x, y) for each instance (inference, no grad); groups by size;
        ``safeguard`` as in ``forward``."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(qps)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, q in enumerate(qps):
            groups.setdefault((q.n, q.m), []).append(i)
        for idx in groups.values():
            g = build_graph([qps[i] for i in idx], anchors=[anchors[i] for i in idx] if anchors is not None else None,
                            dtype=self.block.dec_x.weight.dtype, anchor_scale=self.cfg.anchor_scale).to(device)
            with torch.no_grad():
                x, y, _ = self(g, k=k, safeguard=safeguard)
            x = (x * g.x_scale).double().cpu().numpy()
            y = (y * g.y_scale).double().cpu().numpy()
            for j, i in enumerate(idx):
                out[i] = (x[j], y[j])
        return out  # type: ignore[return-value]


class QPExplicitModel(nn.Module):
    """The explicit baseline of the paper's Table 1: the same block as ``QPImplicitModel``,
    with untied weights, applied ``depth`` times and trained by ordinary backprop."""

    def __init__(self, cfg: QPGNNConfig = QPGNNConfig(), *, depth: int | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(depth or cfg.train_k))

    def forward(self, g: QPGraph, *, k: int | None = None, return_iterates: bool = False):
        """Returns (x_norm (B, n), y_norm (B, m), None); ``k`` must be None or the depth."""
        if k is not None and k != len(self.blocks):
            raise ValueError(f"an explicit model has a fixed depth ({len(self.blocks)}); k={k} is not available")
        z = self.blocks[0].init(g)
        for b in self.blocks:
            b._enc_cache = None
            z = b(z, g)
        x, y = self.blocks[-1].decode(z, g)
        return x, y, None
