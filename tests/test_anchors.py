"""The anchor bank: the nearest training optimum and the family's linear model."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from learned_solvers.backends import make_backend
from learned_solvers.bench.qp import train_starter
from learned_solvers.checkpoint import describe_checkpoint, format_checkpoint_info
from learned_solvers.models.anchors import LINEAR_MIN_INSTANCES, AnchorBank, _Ridge, raw_vector
from learned_solvers.training.data import label_instances
from learned_solvers.training.train import TrainConfig
from learned_solvers.training.train_pde import PDETrainConfig
from learned_solvers.warmstart import LearnedWarmStarter, OutOfFamilyWarning, UnseenSizeWarning
from problems.drifting_files import write_files
from problems.registry import make_family

from .conftest import netlib

# initial states small enough that no input saturates: the optimum is linear in the initial state
LINEAR_MPC = "mpc:horizon=5,spread=0.05"


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def mpc_data():
    fam = make_family(LINEAR_MPC)
    train = label_instances(fam.sample(40, seed=0), scheduler="serial", progress=False)
    test = label_instances(fam.sample(5, seed=1), scheduler="serial", progress=False)
    return train, test


def test_linear_anchor_recovers_an_optimum_that_is_linear_in_the_data(mpc_data):
    train, test = mpc_data
    linear, nearest = AnchorBank.build(train, kind="linear"), AnchorBank.build(train)
    for it in test:
        x, y = linear.anchor(it.qp)
        assert x.shape == it.x.shape and y.shape == it.y.shape
        assert _rel(x, it.x) < 1e-4  # a small ridge penalty and the reference solver's accuracy
        assert _rel(y, it.y) < 1e-3
        assert _rel(nearest.anchor(it.qp)[0], it.x) > 100 * _rel(x, it.x)
    # a training instance's own optimum is left out in training: its leave-one-out prediction
    for j in (0, 7):
        x_loo = linear.anchor(train[j].qp, exclude=j)[0]
        assert _rel(x_loo, train[j].x) < 1e-4 and not np.array_equal(x_loo, train[j].x)
    # the baseline and the polish's candidates stay the nearest instances'
    assert linear.lookup(test[0].qp)[0][0] is nearest.lookup(test[0].qp)[0][0] or np.array_equal(
        linear.lookup(test[0].qp)[0][0], nearest.lookup(test[0].qp)[0][0])


def test_linear_anchor_falls_back_to_the_nearest_optimum_with_few_instances(mpc_data):
    train, test = mpc_data
    few = AnchorBank.build(train[:LINEAR_MIN_INSTANCES - 1], kind="linear")
    np.testing.assert_array_equal(few.anchor(test[0].qp)[0], few.nearest(test[0].qp)[0])
    with pytest.raises(ValueError, match="anchor kind must be one of nearest, linear"):
        AnchorBank.build(train, kind="ridge")
    with pytest.raises(ValueError, match="anchor must be one of nearest, linear"):
        TrainConfig(anchor="ridge")
    with pytest.raises(ValueError, match="anchor must be one of kernel, nearest or None"):
        PDETrainConfig(anchor="linear")


def test_no_anchor_trains_and_runs_without_a_bank(mpc_data):
    train, test = mpc_data
    starter, _ = train_starter(make_family(LINEAR_MPC).spec(), train, progress=False,
                               config=TrainConfig(epochs=1, width=8, train_k=4, anchor=None))
    assert starter.anchors is None
    x, y = starter.iterate(test[0].qp, k=2)
    assert x.shape == (test[0].qp.n,) and np.isfinite(x).all() and np.isfinite(y).all()
    # torch's threads are the caller's to choose (by default one below THREADS_FROM graph nodes):
    # the same iterate up to the order of float32 sums, and the caller's setting restored
    before = torch.get_num_threads()
    x2, y2 = starter.iterate(test[0].qp, k=2, threads=2)
    np.testing.assert_allclose(x2, x, rtol=1e-5, atol=1e-6)
    assert torch.get_num_threads() == before
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            starter.warm_start(test[0].qp, threads=bad)
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            starter.threads = bad


def test_the_starters_threads_run_every_call_that_names_none(mpc_data, monkeypatch):
    """``starter.threads`` (bench --threads) is what a call without threads runs on; a call's own
    wins; None keeps the rule by graph size (one thread on this small graph)."""
    import learned_solvers.warmstart as ws
    from learned_solvers._threads import THREADS_FROM

    train, test = mpc_data
    starter, _ = train_starter(make_family(LINEAR_MPC).spec(), train, progress=False,
                               config=TrainConfig(epochs=1, width=8, train_k=4), threads=2)
    ran, real = [], ws.torch_threads
    monkeypatch.setattr(ws, "torch_threads", lambda n: ran.append(n) or real(n))
    qp = test[0].qp
    assert qp.n + qp.m < THREADS_FROM and starter.threads == 2
    starter.iterate(qp, k=1)
    starter.iterate(qp, k=1, threads=1)
    starter.threads = None
    starter.iterate(qp, k=1)
    assert ran == [2, 1, 1]


def test_checkpoint_keeps_the_anchor_kind_and_older_banks_load_as_nearest(mpc_data, tmp_path):
    train, test = mpc_data
    starter, _ = train_starter(make_family(LINEAR_MPC).spec(), train, progress=False,
                               config=TrainConfig(epochs=1, width=8, train_k=4))
    assert starter.anchors.kind == "linear"  # the default
    path = starter.save(tmp_path / "m.safetensors")
    again = LearnedWarmStarter.from_checkpoint(path)
    assert again.anchors.kind == "linear"
    qp = test[0].qp
    np.testing.assert_allclose(again.iterate(qp, k=0)[0], starter.iterate(qp, k=0)[0], rtol=0, atol=1e-12)
    assert _rel(again.iterate(qp, k=0)[0], test[0].x) < 1e-4
    # a bank saved before the linear anchor: no raw data, no kind
    old = {k: v for k, v in starter.anchors.state().items() if not k.endswith(".raw") and k != "anchors.linear"}
    bank = AnchorBank.from_state({k: torch.as_tensor(v) for k, v in old.items()})
    assert bank.kind == "nearest"
    np.testing.assert_array_equal(bank.anchor(qp)[0], bank.nearest(qp)[0])
    # a linear bank saved before the affine kernel (its mark 1, not 2) refits the centred one its
    # network was trained with
    state = starter.anchors.state()
    assert float(state["anchors.linear"][0]) == 2.0
    centred = AnchorBank.from_state({**state, "anchors.linear": torch.ones(1)})
    g = next(iter(centred.groups.values()))
    assert not g.affine and g.ridge().intercept == 0.0
    expect = _Ridge.fit(g.raw, g.x, g.y, affine=False).predict(raw_vector(qp))[0]
    np.testing.assert_allclose(centred.anchor(qp)[0], np.clip(expect, qp.lb, qp.ub), rtol=0, atol=1e-12)


def test_the_polish_corrects_first_the_active_set_training_found_nearer(tmp_path):
    """Training reads, on the validation split, which active set is nearer the optimum's: the one
    read off the anchor or the nearest training instance's; the polish corrects that one first,
    the checkpoint keeps the choice, and one from before it corrects the nearest's first."""
    import learned_solvers.canonical.polish as polish_module
    import learned_solvers.warmstart as ws
    from learned_solvers.bench.qp import choose_polish_first
    from learned_solvers.canonical.polish import (active_set_distance, optimal_active_set, polish,
                                                  predicted_active_set)
    from learned_solvers.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    fam = make_family("mpc:horizon=5")  # inputs that saturate: the active sets vary
    data = label_instances(fam.sample(40, seed=0), scheduler="serial", progress=False)
    train, val = data[:32], data[32:]
    starter, info = train_starter(fam.spec(), train, progress=False, config=TrainConfig(epochs=1, width=8, train_k=4))
    starter.anchors = AnchorBank.build(train, kind="linear")
    pred, near = [], []
    for it in val:
        anchor, cands = starter.anchors.anchor_and_candidates(it.qp)
        opt = it.active if it.active is not None else optimal_active_set(it.qp, it.x, it.y)
        pred.append(active_set_distance(it.qp, predicted_active_set(it.qp, *anchor), opt))
        near.append(active_set_distance(it.qp, cands[0], opt))
    expect = "predicted" if np.median(pred) < np.median(near) else "nearest"
    assert choose_polish_first(starter, val) == expect
    assert choose_polish_first(starter, [replace(it, qp=it.qp.with_data(P=None)) for it in val[:1]]) is None  # an LP
    assert info.get("polish_first") in (None, "nearest", "predicted")

    # the polish's first factorisation is of the set asked for
    qp = val[0].qp
    anchor, cands = starter.anchors.anchor_and_candidates(qp)
    first, real = [], polish_module._qp_active_point
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(polish_module, "_qp_active_point", lambda q, kkt, rs, vs, *a, **k: (
            first.append((np.asarray(rs).copy(), np.asarray(vs).copy())), real(q, kkt, rs, vs, *a, **k))[1])
        for predicted_first in (False, True):
            first.clear()
            p = polish(qp, *anchor, candidates=cands, predicted_first=predicted_first)
            want = predicted_active_set(qp, *anchor) if predicted_first else cands[0]
            assert active_set_distance(qp, first[0], want) == 0
            assert p.merit < 1e-9

    # the starter passes its choice on; the checkpoint keeps it; an older one corrects the nearest's first
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ws, "polish_pair", lambda *a, **k: calls.append(k["predicted_first"]) or polish(*a, **k))
        for choice in ("predicted", "nearest"):
            starter.polish_first = choice
            path = starter.save(tmp_path / f"{choice}.safetensors")
            again = LearnedWarmStarter.from_checkpoint(path, k=0)
            assert again.polish_first == choice
            said = "from the start's own active set first" in format_checkpoint_info(describe_checkpoint(path))
            assert said == (choice == "predicted")  # learned-solvers info says so
            again.warm_start(qp)
        assert calls == [True, False]
    ck = load_checkpoint(tmp_path / "nearest.safetensors", kind=ws.KIND)
    old = {k: v for k, v in ck.meta.items() if k != "polish_first"}
    save_checkpoint(tmp_path / "old.safetensors", ck.state, old)
    assert LearnedWarmStarter.from_checkpoint(tmp_path / "old.safetensors").polish_first == "nearest"
    save_checkpoint(tmp_path / "bad.safetensors", ck.state, {**old, "polish_first": "random"})
    with pytest.raises(CheckpointError, match="polish_first is 'random', not one of nearest, predicted"):
        LearnedWarmStarter.from_checkpoint(tmp_path / "bad.safetensors")


