"""Anchor bank: solved training instances, looked up by normalised data distance.

The learned start of an instance begins at the optimum of its nearest training instance (the
simple baseline) and the implicit model corrects it with the instance's own residual in the
loop. Instances of a size the bank has never seen get no anchor (zeros).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..canonical import QPData
from .qp_gnn import instance_scales

__all__ = ["data_vector", "AnchorBank"]


def data_vector(qp: QPData) -> np.ndarray:
    """The instance's data, normalised by its own scales: (n + 2m + 2n,)."""
    s_b, s_c, _ = instance_scales(qp)
    f = lambda v, s: np.where(np.isfinite(v), v / s, 0.0)  # noqa: E731
    return np.concatenate([qp.c / s_c, f(qp.l, s_b), f(qp.u, s_b), f(qp.lb, s_b), f(qp.ub, s_b)])


@dataclass
class _Group:
    vectors: np.ndarray  # (N, D)
    x: np.ndarray  # (N, n)
    y: np.ndarray  # (N, m)
    row_side: np.ndarray | None = None  # (N, m) int8 optimal active sets, when known
    var_side: np.ndarray | None = None  # (N, n) int8
    _centred: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

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
    groups: dict[tuple[int, int], _Group] = field(default_factory=dict)

    @classmethod
    def build(cls, items: list) -> AnchorBank:
        """items: objects with ``qp``, ``x``, ``y`` (e.g. ``training.data.Labelled``)."""
        by: dict[tuple[int, int], list] = {}
        for it in items:
            by.setdefault((it.qp.n, it.qp.m), []).append(it)
        def group(its: list) -> _Group:
            known = all(getattr(i, "active", None) is not None for i in its)
            return _Group(np.stack([data_vector(i.qp) for i in its]), np.stack([i.x for i in its]),
                          np.stack([i.y for i in its]),
                          np.stack([i.active[0] for i in its]) if known else None,
                          np.stack([i.active[1] for i in its]) if known else None)

        return cls({key: group(its) for key, its in by.items()})

    def nearest(self, qp: QPData, *, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """(x, y) of the nearest bank instance of the same size, or None."""
        g = self.groups.get((qp.n, qp.m))
        if g is None:
            return None
        d = g.distances(data_vector(qp))
        if exclude is not None and g.vectors.shape[0] > 1:
            d[exclude] = np.inf
        j = int(np.argmin(d))
        return g.x[j], g.y[j]

    def candidates(self, qp: QPData, *, count: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
        """The distinct optimal active sets of the ``count`` nearest bank instances, nearest first."""
        return self.lookup(qp, count=count)[1]

    def lookup(self, qp: QPData, *, count: int = 8
               ) -> tuple[tuple[np.ndarray, np.ndarray] | None, list[tuple[np.ndarray, np.ndarray]]]:
        """``(nearest(qp), candidates(qp, count=count))`` from one distance computation."""
        g = self.groups.get((qp.n, qp.m))
        if g is None:
            return None, []
        d = g.distances(data_vector(qp))
        j = int(np.argmin(d))
        return (g.x[j], g.y[j]), self._candidates(g, d, count)

    @staticmethod
    def _candidates(g: _Group, d: np.ndarray, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if g.row_side is None:
            return []
        out, seen = [], set()
        for j in np.argsort(d)[:count]:
            key = g.row_side[j].tobytes() + g.var_side[j].tobytes()
            if key not in seen:
                seen.add(key)
                out.append((g.row_side[j], g.var_side[j]))
        return out

    def state(self) -> dict[str, torch.Tensor]:
        out = {}
        for (n, m), g in self.groups.items():
            out[f"anchors.{n}x{m}.vectors"] = torch.as_tensor(g.vectors)
            out[f"anchors.{n}x{m}.x"] = torch.as_tensor(g.x)
            out[f"anchors.{n}x{m}.y"] = torch.as_tensor(g.y)
            if g.row_side is not None:
                out[f"anchors.{n}x{m}.row_side"] = torch.as_tensor(g.row_side)
                out[f"anchors.{n}x{m}.var_side"] = torch.as_tensor(g.var_side)
        return out

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> AnchorBank:
        groups = {}
        for key in state:
            if key.startswith("anchors.") and key.endswith(".vectors"):
                size = key.split(".")[1]
                n, m = (int(v) for v in size.split("x"))
                rs, vs = state.get(f"anchors.{size}.row_side"), state.get(f"anchors.{size}.var_side")
                groups[(n, m)] = _Group(state[key].numpy(), state[f"anchors.{size}.x"].numpy(),
                                        state[f"anchors.{size}.y"].numpy(),
                                        rs.numpy() if rs is not None else None, vs.numpy() if vs is not None else None)
        return cls(groups)
