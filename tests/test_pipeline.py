"""Training, checkpoints, learned warm starts, the bench command and the cvxpy plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from learned_solvers.backends import Status, make_backend
from learned_solvers.canonical import InvalidProblemError, QPData
from learned_solvers.bench.qp import train_starter
from learned_solvers.checkpoint import CheckpointError, save_checkpoint
from learned_solvers.training.data import label_instances
from learned_solvers.training.train import TrainConfig
from learned_solvers.warmstart import LearnedWarmStarter, OutOfFamilyWarning, UnseenSizeWarning
from problems.registry import make_family

from .conftest import DATA, head_commit as _head, netlib

SPEC = "random-lp:m=15,n=30"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    fam = make_family(SPEC)
    data = label_instances(fam.sample(24, seed=0), scheduler="serial", progress=False)
    starter, info = train_starter(fam.spec(), data, config=TrainConfig(epochs=3, width=16, train_k=8), progress=False)
    path = tmp_path_factory.mktemp("ck") / "model.safetensors"
    starter.save(path, solver="pdlp")
    return fam, starter, path


def test_checkpoint_round_trip_gives_same_prediction(trained):
    fam, starter, path = trained
    qp = fam.sample(1, seed=5)[0]
    again = LearnedWarmStarter.from_checkpoint(path, family=fam.spec())
    a, _ = starter.warm_start(qp)
    b, _ = again.warm_start(qp)
    assert np.allclose(a.x, b.x, atol=1e-6) and np.allclose(a.y, b.y, atol=1e-6)
    assert repr(again).startswith(f"LearnedWarmStarter(family={fam.spec()!r}, k=")
    assert "polish=True" in repr(again)


def test_a_checkpoint_loads_without_torchs_compiler_and_a_config_asking_more_weights_is_refused(trained, tmp_path):
    """Loading checks the weights against the recorded config; built on torch's meta device, the
    model's spectral norms had started there through torch's Python references, which import
    torch._dynamo: 2-3 s of every load (`solve`, a cvxpy plugin's first call). A config edited
    to make more weights than the file holds is still refused before memory is spent on it."""
    from learned_solvers.checkpoint import load_checkpoint

    _, _, path = trained
    code = ("import sys\nfrom learned_solvers.warmstart import LearnedWarmStarter\n"
            f"LearnedWarmStarter.from_checkpoint({str(path)!r})\nprint('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "False", (out.stdout, out.stderr[-2000:])
    ck = load_checkpoint(path)
    wide = tmp_path / "wide.safetensors"
    save_checkpoint(wide, ck.state, {**ck.meta, "model": {**ck.meta["model"], "width": 10**6}})
    with pytest.raises(CheckpointError, match=r"wide.safetensors: the recorded model config makes [0-9,]+ weights, "
                                              r"more than the file's [0-9,]+; the file was edited or damaged"):
        LearnedWarmStarter.from_checkpoint(wide)


def test_a_start_that_runs_no_network_needs_no_torch_and_the_network_is_built_where_it_runs(trained, tmp_path):
    """A checkpoint whose automatic start is the polished anchor (k = 0) solves without importing
    torch, and so does a cvxpy script's import of the plugin: the import had been most of a
    `solve` command's time (4.2 s of it on afiro). Its network is built, and its weights checked,
    where one first runs: a damaged one is refused for k >= 1, and an instance of a size without
    an anchor falls back to a cold start with a warning."""
    from learned_solvers.checkpoint import load_checkpoint

    fam, _, path = trained
    ck = load_checkpoint(path)
    k0 = tmp_path / "k0.safetensors"
    save_checkpoint(k0, ck.state, {**ck.meta, "best_k": 0})
    code = ("import sys\nfrom problems.registry import make_family\n"
            "from learned_solvers.warmstart import LearnedWarmStarter\nimport learned_solvers.cvxpy_plugin\n"
            f"qp = make_family({SPEC!r}).sample(1, seed=99)[0]\n"
            f"res = LearnedWarmStarter.from_checkpoint({str(k0)!r}).solve(qp, 'highs')\n"
            "print(res.status, res.extra['k'], res.warm_start_accepted, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0 and out.stdout.split() == ["optimal", "0", "True", "False"], out.stderr[-2000:]

    qp = fam.sample(1, seed=99)[0]
    ref = make_backend("highs").solve(qp).objective
    cut = {k: v[:1] if k.endswith("weight") and not k.startswith("anchors.") else v for k, v in ck.state.items()}
    damaged = tmp_path / "damaged.safetensors"
    save_checkpoint(damaged, cut, {**ck.meta, "best_k": 0})
    starter = LearnedWarmStarter.from_checkpoint(damaged)  # the anchor's start needs no weights
    res = starter.solve(qp, "highs")
    assert res.status == Status.OPTIMAL and abs(res.objective - ref) <= 1e-7 * (1 + abs(ref)) and res.extra["k"] == 0
    # on any device (it had been built at load on any but "cpu", e.g. cuda); built there where it first runs
    assert LearnedWarmStarter.from_checkpoint(damaged, device="cpu:0").solve(qp, "highs").extra["k"] == 0
    on = LearnedWarmStarter.from_checkpoint(k0, device="cpu:0")
    assert on._model is None
    first = on.solve(qp, "highs", k=1)
    assert first.extra["k"] == 1 and on._model is not None and next(on._model.parameters()).device.type == "cpu"
    # the one-off build is said apart from the start's own inference time, and once
    then = on.solve(qp, "highs", k=1)
    assert first.extra["load_seconds"] > 0 and then.extra["load_seconds"] == 0.0
    assert first.extra["inference_seconds"] > 0 and then.extra["inference_seconds"] > 0
    for use in (lambda: LearnedWarmStarter.from_checkpoint(damaged, k=1), lambda: starter.solve(qp, "highs", k=1)):
        with pytest.raises(CheckpointError, match="damaged.safetensors: .* the file was edited or damaged"):
            use()
    other = make_family("random-lp:m=12,n=24").sample(1, seed=3)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenSizeWarning)  # said too, and not the point here
        with pytest.warns(OutOfFamilyWarning, match="the network that would start it cannot be built"):
            res = starter.solve(other, "highs")
    assert res.status == Status.OPTIMAL and res.extra["fallback"] == "the checkpoint's network is damaged"
    assert abs(res.objective - make_backend("highs").solve(other).objective) <= 1e-7 * (1 + abs(res.objective))


def test_training_memory_is_measured_even_if_an_interrupt_left_inference_mode_on(trained):
    # a Ctrl-C between torch's entering inference mode and the `with` block leaves the mode on
    from learned_solvers.bench.scaling import training_memory

    fam, starter, _ = trained
    items = label_instances(fam.sample(2, seed=7), scheduler="serial", progress=False)
    leaked = torch.inference_mode()
    leaked.__enter__()
    try:
        rows = training_memory(starter, items, ks=(4,))
    finally:
        leaked.__exit__(None, None, None)
    assert rows[0]["implicit_saved_bytes"] > 0 and rows[0]["unrolled_saved_bytes"] > rows[0]["implicit_saved_bytes"]


def test_a_family_parameter_outside_the_old_spec_tells_checkpoints_apart_and_old_ones_still_load(tmp_path):
    """The QP and random-lp families' specs name every parameter now: a checkpoint trained at
    structure_seed=1 (another factor matrix) was accepted for the family at 0, as their specs
    were one string. A checkpoint spelt as earlier versions wrote it (the parameters it omitted at
    their defaults) still loads for the family at those defaults, and only there."""
    from problems.registry import family_key, family_names

    for spec in ("portfolio:assets=10,factors=2", "lasso:samples=10,features=5", "mpc:states=2,inputs=1,horizon=3",
                 "random-lp:m=5,n=10"):
        assert make_family(make_family(spec).spec()).spec() == make_family(spec).spec()  # the spec reads back
    seed1 = make_family("portfolio:assets=10,factors=2,structure_seed=1")
    seed0 = make_family("portfolio:assets=10,factors=2")
    data = label_instances(seed1.sample(6, seed=0), scheduler="serial", progress=False)
    cfg = TrainConfig(epochs=1, width=8, train_k=2)
    path = train_starter(seed1.spec(), data, config=cfg, progress=False,
                         family_key=family_key(seed1))[0].save(tmp_path / "seed1.safetensors")
    assert LearnedWarmStarter.from_checkpoint(path, family=family_names(seed1)).family == seed1.spec()
    with pytest.raises(CheckpointError, match="structure_seed=1', not .*structure_seed=0'"):
        LearnedWarmStarter.from_checkpoint(path, family=family_names(seed0))
    old = seed0.legacy_spec()
    assert old == "portfolio:assets=10,factors=2,gamma=1.0" and seed1.legacy_spec() is None
    data = label_instances(seed0.sample(6, seed=0), scheduler="serial", progress=False)
    path = train_starter(old, data, config=cfg, progress=False, family_key=old)[0].save(tmp_path / "old.safetensors")
    assert LearnedWarmStarter.from_checkpoint(path, family=family_names(seed0)).family == old
    with pytest.raises(CheckpointError, match="trained on family"):
        LearnedWarmStarter.from_checkpoint(path, family=family_names(seed1))


def test_checkpoint_from_another_family_or_version_is_refused(trained, tmp_path):
    fam, starter, path = trained
    with pytest.raises(CheckpointError, match="trained on family"):
        LearnedWarmStarter.from_checkpoint(path, family="portfolio:assets=10,factors=2,gamma=1.0")
    from learned_solvers.warmstart_pde import LearnedPDEStarter

    with pytest.raises(CheckpointError, match="expected 'pde'; load it with learned_solvers.warmstart.LearnedWarmStarter"):
        LearnedPDEStarter.from_checkpoint(path)
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a learned-solvers checkpoint"):
        LearnedWarmStarter.from_checkpoint(bogus)
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file as _load, save_file as _save

    nan = tmp_path / "nan.safetensors"  # damage that keeps the format: a weight NaN, which training never saves
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    weights = _load(str(path))
    name = next(k for k in sorted(weights) if not k.startswith("anchors."))
    weights[name] = torch.full_like(weights[name], float("nan"))
    _save(weights, str(nan), metadata=header)
    with pytest.raises(CheckpointError, match=f"nan.safetensors: {name} hold NaN or inf"):
        LearnedWarmStarter.from_checkpoint(nan)
    cut = tmp_path / "cut.safetensors"  # an interrupted copy: the header is whole, the weights are not
    cut.write_bytes(Path(path).read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="cut.safetensors: .*damaged or cut short"):
        LearnedWarmStarter.from_checkpoint(cut)
    old = tmp_path / "old.safetensors"
    save_checkpoint(old, starter.model.state_dict(), {"kind": "qp-implicit-gnn", "family": fam.spec()})
    import json as _json
    from safetensors.torch import load_file, save_file

    meta = {"learned_solvers": _json.dumps({"format": "learned-solvers/1", "version": "9.0.0", "kind": "x"})}
    save_file(load_file(str(old)), str(old), metadata=meta)
    with pytest.raises(CheckpointError, match="retrain"):
        LearnedWarmStarter.from_checkpoint(old)
    # edited metadata: not JSON, a key missing, a model config this version does not know
    good = {"format": "learned-solvers/1", "version": "0.1.0", "kind": "qp-implicit-gnn", "family": fam.spec(),
            "scale_range": [[1, 1]] * 3, "model": {"width": 16}}
    for text, why in (("{not json", "metadata is not JSON"),
                      (_json.dumps({k: v for k, v in good.items() if k != "model"}), "metadata lacks \\['model'\\]"),
                      (_json.dumps({**good, "model": {"widht": 16}}), "model config does not fit this version")):
        save_file(load_file(str(old)), str(old), metadata={"learned_solvers": text})
        with pytest.raises(CheckpointError, match=why):
            LearnedWarmStarter.from_checkpoint(old)


def test_an_edited_or_damaged_checkpoint_is_refused_or_still_ends_at_the_optimum(trained, tmp_path, capsys):
    """150 seeded edits of a checkpoint (`conftest.edited_checkpoints`: metadata keys deleted or
    given values of other types, tensors deleted or cut, a byte changed, the file cut short):
    each is refused with a CheckpointError when loaded, or loads and its solve ends at the
    reference optimum (a start it makes may be worse, never the answer); never another error,
    and no memory spent on a recorded size the weights do not have. `info` and `plot` (its
    training curve) describe each or refuse it naming the file (a junk `train` entry once
    escaped `plot` as an AttributeError, a damaged file as "'utf-8' codec can't decode")."""
    from .conftest import edit_outcomes

    fam, _, path = trained
    qp = fam.sample(1, seed=99)[0]
    ref = make_backend("highs").solve(qp).objective

    def use(f, what):
        res = LearnedWarmStarter.from_checkpoint(f).solve(qp, "highs")
        assert res.status == Status.OPTIMAL and abs(res.objective - ref) <= 1e-7 * (1 + abs(ref)), what
        return "solved"

    assert edit_outcomes(path, tmp_path, capsys, use) == {"refused", "solved"}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_disk_ends_a_command_with_one_error_line(trained):
    """An OSError other than a missing file (no space left: stdout written to /dev/full) is one
    line, as the command's other errors are, not a traceback."""
    import subprocess
    import sys

    _, _, path = trained
    with open("/dev/full", "w") as full:
        out = subprocess.run([sys.executable, "-m", "learned_solvers.cli", "info", str(path), "--json"], stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.strip().splitlines()[-1].startswith("learned-solvers: error: [Errno 28] No space left")


def test_info_describes_a_checkpoint_from_its_header_and_says_whether_it_loads(trained, tmp_path, capsys):
    """`learned-solvers info`: family, sizes, k, parameters and the anchor bank, read without the
    weights; a checkpoint of another major version is described with the reason it is refused;
    among several files an unreadable one is reported and the others still described."""
    from safetensors.torch import load_file, save_file

    from learned_solvers.checkpoint import describe_checkpoint
    from learned_solvers.cli import main

    fam, starter, path = trained
    info = describe_checkpoint(path)
    assert info.loads and info.kind == "qp-implicit-gnn" and info.family == fam.spec()
    assert info.parameters == sum(p.numel() for p in starter.model.parameters())
    assert info.anchors and all(name.startswith("anchors.") for name in info.anchors)
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert fam.spec() in text and "loads" in text and "30 variables x 15 constraints" in text
    # the code that wrote it, and when (a checkpoint from before provenance was kept says its version alone)
    assert info.meta["provenance"]["commit"] == _head()
    assert (f"at commit {_head()[:12]}" if _head() else "not from a git checkout") in text
    assert f"{info.parameters:,} trained parameters" in text and f"k = {starter.default_k}" in text
    assert "load with   learned_solvers.warmstart.LearnedWarmStarter.from_checkpoint(path)" in text
    # the header is read without torch, whose import (2-3 s) had been most of the command's time
    code = ("import sys\nfrom learned_solvers.cli import main\nassert main(['info', sys.argv[1]]) == 0\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and fam.spec() in out.stdout and out.stderr.strip() == "no torch", out.stderr[-2000:]

    old = tmp_path / "old.safetensors"
    meta = {"format": "learned-solvers/1", "version": "9.0.0", "kind": "qp-implicit-gnn", "family": fam.spec(),
            "k_sweep": [{"k": 1, "iterations_median": 10.0, "iterations": [9.0, 10.0, 12.0]}]}
    save_file(load_file(str(path)), str(old), metadata={"learned_solvers": json.dumps(meta)})
    refused = describe_checkpoint(old)
    assert not refused.loads and "written by learned-solvers 9.0.0" in refused.refusal
    assert refused.meta["k_sweep"] == [{"k": 1, "iterations_median": 10.0}]  # the medians, not every instance
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"\x00" * 64)
    assert main(["info", "--json", str(old), str(bogus), str(path)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("loads") for line in lines] == [False, None, True]
    assert "not a learned-solvers checkpoint" in lines[1]["error"]
    assert main(["info", str(tmp_path / "missing.safetensors")]) == 2


def test_anchor_sets_the_scale_when_the_data_scales_miss_it(trained, tmp_path):
    """An anchor of rms 1e5 data units widens x_scale until its rms is ANCHOR_RMS (share1b's
    case); a moderate one leaves the scales alone; a checkpoint written before the option
    existed loads without it and predicts as before."""
    import json as _json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from learned_solvers.models.qp_gnn import ANCHOR_RMS, build_graph

    fam, starter, path = trained
    qp = fam.sample(1, seed=6)[0]
    plain = build_graph([qp])
    unit = plain.x_scale.item()
    big = build_graph([qp], anchors=[(np.full(qp.n, 1e5 * unit), np.zeros(qp.m))])
    assert big.x_scale.item() == pytest.approx(1e5 * unit / ANCHOR_RMS, rel=1e-5)
    assert float(big.x_anchor.pow(2).mean().sqrt()) == pytest.approx(ANCHOR_RMS, rel=1e-5)
    assert big.y_scale.item() == pytest.approx(plain.y_scale.item())
    assert build_graph([qp], anchors=[(np.full(qp.n, 1e5 * unit), np.zeros(qp.m))],
                       anchor_scale=False).x_scale.item() == pytest.approx(unit)
    small = build_graph([qp], anchors=[(np.full(qp.n, 2 * unit), np.zeros(qp.m))])
    assert small.x_scale.item() == pytest.approx(unit)

    old = tmp_path / "old.safetensors"
    state = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = _json.loads(f.metadata()["learned_solvers"])
    del meta["model"]["anchor_scale"], meta["model"]["unit_messages"]
    save_file(state, str(old), metadata={"learned_solvers": _json.dumps(meta)})
    was = LearnedWarmStarter.from_checkpoint(old).model.cfg
    assert was.anchor_scale is False and was.unit_messages is False
    assert starter.model.cfg.anchor_scale is True and starter.model.cfg.unit_messages is True


def test_unit_messages_bound_the_operator_norm_and_settle_the_block(trained):
    """msg_scale bounds 1 / |A|_2 of the normalised A, so with unit messages the message path
    of the block cannot expand the state; the trained block settles towards its fixed point."""
    from learned_solvers.models.qp_gnn import build_graph

    fam, starter, _ = trained
    qp = fam.sample(1, seed=6)[0]
    g = build_graph([qp])
    a = g.A[0].double()
    assert float(torch.linalg.matrix_norm(a, ord=2)) * g.msg_scale.item() <= 1.0 + 1e-9
    net = starter._net
    anchor = starter.anchors.anchor(qp)
    g = build_graph([qp], anchors=[anchor])
    with torch.no_grad():
        z = net.block.init(g)
        steps = []
        for _ in range(60):
            z2 = net.block(z, g)
            steps.append(float((z2 - z).norm() / (z2.norm() + 1e-12)))
            z = z2
    assert steps[-1] < 0.1 * steps[1]


def test_learned_start_keeps_the_answer_and_out_of_family_falls_back(trained):
    fam, starter, _ = trained
    backend = make_backend("pdlp")
    for qp in fam.sample(3, seed=11):
        cold = backend.solve(qp)
        warm = starter.solve(qp, backend)
        assert warm.status == Status.OPTIMAL and backend.same_answer(cold, warm)
    qp = fam.sample(1, seed=12)[0]
    huge = qp.with_data(c=qp.c * 1e6)
    with pytest.warns(OutOfFamilyWarning, match="outside the training family"):
        ws, info = starter.warm_start(huge)
    assert ws is None and info.fallback == "out of family"
    with pytest.warns(OutOfFamilyWarning, match="outside the training family"):
        res = starter.solve(huge, backend)
    assert res.status == Status.OPTIMAL and not res.warm_start_accepted


def test_checkpoint_records_the_training_sizes_and_warns_on_another(trained):
    """The metadata holds the canonical sizes; an instance of another size still gets the
    size-agnostic model's start, with a warning, and the cold solve's answer."""
    fam, _, path = trained
    again = LearnedWarmStarter.from_checkpoint(path)
    assert again.meta["canonical_sizes"] == [[30, 15]] and again.sizes == {(30, 15)}
    other = make_family("random-lp:m=12,n=24").sample(1, seed=3)[0]
    backend = make_backend("pdlp")
    with pytest.warns(UnseenSizeWarning, match="24 variables x 12 constraints, a size this model never saw"):
        warm = again.solve(other, backend)
    assert warm.status == Status.OPTIMAL and backend.same_answer(backend.solve(other), warm)
    # out of the family's scales too: the warning names both, and the solve is cold
    with pytest.warns(OutOfFamilyWarning, match="outside the training family .* and its size "
                      r"\(24 variables x 12 constraints\) was never seen in training; solving from a cold start"):
        ws, info = again.warm_start(other.with_data(c=other.c * 1e6))
    assert ws is None and info.fallback == "out of family"
    # the backend by name; anything but canonical data is refused with where to get it
    assert again.solve(fam.sample(1, seed=4)[0], "pdlp").status == Status.OPTIMAL
    with pytest.raises(TypeError, match="expected a QPData, got str: make one with learned_solvers.formats"):
        again.solve("instance.mps", "pdlp")


def test_a_problem_with_no_constraint_rows_gets_the_start_and_the_cold_answer(trained):
    """Bounds only, or nothing at all (a cvxpy ``Maximize(-sum_squares(x) + sum(x))``): the
    model's KKT guard took a maximum over the empty rows and the solve ended in torch's
    IndexError, before any solver ran. The bounds-only LP takes the LP checkpoint's start; the
    free QP, a QP to a model trained on LPs, is out of its family and solved cold, with the
    warning that says so."""
    _, _, path = trained
    rng = np.random.default_rng(0)
    n = 12
    lb = np.where(rng.random(n) < 0.5, 0.0, -1.0)
    cases = {"bounds only": QPData(c=rng.standard_normal(n), A=sp.csr_matrix((0, n)), l=np.zeros(0), u=np.zeros(0),
                                   lb=lb, ub=np.full(n, 2.0), name="bounds-only"),
             "free QP": QPData(c=np.ones(n), A=sp.csr_matrix((0, n)), l=np.zeros(0), u=np.zeros(0),
                               lb=np.full(n, -np.inf), ub=np.full(n, np.inf), P=sp.identity(n), name="free-qp")}
    for k in (1, 4):
        starter = LearnedWarmStarter.from_checkpoint(path, k=k)
        for what, qp in cases.items():
            for name in ("pdlp", "osqp", "highs", "scs"):
                backend = make_backend(name)
                cold = backend.solve(qp)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    warm = starter.solve(qp, backend)
                outside = [w for w in caught if issubclass(w.category, OutOfFamilyWarning)]
                assert bool(outside) == (what == "free QP") == (not warm.warm_start_accepted), (what, name)
                assert cold.status == warm.status == Status.OPTIMAL, (what, name, warm.message)
                assert backend.same_answer(cold, warm), (what, name, cold.objective, warm.objective)


def test_python_api_refuses_a_bad_k_or_device_where_it_is_given(trained):
    """k = 0 once meant 'automatic' and k = -3 ran nothing; a device with no GPU failed inside
    torch. k = 0 now means what it says: no model iterations (the anchor)."""
    import torch

    fam, _, path = trained
    qp = fam.sample(1, seed=4)[0]
    for bad in (-1, -3, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            LearnedWarmStarter.from_checkpoint(path, k=bad)
    starter = LearnedWarmStarter.from_checkpoint(path, k=np.int64(2))
    assert starter.k == 2
    starter.k = 0
    assert starter.k == 0 and "k=0," in repr(starter)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        starter.k = -2
    with pytest.raises(ValueError, match="k must be a positive integer"):
        starter.warm_start(qp, k=-1)
    # 99999 for 9999: a bench ran on for minutes; iterate had no check at all (k = -1 ran the network)
    for call in (lambda: starter.warm_start(qp, k=10_001), lambda: starter.iterate(qp, k=10_001),
                 lambda: LearnedWarmStarter.from_checkpoint(path, k=10_001)):
        with pytest.raises(ValueError, match=r"k 10001 is more model iterations than this package runs \(at most"):
            call()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        starter.iterate(qp, k=-1)
    with pytest.raises(ValueError, match="not a torch device"):
        LearnedWarmStarter.from_checkpoint(path, device="gpu")
    with pytest.raises(ValueError, match="not a torch device"):
        TrainConfig(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA device here; use cpu"):
            LearnedWarmStarter.from_checkpoint(path, device="cuda")
    # a backend that is none (None, a number, a backend's class): said, not an AttributeError mid-solve
    for bad in (None, 3, type(make_backend("highs"))):
        with pytest.raises(TypeError, match="backend must be a solver's name .* or a backend made by"):
            starter.solve(qp, bad)
    with pytest.raises(FileNotFoundError, match=f"{path.parent} is a folder, not a checkpoint: give a file in it"):
        LearnedWarmStarter.from_checkpoint(path.parent)
    # a switch given as a string: "no" had counted as True
    for call, what in ((lambda: starter.solve(qp, "highs", retry_cold="no"), "retry_cold"),
                       (lambda: starter.warm_start(qp, safeguard="no"), "safeguard")):
        with pytest.raises(TypeError, match=f"{what} must be True or False, got 'no'"):
            call()


def test_kkt_safeguard_never_hands_out_a_worse_start_with_more_k(trained):
    """The start at k is the iterate of least relative KKT residual among the first k, so that
    residual does not grow with k; the residual is ~0 at a true optimum; without the safeguard
    the start is the k-th iterate itself."""
    import torch

    from learned_solvers.models.qp_gnn import build_graph, kkt_merit

    fam, starter, _ = trained
    item = label_instances(fam.sample(1, seed=14), scheduler="serial", progress=False)[0]
    qp = item.qp
    g = build_graph([qp])
    to_norm = lambda x, y: (torch.as_tensor(x / g.x_scale.item(), dtype=torch.float32)[None],  # noqa: E731
                            torch.as_tensor(y / g.y_scale.item(), dtype=torch.float32)[None])
    merit = lambda xy: float(kkt_merit(g, *to_norm(*xy))[0])  # noqa: E731
    assert merit((item.x, item.y)) < 1e-4
    m = [merit(starter.iterate(qp, k=k)) for k in (1, 2, 4, 8, 16, 32, 64)]
    assert all(later <= earlier * (1 + 1e-4) for earlier, later in zip(m, m[1:])), m
    raw = starter.model.predict([qp], k=64, anchors=[starter.anchors.anchor(qp)] if starter.anchors else None)[0]
    assert np.allclose(starter.iterate(qp, k=64, safeguard=False)[0], raw[0])
    assert merit(raw) >= m[-1] * (1 - 1e-4)


def test_frozen_inference_copy_matches_and_leaves_the_model_intact(trained):
    """Inference runs a copy with the spectral norms baked in: the same outputs, no gradients,
    and the trained model keeps its parametrizations (it can still train)."""
    from torch.nn.utils import parametrize

    fam, starter, _ = trained
    qp = fam.sample(1, seed=16)[0]
    twin = starter.model.frozen()
    (xa, ya), = starter.model.predict([qp], k=4)
    (xb, yb), = twin.predict([qp], k=4)
    assert np.allclose(xa, xb, atol=1e-6) and np.allclose(ya, yb, atol=1e-6)
    assert not any(p.requires_grad for p in twin.parameters())
    assert not any(parametrize.is_parametrized(m) for m in twin.modules())
    assert any(parametrize.is_parametrized(m) for m in starter.model.modules())


def test_nan_prediction_falls_back_to_cold(trained, monkeypatch):
    fam, starter, _ = trained
    qp = fam.sample(1, seed=13)[0]
    monkeypatch.setattr(starter, "iterate", lambda q, **kw: (np.full(q.n, np.nan), np.zeros(q.m)))
    with pytest.warns(OutOfFamilyWarning, match="NaN"):
        res = starter.solve(qp, make_backend("highs"))
    assert res.status == Status.OPTIMAL and res.extra["fallback"] == "non-finite prediction"


def test_a_report_with_a_fallen_back_start_is_standard_json(trained, tmp_path, monkeypatch):
    """Where every learned start fell back (a NaN prediction), the figures the learned start
    alone has are NaN: the report writes them as null (jq and JavaScript refuse ``NaN``), and
    ``plot`` still draws it."""
    from learned_solvers.bench.plots import load_report, plot_bench
    from learned_solvers.bench.qp import BenchConfig, run_bench, write_report

    fam, _, path = trained
    monkeypatch.setattr(LearnedWarmStarter, "iterate", lambda self, q, **kw: (np.full(q.n, np.nan), np.zeros(q.m)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfFamilyWarning)
        rep = run_bench(BenchConfig(family=fam.spec(), checkpoint=str(path), k=1, n_test=2, progress=False, threads=1))
    assert np.isnan(rep["instances"][0]["prediction_error"]) and rep["same_answer"] == 1.0
    assert rep["threads"] == 1  # bench --threads, recorded with the figures it made

    def refuse(word):
        raise ValueError(f"{word} in a report")

    text = write_report(rep, tmp_path / "report.json").read_text()
    got = json.loads(text, parse_constant=refuse)
    assert got["instances"][0]["prediction_error"] is None and got["instances"][0]["fallback"]
    assert plot_bench(load_report(tmp_path / "report.json"), tmp_path / "report.png").stat().st_size > 0


def test_bench_verdict_names_instances_where_warm_and_cold_end_differently(trained, monkeypatch):
    """PDLP held to 30 iterations: the cold solves stop at the limit, the learned starts finish
    within it. The verdict had said "the learned start pays" with same_answer 0 (seen with OSQP at
    its iteration limit on sc105); it now says the two ends differ, and how."""
    import learned_solvers.bench.qp as bench_qp
    from learned_solvers.bench.qp import BenchConfig, format_report, run_bench

    fam, _, path = trained
    monkeypatch.setattr(bench_qp, "bench_backend", lambda solver, **kw: make_backend("pdlp", iteration_limit=30))
    rep = run_bench(BenchConfig(family=fam.spec(), checkpoint=str(path), k=0, polish=True, n_test=3, progress=False,
                                scheduler="serial"))
    cold = [r["cold"]["status"] for r in rep["instances"]]
    assert "limit" in cold and rep["same_answer"] < 1, cold
    text = format_report(rep)
    differ = sum(not r["same_answer"] for r in rep["instances"])
    assert f"verdict: warm and cold solves end differently on {differ} of 3 instances (cold: limit" in text
    assert "pays" not in text.splitlines()[-2] + text.splitlines()[-1]
    # SCS at its limit answers, inaccurately: the verdict says which answers were
    monkeypatch.setattr(bench_qp, "bench_backend", lambda solver, **kw: make_backend("scs", max_iters=25))
    rep = run_bench(BenchConfig(family=fam.spec(), checkpoint=str(path), k=0, polish=True, n_test=3, progress=False,
                                scheduler="serial"))
    assert all(r["cold"]["inaccurate"] and r["cold"]["status"] == "optimal" for r in rep["instances"])
    assert "end differently on 2 of 3 instances (cold: optimal (inaccurate) 2; warm: optimal 2)" in format_report(rep)


def test_bench_command_writes_the_report(tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "learned_solvers.cli", "bench", "--family", SPEC, "--solver", "pdlp",
         "--train", "16", "--test", "4", "--epochs", "2", "--width", "16", "--scheduler", "serial",
         "--out", str(out), "--plot", str(tmp_path / "report.png")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "report.png").stat().st_size > 0
    rep = json.loads(out.read_text())
    for key in ("family", "solver", "n_train", "n_test", "k", "iteration_ratio", "time_ratio",
                "nearest_iteration_ratio", "same_answer"):
        assert key in rep
    for start in ("cold", "warm", "nearest", "oracle"):
        assert "iterations_median" in rep[start]
    assert "seconds_median" in rep["cold"] and "inference_seconds_median" in rep["warm"]
    assert rep["same_answer"] == 1.0
    assert rep["oracle_iteration_ratio"] < 0.2
    # what made it: the command as typed, and the code (the commit, in a checkout such as CI's clone)
    made = rep["provenance"]
    assert made["command"][:3] == ["learned-solvers", "bench", "--family"] and made["packages"]["ortools"]
    assert made["commit"] == _head()
    assert 0 <= rep["nearest_active_mismatch_median"] <= rep["constraints"]
    assert 0 <= rep["oracle_active_mismatch_median"] <= rep["constraints"]
    assert "time_ratio" in proc.stdout and "active set off the optimum's" in proc.stdout
    # each start's relative KKT residual, against the solver's tolerance
    assert all(r["start_kkt"] >= 0 and r["nearest_start_kkt"] >= 0 for r in rep["instances"])
    assert rep["start_kkt_median"] == pytest.approx(np.median([r["start_kkt"] for r in rep["instances"]]))
    assert "the start's relative KKT residual (median" in proc.stdout and "relative tolerance of 1e-06" in proc.stdout
    assert "verdict: the learned start" in proc.stdout
    # a saved report re-plotted, and the per-instance ratios the plot draws give the report's medians
    from learned_solvers.bench.plots import instance_ratios

    ratios = instance_ratios(rep)
    assert np.median(ratios["iterations/warm"]) == pytest.approx(rep["iteration_ratio"])
    assert np.median(ratios["iterations/nearest"]) == pytest.approx(rep["nearest_iteration_ratio"])
    assert np.median(ratios["time"]) == pytest.approx(rep["time_ratio"])
    from learned_solvers.cli import main

    assert main(["plot", str(out), "--out", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 0


def test_start_kkt_is_zero_at_the_optimum_and_not_at_a_cold_start():
    """The LP bench's start measure on afiro, solved by HiGHS: its optimum is within the solver's
    tolerance, the zero start and the optimum moved by 10% are not."""
    from learned_solvers.bench.qp import start_kkt
    from learned_solvers.formats.mps import read_problem

    qp = read_problem(netlib("afiro"))
    res = make_backend("highs").solve(qp)
    assert res.status == Status.OPTIMAL
    assert start_kkt(qp, res.x, res.y) < 1e-6
    assert start_kkt(qp, np.zeros(qp.n), np.zeros(qp.m)) > 1e-2
    assert start_kkt(qp, 1.1 * res.x, 1.1 * res.y) > 1e-3


def test_bench_with_dask_local_cluster(tmp_path):
    """Labelling on a local cluster, started while another local cluster runs (as each rank's
    does under torchrun): the same optima as serial labelling, and no warning that a port is taken."""
    import warnings

    from learned_solvers.training.data import dask_client

    fam = make_family(SPEC)
    insts = fam.sample(6, seed=0)
    with dask_client("local", 1), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        data = label_instances(insts, scheduler="local", workers=2, progress=False)
    assert len(data) == 6 and all(d.x.shape == (30,) for d in data)
    assert not [str(w.message) for w in seen if "in use" in str(w.message)]
    serial = label_instances(insts, scheduler="serial", progress=False)
    assert all(np.allclose(a.x, b.x) and a.objective == pytest.approx(b.objective) for a, b in zip(data, serial))


def test_a_script_without_a_main_guard_is_told_how_to_label_on_a_local_cluster(tmp_path):
    """A local Dask cluster's workers are new processes that first import the script that
    started them: one that calls the labelling at its top level cannot start them, and is
    told to guard the call or label in its own process, not only "Nanny failed to start"."""
    script = tmp_path / "unguarded.py"
    script.write_text("from problems.registry import make_family\n"
                      "from learned_solvers.training.data import label_instances\n"
                      f"label_instances(make_family({SPEC!r}).sample(2, seed=0), workers=1, progress=False)\n")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=root,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert proc.returncode != 0
    assert "worker processes did not start" in proc.stderr and 'if __name__ == "__main__":' in proc.stderr
    assert 'scheduler="serial"' in proc.stderr


def test_cli_reports_bad_input_clearly(tmp_path):
    bad = tmp_path / "bad.mps"
    bad.write_bytes(b"\x00\x01 nonsense")
    ck = tmp_path / "none.safetensors"
    proc = subprocess.run([sys.executable, "-m", "learned_solvers.cli", "solve", str(bad), "--checkpoint", str(ck)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "bad.mps" in proc.stderr


def _tiny_cvxpy_checkpoint(module: str, tmp_path):
    """A model of the cvxpy family ``module:build``, trained a little (16 instances, 2 epochs)."""
    fam = make_family(f"cvxpy:{module}:build")
    data = label_instances(fam.sample(16, seed=0), scheduler="serial", progress=False)
    starter, _ = train_starter(fam.spec(), data, config=TrainConfig(epochs=2, width=16, train_k=8), progress=False)
    return starter.save(tmp_path / f"{module.rsplit('.', 1)[-1]}.safetensors")


def test_cvxpy_one_line_switch_to_learned_osqp(tmp_path):
    cp = pytest.importorskip("cvxpy")
    from learned_solvers.cvxpy_plugin import LearnedOSQP
    from tests.cvxpy_portfolio import build

    path = _tiny_cvxpy_checkpoint("tests.cvxpy_portfolio", tmp_path)

    prob = build(np.random.default_rng(123))
    prob.solve(solver=cp.OSQP, eps_abs=1e-5, eps_rel=1e-5)
    ref_value, ref_w = prob.value, prob.variables()[0].value.copy()
    ref_dual = prob.constraints[1].dual_value

    prob = build(np.random.default_rng(123))
    plugin = LearnedOSQP(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfFamilyWarning)
        prob.solve(solver=plugin)  # the one-line change
    assert prob.status == "optimal"
    # cp.OSQP's answer, not one within its tolerance: the plugin polishes as cvxpy's OSQP does
    assert abs(prob.value - ref_value) < 1e-8 * (1 + abs(ref_value))
    assert np.allclose(prob.variables()[0].value, ref_w, atol=1e-7)
    assert abs(prob.constraints[1].dual_value - ref_dual) < 1e-7 * (1 + abs(ref_dual))
    assert "inference_seconds" in plugin.last
    # the same call with the OSQP options the script passed: still one changed word
    prob = build(np.random.default_rng(123))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfFamilyWarning)
        prob.solve(solver=plugin, eps_abs=1e-6, eps_rel=1e-6)
    assert prob.status == "optimal" and abs(prob.value - ref_value) < 1e-4 * (1 + abs(ref_value))
    # OSQP's own settings pass through by name (osqp < 1.0's `polish` too); a misspelt one is refused
    prob = build(np.random.default_rng(123))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfFamilyWarning)
        prob.solve(solver=plugin, rho=0.5, polish=True, eps_abs=1e-6, eps_rel=1e-7, check_termination=7)
    assert prob.status == "optimal" and abs(prob.value - ref_value) < 1e-4 * (1 + abs(ref_value))
    assert prob.solver_stats.num_iters % 7 == 0  # OSQP checked every 7th iteration: the setting reached it
    # verbose=True, as with cvxpy's OSQP: cvxpy's log says which start the solver got
    import logging

    from cvxpy import settings as cvxpy_settings

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    cvxpy_settings.LOGGER.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfFamilyWarning)
            build(np.random.default_rng(123)).solve(solver=plugin, verbose=True)
    finally:
        cvxpy_settings.LOGGER.removeHandler(handler)
    assert any(ln.startswith("LEARNED_OSQP: ") and "inference" in ln and "start" in ln for ln in lines), lines
    with pytest.raises(TypeError, match="unknown solver options \\['rhoo'\\]"):
        build(np.random.default_rng(1)).solve(solver=plugin, rhoo=0.5)
    # cvxpy's warm_start=False asks for a cold solve: the plugin runs cp.OSQP's, and says so (it had started warm)
    from learned_solvers.cvxpy_plugin import COLD_AS_ASKED

    prob = build(np.random.default_rng(123))
    prob.solve(solver=cp.OSQP, eps_abs=1e-5, eps_rel=1e-5, warm_start=False)
    cold_iterations = prob.solver_stats.num_iters
    prob = build(np.random.default_rng(123))
    prob.solve(solver=plugin, warm_start=False)
    assert plugin.last["fallback"] == COLD_AS_ASKED and plugin.last["inference_seconds"] == 0.0
    assert prob.status == "optimal" and prob.solver_stats.num_iters == cold_iterations
    assert abs(prob.value - ref_value) < 1e-8 * (1 + abs(ref_value))
    # OSQP's tolerances are checked by the names the script gave (not the backend's derived 'tol'):
    # 0 is OSQP's "this test off", so eps_abs=0 solves; both 0 or one at 1 or more is refused
    prob = build(np.random.default_rng(123))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfFamilyWarning)
        prob.solve(solver=plugin, eps_abs=0.0, eps_rel=1e-6)
    assert prob.status == "optimal" and abs(prob.value - ref_value) < 1e-4 * (1 + abs(ref_value))
    for opts, match in (({"eps_rel": 2.0}, "eps_rel must lie in \\[0, 1\\)"), ({"eps_abs": -1e-3}, "eps_abs must"),
                        ({"eps_abs": 0.0, "eps_rel": 0.0}, "cannot both be 0")):
        with pytest.raises(ValueError, match=match):
            build(np.random.default_rng(1)).solve(solver=plugin, **opts)


def test_train_from_python_on_instances_in_hand(tmp_path):
    """``learned_solvers.train``: a notebook's own instances (cvxpy problems, snapshots of a
    Parameter problem, QPData, an MPS file's path: any mix the model reads) trained on without a
    family module; the instance no reference solver finds optimal is dropped and named by its
    position; the starter goes straight into the cvxpy plugin, and its checkpoint loads under
    the family name given and is refused under another."""
    cp = pytest.importorskip("cvxpy")
    from learned_solvers import LearnedOSQP, as_qp, train
    from tests import cvxpy_sometimes_infeasible as infeasible
    from tests.cvxpy_portfolio import build

    problems = [build(np.random.default_rng(s)) for s in range(12)]
    problems.insert(5, as_qp(build(np.random.default_rng(99))))  # compiled already: taken as it is
    infeasible.lo.value = 0.9  # x >= 0.9 on both coordinates, x1 + x2 <= 1
    problems.append(as_qp(infeasible.problem))  # a Parameter problem, snapshotted at these values
    out = tmp_path / "mine.safetensors"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        starter = train(problems, solver="osqp", family="my-portfolios", out=out, scheduler="serial",
                        progress=False, config=TrainConfig(epochs=2, width=16, train_k=8))
    assert any("1 of 14 instances were not solved to optimality" in str(w.message) for w in seen), seen
    assert starter.meta["dropped"] == [13] and starter.meta["n_train"] == 13 and starter.meta["n_drawn"] == 14
    assert starter.family == "my-portfolios" and np.isfinite(starter.meta["val_error"])
    assert "best_k" in starter.meta and starter.meta["k_sweep"]  # k and the polish chosen on validation

    prob = build(np.random.default_rng(123))
    ref = prob.solve(solver=cp.CLARABEL)
    prob = build(np.random.default_rng(123))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfFamilyWarning)
        value = prob.solve(solver=LearnedOSQP(starter))  # the starter itself, no file
    assert prob.status == "optimal" and abs(value - ref) < 1e-3 * (1 + abs(ref))

    loaded = LearnedWarmStarter.from_checkpoint(out, family="my-portfolios")
    assert loaded.meta["dropped"] == [13] and loaded.default_k == starter.default_k
    with pytest.raises(CheckpointError, match="my-portfolios"):
        LearnedWarmStarter.from_checkpoint(out, family="portfolio")
    # bench on held-out instances in hand: the starter object or its checkpoint's path
    from learned_solvers import evaluate
    from learned_solvers.bench.qp import format_report

    held_out = [build(np.random.default_rng(200 + s)) for s in range(4)] + [as_qp(infeasible.problem)]
    held_out.append(build(np.random.default_rng(201)))  # the second one again: counted twice, and said so
    held_out.append(problems[2])  # a training instance: its figures are not held-out ones, and said so
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        # labelled on a local Dask cluster, the default: the dropped one is still named by its position
        rep = evaluate(starter, held_out, workers=1, progress=False, out=tmp_path / "held-out.json")
    said = [str(w.message) for w in seen]
    assert any("1 of the 7 instances repeat another's data exactly (5 repeats 1): 6 distinct problems, each counted"
               in m for m in said), said
    trained_on = "1 of the 7 instances given are training instances of this starter (their costs, sides and bounds"
    assert any(trained_on in m and "positions 6)" in m for m in said), said
    assert rep["n_test"] == 6 and rep["dropped_instances"] == [4] and rep["same_answer"] == 1.0
    assert rep["in_training"] == [6] and trained_on in format_report(rep)
    assert rep["solver"] == "osqp" and rep["family"] == "my-portfolios" and rep["n_train"] == 13
    for key in ("iteration_ratio", "time_ratio", "nearest_iteration_ratio", "oracle_iteration_ratio"):
        assert np.isfinite(rep[key]), key
    assert rep["oracle"]["iterations_median"] <= rep["cold"]["iterations_median"]
    table = format_report(rep)
    assert "family my-portfolios" in table and "dropped" in table and "1 of the 7 held-out" in table
    assert " --" not in table, table  # its advice in the Python call's terms
    written = json.loads((tmp_path / "held-out.json").read_text())
    assert written["iteration_ratio"] == rep["iteration_ratio"] and "provenance" in written
    again = evaluate(out, held_out[:2], scheduler="serial", progress=False, solver="scs")
    assert again["solver"] == "scs" and again["n_test"] == 2 and again["same_answer"] == 1.0
    own_k = starter.k
    one = evaluate(starter, held_out[:2], k=1, scheduler="serial", progress=False, time_limit=60.0)  # bench --k 1
    assert one["k"] == 1 and not one["k_automatic"] and starter.k == own_k and one["same_answer"] == 1.0
    assert one["solver_options"]["time_limit"] == 60.0  # bench --time-limit 60
    with pytest.raises(ValueError, match="k"):
        evaluate(starter, held_out[:2], k=-1, scheduler="serial", progress=False)

    from tests import scip_portfolio  # a pyscipopt model is read as scip_plugin.optimize reads it
    model_qp = as_qp(scip_portfolio.build(np.random.default_rng(5)))
    assert isinstance(model_qp, QPData) and model_qp.P is not None and model_qp.n == 34
    # LPs from files train the same way
    from learned_solvers import TrainingWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)  # afiro solves in microseconds: no start pays in time
        afiros = [netlib("afiro"), read_problem_scaled(netlib("afiro"), 0.9), read_problem_scaled(netlib("afiro"), 1.1)]
        lp = train(afiros, solver="pdlp", scheduler="serial", progress=False,
                   config=TrainConfig(epochs=1, width=8, train_k=2))
    assert lp.sizes == {(32, 27)} and lp.meta["dropped"] == []


def test_evaluate_on_bench_s_held_out_instances_is_bench(trained):
    """``evaluate`` on the instances ``bench --checkpoint`` draws (its held-out seed) solves each
    as bench does: the same iterations from every start, instance by instance."""
    from learned_solvers import evaluate
    from learned_solvers.bench.qp import TEST_SEED_OFFSET, BenchConfig, run_bench

    fam, _, path = trained
    bench = run_bench(BenchConfig(family=fam.spec(), solver="pdlp", n_test=4, checkpoint=str(path), seed=0,
                                  scheduler="serial", progress=False))
    ev = evaluate(path, fam.sample(4, seed=TEST_SEED_OFFSET), solver="pdlp", scheduler="serial", progress=False)
    starts = ("cold", "warm", "nearest", "nearest_polished", "oracle")
    assert [[r[s]["iterations"] for s in starts] for r in ev["instances"]] == \
        [[r[s]["iterations"] for s in starts] for r in bench["instances"]]
    for key in ("iteration_ratio", "nearest_iteration_ratio", "oracle_iteration_ratio", "same_answer", "k", "polish"):
        assert ev[key] == bench[key], key


def read_problem_scaled(path, factor: float) -> QPData:
    """An MPS file's instance with its costs scaled: another instance of its family."""
    import dataclasses

    from learned_solvers.formats.mps import read_problem

    qp = read_problem(path)
    return dataclasses.replace(qp, c=qp.c * factor, name=f"{qp.name}*{factor}")


def test_train_from_python_refuses_what_it_cannot_train_on_before_any_work(tmp_path):
    """``train`` and ``evaluate`` refuse bad input by position, before any labelling or training."""
    cp = pytest.importorskip("cvxpy")
    from learned_solvers import evaluate, train
    from tests import cvxpy_parametrized as parametrized
    from tests.cvxpy_portfolio import build

    problems = [build(np.random.default_rng(s)) for s in range(3)]
    starter = LearnedWarmStarter.from_checkpoint(_tiny_cvxpy_checkpoint("tests.cvxpy_portfolio", tmp_path))
    (tmp_path / "cvxpy_portfolio.safetensors").unlink()
    x = cp.Variable(2, integer=True)
    mip = cp.Problem(cp.Minimize(cp.sum(x)), [x >= 0.5])
    for call, error, match in (
            (lambda: train(problems[:1], solver="osqp"), ValueError, "at least 2 instances"),
            # cvxpy's Parameter idiom passed as it is: one problem object, read at its last values
            (lambda: train([parametrized.build(rng) for rng in map(np.random.default_rng, range(3))],
                           solver="osqp"), ValueError, r"the 3 instances are one problem.*as_qp\(problem\)"),
            (lambda: train(problems[0], solver="osqp"), TypeError, "not one instance"),
            (lambda: train([problems[0], 3], solver="osqp"), TypeError, "instance 1: expected a cvxpy.Problem"),
            (lambda: train([problems[0], mip], solver="osqp"), InvalidProblemError,
             "instance 1: .*does not compile.*it needs integer variables"),
            (lambda: train(problems, solver="gurobi"), ValueError, "solver must be one of pdlp, osqp, scs, highs"),
            (lambda: train(problems, solver="osqp", out=tmp_path / "ck.pt"), ValueError, "a .safetensors file"),
            (lambda: train(problems, solver="osqp", config={"epochs": 2}), TypeError, "TrainConfig"),
            (lambda: train(problems, solver="osqp", family=""), ValueError, "non-empty name"),
            (lambda: train(problems, solver="osqp", tol=2.0), ValueError, "tol"),
            (lambda: train([tmp_path / "missing.mps"] * 2, solver="pdlp"), FileNotFoundError, "missing.mps"),
            (lambda: evaluate(tmp_path / "none.safetensors", problems), FileNotFoundError, "no checkpoint at"),
            (lambda: evaluate(starter, problems, out=tmp_path / "report.txt"), ValueError, "a .json file"),
            (lambda: evaluate(starter, problems, solver="pdlp", pinned=True), TypeError, "pinned"),
            (lambda: evaluate(starter, [problems[0], mip]), InvalidProblemError, "instance 1:"),
            (lambda: evaluate(starter, []), ValueError, "at least 1 instance")):
        with pytest.raises(error, match=match):
            call()
    assert not list(tmp_path.iterdir())  # nothing written


def test_cvxpy_parameters_one_problem_resolved_with_new_values(tmp_path):
    """cvxpy's idiom for many related instances, one problem over cp.Parameters whose values
    change between solves, trains (``build`` sets the values and returns the same problem) and
    solves with the plugin in the loop: each solve reads the parameters' current values."""
    cp = pytest.importorskip("cvxpy")
    from learned_solvers.cvxpy_plugin import LearnedOSQP
    from tests import cvxpy_parametrized as model

    plugin = LearnedOSQP(_tiny_cvxpy_checkpoint("tests.cvxpy_parametrized", tmp_path))
    rng = np.random.default_rng(123)
    answers = []
    for _ in range(3):
        model.build(rng)
        ref = model.problem.solve(solver=cp.OSQP, eps_abs=1e-8, eps_rel=1e-8)
        ref_w, ref_dual = model.w.value.copy(), model.problem.constraints[0].dual_value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfFamilyWarning)
            value = model.problem.solve(solver=plugin, eps_abs=1e-8, eps_rel=1e-8)
        assert model.problem.status == "optimal" and abs(value - ref) < 1e-6 * (1 + abs(ref))
        assert np.allclose(model.w.value, ref_w, atol=1e-5)
        assert abs(model.problem.constraints[0].dual_value - ref_dual) < 1e-5 * (1 + abs(ref_dual))
        answers.append(value)
    assert len({round(v, 6) for v in answers}) == 3  # new values each time, not the first solve's


def test_cvxpy_one_line_switch_to_learned_pdlp_scs_highs(tmp_path):
    """A cvxpy LP script switches to a learned start for PDLP, SCS or HiGHS with one line
    (`solver=LearnedSolver(ck, solver=...)`): cvxpy's answer, values and duals as with cvxpy's
    own HiGHS; infeasible and unbounded problems keep the backend's cold status."""
    cp = pytest.importorskip("cvxpy")
    from learned_solvers.backends import make_backend
    from learned_solvers.cvxpy_plugin import LearnedSolver
    from learned_solvers.formats.cvxpy import from_cvxpy
    from tests.cvxpy_transport import build

    path = _tiny_cvxpy_checkpoint("tests.cvxpy_transport", tmp_path)

    ref = build(np.random.default_rng(5))
    ref.solve(solver=cp.HIGHS)
    for solver, opts in (("pdlp", {"tol": 1e-7}), ("scs", {"tol": 1e-7}), ("highs", {})):
        prob = build(np.random.default_rng(5))
        plugin = LearnedSolver(path, solver=solver, **opts)
        prob.solve(solver=plugin)  # the one-line change
        assert prob.status == "optimal" and abs(prob.value - ref.value) <= 1e-5 * (1 + abs(ref.value)), solver
        assert np.allclose(prob.variables()[0].value, ref.variables()[0].value, atol=1e-3), solver
        assert np.allclose(prob.constraints[0].dual_value, ref.constraints[0].dual_value, atol=1e-3), solver
        assert plugin.last["inference_seconds"] > 0 and prob.solver_stats.solver_name == f"LEARNED_{solver.upper()}"
        prob = build(np.random.default_rng(5))
        prob.solve(solver=plugin, warm_start=False)  # cvxpy's way to ask for a cold solve
        assert prob.status == "optimal" and abs(prob.value - ref.value) <= 1e-5 * (1 + abs(ref.value)), solver
        assert plugin.last["fallback"] == "cvxpy's warm_start=False: solved cold, as the script asked"
        # the options a script passes to cvxpy's own interface of the solver, by cvxpy's names, are kept
        # (they had been refused: "solver options go to the plugin"); a name without a counterpart is refused
        prob = build(np.random.default_rng(5))
        prob.solve(solver=plugin, **{"pdlp": {"time_limit_sec": 30.0}, "highs": {"time_limit": 30.0, "presolve": "off"},
                                     "scs": {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 20_000}}[solver])
        assert prob.status == "optimal" and abs(prob.value - ref.value) <= 1e-5 * (1 + abs(ref.value)), solver
        with pytest.raises(TypeError, match=f"options \\['rho'\\] have no counterpart in this plugin's {solver}; in "
                                            "solve\\(\\) it takes cvxpy's .*and on the plugin"):
            build(np.random.default_rng(5)).solve(solver=plugin, rho=0.1)
    from learned_solvers.cvxpy_plugin import backend_settings

    assert backend_settings("P", {"eps_abs": 1e-6, "eps_rel": 1e-6, "max_iters": 9}, "scs") == {"tol": 1e-6,
                                                                                                  "max_iters": 9}
    assert backend_settings("P", {"highs_options": {"threads": 2}, "presolve": "off"}, "highs") == {
        "threads": 2, "presolve": False}
    assert backend_settings("P", {"time_limit_sec": 5}, "pdlp") == {"time_limit": 5}
    with pytest.raises(TypeError, match="one tolerance for both eps_abs and eps_rel; give them equal"):
        backend_settings("P", {"eps_abs": 1e-6, "eps_rel": 1e-5}, "scs")
    # SCS stops where cp.SCS does (cvxpy's eps_abs = eps_rel = 1e-5; SCS's own default is 1e-4)
    assert LearnedSolver(path, solver="scs").backend.tol == 1e-5
    with pytest.raises(TypeError, match="unknown options"):
        LearnedSolver(path, solver="pdlp", eps=1e-3)
    # no solver named: the one the checkpoint was trained for (as `train --solver` records it), else pdlp
    assert LearnedSolver(path).name() == "LEARNED_PDLP"
    from learned_solvers.warmstart import LearnedWarmStarter

    scs = LearnedWarmStarter.from_checkpoint(path).save(tmp_path / "scs.safetensors", solver="scs")
    prob = build(np.random.default_rng(5))
    prob.solve(solver=LearnedSolver(scs, tol=1e-7))
    assert prob.solver_stats.solver_name == "LEARNED_SCS" and abs(prob.value - ref.value) <= 1e-5 * (1 + abs(ref.value))

    x = cp.Variable(2)
    for prob in (cp.Problem(cp.Minimize(cp.sum(x)), [x >= 0, cp.sum(x) <= -1]),  # infeasible
                 cp.Problem(cp.Minimize(-x[0]), [x >= 0])):  # unbounded
        for solver in ("pdlp", "scs", "highs"):
            cold = make_backend(solver).solve(from_cvxpy(prob)[0])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a size the model never saw
                prob.solve(solver=LearnedSolver(path, solver=solver))
            assert prob.status == cold.status, (solver, prob.status, cold.status)
    # a problem outside cvxpy's QP chain is refused naming its cone and what to do (cvxpy's own words had
    # been "The solver LEARNED_SCS cannot solve this problem.", SCS being a conic solver)
    from learned_solvers.cvxpy_plugin import LearnedOSQP

    for plugin in (LearnedSolver(path, solver="scs"), LearnedOSQP(path)):
        with pytest.raises(cp.error.SolverError, match="takes LPs and QPs .*a second-order cone .*cp.CLARABEL"):
            cp.Problem(cp.Minimize(cp.norm(x - 1, 2)), [x >= 0]).solve(solver=plugin)
    with pytest.raises(cp.error.SolverError, match="this problem needs an exponential cone"):
        cp.Problem(cp.Maximize(cp.sum(cp.log(x))), [cp.sum(x) <= 1]).solve(solver=LearnedSolver(path))


def test_a_starter_given_to_the_plugins_with_k_or_polish_keeps_its_own(trained):
    """`LearnedSolver(st, k=1)` beside `LearnedOSQP(st)`: each plugin runs its own k and polish,
    and the caller's starter keeps its own (the plugins had set theirs on it, so the last one
    made decided for all)."""
    from learned_solvers.cvxpy_plugin import LearnedOSQP, LearnedSolver

    fam, _, path = trained
    st = LearnedWarmStarter.from_checkpoint(path)
    k0, p0 = st.k, st.polish
    one = LearnedSolver(st, solver="pdlp", k=1, polish=False)
    two = LearnedOSQP(st, k=2)
    plain = LearnedSolver(st, solver="pdlp")
    assert (st.k, st.polish) == (k0, p0)
    assert (one.starter.k, one.starter.polish) == (1, False) and (two.starter.k, two.starter.polish) == (2, p0)
    assert plain.starter is st
    qp = fam.sample(1, seed=7)[0]
    res = one.starter.solve(qp, "pdlp")
    assert res.status == Status.OPTIMAL and res.extra["k"] == 1 and res.extra["polished"] is False
    assert st.solve(qp, "pdlp").extra["k"] == (k0 if k0 is not None else st.default_k)
    with pytest.raises(TypeError, match="polish must be"):
        LearnedSolver(st, solver="pdlp", polish="no")


def test_scaling_command_writes_rows_and_plot(trained, tmp_path, capsys):
    fam, _, path = trained
    out, png = tmp_path / "scaling.json", tmp_path / "scaling.png"
    proc = subprocess.run(
        [sys.executable, "-m", "learned_solvers.cli", "scaling", "--checkpoint", str(path), "--family", fam.spec(),
         "--ks", "0,1,4,16", "--test", "4", "--out", str(out), "--plot", str(png)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["k"] for r in rows] == [0, 1, 4, 16]  # 0: the anchor, no network
    assert [r["converged"] for r in rows] == [4] * 4 and "(converged: " not in proc.stdout  # all at PDLP's optimum
    assert all({"error_median", "iterations_median", "total_seconds_median", "lipschitz"} <= set(r) for r in rows)
    # paired with the first k, per instance: k = 0 against itself is 1.0 on both counts
    assert rows[0]["iterations_not_above_first_k"] == 1.0 and rows[0]["iterations_over_first_k_median"] == 1.0
    assert all(0.0 <= r["iterations_not_above_first_k"] <= 1.0 for r in rows)
    assert "iters <= k=0" in proc.stdout
    assert json.loads(out.read_text())["tolerance"] == 1e-6 and "| pdlp (tolerance 1e-06) |" in proc.stdout
    assert "scaling: 4 ks per instance" in proc.stderr  # a progress bar on stderr, the table alone on stdout
    assert png.stat().st_size > 10_000
    # the reference solutions' own estimates, the values an exact model would show; the local one
    rep = json.loads(out.read_text())
    assert rep["lipschitz_solutions"] > 0 and "reference solutions" in proc.stdout
    assert rep["lipschitz_local_pairs"] == 4 and rep["lipschitz_local_solutions"] > 0
    assert rep["provenance"]["command"][1] == "scaling" and rep["provenance"]["commit"] == _head()
    assert all(r["lipschitz_local"] >= 0 for r in rows) and "local lip." in proc.stdout
    # a saved scaling report redrawn by `plot`; mixed with a bench report it is refused clearly
    from learned_solvers.cli import main

    assert main(["plot", str(out), "--out", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000
    assert main(["plot", str(out), str(out), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "scaling, sensitivity or paper-lp report is plotted on its own" in err and not (tmp_path / "x.png").exists()


def test_scaling_reports_the_other_instances_when_one_fails(trained, monkeypatch):
    """One held-out instance whose model call raises is left out and named; the sweep goes on
    with the others (it once lost them all), and a sweep where every one fails says why."""
    from learned_solvers.bench.scaling import ScalingConfig, format_scaling, run_scaling

    fam, _, path = trained
    real, seen = LearnedWarmStarter.iterate, []

    def flaky(self, qp, **kw):
        base = qp.name.split("~")[0]  # the local Lipschitz estimate's moved copies carry the name on
        seen.append(base) if base not in seen else None
        if len(seen) >= 2 and base == seen[1]:
            raise np.linalg.LinAlgError("Singular matrix")
        return real(self, qp, **kw)

    monkeypatch.setattr(LearnedWarmStarter, "iterate", flaky)
    rep = run_scaling(ScalingConfig(checkpoint=str(path), family=fam.spec(), ks=(0, 1), n_test=3, progress=False))
    assert rep["n_test"] == 2 and [f["name"] for f in rep["failed"]] == [seen[1]]
    assert rep["failed"][0]["error"] == "LinAlgError: Singular matrix"
    assert "1 more failed and are left out" in format_scaling(rep)

    monkeypatch.setattr(LearnedWarmStarter, "iterate", lambda self, qp, **kw: 1 / 0)
    with pytest.raises(RuntimeError, match="scaling: no held-out instance ran; the first failed with "
                                           "ZeroDivisionError"):
        run_scaling(ScalingConfig(checkpoint=str(path), family=fam.spec(), ks=(1,), n_test=2, progress=False))


def test_perturbed_copy_keeps_equalities_and_order():
    """The local Lipschitz estimate's moved copy: equalities stay equalities, every l <= u and
    lb <= ub, infinite sides stay infinite, and the data move by about delta."""
    from learned_solvers.bench.scaling import perturbed_copy
    from learned_solvers.models.anchors import data_vector

    qp = make_family(SPEC).sample(1, seed=3)[0]
    q2 = perturbed_copy(qp, 1e-3, np.random.default_rng(0))
    eq = np.isfinite(qp.l) & (qp.l == qp.u)
    assert (q2.l[eq] == q2.u[eq]).all() and (q2.l <= q2.u).all() and (q2.lb <= q2.ub).all()
    assert (np.isinf(q2.u) == np.isinf(qp.u)).all() and (np.isinf(q2.l) == np.isinf(qp.l)).all()
    d = np.linalg.norm(data_vector(q2) - data_vector(qp)) / np.linalg.norm(data_vector(qp))
    assert 1e-4 < d < 1e-2
    assert (q2.A != qp.A).nnz == 0  # the structure stays


def test_lipschitz_estimate_of_a_linear_map_is_its_gain():
    """Outputs 3 x the inputs: every nearest pair's ratio is 3, so the estimate is 3."""
    from learned_solvers.bench.scaling import lipschitz_estimate

    vecs = np.random.default_rng(0).standard_normal((6, 4))
    dist = np.linalg.norm(vecs[:, None] - vecs[None], axis=2) + np.diag(np.full(6, np.inf))
    assert lipschitz_estimate(list(3.0 * vecs), dist, dist.argmin(1)) == pytest.approx(3.0)


def test_sensitivity_command_from_the_optimum_and_bad_noise(tmp_path):
    """Warm from the optimum itself (error 1e-9) PDLP stops at its first check; a start 30% off
    costs more. Non-positive noise levels are refused before anything is solved."""
    from learned_solvers.bench.sensitivity import SensitivityConfig, run_sensitivity

    out, png = tmp_path / "s.json", tmp_path / "s.png"
    proc = subprocess.run(
        [sys.executable, "-m", "learned_solvers.cli", "sensitivity", "--family", SPEC, "--solver", "pdlp",
         "--noise", "1e-9,0.3", "--test", "3", "--out", str(out), "--plot", str(png)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(out.read_text())
    assert rep["n_test"] == 3 and [r["noise"] for r in rep["rows"]] == [1e-9, 0.3]
    assert rep["cold_converged"] == 3 and [r["converged"] for r in rep["rows"]] == [3, 3]
    assert rep["provenance"]["command"][1] == "sensitivity"
    # the tolerance the ratios hold at, recorded and shown (a report had named only the solver)
    assert rep["tolerance"] == 1e-6 and "| pdlp (tolerance 1e-06) |" in proc.stdout + proc.stderr
    near, far = (r["iteration_ratio_median"] for r in rep["rows"])
    assert near < far and png.stat().st_size > 5_000
    from learned_solvers.cli import main

    assert main(["plot", str(out), "--out", str(tmp_path / "again.png")]) == 0  # the saved report redrawn
    assert (tmp_path / "again.png").stat().st_size > 5_000
    with pytest.raises(ValueError, match="positive"):
        run_sensitivity(SensitivityConfig(family=SPEC, noise=(0.1, -1.0)))


def test_sensitivity_moves_one_half_of_the_start_and_keeps_the_other_exact():
    """--moved primal/dual: the named half moved, the other left at the optimum (a start error of
    1e-9 on either half is the optimum itself to PDLP); refused where a start has no two halves
    to choose from."""
    from learned_solvers.bench.sensitivity import SensitivityConfig, format_sensitivity, run_sensitivity

    reps = {m: run_sensitivity(SensitivityConfig(family=SPEC, noise=(1e-9, 0.3), n_test=2, moved=m, progress=False))
            for m in ("both", "primal", "dual")}
    for m, rep in reps.items():
        near, far = (r["iteration_ratio_median"] for r in rep["rows"])
        assert rep["moved"] == m and near < far, (m, rep["rows"])
    assert "(primal moved, dual exact)" in format_sensitivity(reps["primal"])
    assert "moved" not in format_sensitivity(reps["both"])
    for bad in (dict(direction="active-set"), dict(family="darcy:n=8", solver="ksp")):
        with pytest.raises(ValueError, match="one half"):
            SensitivityConfig(**{"family": SPEC, "moved": "dual", **bad})
    with pytest.raises(ValueError, match="moved must be one of"):
        SensitivityConfig(family=SPEC, moved="x")
    with pytest.raises(ValueError, match=r"^--ksp-type applies to PDE families only; random-lp"):  # only what was given
        SensitivityConfig(family=SPEC, ksp_type="gmres")


@pytest.mark.parametrize("direction", ["random", "active-set"])
def test_sensitivity_reports_the_other_instances_when_one_fails(direction, monkeypatch):
    """A held-out instance whose solve raises is named in 'failed' and left out; the sweep goes
    on with the others (it once lost them all)."""
    import learned_solvers.bench.sensitivity as sens

    real, seen = sens.bench_backend, []

    class Flaky:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):  # the backend's name and settings
            return getattr(self.inner, name)

        def solve(self, qp, **kw):
            seen.append(qp.name) if qp.name not in seen else None
            if len(seen) >= 2 and qp.name == seen[1]:
                raise RuntimeError("solver crashed (injected)")
            return self.inner.solve(qp, **kw)

    monkeypatch.setattr(sens, "bench_backend", lambda *a, **kw: Flaky(real(*a, **kw)))
    rep = sens.run_sensitivity(sens.SensitivityConfig(family=SPEC, noise=(1e-3,), swaps=(0,), n_test=3,
                                                      direction=direction, progress=False))
    assert rep["n_test"] == 2
    assert rep["failed"] == [{"name": seen[1], "error": "RuntimeError: solver crashed (injected)"}]
    assert "1 more failed and are left out" in sens.format_sensitivity(rep)


def test_active_set_sensitivity_exact_set_is_the_optimum_and_a_swap_moves_the_vertex(tmp_path):
    """The vertex of the optimum's own active set is the optimum (PDLP stops at its first
    check); a swapped set is the same size, differs in exactly 2j entries and gives another
    point. QPs and PDE families, and negative counts, are refused with the reason."""
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.bench.sensitivity import SensitivityConfig, _swapped, run_sensitivity
    from learned_solvers.canonical.polish import active_set_distance, active_set_point, optimal_active_set
    from learned_solvers.cli import main

    out = tmp_path / "a.json"
    assert main(["sensitivity", "--family", SPEC, "--direction", "active-set", "--swaps", "0,1", "--test", "3",
                 "--out", str(out), "--plot", str(tmp_path / "a.png")]) == 0
    exact, one = json.loads(out.read_text())["rows"]
    assert exact["swaps"] == 0 and exact["start_error_median"] < 1e-8 and exact["iteration_ratio_median"] == 0.0
    assert one["swaps"] == 1 and one["start_error_median"] > 1e-3
    assert (tmp_path / "a.png").stat().st_size > 5_000

    qp = make_family(SPEC).sample(1, seed=5)[0]
    opt = HiGHSBackend().solve(qp)
    active = optimal_active_set(qp, opt.x, opt.y)
    swapped = _swapped(qp, active, opt.x, 2, np.random.default_rng(0))
    assert active_set_distance(qp, active, swapped) == 4
    assert (np.count_nonzero(swapped[0]) + np.count_nonzero(swapped[1])
            == np.count_nonzero(active[0]) + np.count_nonzero(active[1]))
    assert np.allclose(active_set_point(qp, active)[0], opt.x, atol=1e-7)
    with pytest.raises(ValueError, match="LPs only"):
        active_set_point(make_family("portfolio").sample(1, seed=0)[0], active)
    with pytest.raises(ValueError, match="LP families only"):
        SensitivityConfig(family="darcy:n=8", solver="ksp", direction="active-set")
    with pytest.raises(ValueError, match="--direction active-set applies to LPs only .*quadratic objective"):
        run_sensitivity(SensitivityConfig(family="portfolio", solver="osqp", direction="active-set", n_test=1,
                                          progress=False))
    with pytest.raises(ValueError, match="non-negative"):
        run_sensitivity(SensitivityConfig(family=SPEC, direction="active-set", swaps=(1, -2)))


def test_automatic_k_prefers_the_smaller_k_on_a_timing_tie():
    from learned_solvers.bench.timing import parsimonious_k

    rows = [{"k": 1, "total_seconds_median": 0.0378}, {"k": 2, "total_seconds_median": 0.0369},
            {"k": 4, "total_seconds_median": 0.0380}]
    assert parsimonious_k(rows) == 1  # 2.4% apart: a tie, the cheaper k
    rows[0]["total_seconds_median"] = 0.050
    assert parsimonious_k(rows) == 2  # k = 1 is clearly slower


def test_automatic_polish_is_dropped_only_where_going_without_it_wins_on_most_instances():
    """Instance by instance, on the patterns of the bench runs: a polish that misses the optimum
    and costs a fifth of the time (random-lp) or a tenth in wide noise (brandy), one whose gain
    is of the size of PDLP's noise (blend), one that lands on the optimum (kb2), and OSQP's few
    iterations beside a larger inference (mpc)."""
    from learned_solvers.bench.timing import parsimonious_start

    rng = np.random.default_rng(0)
    # PDLP's iterations from a start off the optimum (60 instances: the rule, not the sampling, under test)
    noise = lambda: np.exp(0.15 * rng.standard_normal(60))  # noqa: E731

    def rows(t_on, it_on, t_off, it_off):
        return [{"polish": p, "k": k, "total_seconds_median": float(np.median(t)) * (1 + 0.1 * (k - 1)),
                 "seconds": list(t * (1 + 0.1 * (k - 1))), "iterations": list(it)}
                for p, t, it in ((True, t_on, it_on), (False, t_off, it_off)) for k in (1, 2)]

    base = 2700 * noise()
    # random-lp: the polish adds 5 ms to a 23 ms solve and the iterations move by noise only
    assert parsimonious_start(rows(0.028 * noise() ** 0.2, base * noise(), 0.023 * noise() ** 0.2, base * noise())) \
        == (False, 1)
    # blend: the polish saves a fifth of the iterations, within PDLP's noise, for 10% more time: kept
    assert parsimonious_start(rows(0.011 * noise() ** 0.2, 0.8 * base * noise(), 0.010 * noise() ** 0.2,
                                   base * noise()))[0]
    # brandy, sctap1: the polish misses, PDLP's noise is wide, and without it each solve is a tenth cheaper
    assert parsimonious_start(rows(0.20 * noise(), base * noise(), 0.18 * noise(), base * noise())) == (False, 1)
    # a tie, half the instances each way: kept
    half = np.where(np.arange(60) % 2 == 0, 0.9, 1.1)
    assert parsimonious_start(rows(np.full(60, 0.01), base, np.full(60, 0.01), base * half))[0]
    # kb2: the polish lands on the optimum, the solver has nothing left to do
    assert parsimonious_start(rows(np.full(60, 0.002), np.zeros(60), np.full(60, 0.024), base))[0]
    # mpc with OSQP: 0.4x the time without it, for 4x the iterations
    assert parsimonious_start(rows(np.full(60, 0.005), np.full(60, 25.0), np.full(60, 0.002), np.full(60, 100.0)))[0]
    # faster and no more iterations without it (scagr25, brandy): dropped
    assert parsimonious_start(rows(np.full(60, 0.19), base, np.full(60, 0.15), base * 0.97)) == (False, 1)
    polished = [r for r in rows(np.full(60, 0.19), base, np.full(60, 0.15), base) if r["polish"]]
    assert parsimonious_start(polished) == (True, 1)  # a polish given: only its own rows


def test_automatic_k_runs_no_network_only_where_the_nearest_optimum_wins_on_most_instances():
    """k = 0 (the anchor through the same polish) against the network's chosen
    setting, by the polish's rule: taken where it reaches the same iterations for less time
    (kb2, mpc, portfolio: the neighbours' active sets carry the start), kept out where the
    network's start saves more iterations than the time it costs (share1b)."""
    from learned_solvers.bench.timing import parsimonious_start

    rng = np.random.default_rng(1)
    noise = lambda: np.exp(0.1 * rng.standard_normal(60))  # noqa: E731

    def rows(t_net, it_net, t_near, it_near):
        out = [{"polish": True, "k": k, "total_seconds_median": float(np.median(t_net)) * (1 + 0.2 * (k - 1)),
                "seconds": list(t_net * (1 + 0.2 * (k - 1))), "iterations": list(it_net)} for k in (1, 2)]
        return out + [{"polish": True, "k": 0, "total_seconds_median": float(np.median(t_near)),
                       "seconds": list(t_near), "iterations": list(it_near)}]

    # kb2 with PDLP: both land on the optimum (0 iterations); the network costs 4 ms more
    assert parsimonious_start(rows(0.006 * noise(), np.zeros(60), 0.002 * noise(), np.zeros(60))) == (True, 0)
    # mpc with OSQP: both stop at OSQP's first check
    assert parsimonious_start(rows(0.003 * noise(), np.full(60, 25.0), 0.0017 * noise(), np.full(60, 25.0))) \
        == (True, 0)
    # share1b: the network's start takes 10% fewer PDLP iterations, and so 7% less time: kept
    base = 40_000 * noise()
    assert parsimonious_start(rows(0.10 * noise() ** 0.2, 0.46 * base, 0.107 * noise() ** 0.2, 0.51 * base)) \
        == (True, 1)
    # 5% faster without the network, for 25% more iterations: the network stays
    assert parsimonious_start(rows(np.full(60, 0.020), 0.6 * base, np.full(60, 0.019), 0.75 * base)) == (True, 1)
    # only k = 0 swept (a caller's choice)
    assert parsimonious_start(rows(np.full(60, 0.02), base, np.full(60, 0.01), base)[2:]) == (True, 0)
    # unpolished, k = 0 is the nearest-neighbour baseline: never chosen, however cheap (portfolio with
    # OSQP: a tenth of the time for 5x the iterations would pass the rule)
    raw = {"polish": False, "k": 0, "total_seconds_median": 0.0003, "seconds": [0.0003] * 60, "iterations": [125.0] * 60}
    assert parsimonious_start([*rows(np.full(60, 0.003), np.full(60, 25.0), np.full(60, 0.002), np.full(60, 25.0)),
                               raw]) == (True, 0)
    assert parsimonious_start([*rows(np.full(60, 0.003), np.full(60, 25.0), np.full(60, 0.004), np.full(60, 25.0)),
                               raw]) == (True, 1)


def test_k_zero_starts_from_the_anchor_without_the_network(trained, monkeypatch):
    """k = 0 runs no network: the start is the anchor (here the linear model's) through the
    polish, the answer the cold solve's. Asked for on a size the checkpoint never saw (no
    anchor), it solves cold with a warning; chosen automatically there, the network runs instead."""
    from learned_solvers.canonical.polish import polish

    fam, trained_starter, path = trained
    starter = LearnedWarmStarter.from_checkpoint(path)
    bank = starter.anchors
    backend = make_backend("pdlp")

    def no_network(*args, **kwargs):
        raise AssertionError("k = 0 ran the network")

    monkeypatch.setattr(starter._net, "predict", no_network)
    for qp in fam.sample(3, seed=11):
        ws, info = starter.warm_start(qp, k=0)
        assert info.k == 0 and info.fallback is None
        assert bank.kind == "linear"
        a_x, a_y = bank.anchor(qp)
        ref = polish(qp, a_x, a_y, candidates=bank.candidates(qp))
        np.testing.assert_allclose(ws.x, ref.x, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ws.y, ref.y, rtol=0, atol=1e-12)
        assert backend.same_answer(backend.solve(qp), backend.solve(qp, warm_start=ws))
        x, y = starter.iterate(qp, k=0)  # what bench and scaling report as the k = 0 "iterate"
        np.testing.assert_array_equal(x, a_x)
    other = make_family("random-lp:m=16,n=30").sample(1, seed=0)[0]
    with pytest.warns(OutOfFamilyWarning, match="k = 0 starts from the anchor"), \
            pytest.warns(UnseenSizeWarning):
        ws, info = starter.warm_start(other, k=0)
    assert ws is None and info.fallback == "no training instance of this size"
    monkeypatch.undo()
    auto = LearnedWarmStarter.from_checkpoint(path)
    auto.default_k, auto.meta["best_network_k"] = 0, 2
    with pytest.warns(UnseenSizeWarning):
        ws, info = auto.warm_start(other)
    assert ws is not None and info.k == 2
    # and bench's row for such an instance: its diagnostics follow the k that ran
    from learned_solvers.bench.qp import _bench_one

    item = label_instances([other], scheduler="serial", progress=False)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = _bench_one(item, bank, auto, backend)
    assert "error" not in row and row["same_answer"] and np.isfinite(row["raw_prediction_error"])


def test_training_picks_the_polish_with_k_and_the_checkpoint_keeps_the_choice(tmp_path):
    from learned_solvers.bench.qp import AUTO_KS

    fam = make_family(SPEC)
    data = label_instances(fam.sample(24, seed=0), scheduler="serial", progress=False)
    cfg = TrainConfig(epochs=1, width=8, train_k=4)
    starter, info = train_starter(fam.spec(), data, config=cfg, progress=False, backend=make_backend("highs"))
    # k = 0: the anchor, no network, weighed beside the network's ks
    assert {(r["polish"], r["k"]) for r in info["k_sweep"]} == {(True, 0), *((p, k) for p in (True, False) for k in AUTO_KS)}
    assert info["best_network_k"] in AUTO_KS and starter.meta["best_network_k"] == info["best_network_k"]
    # each setting against a cold solve of the same validation instance, as bench reports it
    assert all(r["time_ratio"] > 0 and np.isfinite(r["time_ratio"]) and r["iteration_ratio"] >= 0 for r in info["k_sweep"])
    chosen = info["best_polish"]
    assert starter.polish is chosen and starter.meta["best_polish"] is chosen
    # once chosen, the validation split's optima join the bank: every labelled instance is its own
    # nearest, so the start looks up the same instances as bench's nearest baseline
    assert sum(g.x.shape[0] for g in starter.anchors.groups.values()) == len(data)
    for it in data:
        np.testing.assert_array_equal(starter.anchors.nearest(it.qp)[0], it.x)
    path = starter.save(tmp_path / "m.safetensors")
    assert LearnedWarmStarter.from_checkpoint(path).polish is chosen
    # saved without solver=, it still records the one its k was chosen for, which the plugins then
    # take by default (they had taken pdlp)
    from learned_solvers.warmstart import starter_and_backend

    assert LearnedWarmStarter.from_checkpoint(path).meta["solver"] == "highs"
    assert starter_and_backend(path, solver=None, k=None, polish=None, options={})[1].name == "highs"
    assert LearnedWarmStarter.from_checkpoint(path, polish=not chosen).polish is (not chosen)  # the caller's word
    with pytest.raises(TypeError, match="polish must be True, False or None"):
        LearnedWarmStarter.from_checkpoint(path, polish="off")
    forced, info = train_starter(fam.spec(), data, config=cfg, progress=False, backend=make_backend("highs"),
                                 polish=False)
    assert {r["polish"] for r in info["k_sweep"]} == {False} and forced.polish is False


def test_train_says_what_the_chosen_start_did_against_a_cold_solve():
    from learned_solvers.bench.timing import validation_verdict

    def row(it, t):
        return {"k": 2, "iteration_ratio": it, "time_ratio": t}

    assert validation_verdict(row(0.18, 7.4)).endswith("saves solver work, not time, at this size (inference costs "
                                                       "more than the iterations saved); it pays where solves cost "
                                                       "more: larger instances, tighter tolerances")
    assert "0.18x the cold solve's iterations and 7.40x its time" in validation_verdict(row(0.18, 7.4))
    assert "does not cut solver iterations here; train on more instances (--train), or solve cold" in \
        validation_verdict(row(1.1, 1.3))
    # the Python API's wording of the same advice (``learned_solvers.train``)
    assert "here; pass more instances to train, or solve cold" in validation_verdict(
        row(1.1, 1.3), more="pass more instances to train")
    far = validation_verdict(row(0.95, 1.2))  # as random-lp with PDLP at width 128: a start 0.13 off
    assert "too few iterations saved to pay even for a start made at no cost" in far and "sensitivity" in far
    assert "larger instances" not in far and "sensitivity" in validation_verdict(row(1.1, 1.3))
    assert validation_verdict(row(0.4, 0.8)).endswith("inference included (medians per instance)")
    assert validation_verdict(None) == "" and validation_verdict({"k": 1, "total_seconds_median": 0.1}) == ""


def test_bench_verdict_names_fixed_costs_only_where_the_exact_start_shows_them():
    from learned_solvers.bench.timing import verdict

    def slower(share):  # a warm solve no faster than the cold one, making the start 12 ms
        return verdict(iteration_ratio=0.95, time_ratio=2.5, start_seconds=0.012, saved_seconds=-0.001, k=1,
                       fixed_share=share)

    assert "fixed costs, such as a preconditioner's set-up" in slower(None)  # an old report: no oracle timing
    assert "from the instance's own solution it still takes 0.81x" in slower(0.81)  # GAMG: set-up is the solve
    assert "within the timing's noise" in slower(0.01) and "set-up" not in slower(0.01)  # Jacobi


def test_bench_verdict_says_whether_the_start_pays_and_why_not():
    from learned_solvers.bench.timing import verdict

    v = dict(start_seconds=0.004, saved_seconds=0.001, k=1)
    assert "does not cut solver iterations" in verdict(iteration_ratio=1.02, time_ratio=1.5, **v)
    assert "pays: 0.40x the solver iterations and 0.80x the time" in verdict(iteration_ratio=0.4, time_ratio=0.8, **v)
    slow = verdict(iteration_ratio=0.4, time_ratio=3.0, **v)
    assert "making it costs 4.00 ms, more than the 1.00 ms of solving it saves" in slow and "--k" not in slow
    assert "(--k)" in verdict(iteration_ratio=0.4, time_ratio=3.0, **{**v, "k": 8})
    # a report of evaluate / evaluate_pde: the advice in the Python call's terms
    from learned_solvers.bench.timing import CLI_ADVICE, PYTHON_ADVICE, advice

    assert advice({"api": "python"}) is PYTHON_ADVICE and advice({}) is CLI_ADVICE
    py = [verdict(iteration_ratio=0.4, time_ratio=3.0, **{**v, "k": 8}, words=PYTHON_ADVICE),
          verdict(iteration_ratio=1.02, time_ratio=1.5, **v, words=PYTHON_ADVICE)]
    assert "(starter.k)" in py[0] and "train on more instances of this family" in py[1]
    assert not any("--" in line for line in py), py
    assert "fixed costs" in verdict(iteration_ratio=0.8, time_ratio=2.0, **{**v, "saved_seconds": -0.0003})
    # median start cost below the median saving, yet the per-instance ratio above 1: no false "more than"
    uneven = verdict(iteration_ratio=0.97, time_ratio=1.10, start_seconds=0.0028, saved_seconds=0.0033, k=1)
    assert "more than the" not in uneven and "3.30 ms that solving it saves in the median" in uneven and "1.10x" in uneven
    assert "no figures" in verdict(iteration_ratio=float("nan"), time_ratio=1.0, **v)
    # a start that saves few iterations: not a matter of inference cost or size, but of how far off it is
    far = verdict(iteration_ratio=0.95, time_ratio=1.2, **v)
    assert "A start that saves 5% of the iterations gains little even if made at no cost" in far
    assert "learned-solvers sensitivity" in far and "larger instances" not in far
    assert "learned-solvers sensitivity" in verdict(iteration_ratio=1.02, time_ratio=1.5, **v)
    # the bench's verdict and train's validation line judge by one rule
    from learned_solvers.bench.timing import Outcome, outcome, validation_verdict

    cases = {(1.02, 1.5): (Outcome.NO_FEWER_ITERATIONS, "does not cut solver iterations"),
             (0.95, 0.9): (Outcome.PAYS, None), (0.95, 1.2): (Outcome.TOO_FEW_SAVED, "learned-solvers sensitivity"),
             (0.4, 3.0): (Outcome.WORK_NOT_TIME, "larger instances")}
    for (it, t), (said, words) in cases.items():
        assert outcome(iteration_ratio=it, time_ratio=t) is said
        line = validation_verdict({"iteration_ratio": it, "time_ratio": t})
        assert (words in line) if words else line.endswith("(medians per instance)")
        assert (words or "pays") in verdict(iteration_ratio=it, time_ratio=t, **v)


def test_bench_notes_when_the_polished_neighbour_does_as_well_for_less():
    from learned_solvers.bench.qp import network_note

    rep = {"iteration_ratio": 0.04, "time_ratio": 1.14}
    note = network_note({**rep, "nearest_polished_iteration_ratio": 0.04, "nearest_polished_time_ratio": 0.51})
    assert note and "0.51x cold against the learned start's 1.14x" in note
    # the network earns its cost where the neighbour's start needs more iterations, or where it is slower
    assert network_note({**rep, "nearest_polished_iteration_ratio": 0.3, "nearest_polished_time_ratio": 0.5}) is None
    assert network_note({**rep, "nearest_polished_iteration_ratio": 0.04, "nearest_polished_time_ratio": 1.5}) is None
    assert network_note(rep) is None  # a report without the baseline
    # k = 0: the start is that neighbour; the line says so instead
    k0 = network_note({**rep, "k": 0, "polish": True, "k_automatic": True,
                       "nearest_polished_iteration_ratio": 0.04, "nearest_polished_time_ratio": 0.51})
    assert k0.startswith("k 0: no network is run; the learned start is the nearest training optimum, polished: on "
                         "the validation split")
    k0 = network_note({**rep, "k": 0, "polish": True, "k_automatic": False, "anchor": "linear"})
    assert k0 == "k 0: no network is run; the learned start is the anchor, the family's linear model of the optimum, polished"


def test_an_mps_checkpoint_follows_the_file_not_its_path(tmp_path):
    """The same MPS model by another path (here unzipped) is the same family; another model is not."""
    import gzip

    from problems.registry import family_key, family_names

    fam = make_family(f"mps:{netlib('afiro')}")
    data = label_instances(fam.sample(6, seed=0), scheduler="serial", progress=False)
    starter, _ = train_starter(fam.spec(), data, config=TrainConfig(epochs=1, width=8, train_k=4), progress=False,
                               family_key=family_key(fam))
    path = starter.save(tmp_path / "afiro.safetensors")
    plain = tmp_path / "copy" / "afiro.mps"
    plain.parent.mkdir()
    plain.write_bytes(gzip.decompress(netlib("afiro").read_bytes()))
    again = make_family(f"mps:{plain}")
    assert again.spec() != fam.spec() and family_key(again) == family_key(fam)
    assert LearnedWarmStarter.from_checkpoint(path, family=family_names(again)).family == fam.spec()
    with pytest.raises(CheckpointError, match="trained on family"):
        LearnedWarmStarter.from_checkpoint(path, family=family_names(make_family(f"mps:{netlib('sc50a')}")))


def _write_instance_files(folder, count: int, *, seed: int = 0) -> list:
    """A user's own instance files: ``count`` perturbed copies of Netlib afiro, written as
    MPS files by HiGHS (as a team's daily models would be)."""
    from learned_solvers.backends.highs import HiGHSBackend

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, qp in enumerate(make_family(f"mps:{netlib('afiro')}").sample(count, seed=seed)):
        h = HiGHSBackend()._highs(qp)
        paths.append(folder / f"day{i:03d}.mps")
        h.writeModel(str(paths[-1]))
    return paths


def test_a_family_of_the_users_own_files_splits_by_content_and_benches(tmp_path):
    """`files:GLOB`: the files are the instances; each lies in the training or the held-out
    pool for good (by its content), and bench tests only on held-out files."""
    from learned_solvers.bench.qp import BenchConfig, held_out_instances, run_bench

    paths = _write_instance_files(tmp_path / "daily", 40)
    fam = make_family(f"files:{tmp_path}/daily/*.mps,held_out=0.25")
    train_pool, test_pool = fam.pools
    assert set(train_pool).isdisjoint(test_pool) and set(train_pool) | set(test_pool) == set(paths)
    assert 4 <= len(test_pool) <= 18  # a quarter of 40, by a hash of the content
    # a new file never moves an old one across
    _write_instance_files(tmp_path / "daily2", 1, seed=99)[0].rename(tmp_path / "daily" / "day999.mps")
    again = make_family(f"files:{tmp_path}/daily/*.mps,held_out=0.25")
    assert set(train_pool) <= set(again.pools[0]) and set(test_pool) <= set(again.pools[1])
    held = {q.name for q in held_out_instances(fam, len(test_pool), 0)}
    assert held == {p.name for p in test_pool}
    a, b = fam.sample(5, seed=1), fam.sample(5, seed=1)
    assert [q.name for q in a] == [q.name for q in b] and {q.name for q in a} <= {p.name for p in train_pool}

    ck = tmp_path / "daily.safetensors"
    rep = run_bench(BenchConfig(family=fam.spec(), solver="pdlp", n_train=len(train_pool), n_test=4, epochs=2,
                                width=8, train_k=4, scheduler="serial", progress=False, save_checkpoint=str(ck)))
    assert rep["same_answer"] == 1.0 and rep["n_test"] == 4
    assert {r["name"] for r in rep["instances"]} <= {p.name for p in test_pool}
    # the saved model benched again at bench's default --train (200, more files than the pool has):
    # the checkpoint's bank holds its training instances, so none is drawn but the one checked
    again = run_bench(BenchConfig(family=fam.spec(), solver="pdlp", checkpoint=str(ck), n_test=4, scheduler="serial",
                                  progress=False))
    assert again["same_answer"] == 1.0 and again["n_train"] == len(train_pool)

    # what the user gets wrong is named, with what to do
    with pytest.raises(ValueError, match=rf"{len(test_pool)} held out .* Ask for at most {len(test_pool)} \(--test\)"):
        held_out_instances(fam, len(test_pool) + 1, 0)
    few = make_family(f"files:{tmp_path}/daily/day00[0-2].mps,held_out=0.01")  # three files, none held out
    assert len(few.pools[1]) == 0
    with pytest.raises(ValueError, match=r"3 files, 3 for training and 0 held out .* Match more files, or send more "
                                         r"to the held-out side with held_out \(e.g. 'files:.*,held_out=0.5'\)"):
        held_out_instances(few, 1, 0)
    with pytest.raises(ValueError, match="matches no .mps, .lp or .qps file"):
        make_family(f"files:{tmp_path}/nothing/*.mps").pools
    with pytest.raises(ValueError, match="--perturb does not apply"):
        make_family(f"files:{tmp_path}/daily/*.mps", perturb=0.2)
    with pytest.raises(ValueError, match="held_out must lie in"):
        make_family(f"files:{tmp_path}/daily/*.mps,held_out=1.5")


def test_top_level_names_are_the_modules_own_and_load_lazily():
    import learned_solvers
    from learned_solvers import backends, warmstart
    from learned_solvers.formats import mps

    assert learned_solvers.LearnedWarmStarter is warmstart.LearnedWarmStarter
    assert learned_solvers.read_problem is mps.read_problem and learned_solvers.make_backend is backends.make_backend
    assert set(learned_solvers.__all__) <= set(dir(learned_solvers))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        learned_solvers.nope  # noqa: B018
    # a bare import loads neither torch nor a solver
    code = "import sys, learned_solvers; print(sorted({'torch', 'highspy', 'ortools'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_large_instances_batch_as_sparse_blocks_with_the_dense_outputs_and_gradients(monkeypatch):
    """A large, sparse matrix (A, A' or P) stays sparse in a batch, as one block-diagonal matrix
    (a dense batch of a 0.2%-filled QP costs its whole rectangle); the model's outputs, its
    safeguarded inference and its implicit gradients are the dense path's."""
    from learned_solvers.models import qp_gnn

    qps = make_family("mpc").sample(3, seed=2)
    torch.manual_seed(0)
    # float64: the two paths sum in another order, which float32 would blur to ~1e-4
    model = qp_gnn.QPImplicitModel(qp_gnn.QPGNNConfig(width=8, train_k=4)).double()
    start = {k: v.clone() for k, v in model.state_dict().items()}  # a training call moves spectral norms' vectors

    def run():
        model.load_state_dict(start)
        g = qp_gnn.build_graph(qps, dtype=torch.float64)
        model.zero_grad()
        x, y, _ = model(g)
        ((x - 1).pow(2).sum() + y.pow(2).sum()).backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        return g, x.detach(), y.detach(), grads, model.predict(qps, k=6, safeguard=True)

    g_dense, x_dense, y_dense, grads_dense, pred_dense = run()
    monkeypatch.setattr(qp_gnn, "DENSE_LIMIT", 0)
    g_sparse, x_sparse, y_sparse, grads_sparse, pred_sparse = run()
    n, m = qps[0].n, qps[0].m
    assert g_dense.A.shape == (3, m, n) and g_sparse.A.layout == torch.sparse_csr
    assert g_sparse.A.shape == (3 * m, 3 * n) and g_sparse.P.shape == (3 * n, 3 * n)
    assert torch.allclose(x_dense, x_sparse, atol=1e-10) and torch.allclose(y_dense, y_sparse, atol=1e-10)
    assert len(grads_dense) == len(grads_sparse) > 0
    for a, b in zip(grads_dense, grads_sparse, strict=True):
        assert torch.allclose(a, b, rtol=1e-8, atol=1e-10)
    for (xd, yd), (xs, ys) in zip(pred_dense, pred_sparse, strict=True):
        assert np.allclose(xd, xs, rtol=1e-8, atol=1e-10) and np.allclose(yd, ys, rtol=1e-8, atol=1e-10)
    monkeypatch.undo()
    # the rule per matrix: mpc at 40 states keeps its 0.2%-filled P (1,160 x 1,160) sparse and
    # its 4.7%-filled A dense; random-lp's 5% at 500 x 1000 stays dense
    big = qp_gnn.build_graph(make_family("mpc:states=40,inputs=16,horizon=20").sample(2, seed=0))
    assert big.P.layout == torch.sparse_csr and big.A.layout == torch.strided
    assert qp_gnn.build_graph(make_family("random-lp:m=500,n=1000").sample(2, seed=0)).A.layout == torch.strided


def test_an_instance_with_the_training_names_in_another_order_is_read_in_the_training_order(tmp_path):
    """A file of the same model written with its columns and rows in another order (a generator
    that walks a Python set, say): matched by name, it gets the start the training order gets, put
    back in the file's order (read by position, it would get a start made for other variables).
    Names that are not the training ones are read by position, with a warning."""
    from learned_solvers.backends.highs import HiGHSBackend
    from learned_solvers.formats.mps import read_problem
    from learned_solvers.warmstart import NameMismatchWarning

    fam = make_family(f"mps:{netlib('afiro')}")
    data = label_instances(fam.sample(12, seed=0), scheduler="serial", progress=False)
    starter, _ = train_starter(fam.spec(), data, config=TrainConfig(epochs=1, width=8, train_k=4), progress=False)
    starter = LearnedWarmStarter.from_checkpoint(starter.save(tmp_path / "afiro.safetensors"))
    qp = fam.sample(1, seed=77)[0]
    cols, rows = np.random.default_rng(0).permutation(qp.n), np.random.default_rng(1).permutation(qp.m)
    shuffled_file, reordered = tmp_path / "shuffled.mps", qp.reordered(cols, rows)
    h = HiGHSBackend()._highs(reordered)
    for j, name in enumerate(reordered.var_names):
        h.passColName(j, name)
    for i, name in enumerate(reordered.con_names):
        h.passRowName(i, name)
    h.writeModel(str(shuffled_file))
    shuffled = read_problem(shuffled_file)
    assert shuffled.var_names == tuple(qp.var_names[i] for i in cols)
    ws, info = starter.warm_start(qp)
    ws2, info2 = starter.warm_start(shuffled)
    assert info2.reordered and not info.reordered
    assert np.allclose(ws2.x, ws.x[cols], rtol=1e-9, atol=1e-9) and np.allclose(ws2.y, ws.y[rows], rtol=1e-9, atol=1e-9)
    cold, warm = make_backend("pdlp").solve(shuffled), starter.solve(shuffled, "pdlp")
    assert warm.status == cold.status == Status.OPTIMAL and warm.extra["reordered"]
    assert abs(warm.objective - cold.objective) <= 1e-5 * (1 + abs(cold.objective))

    renamed = qp.with_data(var_names=tuple(f"v{i}" for i in range(qp.n)))
    with pytest.warns(NameMismatchWarning, match=f"it has no variable '{qp.var_names[0]}'.*reads them by position"):
        ws3, info3 = starter.warm_start(renamed)
    assert not info3.reordered and np.allclose(ws3.x, ws.x)


def _scip_reference(rng_seed: int):
    """SCIP's own answer to the transport model: objective, values and duals (presolve off, so
    SCIP keeps its LP's duals)."""
    pyscipopt = pytest.importorskip("pyscipopt")
    from tests.scip_transport import build

    ref = build(np.random.default_rng(rng_seed))
    ref.setPresolve(pyscipopt.SCIP_PARAMSETTING.OFF)
    ref.setHeuristics(pyscipopt.SCIP_PARAMSETTING.OFF)
    ref.disablePropagation()
    ref.optimize()
    assert ref.getStatus() == "optimal"
    return (ref.getObjVal(), np.array([ref.getVal(v) for v in ref.getVars()]),
            np.array([ref.getDualsolLinear(c) for c in ref.getConss()]))


def test_pyscipopt_model_solved_from_the_learned_start_and_answered_into_the_model(tmp_path):
    """`scip:MODULE:FUNCTION` trains on a user's pyscipopt model; `scip_plugin.optimize(model, ck,
    solver=...)` replaces `model.optimize()`: the answer is stored in the model (`model.getVal`),
    objective and duals as SCIP's own (its sign convention, a maximisation's too), and a later
    `model.optimize()` accepts it. Refused models (past the problem stage, integer variables,
    unknown options) are refused before anything is solved or stored (HiGHS solves a MIP); infeasible ones keep the
    backend's status and get no solution."""
    pyscipopt = pytest.importorskip("pyscipopt")
    from learned_solvers.scip_plugin import optimize
    from tests.scip_transport import build

    fam = make_family("scip:tests.scip_transport:build")
    data = label_instances(fam.sample(16, seed=0), scheduler="serial", progress=False)
    starter, _ = train_starter(fam.spec(), data, config=TrainConfig(epochs=2, width=16, train_k=8), progress=False)
    path = starter.save(tmp_path / "transport.safetensors")

    objective, values, duals = _scip_reference(5)
    loaded = LearnedWarmStarter.from_checkpoint(path)
    for solver, opts in (("pdlp", {"tol": 1e-8}), ("highs", {})):
        model = build(np.random.default_rng(5))
        answer = optimize(model, loaded, solver=solver, **opts)  # in place of model.optimize()
        assert answer.status == "optimal" and abs(answer.objective - objective) <= 1e-6 * (1 + abs(objective))
        assert answer.result.extra["inference_seconds"] > 0 and answer.result.warm_started
        # read as after model.optimize(): the objective first, as a script would
        assert abs(model.getObjVal() - objective) <= 1e-6 * (1 + abs(objective))
        got = np.array([model.getVal(v) for v in model.getVars()])
        assert np.allclose(got, values, atol=1e-4), solver
        assert np.allclose([answer.duals[c] for c in model.getConss()], duals, atol=1e-4), solver
        assert abs(model.getSolObjVal(model.getBestSol()) - objective) <= 1e-6 * (1 + abs(objective))
        model.optimize()  # SCIP checks the stored answer and finishes the job itself
        assert model.getStatus() == "optimal" and abs(model.getObjVal() - objective) <= 1e-6 * (1 + abs(objective))
    # no solver named: the checkpoint's own (as `train --solver` records it). The model is nobody's
    # but the answer's: its solution and duals still read after a collection (pyscipopt frees a
    # model's memory with it, and printing such an answer had crashed the interpreter)
    answer = optimize(build(np.random.default_rng(5)), starter.save(tmp_path / "highs.safetensors", solver="highs"))
    import gc

    gc.collect()
    assert answer.result.solver == "highs" and abs(answer.objective - objective) <= 1e-6 * (1 + abs(objective))
    assert "ship_0_0" in repr(answer) and len(answer.duals) == len(duals)

    # a maximisation: the objective in the model's own sense, duals as SCIP gives them (a size the
    # model never saw: cold)
    def tiny(sense: str) -> pyscipopt.Model:
        m = pyscipopt.Model("tiny")
        m.hideOutput()
        x, y = m.addVar("x", lb=0), m.addVar("y", lb=0)
        m.addCons(x + 2 * y <= 4, name="cap")
        m.addCons(x <= 3, name="xmax")
        m.setObjective(x + 3 * y if sense == "maximize" else -(x + 3 * y), sense)
        return m

    for sense, sign in (("maximize", 1.0), ("minimize", -1.0)):
        m = tiny(sense)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = optimize(m, loaded, solver="highs")
        assert answer.objective == pytest.approx(sign * 6.0) and m.getVal(m.getVars()[1]) == pytest.approx(2.0)
        ref = tiny(sense)
        ref.setPresolve(pyscipopt.SCIP_PARAMSETTING.OFF)
        ref.disablePropagation()
        ref.optimize()
        assert [answer.duals[c] for c in m.getConss()] == pytest.approx([ref.getDualsolLinear(c)
                                                                         for c in ref.getConss()])

    # a time limit the script set on the model bounds the backend's solve, as it bounds model.optimize()
    # (it had been dropped: the solve ran to PDLP's own limit, 600 s)
    timed = build(np.random.default_rng(5))
    timed.setParam("limits/time", 1e-6)
    with pytest.warns(OutOfFamilyWarning, match="ended at limit .*TIME_LIMIT"):
        answer = optimize(timed, loaded, solver="pdlp", polish=False)
    assert answer.status == "limit" and timed.getNSols() == 0

    # refusals, before anything is solved or stored
    solved = build(np.random.default_rng(5))
    solved.optimize()
    with pytest.raises(ValueError, match="freeTransform"):
        optimize(solved, loaded)
    mip = build(np.random.default_rng(5))
    mip.chgVarType(mip.getVars()[0], "INTEGER")
    with pytest.raises(ValueError, match="1 integer variable;"):
        optimize(mip, loaded, solver="pdlp")
    assert mip.getNSols() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answer = optimize(mip, loaded, solver="highs")  # HiGHS solves it as a MIP: no duals
    mip_ref = build(np.random.default_rng(5))
    mip_ref.chgVarType(mip_ref.getVars()[0], "INTEGER")
    mip_ref.optimize()
    assert answer.status == "optimal" and answer.duals == {}
    assert abs(answer.objective - mip_ref.getObjVal()) <= 1e-6 * (1 + abs(objective))
    assert abs(mip.getVal(mip.getVars()[0]) - round(mip.getVal(mip.getVars()[0]))) < 1e-9
    with pytest.raises(TypeError, match="unknown options"):
        optimize(build(np.random.default_rng(5)), loaded, solver="pdlp", eps=1e-3)
    infeasible = tiny("maximize")
    infeasible.addCons(infeasible.getVars()[0] >= 5, name="too_much")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answer = optimize(infeasible, loaded, solver="highs")
    assert answer.status == "infeasible" and answer.solution is None and infeasible.getNSols() == 0


def test_a_pyscipopt_qp_in_scips_epigraph_form_is_read_solved_and_answered_into_the_model(tmp_path):
    """SCIP takes no quadratic objective: a QP is `min t` with `q(x) <= t` (pyscipopt's
    `set_nonlinear_objective`). The adapter reads it as P and c (t dropped), `optimize` solves it
    from the learned start at SCIP's own optimum, and writes t back at q(x); a maximisation
    alike. What is not such an epigraph is refused, saying what fits."""
    pyscipopt = pytest.importorskip("pyscipopt")
    from learned_solvers.formats.scip import from_scip
    from learned_solvers.scip_plugin import optimize
    from tests.scip_portfolio import build

    fam = make_family("scip:tests.scip_portfolio:build")
    data = label_instances(fam.sample(16, seed=0), scheduler="serial", progress=False, solver="osqp")
    starter, _ = train_starter(fam.spec(), data, config=TrainConfig(epochs=2, width=16, train_k=8), progress=False)
    loaded = LearnedWarmStarter.from_checkpoint(starter.save(tmp_path / "portfolio.safetensors", solver="osqp"))
    for sense in ("minimize", "maximize"):
        ref = build(np.random.default_rng(5), sense)
        ref.optimize()
        assert ref.getStatus() == "optimal"
        model = build(np.random.default_rng(5), sense)
        qp = from_scip(model)
        assert qp.n == len(model.getVars()) - 1 and qp.m == len(model.getConss()) - 1 and qp.P.nnz == qp.n
        answer = optimize(model, loaded, tol=1e-7)  # the checkpoint's solver, OSQP
        assert answer.status == "optimal" and answer.result.solver == "osqp" and answer.result.warm_started
        assert abs(answer.objective - ref.getObjVal()) <= 1e-5 * (1 + abs(ref.getObjVal()))
        assert abs(model.getObjVal() - answer.objective) <= 1e-9
        t = model.getVars()[-1]
        assert model.getVal(t) == pytest.approx(answer.objective, abs=1e-9)  # t written back at q(x)
        assert np.allclose([model.getVal(v) for v in model.getVars()[:qp.n]],
                           [ref.getVal(v) for v in ref.getVars()[:qp.n]], atol=2e-3)
        assert set(answer.duals) == {c for c in model.getConss() if c.getConshdlrName() == "linear"}
        model.optimize()  # SCIP checks the stored answer and finishes the job itself
        assert model.getStatus() == "optimal"
        assert abs(model.getObjVal() - ref.getObjVal()) <= 1e-5 * (1 + abs(ref.getObjVal()))

    def refused(edit, why: str) -> None:
        m = build(np.random.default_rng(5))
        edit(m)
        with pytest.raises(InvalidProblemError, match=why):
            from_scip(m)

    def var(m, name):
        return next(v for v in m.getVars() if v.name == name)

    refused(lambda m: m.addCons(pyscipopt.exp(var(m, "w_0")) <= 2, name="e"),
            r"constraint 'e' \(nonlinear\) is not quadratic; the canonical form takes linear constraints and one "
            r"quadratic objective, written as SCIP's epigraph")
    refused(lambda m: m.addCons(var(m, "w_0") * var(m, "w_1") <= 0.1, name="q"),
            "'q' .* is a second quadratic constraint")
    refused(lambda m: m.addCons(m.getVars()[-1] >= -1, name="t_low"),
            "the objective's variable .* also appears in a linear constraint")
    concave = pyscipopt.Model("concave")
    x = concave.addVar("x", lb=0, ub=1)
    from pyscipopt.recipes.nonlinear import set_nonlinear_objective

    set_nonlinear_objective(concave, -x * x, "minimize")
    with pytest.raises(InvalidProblemError, match=r"the quadratic objective .* is not convex \(minimised\)"):
        from_scip(concave)


def test_scip_family_refuses_what_is_not_a_continuous_pyscipopt_model(tmp_path, monkeypatch):
    pytest.importorskip("pyscipopt")
    (tmp_path / "my_scip_models.py").write_text(
        "import pyscipopt\n"
        "def not_a_model(rng):\n    return 3\n"
        "def integer(rng):\n"
        "    m = pyscipopt.Model()\n    x = m.addVar('x', vtype='I', ub=5)\n"
        "    m.addCons(x >= rng.uniform(1, 2))\n    m.setObjective(x)\n    return m\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InvalidProblemError,
                       match="scip:my_scip_models:not_a_model: expected a pyscipopt.Model, got int"):
        make_family("scip:my_scip_models:not_a_model").sample(1, seed=0)
    with pytest.raises(ValueError, match="1 of its 1 columns are integer"):
        make_family("scip:my_scip_models:integer").sample(1, seed=0)
    with pytest.raises(ValueError, match="--perturb does not apply"):
        make_family("scip:my_scip_models:integer", perturb=0.2)


def test_validation_split_holds_out_a_fraction_and_trains_on_all_where_none_would_be_left():
    from learned_solvers.training.loop import validation_split

    val, train = validation_split(20, 0.1, np.random.default_rng(0))
    assert len(val) == 2 and len(train) == 18 and not set(val) & set(train)
    assert sorted([*val, *train]) == list(range(20))
    val, train = validation_split(2, 0.9, np.random.default_rng(0))  # both would be held out
    assert len(val) == 2 and list(train) == list(val)


@pytest.mark.parametrize("scheduler", ["serial", "local"])
def test_labelling_drops_an_instance_whose_solve_raises_and_keeps_the_others(scheduler):
    """A MIP among LPs labelled by PDLP, which refuses integer variables: that instance is
    dropped with its reason in the warning and the others are labelled, serially and on a local
    Dask cluster. Before, its error ended the whole labelling run."""
    from learned_solvers.formats.mps import read_problem

    lps = make_family(SPEC).sample(4, seed=0)
    mip = read_problem(DATA / "miplib3" / "flugpl.mps.gz")
    with pytest.warns(RuntimeWarning, match=r"1 of 5 instances .* dropped \(failed \(ValueError: pdlp: problem "
                                            r"'flugpl.mps.gz' has \d+ integer variables"):
        got = label_instances([*lps[:2], mip, *lps[2:]], scheduler=scheduler, workers=1, solver="pdlp",
                              progress=False)
    assert [d.qp.name for d in got] == [q.name for q in lps]
    reference = label_instances(lps, scheduler="serial", progress=False)
    assert all(a.objective == pytest.approx(b.objective, rel=1e-4) for a, b in zip(got, reference))


def test_bench_with_a_checkpoint_searches_its_training_instances_for_the_nearest_baseline(tmp_path):
    """With --checkpoint, the nearest baseline searches the checkpoint's own bank, the instances
    the model was trained on, as the PDE bench does: the same nearest starts as the bench that
    trained it, and its training count reported. Before, it labelled --train instances afresh
    (200 by default, refused if changed), a pool of another size than the model's."""
    from learned_solvers.bench.qp import BenchConfig, run_bench

    path = tmp_path / "m.safetensors"
    opts = dict(family=SPEC, solver="pdlp", n_test=4, k=1, scheduler="serial", progress=False)
    trained = run_bench(BenchConfig(**opts, n_train=12, epochs=1, width=8, train_k=2, save_checkpoint=str(path)))
    loaded = run_bench(BenchConfig(**opts, checkpoint=str(path)))
    assert trained["n_train"] == loaded["n_train"] == 12
    assert [r["nearest"]["iterations"] for r in loaded["instances"]] == \
        [r["nearest"]["iterations"] for r in trained["instances"]]
    assert loaded["nearest_start_kkt_median"] == pytest.approx(trained["nearest_start_kkt_median"])


def test_bench_tests_a_model_on_another_size_of_its_family(tmp_path, capsys):
    """--test-family on LP/QP: held-out instances of the same generator at another size, as the
    PDE bench tests on a finer mesh. No anchor and no training optimum of that size exist, so the
    start is the network's (the k reported is the one run, not the automatic k = 0) and the
    nearest baseline starts from zero, said so; the report names both families. Another
    generator, or another file, is refused before any work."""
    from learned_solvers.bench.qp import BenchConfig, format_report, run_bench
    from learned_solvers.cli import main

    path = tmp_path / "m.safetensors"
    opts = dict(solver="pdlp", n_test=3, scheduler="serial", progress=False)
    run_bench(BenchConfig(family=SPEC, **opts, n_train=12, epochs=1, width=8, train_k=2, save_checkpoint=str(path)))
    rep = run_bench(BenchConfig(family=SPEC, **opts, checkpoint=str(path), test_family="random-lp:m=20,n=40"))
    assert all(any("a size this model never saw" in w for w in r["warnings"]) for r in rep["instances"])
    assert rep["family"].startswith("random-lp:m=20,n=40,") and rep["train_family"].startswith("random-lp:m=15,n=30,")
    assert rep["same_answer"] == 1.0 and rep["k"] >= 1 and all(r["k"] == rep["k"] for r in rep["instances"])
    assert np.isnan(rep["nearest_start_kkt_median"])
    text = format_report(rep)
    assert "(trained on random-lp:m=15,n=30," in text and "that baseline starts from zero" in text
    from learned_solvers.bench.plots import _title, plot_bench

    # the figure's title keeps both specs whole (it had cut a long one from the left, sizes first)
    title = " ".join(_title(rep).split())
    assert "random-lp:m=20,n=40" in title and "trained on random-lp:m=15,n=30" in title
    assert plot_bench(rep, tmp_path / "other-size.png").stat().st_size > 0
    # k = 0 there: no anchor, so every start falls back to cold, which the table says in place of a verdict
    # (it had said the anchor was the start, and advised more training instances)
    rep = run_bench(BenchConfig(family=SPEC, **opts, checkpoint=str(path), test_family="random-lp:m=20,n=40", k=0))
    text = format_report(rep)
    assert rep["fallbacks"] == 3 and "fell back to a cold start on 3 of 3 instances" in text
    assert "verdict: none: no learned start ran" in text and "the learned start is the anchor" not in text
    assert "nan" in format_report(json.loads(json.dumps(rep).replace("NaN", "null")))  # as read back from JSON
    for other in ("portfolio", "mps:../shared/data/netlib/afiro.mps.gz", "darcy:n=8"):
        assert main(["bench", "--checkpoint", str(path), "--test-family", other, "--test", "2"]) == 2
        assert "is not random-lp at other parameters" in capsys.readouterr().err


def test_bench_tests_a_users_cvxpy_function_at_another_size_by_its_keyword(tmp_path, capsys):
    """`cvxpy:MODULE:FUNCTION:n=45` calls FUNCTION(rng, n=45); checkpoints match on the function
    alone, so --test-family runs a model trained at n = 30 on n = 45, as on a generator. Another
    function, a keyword the function does not take or a value not of its type is refused."""
    from learned_solvers.bench.qp import BenchConfig, run_bench
    from learned_solvers.cli import main

    spec = "cvxpy:tests.cvxpy_portfolio:build_sized"
    fam = make_family(f"{spec}:n=45")
    assert fam.spec() == f"{spec}:n=45" and fam.family_key() == spec
    assert fam.sample(1, seed=0)[0].n == make_family(spec).sample(1, seed=0)[0].n + 2 * 15  # w and its risk term
    path = tmp_path / "m.safetensors"
    opts = dict(solver="osqp", n_test=2, scheduler="serial", progress=False)
    run_bench(BenchConfig(family=spec, **opts, n_train=8, epochs=1, width=8, train_k=2, save_checkpoint=str(path)))
    rep = run_bench(BenchConfig(family=spec, **opts, checkpoint=str(path), test_family=f"{spec}:n=45"))
    assert rep["family"] == f"{spec}:n=45" and rep["train_family"] == spec and rep["same_answer"] == 1.0
    assert all(any("a size this model never saw" in w for w in r["warnings"]) for r in rep["instances"])
    for other in ("cvxpy:tests.cvxpy_portfolio:build", "portfolio"):
        assert main(["bench", "--checkpoint", str(path), "--family", spec, "--test-family", other, "--test", "2"]) == 2
        assert f"is not {spec} at other parameters" in capsys.readouterr().err
    for opts_, why in (("m=3", "takes no keyword 'm'; it takes n$"), ("n=4.5", "n='4.5' is not an int")):
        with pytest.raises(ValueError, match=why):
            make_family(f"{spec}:{opts_}")
    # a scip: function the same way; rng is the family's to pass, not the spec's
    with pytest.raises(ValueError, match="scip:tests.scip_portfolio:build: the function takes no keyword 'n'; it "
                                         "takes sense$"):
        make_family("scip:tests.scip_portfolio:build:n=3")
    scip = make_family("scip:tests.scip_portfolio:build:sense=maximize")
    assert scip.keywords == {"sense": "maximize"} and scip.family_key() == "scip:tests.scip_portfolio:build"
    assert scip.sample(1, seed=0)[0].maximize  # build(rng, sense="maximize") ran


def _tiny_lp(feasible: bool, i: int) -> QPData:
    """min x1 + x2 s.t. x1 + x2 >= 1 (optimum 1), and <= -1 too where not ``feasible``, x >= 0."""
    return QPData(c=np.ones(2), A=sp.csr_matrix([[1.0, 1.0], [1.0, 1.0]]), l=np.array([1.0, -np.inf]),
                  u=np.array([np.inf, np.inf if feasible else -1.0]), lb=np.zeros(2), ub=np.full(2, np.inf),
                  name=f"lp{i}")


def test_labelling_replaces_dropped_instances_by_further_draws_up_to_a_cap():
    """A family of which 1 draw in 4 is feasible: asked for 3, labelling draws on to the 9th and
    keeps draws 0, 4 and 8, the stream's first 3 optimal ones. Where 1 in 25 is, the cap (10x
    the count) stops it with 1 of 2 kept, and says so; without ``refill`` (a pool of files) the
    dropped are only counted. Before, a user asking for 30 instances of boeing1 trained on 3."""
    from learned_solvers.training.data import REFILL_FACTOR, label_drawn

    calls = []

    def draw(every: int):
        def f(n: int) -> list[QPData]:
            calls.append(n)
            return [_tiny_lp(i % every == 0, i) for i in range(n)]
        return f

    with pytest.warns(RuntimeWarning, match=r"6 of 9 instances were not solved to optimality by highs and were "
                                            r"dropped \(infeasible 6\); further draws stood in for them \(3 kept of "
                                            r"the 9 drawn\); try this"):
        got = label_drawn(draw(4), 3, refill=True, scheduler="serial", progress=False, hint="try this")
    assert [x.qp.name for x in got.kept] == ["lp0", "lp4", "lp8"] and got.drawn == 9 and got.refilled
    assert all(abs(x.objective - 1.0) < 1e-9 for x in got.kept)
    calls.clear()
    with pytest.warns(RuntimeWarning, match=rf"only 1 of the 2 asked for were kept after 20 draws \(at most "
                                            rf"{REFILL_FACTOR}x the count are drawn\)"):
        got = label_drawn(draw(25), 2, refill=True, scheduler="serial", progress=False)
    assert len(got.kept) == 1 and got.drawn == 2 * REFILL_FACTOR and max(calls) == 2 * REFILL_FACTOR
    with pytest.warns(RuntimeWarning, match=r"3 of 4 instances were not solved to optimality by highs and were "
                                            r"dropped \(infeasible 3\)$"):
        got = label_drawn(draw(4), 4, refill=False, scheduler="serial", progress=False)
    assert [x.qp.name for x in got.kept] == ["lp0"] and got.drawn == 4 and not got.refilled
    # none kept: the perturbation, not the count, must change; no draws past the first
    calls.clear()
    with pytest.warns(RuntimeWarning, match="5 of 5 instances"):
        got = label_drawn(draw(10**9), 5, first=[_tiny_lp(False, i) for i in range(5)], refill=True,
                          scheduler="serial", progress=False)
    assert got.kept == [] and calls == []


def test_further_draws_of_a_user_s_family_build_each_model_once():
    """A ``cvxpy:`` family calls the user's build function once per draw. Labelling's further
    draws read on from the last round (``drawer``), where ``sample(n)`` would build the earlier
    models again each round; the instances kept are the same as ``sample``'s."""
    from learned_solvers.training.data import label_drawn
    from problems.registry import drawer

    from . import cvxpy_sometimes_infeasible as user

    fam = make_family("cvxpy:tests.cvxpy_sometimes_infeasible:build")
    draw, asked = drawer(fam, seed=3), []
    user.BUILDS.clear()
    with pytest.warns(RuntimeWarning, match=r"further draws stood in for them \(6 kept of the \d+ drawn\)"):
        got = label_drawn(lambda n: asked.append(n) or draw(n), 6, refill=True, solver="highs",
                          scheduler="serial", progress=False)
    assert len(asked) >= 2 and len(user.BUILDS) == max(asked)  # more than one round, no model built twice
    assert len(got.kept) == 6 and all(abs(k.objective - 2 * lo) < 1e-7
                                      for k, lo in zip(got.kept, [b for b in user.BUILDS if b <= 0.5]))
    again = fam.sample(max(asked), seed=3)
    feasible = [q.name for q, b in zip(again, user.BUILDS[max(asked):]) if b <= 0.5][:6]
    assert [k.qp.name for k in got.kept] == feasible


@pytest.mark.parametrize("spec", ["random-lp:m=10,n=20", "portfolio:assets=10,factors=2", "mpc", "lasso",
                                  "mps:NETLIB/afiro", "cvxpy:tests.cvxpy_parametrized:build"])
def test_a_generator_family_s_draws_extend_so_labelling_can_refill(spec):
    """``refills`` families: the first n of n + m draws are the n draws, so instances drawn to
    replace dropped ones are new ones of the same stream, and a count's instances do not depend
    on how many were dropped. A pool of files does not refill."""
    from problems.registry import refills

    fam = make_family(spec.replace("NETLIB/afiro", str(netlib("afiro"))))
    assert refills(fam)
    few, more = fam.sample(3, seed=5), fam.sample(5, seed=5)
    for a, b in zip(few, more[:3]):
        assert a.name == b.name and np.array_equal(a.c, b.c) and np.array_equal(a.l, b.l)
        assert np.array_equal(a.lb, b.lb) and (a.A != b.A).nnz == 0
    assert not refills(make_family(f"files:{netlib('afiro').parent}/*.mps.gz"))


def test_bench_says_how_many_instances_were_dropped_and_when_too_few_are_left(tmp_path):
    """An mps: family keeps only the instances the reference solver finds optimal: on blend 3 of
    12 drawn are infeasible at the default perturbation. The report counts them, and the table
    says what the figures rest on; with under 5 held-out instances left, that they are too few.
    Before, only the labelling warning said it, and a verdict on 1 held-out instance of 6 drawn
    (boeing1) read like one on 6."""
    from learned_solvers.bench.qp import BenchConfig, dropped_line, format_report, run_bench

    from learned_solvers.checkpoint import describe_checkpoint, format_checkpoint_info

    cfg = BenchConfig(family=f"mps:{netlib('blend')}", solver="highs", n_train=12, n_test=6, epochs=1, width=8,
                      scheduler="serial", progress=False, save_checkpoint=str(tmp_path / "b.safetensors"))
    # further draws of the same seed stand in for the dropped ones: 12 trained on, as asked
    with pytest.warns(RuntimeWarning, match=r"4 of 16 instances were not solved to optimality .*further draws "
                                            r"stood in for them \(12 kept of the 16 drawn\)"):
        rep = run_bench(cfg)
    assert rep["dropped"] == {"train": 4, "test": 0, "train_drawn": 16, "test_drawn": 6, "refilled": True}
    assert rep["n_train"] == 12
    # and the checkpoint's `info` says what the training rests on
    assert "12 instances (of 16 drawn: the others had no reference solution)" in format_checkpoint_info(
        describe_checkpoint(tmp_path / "b.safetensors"))
    said = ("dropped, not solved to optimality by the reference solver: 4 of the 16 training instances drawn (further "
            "draws stood in for them); the figures are of the 6 held-out instances left")
    assert said in format_report(rep).splitlines()
    few = {**rep, "n_test": 1, "dropped": {"train": 3, "test": 5, "train_drawn": 30, "test_drawn": 6}}
    assert dropped_line(few).startswith("dropped, not solved to optimality by the reference solver: 3 of the 30 "
                                        "training and 5 of the 6 held-out instances drawn; the figures are of the 1 "
                                        "held-out instance left, too few to judge the family by")
    assert dropped_line({**rep, "dropped": {"train": 0, "test": 0, "train_drawn": 12, "test_drawn": 6}}) is None


def test_provenance_says_which_code_made_a_report_and_is_none_outside_a_checkout(monkeypatch):
    """A report's or checkpoint's ``provenance``: the version, the commit in a checkout, when and
    on what; an installed wheel (no checkout of its own) records no commit rather than another
    repository's; metadata from before it was kept, or of another shape, is described as nothing."""
    from learned_solvers import _provenance
    from learned_solvers._version import __version__

    made = _provenance.provenance()
    assert made["learned_solvers"] == __version__ and made["commit"] == _head()
    assert isinstance(made["code_changed"], bool) == (_head() is not None)
    assert made["machine"]["cpus"] >= 1 and made["machine"]["torch_threads"] >= 1  # torch is loaded here
    assert made["packages"]["numpy"] == np.__version__ and made["python"] == sys.version.split()[0]
    json.dumps(made, allow_nan=False)
    line = _provenance.describe_provenance(made)
    assert line.startswith(f"at commit {_head()[:12]}" if _head() else "not from a git checkout") and "UTC" in line
    monkeypatch.setattr(_provenance, "_checkout", lambda: None)
    wheel = _provenance.provenance()
    assert wheel["commit"] is None and wheel["code_changed"] is None
    assert _provenance.describe_provenance(wheel).startswith("not from a git checkout")
    assert _provenance.describe_provenance(None) is None and _provenance.describe_provenance({"commit": 3}) is None
    rep = {"family": "x"}
    assert _provenance.stamped(rep)["provenance"]["learned_solvers"] == __version__ and "provenance" not in rep
