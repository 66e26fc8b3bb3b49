"""The implicit-model core: forward solvers, gradients, memory, bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from learned_solvers.core import (
    Anderson,
    FixedPointNotConverged,
    ImplicitDiff,
    ImplicitLayer,
    JacobianFree,
    NonFiniteInputError,
    Phantom,
    Picard,
    Unrolled,
    estimate_lipschitz_z,
    fixed_point,
    jacobian_penalty,
    saved_tensors,
)


@pytest.fixture(autouse=True)
def _float64():
    """These tests check gradients to 1e-6: float64 here, and only here."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


class LinearBlock(nn.Module):
    """z <- W z + U x, with |W| < 1: closed-form fixed point (I - W)^{-1} U x."""

    def __init__(self, d: int, dx: int, *, scale: float = 0.5, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(d, d, generator=g)
        self.W = nn.Parameter(scale * w / torch.linalg.matrix_norm(w, ord=2))
        self.U = nn.Parameter(torch.randn(d, dx, generator=g))

    def forward(self, z, x):
        return z @ self.W.T + x @ self.U.T

    def init(self, x):
        return x.new_zeros(x.shape[0], self.W.shape[0])


class TanhBlock(nn.Module):
    """z <- tanh(W z + U x + b), contractive because |W| < 1 and tanh is 1-Lipschitz."""

    def __init__(self, d: int, dx: int, *, seed: int = 1) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(d, d, generator=g)
        self.W = nn.Parameter(0.7 * w / torch.linalg.matrix_norm(w, ord=2))
        self.U = nn.Parameter(torch.randn(d, dx, generator=g))
        self.b = nn.Parameter(0.1 * torch.randn(d, generator=g))

    def forward(self, z, x):
        return torch.tanh(z @ self.W.T + x @ self.U.T + self.b)

    def init(self, x):
        return x.new_zeros(x.shape[0], self.W.shape[0])


def _central_fd_check(layer: ImplicitLayer, x: torch.Tensor, params: list[torch.Tensor]):
    """Compare implicit gradients of a scalar loss with central differences (float64)."""
    c = torch.randn(x.shape[0], layer.block.W.shape[0], generator=torch.Generator().manual_seed(9))

    def loss() -> torch.Tensor:
        return (layer(x, tol=1e-13, max_iter=500).z * c).sum() + layer(x, tol=1e-13, max_iter=500).z.pow(2).sum()

    for p in params:
        p.grad = None
    loss().backward()
    for p in params:
        analytic = p.grad.detach().clone()
        numeric = torch.zeros_like(p)
        h = 1e-6
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + h
            with torch.no_grad():
                up = loss().item()
            flat[i] = old - h
            with torch.no_grad():
                dn = loss().item()
            flat[i] = old
            numeric.view(-1)[i] = (up - dn) / (2 * h)
        rel = (analytic - numeric).norm() / numeric.norm()
        assert rel < 1e-6, f"relative gradient error {rel:.2e}"


@pytest.mark.parametrize("block_cls", [LinearBlock, TanhBlock])
def test_implicit_gradient_matches_finite_differences(block_cls):
    block = block_cls(5, 3)
    layer = ImplicitLayer(block, solver=Anderson(), backward=ImplicitDiff(tol=1e-13, max_iter=500))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(3), requires_grad=True)
    _central_fd_check(layer, x, [block.W, block.U, x])


def test_linear_block_fixed_point_is_closed_form():
    block = LinearBlock(6, 3)
    x = torch.randn(7, 3)
    z = ImplicitLayer(block)(x, tol=1e-12, max_iter=300).z
    exact = torch.linalg.solve(torch.eye(6) - block.W, (x @ block.U.T).T).T
    assert torch.allclose(z, exact, atol=1e-9)