def test_linear_anchor_leave_one_out_is_honest_with_fewer_instances_than_data():
    """random-lp varies c, x0 and slacks entry by entry: more data than a bank has instances. The
    affine kernel's closed-form leave-one-out error matches the error on held-out instances; the
    centred kernel's (the linear anchor's before 8b8b793) was near zero, its instance leaking
    back through the mean, and training corrected anchors that a new instance never gets."""
    fam = make_family("random-lp:m=20,n=40")
    data = label_instances(fam.sample(44, seed=0), scheduler="serial", progress=False)
    train, test = data[:30], data[30:]
    raw = np.stack([raw_vector(i.qp) for i in train])
    x, y = np.stack([i.x for i in train]), np.stack([i.y for i in train])
    assert raw.shape[1] > len(train)

    def errors(r: _Ridge) -> tuple[float, float]:
        held = np.median([_rel(r.predict(raw_vector(i.qp))[0], i.x) for i in test])
        return float(np.median([_rel(a, b) for a, b in zip(r.loo_x, x)])), float(held)

    loo, held = errors(_Ridge.fit(raw, x, y))
    assert 0.5 * held < loo < 2.0 * held
    loo, held = errors(_Ridge.fit(raw, x, y, affine=False))
    assert loo < 0.05 * held


@pytest.mark.parametrize("penalty", [1e-12, 1e-8, 1e-2])
def test_closed_form_leave_one_out_equals_the_refit_without_the_instance_at_any_penalty(penalty):
    """``best_ridge``'s leave-one-out predictions against refits without each instance (the mean
    of all kept, as the closed form has it), on a Gram matrix near the identity: there a small
    penalty makes the fit all but interpolate, and a floored 1 - leverage once reported an
    error near zero for refits that miss by 100%."""
    from learned_solvers.models.anchors import best_ridge

    rng = np.random.default_rng(0)
    pts = rng.standard_normal((30, 3))
    gram = np.exp(-((pts[:, None] - pts[None]) ** 2).sum(-1) / 0.05)  # narrow: off-diagonals near 0
    t = rng.standard_normal((30, 4)) + 2.0
    s, v = np.linalg.eigh(gram)
    fit = best_ridge(np.maximum(s, 0.0), v, t, (penalty,))
    refits = []
    for i in range(30):
        rest = np.delete(np.arange(30), i)
        alpha = np.linalg.solve(gram[np.ix_(rest, rest)] + penalty * np.eye(29), t[rest] - t.mean(0))
        refits.append(t.mean(0) + gram[i, rest] @ alpha)
    assert np.allclose(fit.loo, np.array(refits), rtol=1e-6, atol=1e-8)
    errors = np.linalg.norm(np.array(refits) - t, axis=1) / np.linalg.norm(t, axis=1)
    assert fit.error == pytest.approx(float(np.median(errors)), rel=1e-6)


