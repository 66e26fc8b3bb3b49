"""Training under torchrun (DDP, Gloo on the CPU): ranks stay in step, one checkpoint is written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import ends_within, interrupt_command

ROOT = Path(__file__).resolve().parents[1]


def _torchrun(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args],
                       env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_ddp_ranks_train_on_different_batches_and_end_with_the_same_weights(tmp_path):
    _torchrun([str(ROOT / "tests" / "ddp_train_script.py"), str(tmp_path)], tmp_path)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["sha"] == r1["sha"]  # gradients averaged every step
    assert r0["val"] == r1["val"] and r0["train"] == r1["train"]  # the reported train loss is the ranks' mean
    assert np.isfinite(r0["val"]).all()


def test_train_command_under_torchrun_writes_one_checkpoint(tmp_path):
    from learned_solvers.checkpoint import load_checkpoint

    ck = tmp_path / "rlp.safetensors"
    r = _torchrun(["-m", "learned_solvers.cli", "train", "--family", "random-lp:m=10,n=20", "--solver", "pdlp",
                   "--train", "30", "--epochs", "2", "--width", "8", "--scheduler", "serial", "--out", str(ck)], tmp_path)
    assert r.stdout.count("saved ") == 1  # rank 0 alone writes and reports
    meta = load_checkpoint(ck).meta
    assert meta["n_train"] == 30  # both ranks' labelled shares were gathered
    assert meta["best_k"] >= 0 and meta["best_network_k"] >= 1  # the automatic choice ran (k = 0: no network)


def test_train_command_under_torchrun_on_a_pde_family(tmp_path):
    from learned_solvers.checkpoint import load_checkpoint

    ck = tmp_path / "darcy.safetensors"
    r = _torchrun(["-m", "learned_solvers.cli", "train", "--family", "darcy:n=8", "--solver", "ksp", "--pc", "jacobi",
                   "--train", "10", "--epochs", "2", "--pde-width", "8", "--train-k", "4", "--scheduler", "serial",
                   "--out", str(ck)], tmp_path)
    assert "10 instances" in r.stdout
    assert load_checkpoint(ck).meta["kind"] == "pde"


_LP = ["random-lp:m=10,n=20", "--solver", "pdlp", "--width", "8"]
_PDE = ["darcy:n=8", "--solver", "ksp", "--pc", "jacobi", "--pde-width", "8", "--train-k", "4"]


@pytest.mark.parametrize("family, sig, named", [(_LP, "SIGINT", "Ctrl-C"), (_LP, "SIGTERM", "SIGTERM"),
                                                (_PDE, "SIGINT", "Ctrl-C")], ids=["lp-int", "lp-term", "pde-int"])
def test_a_signal_during_training_under_torchrun_still_writes_the_checkpoint(tmp_path, family, sig, named):
    """A terminal's Ctrl-C (SIGINT to torchrun and both ranks) or a batch scheduler's SIGTERM
    during DDP training: every rank stops at one agreed step, and rank 0 writes the best state so
    far, without the sweep that chooses k, before torchrun's agent kills the ranks (30 s after the
    signal). A rank had raised alone, the other waited in the next collective, and nothing was
    saved."""
    from learned_solvers.checkpoint import describe_checkpoint, format_checkpoint_info, load_checkpoint

    ck = tmp_path / "m.safetensors"
    rc, out, err = interrupt_command(
        ["-m", "learned_solvers.cli", "train", "--family", *family, "--train", "16", "--epochs", "100000",
         "--scheduler", "serial", "--out", str(ck)], rb"training ", 3,
        sig=sig, group=True, launcher=("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"),
        env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}, cwd=tmp_path)
    assert out.count("saved ") == 1 and ck.exists(), (rc, out, err[-3000:])
    assert f"training stopped by {named} in epoch" in err and "torchrun's agent ends the ranks" in err, err[-3000:]
    meta = load_checkpoint(ck).meta
    assert meta["interrupted"].startswith(f"stopped by {named} in epoch")
    assert "under torchrun" in meta["k_sweep_interrupted"] and not meta.get("k_sweep")  # the sweep did not run
    shown = format_checkpoint_info(describe_checkpoint(ck))  # `info`: no tolerance that no k was timed at
    assert "the validation sweep that chooses k was not run" in shown and "automatic k timed" not in shown, shown


def test_only_train_runs_under_torchrun(monkeypatch, capsys):
    from learned_solvers.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["bench", "--family", "random-lp:m=10,n=20", "--solver", "pdlp"]) == 2
    assert "only `train` runs under torchrun" in capsys.readouterr().err


def test_the_commands_are_refused_under_mpirun(tmp_path):
    """Under mpirun -n 2 a command is refused on every rank with what to do; the bench there had
    crashed with Dask's KilledWorker (its worker processes, children of MPI ranks, died)."""
    import shutil

    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun next to this Python or on PATH")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([mpirun, "-n", "2", sys.executable, "-m", "learned_solvers.cli", "bench", "--family", "darcy:n=8",
                        "--solver", "ksp", "--train", "4", "--test", "2", "--out", str(tmp_path / "b.json")],
                       env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode != 0 and r.stderr.count("not under mpirun (2 ranks)") == 2, r.stderr[-2000:]
    assert "LearnedPDEStarter" in r.stderr and "Traceback" not in r.stderr and not (tmp_path / "b.json").exists()


