"""`mps:PATH`: a family made from one instance file (MPS, LP, QPS or a benchmark ``.mat`` QP) by
perturbing its data.

Each instance multiplies the objective coefficients, the finite row sides and the finite
variable bounds by independent factors drawn from [1 - perturb, 1 + perturb] (one factor per
row for both sides, one per variable for both bounds, so l <= u stays true). Instances that
a cold solve (HiGHS) does not find optimal are dropped by ``learned_solvers.training.data``,
which draws further instances of the same seed in their place (up to ten times the count).
Scaled row sides can leave no feasible point; independently scaled costs can make unbounded
an LP with a direction of small net cost (Netlib blend, 10 of 40 draws at the default 0.1: in
each a cycle of four columns that costs 0.50 costs -0.03 to -0.64; every solver agrees;
``python benchmarks/unbounded_probe.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from learned_solvers.canonical import QPData
from learned_solvers.formats.mps import read_problem


def continuous_only(qp: QPData, where: str, why: str = "") -> QPData:
    """``qp`` itself, or a ValueError if it has integer columns: the LP/QP families are continuous."""
    if qp.is_mip:
        raise ValueError(f"{where}: {int(qp.integrality.sum())} of its {qp.n} columns are integer; the LP/QP "
                         f"families are continuous ({why}PDLP, OSQP and SCS would solve the relaxation)")
    return qp


@dataclass(frozen=True, kw_only=True)
class MPSFamily:
    path: str
    perturb: float = 0.1
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.perturb < 1.0:
            raise ValueError(f"--perturb must lie in [0, 1), got {self.perturb}")
        if not self.name:
            object.__setattr__(self, "name", f"mps:{Path(self.path).name}")

    def spec(self) -> str:
        return f"mps:{self.path},perturb={self.perturb}"

    def dropped_hint(self) -> str:
        """What to try when labelling drops instances (``label_instances``' warning)."""
        return (f"each cost, row side and bound moves by its own factor in [1 - {self.perturb:g}, 1 + "
                f"{self.perturb:g}], which can leave equality rows with no feasible point (infeasible) or tip a "
                "direction whose cost is a small difference of large ones, a cycle of columns, downhill without end "
                f"(unbounded): a smaller --perturb (e.g. {self.perturb / 10:g}) keeps more instances")

    def family_key(self) -> str:
        """The file's content, not its path: the same model reached by another path (or
        gzipped) is the same family."""
        import gzip
        import hashlib

        self.base  # noqa: B018  a missing, cut or malformed file is refused with the reader's message, not errno's
        raw = Path(self.path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return f"mps:sha256={hashlib.sha256(raw).hexdigest()[:16]},perturb={self.perturb}"

    @cached_property
    def base(self) -> QPData:
        qp = read_problem(self.path)
        return continuous_only(qp, f"mps:{self.path}", "scaling bounds by a factor breaks integrality, and ")

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        base = self.base
        rng = np.random.default_rng(seed)
        d = self.perturb
        out = []
        for i in range(count):
            fc = rng.uniform(1 - d, 1 + d, base.n)
            fr = rng.uniform(1 - d, 1 + d, base.m)
            fb = rng.uniform(1 - d, 1 + d, base.n)
            scale = lambda v, f: np.where(np.isfinite(v), v * f, v)  # noqa: E731
            lo, hi = scale(base.l, fr), scale(base.u, fr)
            # negative sides flip order under scaling; keep l <= u
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
            lb, ub = scale(base.lb, fb), scale(base.ub, fb)
            lb, ub = np.minimum(lb, ub), np.maximum(lb, ub)
            out.append(base.with_data(c=base.c * fc, l=lo, u=hi, lb=lb, ub=ub, name=f"{base.name}[{seed}:{i}]"))
        return out