def test_cheaper_backward_modes_run_and_point_the_right_way():
    block = TanhBlock(5, 3)
    x = torch.randn(8, 3)
    grads = {}
    for name, mode in [("implicit", ImplicitDiff()), ("jfb", JacobianFree()),
                       ("phantom", Phantom(steps=8, damping=0.8)), ("unrolled", Unrolled())]:
        block.zero_grad()
        layer = ImplicitLayer(block, backward=mode)
        layer(x, k=60).z.pow(2).sum().backward()
        grads[name] = block.U.grad.detach().clone().view(-1)
    ref = grads["implicit"]
    for name in ("jfb", "phantom", "unrolled"):
        cos = torch.dot(grads[name], ref) / (grads[name].norm() * ref.norm())
        assert cos > 0.8, (name, cos)
    assert torch.allclose(grads["unrolled"], ref, rtol=1e-5)


def _saved_bytes(mode, k: int) -> int:
    block = TanhBlock(64, 16)
    layer = ImplicitLayer(block, solver=Picard(), backward=mode)
    x = torch.randn(32, 16)
    with saved_tensors() as rec:
        z = layer(x, k=k).z
    z.sum().backward()
    return rec.bytes


def test_training_memory_constant_in_k_under_implicit_differentiation():
    implicit_4, implicit_64 = _saved_bytes(ImplicitDiff(), 4), _saved_bytes(ImplicitDiff(), 64)
    unrolled_4, unrolled_64 = _saved_bytes(Unrolled(), 4), _saved_bytes(Unrolled(), 64)
    assert implicit_64 <= implicit_4
    assert unrolled_64 > 8 * unrolled_4
    assert implicit_64 < unrolled_64


def test_anderson_beats_picard_at_contraction_095():
    d = 40
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    w = q @ torch.diag(torch.linspace(-0.95, 0.95, d)) @ q.T
    b = torch.randn(3, d, generator=g)

    def f(z):
        return z @ w.T + b

    z0 = torch.zeros(3, d)
    pic = fixed_point(f, z0, solver=Picard(), tol=1e-8, max_iter=2000)
    anda = fixed_point(f, z0, solver=Anderson(memory=8), tol=1e-8, max_iter=2000)
    assert bool(pic.converged.all()) and bool(anda.converged.all())
    assert anda.iterations < pic.iterations
    assert anda.residuals.shape == (anda.iterations, 3)


def test_k_is_exact_and_iterates_are_returned():
    block = TanhBlock(4, 2)
    x = torch.randn(3, 2)
    out = ImplicitLayer(block, solver=Picard())(x, k=7, return_iterates=True)
    assert out.solve.iterations == 7
    assert len(out.solve.iterates) == 7
    errs = [(it - out.solve.iterates[-1]).norm() for it in out.solve.iterates[:-1]]
    assert errs[-1] < errs[0]


def test_nan_input_raises_clear_error():
    block = TanhBlock(4, 2)
    x = torch.randn(3, 2)
    with pytest.raises(NonFiniteInputError, match="NaN or inf"):
        fixed_point(lambda z: block(z, x), torch.full((3, 4), float("nan")))


def test_nan_in_instance_is_flagged_not_converged():
    block = TanhBlock(4, 2)
    x = torch.randn(3, 2)
    x[1, 0] = float("nan")
    with pytest.warns(RuntimeWarning, match="did not reach"):
        out = ImplicitLayer(block)(x, tol=1e-8)
    assert not bool(out.solve.converged.any()) or not bool(out.solve.converged[1])
    assert bool(out.solve.diverged[1])