@pytest.fixture(scope="module")
def drifting(tmp_path_factory):
    """Transport LPs whose customers come and go (8-11 of 12, 3 plants), labelled by HiGHS."""
    folder = tmp_path_factory.mktemp("drifting")
    write_files("transport", folder, 30, pool=12, low=8, high=11, suppliers=3)
    fam = make_family(f"files:{folder}/*.mps,held_out=0.2")
    train = label_instances(fam.sample(len(fam.pools[0]), seed=0), scheduler="serial", progress=False)
    test = label_instances(fam.sample_held_out(len(fam.pools[1]), seed=0), scheduler="serial", progress=False)
    return fam, train, test


def test_a_bank_of_drifting_files_reads_every_instance_by_name(drifting):
    """Files whose model drifts by name (sizes and positions change, names keep their meaning):
    the bank keeps every training instance in the union of their names and reads an instance of
    any size in, and its anchor back, by name; an instance of another model gets none."""
    fam, train, test = drifting
    assert len({(t.qp.n, t.qp.m) for t in train}) > 1  # several sizes, and positions that move
    bank = AnchorBank.build(train, kind="nearest")
    union = {v for t in train for v in t.qp.var_names}
    assert bank.layout is not None and bank.layout.size == (len(union), len({c for t in train for c in t.qp.con_names}))
    assert list(bank.groups) == [bank.layout.size]
    # a training instance finds itself, read back in its own positions, in any order of its names
    it = train[3]
    x, y = bank.nearest(it.qp)
    np.testing.assert_array_equal(x, it.x)
    np.testing.assert_array_equal(y, it.y)
    cols, rows = np.arange(it.qp.n)[::-1], np.arange(it.qp.m)[::-1]
    x, y = bank.nearest(it.qp.reordered(cols, rows))
    np.testing.assert_array_equal(x, it.x[cols])
    np.testing.assert_array_equal(y, it.y[rows])
    (_, cands) = bank.lookup(it.qp)
    np.testing.assert_array_equal(cands[0][0], it.active[0])  # (rows' sides, variables')
    np.testing.assert_array_equal(cands[0][1], it.active[1])
    # leaving it out finds another day, whose values of the customers missing that day read as 0
    other, _ = bank.nearest(it.qp, exclude=3)
    assert other.shape == (it.qp.n,) and not np.array_equal(other, it.x)
    # held-out days, whatever their size, get an anchor of their own size; the linear one (from 8
    # instances) lies nearer their optima than the position-blind one of the same-size group did
    linear = AnchorBank.build(train, kind="linear")
    for t in test:
        assert bank.covers(t.qp) and linear.anchor(t.qp)[0].shape == (t.qp.n,)
        assert linear.anchor(t.qp)[1].shape == (t.qp.m,)
    err = np.median([_rel(linear.anchor(t.qp)[0], t.x) for t in test])
    assert err < 0.6, err
    # the names travel in the weights file's tensors (no pickle) and read back the same anchors
    again = AnchorBank.from_state({k: v.clone() for k, v in linear.state().items()})
    assert again.layout == linear.layout
    np.testing.assert_array_equal(again.anchor(test[0].qp)[0], linear.anchor(test[0].qp)[0])
    # another model (afiro's names): no anchor; one model's files (mps:) keep groups by size
    afiro = make_family(f"mps:{netlib('afiro')}")
    assert linear.anchor(afiro.sample(1, seed=0)[0]) is None
    same = label_instances(afiro.sample(4, seed=0), scheduler="serial", progress=False)
    assert AnchorBank.build(same).layout is None
    # a folder of different models (afiro's and the days' names): groups by size, as before
    mixed = AnchorBank.build(same + train)
    assert mixed.layout is None and (same[0].qp.n, same[0].qp.m) in mixed.groups
    np.testing.assert_array_equal(mixed.nearest(same[0].qp)[0], same[0].x)
    with pytest.raises(ValueError, match="kind must be one of transport, portfolio"):
        write_files("shipping", fam.pattern, 1)
    with pytest.raises(ValueError, match="need 1 <= low <= high <= pool"):
        write_files("transport", fam.pattern, 1, low=13, pool=12)


