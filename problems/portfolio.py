"""`portfolio`: Markowitz QPs with a factor model (the OSQP benchmark form).

    minimise  x'Dx + y'y - mu'x / gamma   s.t.  y = F'x,  1'x = 1,  x >= 0

Parameters: ``assets`` (n), ``factors`` (k), ``gamma`` (risk aversion), ``structure_seed``
(F and D are the family's), instances draw new expected returns mu ~ N(mu_bar, sigma).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from learned_solvers.canonical import QPData


@dataclass(frozen=True, kw_only=True)
class Portfolio:
    assets: int = 100
    factors: int = 10
    gamma: float = 1.0
    structure_seed: int = 0
    name: str = "portfolio"

    def __post_init__(self) -> None:
        if self.assets < 1 or self.factors < 1 or not 0 < self.gamma < np.inf or self.structure_seed < 0:
            raise ValueError(f"portfolio needs assets >= 1, factors >= 1, a finite risk aversion gamma > 0 and "
                             f"structure_seed >= 0, got assets={self.assets}, factors={self.factors}, "
                             f"gamma={self.gamma}, structure_seed={self.structure_seed}")

    def spec(self) -> str:
        return (f"portfolio:assets={self.assets},factors={self.factors},gamma={self.gamma},"
                f"structure_seed={self.structure_seed}")

    def legacy_spec(self) -> str | None:
        """How checkpoints spelt this family before the spec named ``structure_seed`` (then 0)."""
        return self.spec().partition(",structure_seed=")[0] if self.structure_seed == 0 else None

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        n, k = self.assets, self.factors
        srng = np.random.default_rng(self.structure_seed)
        f = sp.random(n, k, density=0.5, random_state=srng, data_rvs=srng.standard_normal).tocsr()
        d = srng.uniform(0.0, np.sqrt(k), n)
        mu_bar = srng.standard_normal(n)
        p = sp.block_diag([sp.diags(2 * d), 2 * sp.identity(k)]).tocsr()
        a = sp.vstack([
            sp.hstack([f.T, -sp.identity(k)]),
            sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, k))]),
        ]).tocsr()
        l = np.concatenate([np.zeros(k), [1.0]])
        lb = np.concatenate([np.zeros(n), np.full(k, -np.inf)])
        ub = np.full(n + k, np.inf)
        rng = np.random.default_rng(seed)
        out = []
        for i in range(count):
            mu = mu_bar + 0.3 * rng.standard_normal(n)
            c = np.concatenate([-mu / self.gamma, np.zeros(k)])
            out.append(QPData(c=c, A=a, l=l, u=l.copy(), lb=lb, ub=ub, P=p, name=f"portfolio[{seed}:{i}]"))
        return out
