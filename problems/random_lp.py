"""`random-lp`: random sparse LPs as in the LP studies of Chen et al. (ICLR 2023) and
Liu et al. (arXiv 2510.03638).

Parameters: ``m`` constraints, ``n`` variables, ``nnz`` nonzeros of A (N(0,1) values at
uniformly drawn positions, every row and column hit at least once, so between max(m, n) and
m n; 0, the default: 5% of m n, at least m + n, at most m n; positions drawn twice merge),
``eq_fraction`` of rows that are equalities (the rest ``<=``), ``resample_matrix``: draw a
new A for every instance (the paper's setting: c, x0 and slacks drawn afresh too) or keep the
family's A and draw each instance's c, x0 and slacks as the family's nominal values times
independent factors in [1 - perturb, 1 + perturb] (default: the product's "same structure,
new data" setting); the family's A and nominal values are drawn from ``structure_seed``.
Feasibility and boundedness hold by construction: b = A x0 (+ slack) for x0 in the box
0 <= x <= ``upper``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from learned_solvers.canonical import QPData


@dataclass(frozen=True, kw_only=True)
class RandomLP:
    m: int = 200
    n: int = 400
    nnz: int = 0  # 0: 5% density (at least m + n, at most m n)
    eq_fraction: float = 0.3
    upper: float = 10.0
    resample_matrix: bool = False
    perturb: float = 0.1
    structure_seed: int = 0
    name: str = "random-lp"

    def __post_init__(self) -> None:
        if self.m < 1 or self.n < 1:
            raise ValueError("random-lp needs m >= 1 and n >= 1")
        if not 0.0 <= self.eq_fraction <= 1.0:
            raise ValueError("random-lp eq_fraction must lie in [0, 1]")
        # factors in [1 - perturb, 1 + perturb] stay positive: x0 stays in its box, the instance feasible
        if not 0.0 <= self.perturb < 1.0:
            raise ValueError(f"random-lp perturb must lie in [0, 1), got {self.perturb}")
        if self.nnz and not max(self.m, self.n) <= self.nnz <= self.m * self.n:
            # the draw had taken max(m, n) for fewer and merged the excess without a word
            raise ValueError(f"random-lp nnz must lie in [max(m, n), m n] = [{max(self.m, self.n)}, {self.m * self.n}] "
                             f"(every row and column holds a nonzero), or be 0 for the default (5% of m n), got "
                             f"{self.nnz}")
        if not 0.0 < self.upper < np.inf or self.nnz < 0 or self.structure_seed < 0:
            raise ValueError(f"random-lp needs a finite upper > 0, nnz >= 0 and structure_seed >= 0, got "
                             f"upper={self.upper}, nnz={self.nnz}, structure_seed={self.structure_seed}")

    def spec(self) -> str:
        return (f"random-lp:m={self.m},n={self.n},nnz={self._nnz()},eq_fraction={self.eq_fraction},"
                f"resample_matrix={self.resample_matrix},perturb={self.perturb},upper={self.upper},"
                f"structure_seed={self.structure_seed}")

    def legacy_spec(self) -> str | None:
        """How checkpoints spelt this family before the spec named ``upper`` and
        ``structure_seed`` (then 10.0 and 0)."""
        return self.spec().partition(",upper=")[0] if (self.upper, self.structure_seed) == (10.0, 0) else None

    def _nnz(self) -> int:
        return self.nnz or min(self.m * self.n, max(self.m + self.n, int(0.05 * self.m * self.n)))

    def _matrix(self, rng: np.random.Generator) -> sp.csr_matrix:
        m, n, nnz = self.m, self.n, self._nnz()
        # cover every row and column, then fill the rest uniformly
        k = max(m, n)
        rows = np.concatenate([np.arange(k) % m, rng.integers(0, m, max(nnz - k, 0))])
        cols = np.concatenate([rng.permutation(k) % n, rng.integers(0, n, max(nnz - k, 0))])
        vals = rng.standard_normal(rows.size)
        a = sp.csr_matrix((vals, (rows, cols)), shape=(m, n))
        a.sum_duplicates()
        return a

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        rng = np.random.default_rng(seed)
        srng = np.random.default_rng(self.structure_seed)
        fixed = self._matrix(srng)
        nominal = (srng.uniform(0.0, self.upper, self.n), srng.uniform(0.0, 1.0, self.m), srng.standard_normal(self.n))
        n_eq = int(round(self.eq_fraction * self.m))
        d = self.perturb
        out = []
        for i in range(count):
            if self.resample_matrix:
                a = self._matrix(rng)
                x0, slack = rng.uniform(0.0, self.upper, self.n), rng.uniform(0.0, 1.0, self.m)
                c = rng.standard_normal(self.n)
            else:
                a = fixed
                x0 = np.minimum(nominal[0] * rng.uniform(1 - d, 1 + d, self.n), self.upper)
                slack = nominal[1] * rng.uniform(1 - d, 1 + d, self.m)
                c = nominal[2] * rng.uniform(1 - d, 1 + d, self.n)
            ax0 = a @ x0
            u = ax0 + slack
            l = np.full(self.m, -np.inf)
            l[:n_eq] = ax0[:n_eq]
            u[:n_eq] = ax0[:n_eq]
            out.append(QPData(c=c, A=a, l=l, u=u, lb=np.zeros(self.n), ub=np.full(self.n, self.upper),
                              name=f"random-lp[{seed}:{i}]"))
        return out
