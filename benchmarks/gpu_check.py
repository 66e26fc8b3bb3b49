"""CUDA checks in one short run: the core tests, paper-lp training, peak training memory
(implicit vs unrolled), the mesh model's training and inference on CUDA, and the mesh model
trained under torchrun (DDP over NCCL, one rank per GPU).

Needs no LP solver or dolfinx where it runs: ``--make-data DIR`` (run where they are
installed) writes the labelled data it reads. Usage::

    python benchmarks/gpu_check.py --make-data .devcarry        # here (CPU, solvers installed)
    python benchmarks/gpu_check.py --data .devcarry --out OUT   # on the CUDA machine
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_data(d: Path) -> None:
    from learned_solvers.bench.paper_lp import PaperLPConfig, make_data as plp
    from learned_solvers.bench.pde import label_pde
    from problems.registry import make_family

    d.mkdir(parents=True, exist_ok=True)
    plp(PaperLPConfig(data=str(d / "paper_lp.npz")), progress=False)
    fam = make_family("darcy")
    pdes, sols = label_pde(fam, fam.sample(40, seed=0), progress=False)
    a = pdes[0].operator
    np.savez_compressed(d / "darcy64.npz", indptr=a.indptr, indices=a.indices,
                        data=np.stack([p.operator.data for p in pdes]), rhs=np.stack([p.rhs for p in pdes]),
                        coords=pdes[0].coords, fields=np.stack([p.fields for p in pdes]), dirichlet=pdes[0].dirichlet,
                        bc=np.stack([p.bc_values for p in pdes]), u=np.stack(sols))


def load_darcy(path: Path):
    import scipy.sparse as sp

    from learned_solvers.canonical.pde import PDEData

    f = np.load(path)
    n = f["rhs"].shape[1]
    pdes = [PDEData(operator=sp.csr_matrix((f["data"][i], f["indices"], f["indptr"]), shape=(n, n)), rhs=f["rhs"][i],
                    coords=f["coords"], fields=f["fields"][i], dirichlet=f["dirichlet"], bc_values=f["bc"][i],
                    field_names=("a",)) for i in range(len(f["rhs"]))]
    return pdes, list(f["u"])


def memory(data: Path, dev: str) -> list[dict]:
    import torch

    from learned_solvers.bench.paper_lp import PaperLPConfig, _batches, make_data as plp
    from learned_solvers.core import ImplicitDiff, Phantom, Picard, Unrolled
    from learned_solvers.models.qp_gnn import QPGNNConfig, QPImplicitModel

    d = plp(PaperLPConfig(data=str(data / "paper_lp.npz")), progress=False)
    g, tx = _batches(d.qps[:500], d.x[:500], 500, dev)[0]
    rows = []
    for k in (4, 16, 64):
        row = {"k": k}
        for name, mode in (("implicit", ImplicitDiff(solver=Picard(), tol=1e-4, max_iter=40)),
                           ("phantom", Phantom(steps=5, damping=0.5)), ("unrolled", Unrolled())):
            m = QPImplicitModel(QPGNNConfig(width=32)).to(dev)
            m.layer.backward_mode = mode
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x, _, _ = m(g, k=k)
                ((x - tx) ** 2).mean().backward()
            torch.cuda.synchronize()
            row[f"{name}_peak_bytes"] = int(torch.cuda.max_memory_allocated() - base)
        rows.append(row)
        print("memory", row, flush=True)
    return rows


def mesh(data: Path, dev: str) -> dict:
    import torch

    from learned_solvers.training.train_pde import PDETrainConfig, relative_errors, train_mesh_model

    pdes, sols = load_darcy(data / "darcy64.npz")
    out = {}
    for device in (dev, "cpu"):
        t0 = time.perf_counter()
        tr = train_mesh_model(pdes[:32], sols[:32], config=PDETrainConfig(epochs=3, device=device), progress=False)
        out[f"train_3_epochs_seconds_{device}"] = time.perf_counter() - t0
        m = tr.model
        for k in (16,):
            for _ in range(2):
                if device != "cpu":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                m.predict(pdes[32:33], tr.norm, k=k, device=device)
                if device != "cpu":
                    torch.cuda.synchronize()
                out[f"inference_k{k}_seconds_{device}"] = time.perf_counter() - t0
        out[f"val_error_{device}"] = tr.val_error
        out[f"holdout_error_{device}"] = float(np.median(relative_errors(m.predict(pdes[32:], tr.norm, k=16,
                                                                                     device=device), sols[32:])))
        # the energy safeguard on this device: the guess's energy 1/2 u'Au - b'u never grows with k
        p0 = pdes[32]
        energies = []
        for k in (1, 4, 16, 64):
            u = m.predict([p0], tr.norm, k=k, device=device, safeguard=True)[0]
            energies.append(float(0.5 * u @ (p0.operator @ u) - p0.rhs @ u))
        out[f"safeguard_energy_k1_4_16_64_{device}"] = energies
        out[f"safeguard_energy_monotone_{device}"] = all(b <= a + 1e-5 * abs(a) for a, b in zip(energies, energies[1:]))
    print("mesh", out, flush=True)
    return out


def ddp_worker(data: Path, dev: str, out: Path) -> None:
    """One torchrun rank: the mesh model trained for 2 epochs under DDP; each rank writes its
    weights' checksum, so that the caller can see the ranks agree."""
    import torch

    from learned_solvers.training import distributed
    from learned_solvers.training.train_pde import PDETrainConfig, train_mesh_model

    device = distributed.init_from_env(dev)
    rank, world = distributed.rank_and_world()
    pdes, sols = load_darcy(data / "darcy64.npz")
    t0 = time.perf_counter()
    tr = train_mesh_model(pdes[:32], sols[:32], config=PDETrainConfig(epochs=2, device=device), progress=False)
    w = torch.cat([p.detach().double().cpu().ravel() for p in tr.model.parameters()])
    (out / f"ddp_rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world": world, "device": device, "seconds": time.perf_counter() - t0,
        "val_error": tr.val_error, "weights_sum": float(w.sum()), "weights_norm": float(w.norm())}))
    distributed.shutdown()


