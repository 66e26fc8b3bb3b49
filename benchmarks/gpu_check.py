"""CUDA checks in one short run: the core tests, peak training memory (implicit vs unrolled),
the mesh models' training and inference on CUDA (darcy's linear model and nonlinear-poisson's
quasilinear one; also on 128x128 and 256x256 meshes), the mesh model trained under torchrun (DDP over NCCL, one rank per GPU),
the user's ``learned-solvers train --device cuda`` on random-lp 200x400, the Python route
(``learned_solvers.train`` with ``TrainConfig(device=...)``, then ``evaluate``; ``py_api``), and
paper-lp training.

Needs no dolfinx where it runs: ``--make-data DIR`` (run where it is installed) writes the
labelled data it reads. The ``cli_train`` part labels and picks k with HiGHS and PDLP, so it
needs highspy, ortools and dask there (carried as wheels to the H200). Usage::

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
    for spec, name, count in (("darcy", "darcy64", 40), ("nonlinear-poisson", "nlp32", 40),
                              ("darcy:n=128", "darcy128", 20), ("nonlinear-poisson:n=128", "nlp128", 20),
                              ("darcy:n=256", "darcy256", 20)):
        fam = make_family(spec)
        pdes, sols = label_pde(fam, fam.sample(count, seed=0), progress=False)
        save_pdes(d / f"{name}.npz", pdes, sols)


def save_pdes(path: Path, pdes: list, sols: list[np.ndarray]) -> None:
    """The canonical PDE instances as plain arrays (no pickle), so that the CUDA machine
    needs no dolfinx; a quasilinear instance keeps its exact residual."""
    arrs: dict[str, np.ndarray] = {}
    for i, (p, u) in enumerate(zip(pdes, sols)):
        a = p.operator
        arrs.update({f"{i}/indptr": a.indptr, f"{i}/indices": a.indices, f"{i}/data": a.data, f"{i}/rhs": p.rhs,
                     f"{i}/coords": p.coords, f"{i}/fields": p.fields, f"{i}/dirichlet": p.dirichlet,
                     f"{i}/bc": p.bc_values, f"{i}/u": u,
                     f"{i}/meta": np.array(json.dumps({"field_names": list(p.field_names), "kind": p.kind,
                                                       "signature": p.signature, "name": p.name}))})
        q = p.quasilinear
        if q is not None:
            arrs.update({f"{i}/q_cells": q.cells, f"{i}/q_gindptr": q.grad.indptr, f"{i}/q_gindices": q.grad.indices,
                         f"{i}/q_gdata": q.grad.data, f"{i}/q_gshape": np.array(q.grad.shape),
                         f"{i}/q_measure": q.measure, f"{i}/q_coeff": np.array(q.coeff), f"{i}/q_source": q.source})
    for key in [k for k in arrs if not k.startswith("0/")]:
        first = "0/" + key.split("/", 1)[1]
        if first in arrs and arrs[first].shape == arrs[key].shape and np.array_equal(arrs[first], arrs[key]):
            arrs[key.replace("/", "/same/", 1)] = np.array(first)  # the mesh's arrays: once, not per instance
            del arrs[key]
    np.savez_compressed(path, n=np.array(len(pdes)), **arrs)


def load_pdes(path: Path) -> tuple[list, list[np.ndarray]]:
    import scipy.sparse as sp

    from learned_solvers.canonical.pde import PDEData, QuasilinearResidual

    f = np.load(path, allow_pickle=False)
    pdes, sols = [], []
    for i in range(int(f["n"])):
        def g(k: str, i: int = i) -> np.ndarray:
            return f[str(f[f"{i}/same/{k}"])] if f"{i}/same/{k}" in f.files else f[f"{i}/{k}"]

        n = g("rhs").shape[0]
        meta = json.loads(str(g("meta")))
        q = None
        if f"{i}/q_cells" in f.files or f"{i}/same/q_cells" in f.files:
            q = QuasilinearResidual(cells=g("q_cells"), grad=sp.csr_matrix((g("q_gdata"), g("q_gindices"),
                                                                           g("q_gindptr")), shape=tuple(g("q_gshape"))),
                                    measure=g("q_measure"), coeff=tuple(g("q_coeff")), source=g("q_source"))
        pdes.append(PDEData(operator=sp.csr_matrix((g("data"), g("indices"), g("indptr")), shape=(n, n)),
                            rhs=g("rhs"), coords=g("coords"), fields=g("fields"), dirichlet=g("dirichlet"),
                            bc_values=g("bc"), field_names=tuple(meta["field_names"]), kind=meta["kind"],
                            signature=meta["signature"], name=meta["name"], quasilinear=q))
        sols.append(g("u"))
    return pdes, sols


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


def timed_predict(model, pdes: list, norm, k: int, device: str) -> tuple[list[np.ndarray], float]:
    """(guesses, seconds) of the fastest of ``TIMING_REPEATS`` predictions (the first call also
    builds the mesh cache), the GPU synchronised around each."""
    import torch

    from learned_solvers.bench.timing import fastest

    def run():
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        u = model.predict(pdes, norm, k=k, device=device)
        if device != "cpu":
            torch.cuda.synchronize()
        return u, time.perf_counter() - t0

    return fastest(run)


def mesh(data: Path, dev: str, cpu: bool = True) -> dict:
    """Each mesh model (darcy's linear one; nonlinear-poisson's quasilinear solution-state one,
    whose coarse Newton step has its own gather/scatter code) trained for 3 epochs on 32
    instances on this device and on the CPU; inference timed; the CUDA-trained model run on
    the CPU must give the same guesses."""
    from learned_solvers.training.train_pde import PDETrainConfig, relative_errors, train_mesh_model

    out: dict = {}
    for name, state in (("darcy64", None), ("nlp32", True)):
        pdes, sols = load_pdes(data / f"{name}.npz")
        row: dict = {}
        for device in dict.fromkeys((dev, "cpu") if cpu else (dev,)):
            t0 = time.perf_counter()
            tr = train_mesh_model(pdes[:32], sols[:32], config=PDETrainConfig(epochs=3, device=device,
                                                                              solution_state=state), progress=False)
            row[f"train_3_epochs_seconds_{device}"] = time.perf_counter() - t0
            m = tr.model
            for k in (1, 16):
                _, row[f"inference_k{k}_seconds_{device}"] = timed_predict(m, pdes[32:33], tr.norm, k, device)
            row[f"val_error_{device}"] = tr.val_error
            held = m.predict(pdes[32:], tr.norm, k=16, device=device)
            row[f"holdout_error_k16_{device}"] = float(np.median(relative_errors(held, sols[32:])))
            if device != "cpu":
                # a checkpoint trained on CUDA is used on CPU machines: the same guesses there
                m.to("cpu")
                m._mesh_cache = None
                on_cpu = m.predict(pdes[32:], tr.norm, k=16, device="cpu")
                row["cuda_trained_on_cpu_max_relative_difference"] = float(max(
                    np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300) for a, b in zip(on_cpu, held)))
            if state is None:
                # the energy safeguard on this device: the guess's energy 1/2 u'Au - b'u never grows with k
                p0 = pdes[32]
                m.to(device)
                m._mesh_cache = None
                energies = []
                for k in (1, 4, 16, 64):
                    u = m.predict([p0], tr.norm, k=k, device=device, safeguard=True)[0]
                    energies.append(float(0.5 * u @ (p0.operator @ u) - p0.rhs @ u))
                row[f"safeguard_energy_k1_4_16_64_{device}"] = energies
                row[f"safeguard_energy_monotone_{device}"] = all(b <= a + 1e-5 * abs(a)
                                                                  for a, b in zip(energies, energies[1:]))
        out[name] = row
        print("mesh", name, row, flush=True)
    return out


def mesh_large(data: Path, dev: str) -> dict:
    """Where the GPU could pay: the mesh models on 128x128 meshes (16,641 dofs) and darcy's on
    256x256 (66,049), 2 epochs on 18 instances and one inference, on this device and on the CPU."""
    from learned_solvers.training.train_pde import PDETrainConfig, relative_errors, train_mesh_model

    out: dict = {}
    for name, state in (("darcy128", None), ("nlp128", True), ("darcy256", None)):
        if not (data / f"{name}.npz").exists():  # left behind to keep the carried tree under the device's limit
            out[name] = {"skipped": f"no {name}.npz in {data}"}
            print("mesh_large", name, out[name], flush=True)
            continue
        pdes, sols = load_pdes(data / f"{name}.npz")
        row: dict = {"dofs": int(pdes[0].n)}
        for device in dict.fromkeys((dev, "cpu")):
            t0 = time.perf_counter()
            tr = train_mesh_model(pdes[:18], sols[:18], config=PDETrainConfig(epochs=2, device=device,
                                                                              solution_state=state), progress=False)
            row[f"train_2_epochs_seconds_{device}"] = time.perf_counter() - t0
            for k in (1, 16):
                u, row[f"inference_k{k}_seconds_{device}"] = timed_predict(tr.model, pdes[18:19], tr.norm, k, device)
                row[f"error_k{k}_{device}"] = float(relative_errors(u, sols[18:19])[0])
        out[name] = row
        print("mesh_large", name, row, flush=True)
    return out


def cli_train(out: Path, dev: str, cpu: bool = True) -> dict:
    """The user's command, ``learned-solvers train ... --device cuda``, on the issue's random-lp
    200x400 PDLP family (labelled by HiGHS on this machine's cores), beside the same command on
    this machine's CPU. The CUDA checkpoint comes back to be benchmarked on the CPU."""
    res: dict = {}
    for device in dict.fromkeys((dev, "cpu") if cpu else (dev,)):
        ck = out / f"random-lp-200x400-pdlp-{device}.safetensors"
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "learned_solvers.cli", "train", "--family", "random-lp:m=200,n=400",
                            "--solver", "pdlp", "--train", "200", "--device", device, "--out", str(ck)],
                           capture_output=True, text=True)
        res[device] = {"seconds": time.perf_counter() - t0, "returncode": r.returncode,
                       "last_line": (r.stdout.strip().splitlines() or [""])[-1]}
        if r.returncode == 0:  # the training alone, as the checkpoint records it
            from learned_solvers.checkpoint import load_checkpoint

            res[device]["train_seconds"] = load_checkpoint(ck).meta.get("train_seconds")
        if r.returncode != 0:
            res[device]["stderr_tail"] = r.stderr[-1500:]
        print("cli train", device, res[device], flush=True)
    return res