def test_the_python_calls_are_refused_under_mpirun_before_any_work(monkeypatch, tmp_path):
    """train, evaluate, train_pde and evaluate_pde under a launcher's MPI world of 2 (as mpirun
    announces it) say what to do, as the commands do, before reading any instance or file."""
    from learned_solvers import evaluate, evaluate_pde, train, train_pde

    monkeypatch.setenv("PMI_SIZE", "2")
    missing = tmp_path / "none.safetensors"
    for call in (lambda: train(["no-such.mps"], solver="pdlp"), lambda: evaluate(missing, ["no-such.mps"]),
                 lambda: train_pde("darcy:n=8", out=missing), lambda: evaluate_pde(missing, "darcy:n=8")):
        with pytest.raises(RuntimeError, match=r"runs as one process, not under mpirun \(2 ranks\).*docs/pde.md"):
            call()
    assert not missing.exists()
    monkeypatch.delenv("PMI_SIZE")
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun's: data-parallel training is the command line's
    with pytest.raises(RuntimeError, match="not under torchrun.*torchrun --nproc_per_node N -m learned_solvers.cli"):
        train(["no-such.mps"], solver="pdlp")


def test_epoch_share_pads_so_every_rank_takes_the_same_steps(monkeypatch):
    from learned_solvers.training import distributed

    for n in (1, 4, 5):
        shares = []
        for rank in (0, 1):
            monkeypatch.setattr(distributed, "rank_and_world", lambda rank=rank: (rank, 2))
            shares.append(distributed.epoch_share(n, np.random.default_rng(0)))
        assert len(shares[0]) == len(shares[1]) >= 1
        assert set(np.concatenate(shares)) == set(range(n))  # every batch is trained on


@pytest.mark.parametrize("n", [0, 3])
def test_one_process_is_untouched(n):
    from learned_solvers.training import distributed

    assert distributed.rank_and_world() == (0, 1)
    assert distributed.shard(list(range(n))) == list(range(n)) == distributed.gather_shards(list(range(n)))
    assert distributed.init_from_env("cpu") == "cpu"


def test_an_unreachable_dask_scheduler_is_a_clear_error():
    """Also: the Client that failed is gone at once. Left in a reference cycle, it was collected
    later inside the next test's Client start, whose __del__ then waited on the Dask lock that
    start held: the suite hung for good at the next test."""
    import gc

    from distributed import Client

    from learned_solvers.training.data import label_instances
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(2, seed=0)
    gc.collect()
    before = sum(type(o) is Client for o in gc.get_objects())
    with pytest.raises(RuntimeError, match="cannot reach a Dask scheduler at 'no-port'.*--scheduler local"):
        label_instances(qps, scheduler="no-port", progress=False)
    assert sum(type(o) is Client for o in gc.get_objects()) == before


def test_a_service_that_never_answers_as_a_dask_scheduler_is_a_clear_error_not_a_hang():
    """Dask bounds the TCP connection but not its handshake: a port that accepts and stays
    silent (the dashboard's, given for the scheduler's) hung `train --scheduler` for good."""
    import socket
    import time

    import dask
    import distributed  # noqa: F401  its config defaults loaded before dask.config.set restores the config

    from learned_solvers.training.data import label_instances
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(2, seed=0)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the backlog) and never says a word
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        start = time.perf_counter()
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            with pytest.raises(RuntimeError, match=f"cannot reach a Dask scheduler at '{address}'.*nothing "
                                                   "answered as a Dask scheduler within 2 s.*8786"):
                label_instances(qps, scheduler=address, progress=False)
        assert time.perf_counter() - start < 30


