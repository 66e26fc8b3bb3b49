"""`lasso`: min 1/2 |F x - b|^2 + lam |x|_1 as a QP (the OSQP benchmark form).

    minimise  1/2 y'y + lam 1't   s.t.  y = F x - b,  -t <= x <= t

Variables (x, y, t). The family keeps F (``samples`` x ``features``, ``density``, drawn from
``structure_seed``) and lam; instances draw b = F x_true + noise with a new sparse x_true.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from learned_solvers.canonical import QPData


@dataclass(frozen=True, kw_only=True)
class Lasso:
    samples: int = 100
    features: int = 50
    density: float = 0.3
    structure_seed: int = 0
    name: str = "lasso"

    def __post_init__(self) -> None:
        if self.samples < 1 or self.features < 1 or not 0 < self.density <= 1 or self.structure_seed < 0:
            raise ValueError(f"lasso needs samples >= 1, features >= 1, density in (0, 1] and structure_seed >= 0, "
                             f"got samples={self.samples}, features={self.features}, density={self.density}, "
                             f"structure_seed={self.structure_seed}")

    def spec(self) -> str:
        return (f"lasso:samples={self.samples},features={self.features},density={self.density},"
                f"structure_seed={self.structure_seed}")

    def legacy_spec(self) -> str | None:
        """How checkpoints spelt this family before the spec named ``density`` and
        ``structure_seed`` (then 0.3 and 0)."""
        return self.spec().partition(",density=")[0] if (self.density, self.structure_seed) == (0.3, 0) else None

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        m, n = self.samples, self.features
        srng = np.random.default_rng(self.structure_seed)
        f = sp.random(m, n, density=self.density, random_state=srng, data_rvs=srng.standard_normal).tocsr()
        lam = 0.2 * np.abs(f.T @ srng.standard_normal(m)).max()
        p = sp.block_diag([sp.csr_matrix((n, n)), sp.identity(m), sp.csr_matrix((n, n))]).tocsr()
        i_n = sp.identity(n)
        a = sp.vstack([
            sp.hstack([f, -sp.identity(m), sp.csr_matrix((m, n))]),
            sp.hstack([i_n, sp.csr_matrix((n, m)), -i_n]),
            sp.hstack([i_n, sp.csr_matrix((n, m)), i_n]),
        ]).tocsr()
        c = np.concatenate([np.zeros(n + m), np.full(n, lam)])
        rng = np.random.default_rng(seed)
        out = []
        for i in range(count):
            xt = np.where(rng.uniform(size=n) < 0.5, rng.standard_normal(n) / np.sqrt(n), 0.0)
            b = f @ xt + rng.standard_normal(m)
            l = np.concatenate([b, np.full(n, -np.inf), np.zeros(n)])
            u = np.concatenate([b, np.zeros(n), np.full(n, np.inf)])
            inf = np.full(2 * n + m, np.inf)
            out.append(QPData(c=c, A=a, l=l, u=u, lb=-inf, ub=inf, P=p, name=f"lasso[{seed}:{i}]"))
        return out