def test_a_model_of_drifting_files_starts_days_of_unseen_sizes_from_their_anchor(drifting, tmp_path):
    """Trained on drifting files, a checkpoint anchors a held-out day of a size no training day
    had (no unseen-size warning), and the warm solve ends where the cold one does."""
    fam, train, test = drifting
    starter, _ = train_starter(fam.spec(), train, progress=False, config=TrainConfig(epochs=1, width=8, train_k=4))
    again = LearnedWarmStarter.from_checkpoint(starter.save(tmp_path / "drift.safetensors"))
    assert again.anchors.layout == starter.anchors.layout
    shown = format_checkpoint_info(describe_checkpoint(tmp_path / "drift.safetensors"))
    assert "the union of their names: an instance of any size is read in by name" in shown
    # a day on which all 12 customers order: 36 variables x 15 constraints, a size no training day had
    write_files("transport", tmp_path / "all", 1, pool=12, low=12, high=12, suppliers=3, seed=999)
    full = label_instances(make_family(f"files:{tmp_path}/all/*.mps,held_out=0.5").sample(1, seed=0),
                           scheduler="serial", progress=False)
    assert (full[0].qp.n, full[0].qp.m) not in {(t.qp.n, t.qp.m) for t in train}
    pdlp = make_backend("pdlp")
    for t in test + full:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnseenSizeWarning)
            # k = 0: the anchor alone (without the layout, at an unseen size there was none: a cold start)
            res = again.solve(t.qp, pdlp, k=0)
        assert res.extra["fallback"] is None and res.status == "optimal"
        assert abs(res.objective - t.objective) <= 1e-4 * (1 + abs(t.objective))
    # a day whose names are none of the training days' (another model's) is warned about, and solved
    q = test[0].qp
    stranger = replace(q, var_names=tuple(f"x{i}" for i in range(q.n)), con_names=tuple(f"r{i}" for i in range(q.m)))
    with pytest.warns(UnseenSizeWarning, match="fewer than half its variables or constraints carry"):
        res = again.solve(stranger, pdlp, k=1)
    with (pytest.warns(OutOfFamilyWarning, match="no training instance whose names this one shares; solving from"),
          pytest.warns(UnseenSizeWarning)):
        assert again.solve(stranger, pdlp, k=0).extra["fallback"] == "no training instance of this size"
    assert res.status == "optimal" and abs(res.objective - test[0].objective) <= 1e-4 * (1 + abs(test[0].objective))