def py_api(out: Path, dev: str, cpu: bool = True) -> dict:
    """The Python route, ``learned_solvers.train`` then ``evaluate``, on random-lp 50x100
    instances in hand (120 to train on, 20 held out; labelled by HiGHS on a local Dask
    cluster), trained with ``TrainConfig(device=...)`` and run there, inference included; the
    checkpoint is loaded back on the CPU and must give the same start to float32's precision."""
    import warnings as _warnings

    from learned_solvers import TrainingWarning, evaluate, train
    from learned_solvers.training.train import TrainConfig
    from learned_solvers.warmstart import LearnedWarmStarter
    from problems.registry import make_family

    fam = make_family("random-lp:m=50,n=100")
    tr, te = fam.sample(120, seed=0), fam.sample(20, seed=1)
    res: dict = {}
    for device in dict.fromkeys((dev, "cpu") if cpu else (dev,)):
        ck = out / f"py-random-lp-50x100-{device}.safetensors"
        t0 = time.perf_counter()
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", TrainingWarning)  # the verdict is in the report below
            starter = train(tr, solver="pdlp", family="random-lp-50x100", out=ck, progress=False,
                            config=TrainConfig(epochs=10, device=device))
        trained = time.perf_counter() - t0
        rep = evaluate(starter, te, k=1, progress=False)
        on_cpu = LearnedWarmStarter.from_checkpoint(ck, device="cpu", k=1)
        x_dev, _ = starter.iterate(te[0], k=1)
        x_cpu, _ = on_cpu.iterate(te[0], k=1)
        # train_seconds: the whole train call, labelling and the choice of k included
        res[device] = {"train_seconds": trained, "model_device": str(next(starter.model.parameters()).device),
                       "val_error": starter.meta.get("val_error"), "k": rep["k"],
                       "iteration_ratio": rep["iteration_ratio"], "time_ratio": rep["time_ratio"],
                       "nearest_iteration_ratio": rep["nearest_iteration_ratio"], "same_answer": rep["same_answer"],
                       "inference_seconds_median": rep["warm"]["inference_seconds_median"],
                       "checkpoint_on_cpu_max_abs_difference": float(np.max(np.abs(np.asarray(x_dev)
                                                                                   - np.asarray(x_cpu))))}
        print("py_api", device, res[device], flush=True)
    return res


