"""Anchor bank: solved training instances, looked up by normalised data distance.

The learned start of an instance begins at an anchor, which the implicit model corrects with
the instance's own residual in the loop. The anchor is either the optimum of the nearest
training instance (the simple baseline; ``kind="nearest"``) or the prediction of a linear
model of the family (``kind="linear"``): a ridge regression of the training optima on the
data that varies across the family (costs, right-hand sides, bounds), fitted in closed form
with its penalty chosen by leave-one-out error. Many families are near-linear maps of their
data between active-set changes (an MPC's optimum is piecewise affine in its initial
state), and a regression on all the training instances averages where one neighbour does
not. Instances of a size the bank has never seen get no anchor (zeros), except where the
training instances' models drift by name (``Layout``: files where a customer or a product comes
and goes): the bank then holds them all in the union of their names, and reads an instance of
any size into it, and its anchor back, by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ..canonical import QPData

if TYPE_CHECKING:  # a bank is saved as torch tensors, and read from a checkpoint's numpy arrays without torch
    import torch

__all__ = ["data_vector", "raw_vector", "AnchorBank", "ANCHOR_KINDS", "RidgeFit", "best_ridge", "affine_eigh",
           "LINEAR_PENALTIES", "LINEAR_INTERCEPT", "Layout", "Placement"]

ANCHOR_KINDS = ("nearest", "linear")

LINEAR_MIN_INSTANCES = 8
"""a size group with fewer solved instances keeps the nearest optimum as its anchor"""

LINEAR_PENALTIES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""a linear model's ridge penalties (the LP/QP linear anchor's, the PDE kernel's linear metric's),
relative to the mean squared norm of its centred data: leave-one-out picks"""

LINEAR_INTERCEPT = 1e4
"""the weight of the constant in a linear model's kernel (``affine_eigh``), so large that the
intercept is all but unpenalised"""

CENTRED_RIDGE_PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)
"""the LP/QP linear anchor's absolute penalties before ``affine_eigh`` (checkpoints from before
it, commit 8b8b793, refit with them, as their networks were trained)"""


