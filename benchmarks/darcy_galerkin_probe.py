"""Could darcy's training solutions give CG a better start at little cost? A probe, no model
training: on held-out instances (the bench's test seeds), CG iterations (GAMG and Jacobi, rtol
1e-8) from the kernel checkpoint's k = 0 start, from the energy-optimal combination of all
its training solutions (a Galerkin projection: the start of least ||x - u||_A in their span),
and from the kernel start after a few damped Jacobi sweeps; with each start's residual
||b - A x0|| / ||b|| and energy-norm error, as `learned-solvers bench` reports them.

Usage: python benchmarks/darcy_galerkin_probe.py [--checkpoint runs/darcy64-kernel.safetensors]
       [--family darcy] [--test 12] [--sweeps 5]
(the checkpoint: `bash benchmarks/run_pde.sh darcy_ksp_gamg_kernel`).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dolfinx_solver  # noqa: E402,F401  (before dolfinx)

from learned_solvers.backends.petsc import KSPBackend  # noqa: E402
from learned_solvers.bench.pde import PDE_TEST_SEED_OFFSET, start_measures  # noqa: E402
from learned_solvers.formats.dolfinx import petsc_handles, to_pde  # noqa: E402
from learned_solvers.warmstart_pde import LearnedPDEStarter  # noqa: E402
from problems.registry import make_family  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="runs/darcy64-kernel.safetensors")
    ap.add_argument("--family", default="darcy", help="the checkpoint's family spec, as bench took it")
    ap.add_argument("--test", type=int, default=12)
    ap.add_argument("--sweeps", type=int, default=5)
    a = ap.parse_args()
    starter = LearnedPDEStarter.from_checkpoint(a.checkpoint, k=0)
    fam = make_family(a.family)
    basis = starter.anchors.solutions.T  # (n, M): the training solutions
    rows: dict[str, dict[str, list[float]]] = {}
    seconds = []
    for inst in fam.sample(a.test, seed=PDE_TEST_SEED_OFFSET):
        prob, fields = fam.load(inst)
        pde = to_pde(prob, fields=fields, name=inst.name)
        A, b = pde.operator, pde.rhs
        u = spla.spsolve(A.tocsc(), b)
        kernel = starter.guess(pde)[0]
        t0 = time.perf_counter()
        AV = A @ basis
        galerkin = basis @ np.linalg.lstsq(basis.T @ AV, basis.T @ b, rcond=1e-12)[0]
        seconds.append(time.perf_counter() - t0)
        smoothed, dinv = kernel.copy(), 1.0 / A.diagonal()
        for _ in range(a.sweeps):
            smoothed += 0.6 * dinv * (b - A @ smoothed)
        starts = {"zero guess": None, "kernel (k = 0)": kernel, f"Galerkin on all {basis.shape[1]}": galerkin,
                  f"kernel + {a.sweeps} Jacobi sweeps": smoothed}
        for name, x0 in starts.items():
            r = rows.setdefault(name, {"residual": [], "energy": [], "gamg": [], "jacobi": []})
            m = start_measures(pde, np.zeros_like(b) if x0 is None else x0, u)
            r["residual"].append(m["start_residual"])
            r["energy"].append(m["start_energy_error"])
            for pc in ("gamg", "jacobi"):
                fresh, _ = fam.load(inst)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    r[pc].append(KSPBackend(pc_type=pc, rtol=1e-8).solve(petsc_handles(fresh), guess=x0).iterations)
    cold = rows["zero guess"]
    print(f"{fam.spec()} | {a.test} held-out instances | checkpoint {a.checkpoint} | medians; iteration ratios "
          f"per instance against the zero guess | Galerkin projection {1e3 * np.median(seconds):.1f} ms")
    print(f"{'start':32s}{'residual':>10s}{'energy':>10s}{'GAMG':>8s}{'Jacobi':>8s}")
    for name, r in rows.items():
        ratio = {pc: np.median(np.array(r[pc]) / np.maximum(cold[pc], 1)) for pc in ("gamg", "jacobi")}
        print(f"{name:32s}{np.median(r['residual']):>10.3g}{np.median(r['energy']):>10.3g}"
              f"{ratio['gamg']:>8.3f}{ratio['jacobi']:>8.3f}")


if __name__ == "__main__":
    main()