def ddp_worker(data: Path, dev: str, out: Path) -> None:
    """One torchrun rank: the mesh model trained for 2 epochs under DDP; each rank writes its
    weights' checksum, so that the caller can see the ranks agree."""
    import torch

    from learned_solvers.training import distributed
    from learned_solvers.training.train_pde import PDETrainConfig, train_mesh_model

    device = distributed.init_from_env(dev)
    rank, world = distributed.rank_and_world()
    pdes, sols = load_pdes(data / "darcy64.npz")
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


PARTS = ("core", "memory", "mesh", "mesh_large", "ddp", "cli_train", "py_api", "paper_lp")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-data", default=None)
    ap.add_argument("--data", default=".devcarry")
    ap.add_argument("--out", default="gpu_check.json")
    ap.add_argument("--ddp-worker", action="store_true", help="(internal) one torchrun rank of the DDP check")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-cpu", action="store_true",
                    help="mesh and cli_train on the GPU alone (a regression check; the CPU columns are measured)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    a = ap.parse_args()
    if a.make_data:
        make_data(Path(a.make_data))
        return 0
    if a.ddp_worker:
        ddp_worker(Path(a.data), a.device, Path(a.out))
        return 0
    parts = a.parts.split(",")
    if unknown := set(parts) - set(PARTS):
        ap.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rep: dict = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__,
                 "cpu_threads": torch.get_num_threads()}

    from learned_solvers._provenance import stamped

    def save() -> None:  # after every part, so that a run cut short keeps what it measured
        out.write_text(json.dumps(stamped(rep), indent=2))

    def core() -> str:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_core.py"],
                           capture_output=True, text=True)
        return r.stdout.strip().splitlines()[-1] if r.stdout else r.stderr[-500:]

    def paper_lp() -> dict:
        from learned_solvers.bench.paper_lp import PaperLPConfig, run_paper_lp

        plp = run_paper_lp(PaperLPConfig(widths=(16,), epochs=10, device=dev,
                                         data=str(Path(a.data) / "paper_lp.npz")), progress=False)
        return {"rows": plp["rows"]}

    run = {"core": core, "memory": lambda: memory(Path(a.data), dev) if dev == "cuda" else None,
           "mesh": lambda: mesh(Path(a.data), dev, not a.no_cpu), "mesh_large": lambda: mesh_large(Path(a.data), dev), "ddp": lambda: ddp(Path(a.data), dev, out.with_suffix(".ddp")),
           "cli_train": lambda: cli_train(out.parent, dev, not a.no_cpu),
           "py_api": lambda: py_api(out.parent, dev, not a.no_cpu), "paper_lp": paper_lp}
    for part in PARTS:
        if part not in parts:
            continue
        t0 = time.perf_counter()
        try:
            rep[part] = run[part]()
        except Exception as e:  # one part's failure is reported, and the other parts still run
            import traceback

            rep[part] = {"error": repr(e), "traceback": traceback.format_exc()[-2000:]}
        rep[f"{part}_seconds"] = time.perf_counter() - t0
        print(part, "done in", round(rep[f"{part}_seconds"], 1), "s", flush=True)
        save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