def ddp(data: Path, dev: str, tmp: Path) -> dict:
    import torch

    n = max(1, torch.cuda.device_count()) if dev == "cuda" else 2
    tmp.mkdir(parents=True, exist_ok=True)
    for f in tmp.glob("ddp_rank*.json"):
        f.unlink()  # a previous run's ranks
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
                        __file__, "--ddp-worker", "--data", str(data), "--out", str(tmp), "--device", dev],
                       capture_output=True, text=True)
    ranks = [json.loads(f.read_text()) for f in sorted(tmp.glob("ddp_rank*.json"))]
    out = {"returncode": r.returncode, "ranks": ranks,
           "ranks_agree": len(ranks) == n and len({(x["weights_sum"], x["weights_norm"]) for x in ranks}) == 1}
    if r.returncode != 0:
        out["stderr_tail"] = r.stderr[-1500:]
    print("ddp", out, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-data", default=None)
    ap.add_argument("--data", default=".devcarry")
    ap.add_argument("--out", default="gpu_check.json")
    ap.add_argument("--ddp-worker", action="store_true", help="(internal) one torchrun rank of the DDP check")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--only-ddp", action="store_true", help="run the DDP check alone (it runs on the CPU too)")
    a = ap.parse_args()
    if a.make_data:
        make_data(Path(a.make_data))
        return 0
    if a.ddp_worker:
        ddp_worker(Path(a.data), a.device, Path(a.out))
        return 0
    if a.only_ddp:
        import torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
        Path(a.out).write_text(json.dumps(ddp(Path(a.data), dev, Path(a.out).with_suffix(".ddp")), indent=2))
        return 0
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    rep: dict = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_core.py"],
                       capture_output=True, text=True)
    rep["core_tests"] = r.stdout.strip().splitlines()[-1] if r.stdout else r.stderr[-500:]
    rep["core_tests_seconds"] = time.perf_counter() - t0
    print("core tests:", rep["core_tests"], flush=True)
    rep["memory"] = memory(Path(a.data), dev) if dev == "cuda" else None
    rep["mesh"] = mesh(Path(a.data), dev)
    from learned_solvers.bench.paper_lp import PaperLPConfig, run_paper_lp

    t0 = time.perf_counter()
    plp = run_paper_lp(PaperLPConfig(widths=(16,), epochs=10, device=dev, data=str(Path(a.data) / "paper_lp.npz")),
                       progress=False)
    rep["paper_lp_width16_10_epochs"] = {"rows": plp["rows"], "seconds": time.perf_counter() - t0}
    print("paper-lp", json.dumps(plp["rows"]), flush=True)
    rep["ddp"] = ddp(Path(a.data), dev, Path(a.out).with_suffix(".ddp"))
    Path(a.out).write_text(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