def affine_eigh(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(s, v, scale): the eigendecomposition ``v diag(s) v'`` of an affine ridge regression's
    kernel on the centred rows c (N, D), ``c c' / scale + LINEAR_INTERCEPT`` (scale: their mean
    squared norm); a row w's kernel row is ``c @ w / scale + LINEAR_INTERCEPT``. With an intercept
    all but unpenalised the fit does not depend on which mean c was centred by, so ``best_ridge``'s
    leave-one-out leaves an instance out of the mean too: centred by the mean of all, its row is
    minus the sum of the others', and with fewer instances than data a fit that all but
    interpolates them predicted it exactly (random-lp 200x400: leave-one-out 5e-5, held out 0.12)."""
    gram = c @ c.T
    scale = max(float(np.trace(gram)) / len(c), 1e-300)
    s, v = np.linalg.eigh(gram / scale + LINEAR_INTERCEPT)
    return np.maximum(s, 0.0), v, scale


LAYOUT_MIN_KNOWN = 0.5
"""the share of an instance's variables, and of its constraints, a bank of drifting layouts
must know by name to anchor it: with fewer it is another model"""


def _unique(names: tuple[str, ...] | None, count: int) -> bool:
    return names is not None and len(names) == count and len(set(names)) == count


@dataclass(frozen=True)
class Placement:
    """Where an instance's variables and constraints sit in a ``Layout``: ``cols`` (n,) and
    ``rows`` (m,), each an index into the layout's names, -1 for a name it lacks."""

    cols: np.ndarray
    rows: np.ndarray
    n_all: int
    m_all: int

    @staticmethod
    def _spread(v: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
        out = np.zeros(size, dtype=v.dtype)
        known = idx >= 0
        out[idx[known]] = v[known]
        return out

    @staticmethod
    def _gather(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
        out = np.zeros(len(idx), dtype=v.dtype)
        known = idx >= 0
        out[known] = v[idx[known]]
        return out

    def data(self, v: np.ndarray) -> np.ndarray:
        """An instance's (n + 2m + 2n,) ``raw_vector`` or ``data_vector`` in the layout's order,
        (n_all + 2 m_all + 2 n_all,), 0 where the instance lacks a name."""
        n, m = len(self.cols), len(self.rows)
        parts = np.split(v, np.cumsum([n, m, m, n]))
        where = ((self.cols, self.n_all), (self.rows, self.m_all), (self.rows, self.m_all), (self.cols, self.n_all),
                 (self.cols, self.n_all))
        return np.concatenate([self._spread(part, idx, size) for part, (idx, size) in zip(parts, where)])

    def spread(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An instance's x (n,), y (m,) (or active sides) in the layout: (n_all,), (m_all,)."""
        return self._spread(x, self.cols, self.n_all), self._spread(y, self.rows, self.m_all)

    def back(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The layout's x (n_all,), y (m_all,) read back for the instance: (n,), (m,), 0 for the
        names the layout lacks."""
        return self._gather(x, self.cols), self._gather(y, self.rows)


@dataclass(frozen=True)
class Layout:
    """The union of the training instances' variable and constraint names (in the order first
    met), where their models drift: a customer or a product comes and goes between files, so an
    instance's sizes and positions change while its names keep their meaning. A name absent
    from an instance counts as a zero there (its data, its optimal value and dual, its active
    side): in a transportation model, a customer who orders nothing."""

    var_names: tuple[str, ...]
    con_names: tuple[str, ...]

    @property
    def size(self) -> tuple[int, int]:
        """(variables, constraints) of the layout: the key of the bank's one group."""
        return len(self.var_names), len(self.con_names)

    @cached_property
    def _at(self) -> tuple[dict[str, int], dict[str, int]]:
        return ({v: i for i, v in enumerate(self.var_names)}, {c: i for i, c in enumerate(self.con_names)})

    @classmethod
    def of(cls, qps: list[QPData]) -> Layout | None:
        """The layout of ``qps`` where each carries unique variable and constraint names, they are
        not all one model's (an ``mps:`` family's instances share theirs: its bank keys groups by
        size, as for unnamed instances), and they are one model drifting: each instance has at
        least ``LAYOUT_MIN_KNOWN`` of its variables' and of its constraints' names among those
        more than half the instances have (a folder of several models has not); else None."""
        if not all(_unique(q.var_names, q.n) and _unique(q.con_names, q.m) for q in qps):
            return None
        if len({(tuple(q.var_names), tuple(q.con_names)) for q in qps}) < 2:
            return None
        vs: dict[str, int] = {}  # in the order first met: how many instances have the name
        cs: dict[str, int] = {}
        for q in qps:
            for counts, names in ((vs, q.var_names), (cs, q.con_names)):
                for name in names:
                    counts[name] = counts.get(name, 0) + 1
        half = len(qps) / 2
        for q in qps:
            for counts, names in ((vs, q.var_names), (cs, q.con_names)):
                if sum(counts[name] > half for name in names) < LAYOUT_MIN_KNOWN * len(names):
                    return None
        return cls(tuple(vs), tuple(cs))

    @cached_property
    def _last(self) -> list:
        return [None, None, None]  # (var_names, con_names, placement) of the last ``place``

    def place(self, qp: QPData) -> Placement | None:
        """Where ``qp`` sits in the layout, or None where it has no unique names or knows fewer
        than ``LAYOUT_MIN_KNOWN`` of its variables or constraints."""
        last = self._last
        # one start asks up to three times (covers, anchor, candidates) for the same names, which
        # the memo holds, so an identical object cannot be another instance's
        if last[0] is qp.var_names and last[1] is qp.con_names and qp.var_names is not None:
            return last[2]
        out = None
        if _unique(qp.var_names, qp.n) and _unique(qp.con_names, qp.m):
            va, ca = self._at
            cols = np.fromiter((va.get(v, -1) for v in qp.var_names), dtype=np.int64, count=qp.n)
            rows = np.fromiter((ca.get(c, -1) for c in qp.con_names), dtype=np.int64, count=qp.m)
            if (cols >= 0).sum() >= LAYOUT_MIN_KNOWN * qp.n and (rows >= 0).sum() >= LAYOUT_MIN_KNOWN * qp.m:
                out = Placement(cols, rows, *self.size)
        last[:] = [qp.var_names, qp.con_names, out]
        return out

    def state(self) -> dict[str, torch.Tensor]:
        """The names as UTF-8 bytes (uint8 tensors; NUL-separated), so the weights file holds them."""
        import torch

        enc = lambda names: torch.frombuffer(bytearray("\0".join(names).encode()), dtype=torch.uint8)  # noqa: E731
        return {"anchors.layout.var_names": enc(self.var_names), "anchors.layout.con_names": enc(self.con_names)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Layout | None:
        parts = [state.get(f"anchors.layout.{part}") for part in ("var_names", "con_names")]
        if all(p is None for p in parts):
            return None
        if any(p is None for p in parts):
            raise ValueError("anchors.layout holds the names of one side only (variables or constraints)")
        try:
            vn, cn = (tuple(s.split("\0")) if s else () for s in (bytes(_array(p).astype(np.uint8)).decode()
                                                                  for p in parts))
        except UnicodeDecodeError as e:
            raise ValueError(f"anchors.layout's names are not UTF-8 ({e})") from None
        return cls(vn, cn)


def _array(v: Any) -> np.ndarray:
    """A saved part as numpy: a torch tensor's own array, or the array a checkpoint read without torch holds."""
    return v if isinstance(v, np.ndarray) else v.numpy()


def raw_vector(qp: QPData) -> np.ndarray:
    """The instance's data as given, infinities as 0: (n + 2m + 2n,) (the linear anchor's input)."""
    f = lambda v: np.where(np.isfinite(v), v, 0.0)  # noqa: E731
    return np.concatenate([qp.c, f(qp.l), f(qp.u), f(qp.lb), f(qp.ub)])


def data_vector(qp: QPData) -> np.ndarray:
    """The instance's data, normalised by its own scales: (n + 2m + 2n,)."""
    s_b, s_c, _ = qp.scales
    v = raw_vector(qp)
    v[:qp.n] /= s_c
    v[qp.n:] /= s_b
    return v


@dataclass(frozen=True)
class RidgeFit:
    """A ridge regression of targets t (N, m) on the training instances' Gram matrix, by the
    penalty of least leave-one-out error (``best_ridge``): ``coef`` (N, m), t(v) = mean + k(v) @
    coef for v's kernel row k(v) (N,); ``loo`` (N, m) the leave-one-out predictions; ``error``
    their median relative L2 error."""

    penalty: float
    error: float
    coef: np.ndarray
    loo: np.ndarray


def best_ridge(s: np.ndarray, v: np.ndarray, t: np.ndarray, penalties: tuple[float, ...]) -> RidgeFit:
    """Kernel ridge regression of t (N, m), centred by its mean, on a Gram matrix given by its
    eigendecomposition ``v diag(s) v'`` (one decomposition serves every penalty), with the
    penalty of ``penalties`` whose leave-one-out predictions (in closed form) lie nearest t, by
    median relative L2 error."""
    tm = t.mean(0)
    vt = v.T @ (t - tm)
    norm = np.linalg.norm(t, axis=1) + 1e-12
    out = None
    for lam in penalties:
        coef = v @ (vt / (s + lam)[:, None])
        # an instance's leave-one-out residual is its coefficient over (K + lam)^-1's diagonal: the
        # fit's residual over one minus the leverage, written without either difference, which
        # cancel where the fit all but interpolates (a small penalty; floored, they once put a
        # leave-one-out error near 0.001 on a regression whose refits miss by 96%)
        inv_diag = np.einsum("ij,j,ij->i", v, 1.0 / (s + lam), v)
        loo = t - coef / inv_diag[:, None]
        err = float(np.median(np.linalg.norm(loo - t, axis=1) / norm))
        if out is None or err < out.error:
            out = RidgeFit(lam, err, coef, loo)
    return out


@dataclass(frozen=True)
class _Ridge:
    """Kernel-form ridge regression of x (N, n) and y (N, m) on standardised data (N, D)."""

    keep: np.ndarray  # (D,) bool: the entries that vary across the group
    mean: np.ndarray  # (D_keep,)
    scale: np.ndarray  # (D_keep,)
    z: np.ndarray  # (N, D_keep) standardised training data
    coef_x: np.ndarray  # (N, n): x(v) = x_mean + (z(v) @ z') @ coef_x
    coef_y: np.ndarray  # (N, m)
    x_mean: np.ndarray
    y_mean: np.ndarray
    loo_x: np.ndarray  # (N, n) leave-one-out predictions at the training instances
    loo_y: np.ndarray  # (N, m)
    penalty: tuple[float, float]  # (x's, y's), chosen by leave-one-out error
    kernel_scale: float = 1.0  # a kernel row is z @ z(v) / kernel_scale + intercept
    intercept: float = 0.0

    @classmethod
    def fit(cls, raw: np.ndarray, x: np.ndarray, y: np.ndarray, *, affine: bool = True) -> _Ridge:
        """``affine``: ``affine_eigh``'s kernel; else the plain centred one of checkpoints from before."""
        mean, sd = raw.mean(0), raw.std(0)
        keep = sd > 1e-12 * (1.0 + np.abs(mean))
        z = (raw[:, keep] - mean[keep]) / sd[keep]
        if affine:  # one decomposition serves every penalty
            s, v, scale = affine_eigh(z)
            penalties, intercept = LINEAR_PENALTIES, LINEAR_INTERCEPT
        else:
            s, v = np.linalg.eigh(z @ z.T)
            s, scale, penalties, intercept = np.maximum(s, 0.0), 1.0, CENTRED_RIDGE_PENALTIES, 0.0
        bx, by = best_ridge(s, v, x, penalties), best_ridge(s, v, y, penalties)
        return cls(keep, mean[keep], sd[keep], z, bx.coef, by.coef, x.mean(0), y.mean(0), bx.loo, by.loo,
                   (bx.penalty, by.penalty), scale, intercept)

    def predict(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kz = self.z @ ((raw[self.keep] - self.mean) / self.scale) / self.kernel_scale + self.intercept
        return self.x_mean + kz @ self.coef_x, self.y_mean + kz @ self.coef_y


def _check_group(size: str, vectors: np.ndarray, parts: dict[str, np.ndarray | None], n: int, m: int) -> None:
    """Refuse a saved group whose arrays are not (N, .) with the same N, x (N, n), y (N, m) and
    the sides alike (a damaged file could otherwise ask for an N x N kernel of any size)."""
    want = {"x": n, "y": m, "row_side": m, "var_side": n, "raw": None}
    if vectors.ndim != 2:
        raise ValueError(f"anchors.{size}.vectors has shape {vectors.shape}, not (instances, features)")
    if (parts["row_side"] is None) != (parts["var_side"] is None):
        raise ValueError(f"anchors.{size} holds one side of its optimal active sets (rows or variables) only")
    for part, cols in want.items():
        a = parts[part]
        if part in ("x", "y") and a is None:
            raise ValueError(f"anchors.{size}.{part} is missing")
        if a is not None and (a.ndim != 2 or a.shape[0] != vectors.shape[0] or cols not in (None, a.shape[1])):
            raise ValueError(f"anchors.{size}.{part} has shape {a.shape}, expected ({vectors.shape[0]}, "
                             f"{cols if cols is not None else 'features'})")


@dataclass
class _Group:
    vectors: np.ndarray  # (N, D)
    x: np.ndarray  # (N, n)
    y: np.ndarray  # (N, m)
    row_side: np.ndarray | None = None  # (N, m) int8 optimal active sets, when known
    var_side: np.ndarray | None = None  # (N, n) int8
    raw: np.ndarray | None = None  # (N, D) ``raw_vector``s: the linear anchor's data
    affine: bool = True  # the linear anchor's kernel (``_Ridge.fit``)
    _centred: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _ridge: _Ridge | None = field(default=None, repr=False)

    def ridge(self) -> _Ridge | None:
        """The group's linear model (fitted once), or None with too few instances."""
        if self._ridge is None and self.raw is not None and self.raw.shape[0] >= LINEAR_MIN_INSTANCES:
            self._ridge = _Ridge.fit(self.raw, self.x, self.y, affine=self.affine)
        return self._ridge

    def distances(self, v: np.ndarray) -> np.ndarray:
        """(N,) distances of v (D,) to every vector: one matrix-vector product on the vectors
        centred once (a row-wise norm of the differences costs 20x more at N x D = 200 x 800,
        and centring keeps the data every instance shares from swamping the differences)."""
        if self._centred is None:
            mean = self.vectors.mean(0)
            c = self.vectors - mean
            self._centred = (c, np.einsum("ij,ij->i", c, c), mean)
        c, sq, mean = self._centred
        w = v - mean
        return np.sqrt(np.maximum(sq - 2.0 * (c @ w) + float(w @ w), 0.0))


@dataclass
class AnchorBank:
    """groups: solved instances by size (n, m). kind: what ``anchor`` returns, ``"nearest"``
    (the nearest instance's optimum) or ``"linear"`` (the group's linear model; the nearest
    optimum where a group has too few instances). ``lookup`` and ``candidates`` are always the
    nearest instances': the baseline and the polish's active sets. layout: where the training
    instances' models drift by name, the union of their names; the bank's one group then holds
    every instance in it (keyed by the layout's size), and reads others in by name."""

    groups: dict[tuple[int, int], _Group] = field(default_factory=dict)
    kind: str = "nearest"
    layout: Layout | None = None

    def __post_init__(self) -> None:
        if self.kind not in ANCHOR_KINDS:
            raise ValueError(f"anchor kind must be one of {', '.join(ANCHOR_KINDS)}, got {self.kind!r}")
        if self.layout is not None and set(self.groups) != {self.layout.size}:
            raise ValueError(f"an anchor bank with a layout of {self.layout.size[0]}x{self.layout.size[1]} names "
                             f"holds one group of that size, not {sorted(self.groups)}")
        if self.kind == "linear":
            for g in self.groups.values():
                g.ridge()  # fitted where the bank is made, not in the first start's timed inference

    @classmethod
    def build(cls, items: list, *, kind: str = "nearest") -> AnchorBank:
        """items: objects with ``qp``, ``x``, ``y`` (e.g. ``training.data.Labelled``)."""
        layout = Layout.of([it.qp for it in items])
        by: dict[tuple[int, int], list] = {}
        for it in items:
            by.setdefault(layout.size if layout is not None else (it.qp.n, it.qp.m), []).append(it)

        def group(its: list) -> _Group:
            known = all(getattr(i, "active", None) is not None for i in its)
            places = [layout.place(i.qp) if layout is not None else None for i in its]
            into = lambda p, v: p.data(v) if p is not None else v  # noqa: E731
            pair = lambda p, a, b: p.spread(a, b) if p is not None else (a, b)  # noqa: E731
            xy = [pair(p, i.x, i.y) for p, i in zip(places, its)]
            # active: (rows' sides (m,), variables' sides (n,)); spread takes variables first
            sides = [pair(p, i.active[1], i.active[0]) for p, i in zip(places, its)] if known else None
            return _Group(np.stack([into(p, data_vector(i.qp)) for p, i in zip(places, its)]),
                          np.stack([x for x, _ in xy]), np.stack([y for _, y in xy]),
                          np.stack([r for _, r in sides]) if known else None,
                          np.stack([v for v, _ in sides]) if known else None,
                          np.stack([into(p, raw_vector(i.qp)) for p, i in zip(places, its)]))

        return cls({key: group(its) for key, its in by.items()}, kind, layout)

    def key(self, qp: QPData) -> tuple[int, int]:
        """The key of the group ``qp`` belongs (or would belong) to: its size, or the layout's."""
        return self.layout.size if self.layout is not None else (qp.n, qp.m)

    def _locate(self, qp: QPData) -> tuple[_Group, Placement | None] | None:
        """``qp``'s group and its placement in the layout (None without one), or None: no group."""
        if self.layout is None:
            g = self.groups.get((qp.n, qp.m))
            return (g, None) if g is not None else None
        p = self.layout.place(qp)
        return (self.groups[self.layout.size], p) if p is not None else None

    def holds(self, qp: QPData) -> bool:
        """Whether a bank instance has ``qp``'s costs, sides and bounds exactly: a training
        instance given again (the bank keeps no A or P to compare)."""
        found = self._locate(qp)
        if found is None or found[0].raw is None:
            return False
        g, p = found
        v = p.data(raw_vector(qp)) if p is not None else raw_vector(qp)
        return bool(np.any(np.all(g.raw == v, axis=1)))

    def covers(self, qp: QPData) -> bool:
        """Whether ``qp`` gets an anchor: a group of its size, or its names in the layout."""
        return self._locate(qp) is not None

    def anchor(self, qp: QPData, *, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """(x (n,), y (m,)): the anchor of ``qp`` by the bank's kind, or None where the bank has
        no group for it (``covers``). ``exclude``: ``qp`` is the bank's instance of that index in
        its group (training): its own optimum is left out (the linear anchor: its leave-one-out
        prediction)."""
        found = self._locate(qp)
        if found is None:
            return None
        g, p = found
        lin = g.ridge() if self.kind == "linear" else None
        if lin is None:
            return self.nearest(qp, exclude=exclude)
        if exclude is not None:
            x, y = lin.loo_x[exclude], lin.loo_y[exclude]
        else:
            x, y = lin.predict(p.data(raw_vector(qp)) if p is not None else raw_vector(qp))
        if p is not None:
            x, y = p.back(x, y)
        return np.clip(x, qp.lb, qp.ub), np.asarray(y, dtype=float)

    def anchor_and_candidates(self, qp: QPData, *, count: int = 8
                              ) -> tuple[tuple[np.ndarray, np.ndarray] | None, list[tuple[np.ndarray, np.ndarray]]]:
        """``(anchor(qp), candidates(qp, count=count))``."""
        near, cands = self.lookup(qp, count=count)
        if self.kind == "nearest":
            return near, cands
        return self.anchor(qp), cands

    def nearest(self, qp: QPData, *, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """(x, y) of the nearest bank instance of the same size (or, with a layout, read back by
        name), or None."""
        found = self._locate(qp)
        if found is None:
            return None
        g, p = found
        d = g.distances(p.data(data_vector(qp)) if p is not None else data_vector(qp))
        if exclude is not None and g.vectors.shape[0] > 1:
            d[exclude] = np.inf
        j = int(np.argmin(d))
        return p.back(g.x[j], g.y[j]) if p is not None else (g.x[j], g.y[j])

    def candidates(self, qp: QPData, *, count: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
        """The distinct optimal active sets of the ``count`` nearest bank instances, nearest first."""
        return self.lookup(qp, count=count)[1]

    def lookup(self, qp: QPData, *, count: int = 8
               ) -> tuple[tuple[np.ndarray, np.ndarray] | None, list[tuple[np.ndarray, np.ndarray]]]:
        """``(nearest(qp), candidates(qp, count=count))`` from one distance computation."""
        found = self._locate(qp)
        if found is None:
            return None, []
        g, p = found
        d = g.distances(p.data(data_vector(qp)) if p is not None else data_vector(qp))
        j = int(np.argmin(d))
        near = p.back(g.x[j], g.y[j]) if p is not None else (g.x[j], g.y[j])
        return near, self._candidates(g, d, count, p)

    @staticmethod
    def _candidates(g: _Group, d: np.ndarray, count: int, p: Placement | None = None
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
        if g.row_side is None:
            return []
        out, seen = [], set()
        for j in np.argsort(d)[:count]:
            # (rows, variables): the layout's x slot holds the variables' sides, its y slot the rows'
            rows, cols = (g.row_side[j], g.var_side[j]) if p is None else p.back(g.var_side[j], g.row_side[j])[::-1]
            key = rows.tobytes() + cols.tobytes()
            if key not in seen:
                seen.add(key)
                out.append((rows, cols))
        return out

    def state(self) -> dict[str, torch.Tensor]:
        import torch

        out = {}
        for (n, m), g in self.groups.items():
            out[f"anchors.{n}x{m}.vectors"] = torch.as_tensor(g.vectors)
            out[f"anchors.{n}x{m}.x"] = torch.as_tensor(g.x)
            out[f"anchors.{n}x{m}.y"] = torch.as_tensor(g.y)
            if g.row_side is not None:
                out[f"anchors.{n}x{m}.row_side"] = torch.as_tensor(g.row_side)
                out[f"anchors.{n}x{m}.var_side"] = torch.as_tensor(g.var_side)
            if g.raw is not None:
                out[f"anchors.{n}x{m}.raw"] = torch.as_tensor(g.raw)
        if self.kind == "linear":
            # 2: the affine kernel (8b8b793 on); 1, in checkpoints from before, the centred one
            out["anchors.linear"] = torch.full((1,), 2.0 if all(g.affine for g in self.groups.values()) else 1.0)
        if self.layout is not None:
            out.update(self.layout.state())
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AnchorBank:
        """The bank ``state()`` saved, from torch tensors or numpy arrays (a checkpoint read without torch)."""
        lin = state.get("anchors.linear")
        affine = lin is not None and float(lin.reshape(-1)[0]) >= 2.0
        groups = {}
        for key in state:
            if key.startswith("anchors.") and key.endswith(".vectors"):
                size = key.split(".")[1]
                n, m = (int(v) for v in size.split("x"))
                parts = {part: state.get(f"anchors.{size}.{part}") for part in ("x", "y", "row_side", "var_side",
                                                                                 "raw")}
                parts = {part: None if v is None else _array(v) for part, v in parts.items()}
                vectors = _array(state[key])
                _check_group(size, vectors, parts, n, m)
                groups[(n, m)] = _Group(vectors, parts["x"], parts["y"], parts["row_side"], parts["var_side"],
                                        parts["raw"], affine=affine)
        # checkpoints from before the linear anchor hold no "anchors.linear": nearest
        return cls(groups, "linear" if "anchors.linear" in state else "nearest", Layout.from_state(state))