def test_labelling_on_a_running_dask_scheduler_by_its_address_matches_serial():
    """The scale-out path: `--scheduler ADDRESS` of a scheduler started elsewhere (here a
    LocalCluster in this process, reached through its TCP address like any other)."""
    from dask.distributed import LocalCluster

    from learned_solvers.training.data import label_instances
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(4, seed=0)
    serial = label_instances(qps, scheduler="serial", progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      silence_logs=40) as cluster:
        remote = label_instances(qps, scheduler=cluster.scheduler_address, progress=False)
    assert [r.objective for r in remote] == [r.objective for r in serial]


def test_asking_the_scheduler_after_a_stall_survives_a_pooled_connection_that_fails_tornados_check():
    """The stall check asks the scheduler where the awaited tasks stand. Once in CI, 30 s after a
    worker's death, that call met tornado's assertion in a pooled connection's write buffer
    (``assert 0 < size <= self._size``) and ended the labelling with it. It is asked again, once,
    after the pool's connections to the scheduler are dropped; here the first ask raises that
    assertion."""
    from dask.distributed import Client, LocalCluster

    from learned_solvers.training.data import _fetch_again

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        fut = client.submit(sum, [1, 2], pure=False)
        assert fut.result() == 3
        real, asked, dropped = client.run_on_scheduler, [], []

        def flaky(*args, **kwargs):
            asked.append(1)
            if len(asked) == 1:
                raise AssertionError  # as tornado's _StreamBuffer.advance raised it
            return real(*args, **kwargs)

        real_remove = client.rpc.remove

        def remove(addr, **kwargs):
            dropped.append(addr)
            return real_remove(addr, **kwargs)

        client.run_on_scheduler, client.rpc.remove = flaky, remove
        again, workers = _fetch_again(client, {0: fut})
        assert len(asked) == 2 and dropped == [client.scheduler.address] and workers == 1
        assert again[0].result() == 3


def test_a_dask_scheduler_with_no_workers_is_a_clear_error():
    """`dask scheduler` started and no `dask worker`: said so, with the command that adds one,
    not a TimeoutError traceback ("No valid workers found") after the work was handed over."""
    import dask
    from dask.distributed import LocalCluster

    from learned_solvers.training.data import label_instances
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(2, seed=0)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None, silence_logs=40) as cluster:
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            with pytest.raises(RuntimeError, match=f"the Dask scheduler at '{cluster.scheduler_address}' has no "
                                                   f"workers.*start `dask worker {cluster.scheduler_address}`"):
                label_instances(qps, scheduler=cluster.scheduler_address, progress=False)


def _die_on_the_third_instance() -> None:
    """Run in each Dask worker: labelling the instance named ``...[0:2]`` ends the worker's
    process, as an out-of-memory kill would."""
    import os

    import learned_solvers.training.data as data

    real = data._label

    def dying(qp, solver="auto"):
        if qp.name.endswith("[0:2]"):
            os._exit(1)
        return real(qp, solver)

    data._label = dying


def test_labelling_drops_an_instance_whose_dask_worker_dies_and_keeps_the_others():
    """A worker that dies on an instance (here it exits; no retry allowed) costs that instance,
    with Dask's reason in the warning, and the instances the other worker labelled are
    kept. Before, fut.result() raised and the whole labelling ended with a traceback."""
    import warnings

    import dask
    import distributed  # noqa: F401  its config defaults loaded before dask.config.set restores the config
    from dask.distributed import Client, LocalCluster

    from learned_solvers.training.data import label_instances
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(5, seed=0)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                          silence_logs=50) as cluster, Client(cluster) as client:
            client.run(_die_on_the_third_instance)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                got = label_instances(qps, scheduler=cluster.scheduler_address, progress=False)
    names = [d.qp.name for d in got]
    assert "random-lp[0:2]" not in names and 1 <= len(names) <= 4 and set(names) <= {q.name for q in qps}
    # Dask's KilledWorker ("... all those workers died while running it"), as raised or wrapped by the client
    assert any("dropped (failed (" in str(w.message) and "died" in str(w.message) for w in seen), \
        [str(w.message) for w in seen]
    # one reason for the tasks the death ended, not one per task's key ("_label-<uuid>-<i>")
    assert not any("_label-" in str(w.message) for w in seen), [str(w.message) for w in seen]


