"""Instance files whose model drifts by name, for a ``files:GLOB`` family: what an OR team keeps
when the things it plans for come and go (a customer orders one day and not the next, an asset
enters and leaves the universe). Each file is one day's MPS file, written by HiGHS with its
variable and constraint names; sizes and positions change from file to file, names keep their
meaning. The anchor bank reads such files by name (``learned_solvers.models.anchors.Layout``).

- ``transport``: ship from ``suppliers`` plants to the customers who order that day (between
  ``low`` and ``high`` of a pool of ``pool``), at a cost of the distance times a daily factor in
  [0.9, 1.1]; each customer's demand is its usual one times a factor in [0.7, 1.3]; an LP
  (``ship_s{plant}_c{customer}``, ``supply_s{plant}``, ``demand_c{customer}``).
- ``portfolio``: the ``portfolio`` family's Markowitz QP over the assets of the day's universe
  (between ``low`` and ``high`` of a pool of ``pool`` tickers, ``factors`` factors), each
  asset's expected return its usual one plus N(0, 0.3^2) (``w_T{ticker}``, ``exposure_f{k}``;
  ``factor_f{k}``, ``budget``).

The pool's geometry, usual demands, loadings and returns come from ``structure_seed``; file i
draws its day from ``seed + i``. ``python -m problems.drifting_files KIND FOLDER --count N``
writes them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.sparse as sp

KINDS = ("transport", "portfolio")


def _write(path: Path, *, c, a, l, u, lb, ub, p, var_names, con_names) -> None:
    """One MPS file of min ½x'Px + c'x s.t. l <= Ax <= u, lb <= x <= ub, with its names (HiGHS writes it)."""
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.canonical import QPData

    qp = QPData(c=c, A=sp.csr_matrix(a), l=l, u=u, lb=lb, ub=ub, P=None if p is None else sp.csr_matrix(p),
                var_names=tuple(var_names), con_names=tuple(con_names))
    HiGHSBackend()._highs(qp, names=True).writeModel(str(path))


def write_files(kind: str, folder: str | Path, count: int, *, pool: int | None = None, low: int | None = None,
                high: int | None = None, suppliers: int = 10, factors: int = 10, structure_seed: int = 0,
                seed: int = 0) -> list[Path]:
    """Write ``count`` days of ``kind`` (``KINDS``) to ``folder`` as ``day0000.mps``, ...; the
    defaults: transport, 40-50 of 60 customers; portfolio, 90-110 of 150 assets."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    pool = pool if pool is not None else {"transport": 60, "portfolio": 150}[kind]
    low = low if low is not None else {"transport": 40, "portfolio": 90}[kind]
    high = high if high is not None else {"transport": 50, "portfolio": 110}[kind]
    if not 1 <= low <= high <= pool or count < 1 or suppliers < 1 or factors < 1:
        raise ValueError(f"drifting {kind} files need 1 <= low <= high <= pool, count, suppliers and factors >= 1; "
                         f"got low={low}, high={high}, pool={pool}, count={count}, suppliers={suppliers}, "
                         f"factors={factors}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    srng = np.random.default_rng(structure_seed)
    if kind == "transport":
        plants, sites = srng.uniform(0, 1, (suppliers, 2)), srng.uniform(0, 1, (pool, 2))
        usual = srng.uniform(5, 15, pool)
        capacity = np.full(suppliers, 1.28 * usual.sum() / suppliers)  # 1.6 x the demand of 80% of the pool
    else:
        loads = sp.random(pool, factors, density=0.5, random_state=srng, data_rvs=srng.standard_normal).toarray()
        risk = srng.uniform(0.0, np.sqrt(factors), pool)
        returns = srng.standard_normal(pool)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(seed + i)
        who = np.sort(rng.choice(pool, int(rng.integers(low, high + 1)), replace=False))
        k = len(who)
        if kind == "transport":
            cost = np.linalg.norm(plants[:, None] - sites[None, who], axis=2) * rng.uniform(0.9, 1.1, (suppliers, k))
            a = sp.vstack([sp.kron(sp.identity(suppliers), np.ones((1, k))), sp.kron(np.ones((1, suppliers)),
                                                                                    sp.identity(k))])
            demand = usual[who] * rng.uniform(0.7, 1.3, k)
            fields = dict(c=cost.ravel(), a=a, l=np.concatenate([np.full(suppliers, -np.inf), demand]),
                          u=np.concatenate([capacity, np.full(k, np.inf)]), lb=np.zeros(suppliers * k),
                          ub=np.full(suppliers * k, np.inf), p=None,
                          var_names=[f"ship_s{s}_c{c}" for s in range(suppliers) for c in who],
                          con_names=[f"supply_s{s}" for s in range(suppliers)] + [f"demand_c{c}" for c in who])
        else:
            mu = returns[who] + 0.3 * rng.standard_normal(k)
            a = sp.vstack([sp.hstack([sp.csr_matrix(loads[who].T), -sp.identity(factors)]),
                           sp.hstack([np.ones((1, k)), sp.csr_matrix((1, factors))])])
            rhs = np.concatenate([np.zeros(factors), [1.0]])
            fields = dict(c=np.concatenate([-mu, np.zeros(factors)]), a=a, l=rhs, u=rhs,
                          lb=np.concatenate([np.zeros(k), np.full(factors, -np.inf)]),
                          ub=np.full(k + factors, np.inf), p=sp.diags(np.concatenate([2 * risk[who],
                                                                                       np.full(factors, 2.0)])),
                          var_names=[f"w_T{t:03d}" for t in who] + [f"exposure_f{j}" for j in range(factors)],
                          con_names=[f"factor_f{j}" for j in range(factors)] + ["budget"])
        paths.append(folder / f"day{i:04d}.mps")
        _write(paths[-1], **fields)
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m problems.drifting_files", description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=KINDS)
    ap.add_argument("folder")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    paths = write_files(args.kind, args.folder, args.count, seed=args.seed)
    print(f"wrote {len(paths)} {args.kind} files to {args.folder}")


if __name__ == "__main__":
    main()