def test_divergent_block_reported_not_converged():
    def f(z):
        return 1.5 * z + 1.0

    z0 = torch.zeros(2, 3)
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = fixed_point(f, z0, solver=Picard(), tol=1e-8, max_iter=200)
    assert not bool(res.converged.any())
    assert bool(res.diverged.all())
    with pytest.raises(FixedPointNotConverged):
        fixed_point(f, z0, solver=Picard(), tol=1e-8, max_iter=50, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed_k = fixed_point(f, z0, solver=Picard(), k=5)  # a fixed k claims nothing, warns nothing
    assert not bool(fixed_k.converged.any())


def test_stability_tools():
    block = TanhBlock(6, 3)
    x = torch.randn(5, 3)
    z = ImplicitLayer(block)(x, tol=1e-10).z.detach()
    lip = estimate_lipschitz_z(lambda v: block(v, x), z)
    assert lip.shape == (5,) and bool((lip < 0.7 + 1e-6).all())
    pen = jacobian_penalty(lambda v: block(v, x), z)
    pen.backward()
    assert block.W.grad is not None and pen.item() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_runs_on_cuda():
    block = TanhBlock(8, 4).cuda()
    x = torch.randn(3, 4, device="cuda")
    out = ImplicitLayer(block)(x, tol=1e-10)
    out.z.sum().backward()
    assert out.z.device.type == "cuda" and bool(out.solve.converged.all())


def test_training_that_never_reaches_a_finite_score_is_refused_not_saved():
    """A loss that is NaN from the first epoch: ``fit`` raises with the epoch, where it handed
    back the NaN weights (a checkpoint that would only warn and fall back at every solve)."""
    import numpy as np

    from learned_solvers.training.loop import fit

    model = nn.Linear(2, 1)
    x = torch.ones(4, 2)

    def batch_loss(net, batch):
        return net(batch).sum() * float("nan"), None, None

    with pytest.raises(RuntimeError, match="no model with a finite val_error in 2 epochs .*NaN or inf from epoch 0"):
        fit(model, [x], batch_loss=batch_loss, val_score=lambda: float("nan"), epochs=2, lr=1e-3,
            jacobian_weight=0.0, rng=np.random.default_rng(0), desc="t", val_key="val_error", progress=False)


def test_the_training_bar_counts_batches_so_a_long_epoch_shows_progress(monkeypatch):
    """The training bar moves a step a batch, with the epoch in its postfix: it had moved once an
    epoch, and an epoch of large instances (AUG2DC, 20,200 variables: 90 s) left it at 0/5 as
    if hung."""
    import numpy as np

    import learned_solvers.training.loop as loop

    bars = []

    class Bar:
        def __init__(self, *args, **kwargs):
            self.total, self.n, self.seen = kwargs["total"], 0, []
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def set_postfix(self, d, refresh=True):
            self.seen.append((self.n, d["epoch"]))

        def close(self):
            pass

    monkeypatch.setattr(loop, "tqdm", Bar)
    model = nn.Linear(2, 1)
    batches = [torch.randn(4, 2) for _ in range(5)]
    counts = []

    def batch_loss(net, batch):
        counts.append(bars[0].n)  # the bar's count as each batch starts
        return (net(batch) ** 2).mean(), None, None

    loop.fit(model, batches, batch_loss=batch_loss, val_score=lambda: 1.0, epochs=3, lr=1e-3, jacobian_weight=0.0,
             rng=np.random.default_rng(0), desc="t", val_key="val_error", progress=True)
    assert bars[0].total == 15 and bars[0].n == 15 and counts == list(range(15))
    assert bars[0].seen[0] == (0, "1/3") and (5, "1/3") in bars[0].seen and bars[0].seen[-1] == (15, "3/3")


def test_ctrl_c_in_training_keeps_the_best_state_so_far():
    """A KeyboardInterrupt in epoch 4: ``fit`` stops, warns, and returns the best of the three
    completed epochs (not the half-stepped weights); before any state exists it re-raises."""
    import numpy as np

    from learned_solvers.training.loop import TrainingInterrupted, fit

    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    x, t = torch.randn(16, 2), torch.randn(16, 1)
    seen, states = [], []

    def batch_loss(net, batch):
        if len(seen) == 3:
            raise KeyboardInterrupt
        return ((net(batch) - t) ** 2).mean(), None, None

    def val_score():
        seen.append(1)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return float(((model(x) - t) ** 2).mean())

    why = r"epoch 4 of 50 \(3 completed\); the model keeps its best.*Ctrl-C again cuts choosing k short"
    with pytest.warns(TrainingInterrupted, match=why):
        res = fit(model, [x], batch_loss=batch_loss, val_score=val_score, epochs=50, lr=1e-2,
                  jacobian_weight=0.0, rng=np.random.default_rng(0), desc="t", val_key="val_error", progress=False)
    assert res.epochs_done == 3 and len(res.history) == 3 and "stopped by Ctrl-C" in res.interrupted
    best = min(range(3), key=lambda i: res.history[i]["val_error"])
    assert all(torch.equal(v, states[best][k]) for k, v in model.state_dict().items())
    assert res.best_val == res.history[best]["val_error"]

    seen.clear()
    seen.extend([1, 1, 1])  # interrupted in the first epoch: nothing to keep, so Ctrl-C aborts as usual
    with pytest.raises(KeyboardInterrupt):
        fit(nn.Linear(2, 1), [x], batch_loss=batch_loss, val_score=val_score, epochs=5, lr=1e-2,
            jacobian_weight=0.0, rng=np.random.default_rng(0), desc="t", val_key="val_error", progress=False)


def test_model_configs_refuse_values_of_the_wrong_type_or_range():
    """A model config (which a checkpoint records) refuses a field of the wrong type or range
    when it is made, naming it (`core.check_fields`), instead of failing in a forward pass or
    running for days (a train_k beyond `core.K_LIMIT`)."""
    from learned_solvers.core import K_LIMIT
    from learned_solvers.models.mesh_gnn import MeshGNNConfig
    from learned_solvers.models.qp_gnn import QPGNNConfig

    for cfg, why in ((lambda: QPGNNConfig(width=0), "QPGNNConfig.width must be a positive integer, got 0"),
                     (lambda: QPGNNConfig(width=16.5), "QPGNNConfig.width must be a positive integer"),
                     (lambda: QPGNNConfig(damping=2.0), r"QPGNNConfig.damping must be a number in \(0, 1\]"),
                     (lambda: QPGNNConfig(backward="unrolled"), "QPGNNConfig.backward must be one of 'implicit'"),
                     (lambda: QPGNNConfig(train_k=K_LIMIT + 1), f"train_k must be a positive integer up to {K_LIMIT}"),
                     (lambda: MeshGNNConfig(damping={}), "MeshGNNConfig.damping must be a number"),
                     (lambda: MeshGNNConfig(quasilinear=(1.0, 2.0)), r"quasilinear must be \(a0, a1, a2\) or None")):
        with pytest.raises(ValueError, match=why):
            cfg()
    with pytest.raises(TypeError, match="QPGNNConfig.unit_messages must be True or False, got 'yes'"):
        QPGNNConfig(unit_messages="yes")
    assert QPGNNConfig(width=8, train_k=K_LIMIT).train_k == K_LIMIT
    assert MeshGNNConfig(quasilinear=[1, 0, 1]).quasilinear == (1.0, 0.0, 1.0)


def test_training_configs_refuse_a_penalty_weight_or_seed_out_of_range():
    """An infinite Jacobian penalty weight made every training loss inf and the weights NaN
    (training then failed blaming the instance data), and a negative seed failed in numpy
    naming no option."""
    from learned_solvers.training.train import TrainConfig
    from learned_solvers.training.train_pde import PDETrainConfig

    for cls in (TrainConfig, PDETrainConfig):
        for weight in (float("inf"), float("nan"), -1.0):
            with pytest.raises(ValueError, match="jacobian_weight must be a finite number >= 0"):
                cls(jacobian_weight=weight)
        for seed in (-1, 2**32, 1.5, True):
            with pytest.raises(ValueError, match="seed must be an integer from 0 to 4294967295"):
                cls(seed=seed)
        assert cls(jacobian_weight=0.0, seed=2**32 - 1).seed == 2**32 - 1
        # each numeric option where it is given, not after the labelling, where a NaN rate had failed in torch's
        # optimiser ("Invalid learning rate: nan"), a batch of 0 in range(), a float epoch count likewise
        name = cls.__name__
        for opts, why in (({"lr": float("nan")}, "lr must be a finite number > 0"), ({"lr": -1e-3}, "lr must be"),
                          ({"batch": 0}, "batch must be a positive integer"), ({"epochs": 2.5}, "epochs must be"),
                          ({"width": "8"}, "width must be a positive integer"),
                          ({"val_fraction": 1.5}, r"val_fraction must be a number in \(0, 1\]"),
                          ({"val_fraction": 0.0}, "val_fraction must be")):
            with pytest.raises(ValueError, match=f"{name}.{why}"):
                cls(**opts)
    with pytest.raises(ValueError, match="TrainConfig.backward must be one of 'implicit', 'phantom', got 'unrolled'"):
        TrainConfig(backward="unrolled")
    for opts, why in (({"residual_weight": -1.0}, "residual_weight must be a finite number >= 0"),
                      ({"anchor_dropout": 2.0}, r"anchor_dropout must be a number in \[0, 1\]")):
        with pytest.raises(ValueError, match=f"PDETrainConfig.{why}"):
            PDETrainConfig(**opts)
    with pytest.raises(TypeError, match="PDETrainConfig.solution_state must be True, False or None, got 1"):
        PDETrainConfig(solution_state=1)
    assert PDETrainConfig(anchor_dropout=0.0, residual_weight=0.0, train_k=None).train_k is None


def test_bench_configs_refuse_a_count_or_flag_of_the_wrong_type_before_any_work():
    """``n_test=2.5`` had failed in ``range()`` after the labelling ("'float' object cannot be
    interpreted as an integer"), and ``polish="yes"`` after it too; both are refused by name."""
    from learned_solvers.bench.pde import PDEBenchConfig
    from learned_solvers.bench.qp import BenchConfig
    from learned_solvers.bench.scaling import ScalingConfig
    from learned_solvers.bench.sensitivity import SensitivityConfig

    for make in (lambda **o: BenchConfig(family="random-lp", **o), lambda **o: PDEBenchConfig(family="darcy", **o),
                 lambda **o: ScalingConfig(family="random-lp", checkpoint="c.safetensors", **o),
                 lambda **o: SensitivityConfig(family="random-lp", **o)):
        for n in (2.5, "20", True):
            with pytest.raises(ValueError, match=f"n_test must be a whole number of instances, got {n!r}"):
                make(n_test=n)
    with pytest.raises(ValueError, match="n_train must be a whole number of instances, got 1.5"):
        PDEBenchConfig(family="darcy", n_train=1.5)
    assert PDEBenchConfig(family="darcy", n_train=None, checkpoint="c.safetensors").n_train is None
    with pytest.raises(TypeError, match="polish must be True, False or None"):
        BenchConfig(family="random-lp", polish="yes")
    with pytest.raises(TypeError, match="polish must be True or False"):
        ScalingConfig(family="random-lp", checkpoint="c.safetensors", polish=None)


def test_a_batch_with_a_nan_loss_is_skipped_not_learned_from():
    """One batch of four with an inf loss, every epoch: its steps are skipped with a warning and
    the weights stay finite and fit the other batches. Before, the first such step made every
    weight NaN, and the validation's forward pass then failed blaming the instance data."""
    import numpy as np

    from learned_solvers.training.loop import fit

    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    w = torch.tensor([[1.5, -2.0]])
    batches = [torch.randn(8, 2) for _ in range(4)]

    def batch_loss(net, batch):
        loss = ((net(batch) - batch @ w.T) ** 2).mean()
        return (loss * float("inf") if batch is batches[2] else loss), None, None

    def val_score():
        out = model(batches[0])
        if not torch.isfinite(out).all():
            raise ValueError("the starting point holds NaN or inf; check the instance data")
        return float(((out - batches[0] @ w.T) ** 2).mean())

    with pytest.warns(RuntimeWarning, match="40 of 160 training steps had a NaN or inf loss or gradient and were skip"):
        res = fit(model, batches, batch_loss=batch_loss, val_score=val_score, epochs=40, lr=5e-2,
                  jacobian_weight=0.0, rng=np.random.default_rng(0), desc="t", val_key="val_error", progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert res.best_val < 0.05 * float(((batches[0] @ w.T) ** 2).mean())