def test_instances_whose_scattered_copy_a_dead_worker_held_are_sent_again_not_dropped():
    """The instances are scattered to the workers, one copy each. A worker that dies takes its
    copies with it, and Dask cancels their tasks ("already forgotten"): the labelling had
    dropped those instances as failed. They are now sent again; the instance the worker died on
    is retried by Dask itself (allowed-failures left at its default), so every one is kept."""
    import warnings

    from dask.distributed import Client, LocalCluster

    from learned_solvers.training.data import label_instances
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(8, seed=0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      silence_logs=50) as cluster, Client(cluster) as client:
        client.run(_die_on_the_third_instance)  # once: the worker its nanny starts again is not told to
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            got = label_instances(qps, scheduler=cluster.scheduler_address, progress=False)
    assert [d.qp.name for d in got] == [q.name for q in qps], [str(w.message) for w in seen]


def test_a_task_dask_finished_without_reporting_it_is_fetched_again_not_waited_for_for_good(monkeypatch):
    """dask/dask#8882, met once in CI after a worker's death: the scheduler holds a task finished
    but the client was never told, and ``as_completed`` waited for good. Here the report is lost
    by hand (the client's state of one finished future set back to pending); after
    ``STALL_SECONDS`` of quiet the scheduler is asked, and the task is fetched again. One the
    scheduler never had ends as cancelled, with an error that says so."""
    from concurrent.futures import CancelledError

    from dask.distributed import Client, Future, LocalCluster, wait

    import learned_solvers.training.data as data
    from problems.registry import make_family

    monkeypatch.setattr(data, "STALL_SECONDS", 0.5)
    qps = make_family("random-lp:m=10,n=20").sample(3, seed=0)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        futures = client.map(data._label, qps, pure=False)
        wait(futures)
        futures[1]._state.reset()  # "key-in-memory" lost on its way: the client waits on a finished task
        unknown = Future("a-task-the-scheduler-never-had", client)
        got = ends_within(30, lambda: dict(data.each_completed([*futures, unknown], client=client, desc="",
                                                               progress=False)))
    assert sorted(got) == [0, 1, 2, 3] and [got[i].qp.name for i in range(3)] == [q.name for q in qps]
    # as a task whose input died with a worker: the LP/QP labelling sends its instance again
    assert isinstance(got[3], CancelledError)
    assert "scheduler lost the task 'a-task-the-scheduler-never-had' without reporting" in str(got[3])


def test_a_result_whose_fetch_failed_in_dasks_thread_is_fetched_again_not_waited_for_for_good(monkeypatch):
    """dask/distributed#7331: ``as_completed(with_results=True)`` fetches each result in Dask's
    thread, and a fetch that raised other than CancelledError (a connection closed) was never
    handed on, so the labelling waited for good. Here the first fetch raises as that one did."""
    from dask.distributed import Future, LocalCluster
    from distributed.comm import CommClosedError

    import learned_solvers.training.data as data
    from problems.registry import make_family

    real, failed = Future._result, []

    async def first_fails(self, raiseit=True):
        if not failed:
            failed.append(self.key)
            raise CommClosedError("in <TCP (closed) ConnectionPool.gather>: Stream is closed")
        return await real(self, raiseit=raiseit)

    monkeypatch.setattr(Future, "_result", first_fails)
    monkeypatch.setattr(data, "STALL_SECONDS", 0.5)
    qps = make_family("random-lp:m=10,n=20").sample(3, seed=0)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      silence_logs=50) as cluster:
        got = ends_within(60, lambda: data.label_instances(qps, scheduler=cluster.scheduler_address,
                                                           progress=False))
    assert failed and [d.qp.name for d in got] == [q.name for q in qps]


def test_labelling_on_a_scheduler_whose_workers_are_all_gone_says_so_and_goes_on_when_one_joins(monkeypatch):
    """A worker without a nanny that dies leaves its tasks waiting, and the labelling's bar
    stood still without a word; now a warning names the scheduler and the command that adds a
    worker, and the labelling ends once one has joined."""
    import threading

    from dask.distributed import Client, LocalCluster

    import learned_solvers.training.data as data
    from problems.registry import make_family

    monkeypatch.setattr(data, "STALL_SECONDS", 0.5)
    qps = make_family("random-lp:m=10,n=20").sample(3, seed=0)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        cluster.scale(0)
        while client.scheduler_info()["workers"]:
            threading.Event().wait(0.05)
        futures = client.map(data._label, qps, pure=False)
        threading.Timer(2.0, lambda: cluster.scale(1)).start()
        said = (f"the Dask scheduler at '{cluster.scheduler_address}' has no workers left, and 3 labelling tasks wait "
                f"for one: start `dask worker {cluster.scheduler_address}`")
        with pytest.warns(RuntimeWarning, match=said):
            got = ends_within(60, lambda: dict(data.each_completed(futures, client=client, desc="", progress=False)))
    assert [got[i].qp.name for i in range(3)] == [q.name for q in qps]


def _kill_the_scheduler_on_the_fourth_instance(pid: int) -> None:
    """Run in the Dask worker: labelling the instance named ``...[0:3]`` kills the scheduler's process."""
    import os
    import signal

    import learned_solvers.training.data as data

    real = data._label

    def killing(qp, solver="auto"):
        if qp.name.endswith("[0:3]"):
            os.kill(pid, signal.SIGKILL)
        return real(qp, solver)

    data._label = killing


def _scheduler_and_worker():
    """A `dask scheduler` and one `dask worker` process on a free port: (scheduler process, address, worker)."""
    import socket
    import time

    from dask.distributed import Client

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    address, dask_cli = f"tcp://127.0.0.1:{port}", str(Path(sys.executable).parent / "dask")
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)
    worker = subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard"],
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, **quiet)
    for _ in range(300):
        try:
            with Client(address, timeout="1s") as client:
                client.wait_for_workers(1, timeout=30)
            return scheduler, address, worker
        except (OSError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError("the Dask scheduler did not start")


def _stop(*processes: subprocess.Popen) -> None:
    for p in processes:
        p.kill()
        p.wait()


def test_a_dask_scheduler_that_dies_or_loses_its_workers_is_a_clear_error_not_every_instance_dropped():
    """Its death cancels every task, and the labelling had dropped each instance left as failed
    ("scheduler-connection-lost") and gone on with the few labelled; a death between rounds
    ended in "ConnectionPool closing.". Both now say the scheduler stopped answering, and what
    to do; so does a scheduler whose only worker died between rounds, and the next round's
    scatter found none."""
    import time

    import dask
    from dask.distributed import Client

    import learned_solvers.training.data as data
    from problems.registry import make_family

    qps = make_family("random-lp:m=10,n=20").sample(8, seed=0)
    said = "the Dask scheduler at '{}' stopped answering during the labelling \\({}\\).*`dask worker {}`"
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        scheduler, address, worker = _scheduler_and_worker()
        try:
            with Client(address) as client:
                client.run(_kill_the_scheduler_on_the_fourth_instance, scheduler.pid)
            with pytest.raises(RuntimeError, match=said.format(address, "[0-7] of its 8 tasks had ended", address)):
                data.label_instances(qps, scheduler=address, progress=False)
        finally:
            _stop(scheduler, worker)
        scheduler, address, worker = _scheduler_and_worker()
        try:
            with pytest.raises(RuntimeError, match=said.format(address, "[A-Za-z]*Error: .*", address)):
                with data.labelling_client(address) as client:
                    _stop(scheduler)
                    data._label_all(qps, client=client, solver="auto", progress=False)
        finally:
            _stop(scheduler, worker)
        # its only worker gone between rounds: the next round's scatter timed out, "No valid workers found"
        scheduler, address, worker = _scheduler_and_worker()
        try:
            with pytest.raises(RuntimeError, match=f"the Dask scheduler at '{address}' has no workers left "
                                                   f"\\(No valid workers found\\).*start `dask worker {address}`"):
                with data.labelling_client(address) as client:
                    _stop(worker)
                    while client.scheduler_info()["workers"]:
                        time.sleep(0.1)
                    data._label_all(qps, client=client, solver="auto", progress=False)
        finally:
            _stop(scheduler, worker)


def _sigint_handler() -> str:
    import signal

    return repr(signal.getsignal(signal.SIGINT))


def test_a_local_dask_worker_started_again_after_another_died_still_leaves_ctrl_c_to_the_caller():
    """The local cluster's workers ignore SIGINT (a terminal's Ctrl-C is the CLI's to handle),
    the first ones by inheritance; one that its nanny started again after a worker died came
    later, with asyncio's handler, and printed its own traceback at a Ctrl-C. The cluster's
    preload now ignores it in every worker process as it starts."""
    import signal
    import time

    from learned_solvers.training.data import dask_client

    with dask_client("local", workers=1) as client:
        assert set(client.run(_sigint_handler).values()) == {repr(signal.SIG_IGN)}
        ((dead, pid),) = client.run(os.getpid).items()
        os.kill(pid, signal.SIGKILL)
        for _ in range(1200):  # the dead worker stays listed until the scheduler hears of it
            workers = client.scheduler_info()["workers"]
            if workers and dead not in workers:
                break
            time.sleep(0.05)
        assert workers and dead not in workers
        assert set(client.run(_sigint_handler).values()) == {repr(signal.SIG_IGN)}
