"""Labelled instances: each instance solved cold by a reference solver.

The default (``solver="auto"``): HiGHS for LPs and MIPs, whose simplex basis is the optimal
active set the polish starts from; Clarabel (interior point) for QPs, with the active set read
off its multipliers, since HiGHS' active-set QP solver can take minutes an instance where
Clarabel takes milliseconds (``backends/clarabel.py``). A QP Clarabel does not find optimal is
solved by HiGHS as well (within ``CONFIRM_SECONDS``), whose optimum is then the label: Clarabel,
cvxpy's too, called QPs with a row bound of 1e12 or more unbounded, strictly convex ones among
them, and such bounds are how many models write "no bound".

Solving is embarrassingly parallel: ``scheduler="local"`` starts a Dask ``LocalCluster``
(processes), an address (``tcp://host:8786``) uses an existing Dask cluster, and
``"serial"`` solves in this process (tests, tiny families).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .._interrupt import sigint_ignored
from .._progress import tqdm
from ..backends import Status, make_backend
from ..canonical import QPData
from ..canonical.polish import optimal_active_set

__all__ = ["Labelled", "Drawn", "solve_reference", "reference_solver", "label_instances", "label_and_drop",
           "label_drawn", "refill_draws", "refill_note", "REFILL_FACTOR", "dask_client", "labelling_client",
           "failure_reason", "each_completed", "each_ended_or_sent_again", "STALL_SECONDS", "SENT_AGAIN",
           "repeated_instances", "check_distinct", "SAME_DATA_ADVICE", "IN_TRAINING", "IN_HELD_OUT"]


@dataclass(frozen=True)
class Labelled:
    """An instance with its reference optimum (x: (n,), y: (m,)) and, from a simplex
    reference, its optimal active set (row_side (m,), var_side (n,))."""

    qp: QPData
    x: np.ndarray
    y: np.ndarray
    objective: float
    active: tuple[np.ndarray, np.ndarray] | None = None


def reference_solver(qp: QPData, solver: str = "auto") -> str:
    """The solver that labels ``qp``: ``solver`` itself unless it is 'auto' (see the module)."""
    if solver != "auto":
        return solver
    return "clarabel" if qp.P is not None and qp.integrality is None else "highs"


def solve_reference(qp: QPData, solver: str = "auto") -> Labelled | None:
    """Solve ``qp`` cold; ``None`` unless the solver reports an optimum with duals."""
    out = _label(qp, solver)
    return out if isinstance(out, Labelled) else None


def failure_reason(exc: BaseException) -> str:
    """Why a labelling task failed, for the warning that drops its instances: the error's type
    and its message's first line (Dask's KilledWorker runs on for lines), a Dask task's key in
    it shortened to the function's name, so that the tasks one worker's death ended give one
    reason, not one each."""
    said = (str(exc).splitlines() or [""])[0]
    for key in (getattr(exc, "key", None), getattr(exc, "task", None)):  # FutureCancelledError's, KilledWorker's
        if isinstance(key, str) and key:
            from dask.utils import key_split

            said = said.replace(key, key_split(key))
    return f"{type(exc).__name__}: {said[:200]}"


def _task_error(got: Any) -> BaseException | None:
    """The error in what ``as_completed(..., with_results=True, raise_errors=False)`` gave with a
    future: (type, error, traceback) for a task that raised or whose worker died, the
    CancelledError itself for one cancelled; None for a result. Read from what it gave, not from
    the future's status, which can change after: a result fetched, then its copy lost with a
    worker, reads 'cancelled'."""
    if isinstance(got, BaseException):
        return got
    if isinstance(got, tuple) and len(got) == 3 and isinstance(got[1], BaseException):
        return got[1]
    return None


class _Forgotten(CancelledError):
    """``each_completed``'s, for a task the scheduler no longer knows while this client still
    awaited it: as a cancelled one, whose input died with a worker."""


def _failure(exc: BaseException) -> str:
    return f"failed ({failure_reason(exc)})"


def _label(qp: QPData, solver: str = "auto") -> Labelled | str:
    """``solve_reference``, or the status that kept the instance from being one; a solve that
    raises is such a status too, so one instance does not end a long labelling run."""
    try:
        return _label_one(qp, solver)
    except Exception as exc:  # noqa: BLE001  dropped with its reason, as a status is
        return _failure(exc)


CONFIRM_SECONDS = 60.0
"""HiGHS' time limit where it confirms a QP verdict of Clarabel's other than an optimum"""


def _label_one(qp: QPData, solver: str) -> Labelled | str:
    name = reference_solver(qp, solver)
    res = make_backend(name).solve(qp)
    if solver == "auto" and name == "clarabel" and res.status != Status.OPTIMAL:
        confirmed = make_backend("highs", time_limit=CONFIRM_SECONDS).solve(qp)
        res = confirmed if confirmed.status == Status.OPTIMAL else res
    if res.status != Status.OPTIMAL or res.x is None or res.y is None:
        return res.status if res.status != Status.OPTIMAL else "optimal without duals"
    active = res.extra.get("active")
    if active is None and qp.P is not None:
        active = optimal_active_set(qp, res.x, res.y)
    return Labelled(qp=qp, x=res.x, y=res.y, objective=res.objective, active=active)


def _connect(scheduler: str) -> Any:
    """``Client(scheduler)``, refused with what to do if no Dask scheduler answers there. Dask
    bounds the TCP connection by its connect timeout but not the handshake after it: a service
    that accepts and never answers (the dashboard's HTTP port, 8787, given for the scheduler's
    8786) would hang the command, so the whole connection is waited for twice that timeout."""
    import gc
    import threading

    import dask
    from dask.distributed import Client
    from dask.utils import parse_timedelta

    limit = 2 * parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="seconds")
    got: dict[str, Any] = {}

    def connect() -> None:
        try:
            got["client"] = Client(scheduler)
        except BaseException as exc:  # noqa: BLE001  handed to the caller's thread
            got["error"] = exc
            # The half-made Client lives on in the traceback's frames, in a reference cycle. Its
            # __del__ closes its loop under Dask's class-wide LoopRunner lock: collected later
            # inside another Client's start, which holds that lock, it deadlocked that thread
            # and every Client after it (seen in the test suite). Freed here, where no lock is held.
            seen: set[int] = set()
            e: BaseException | None = exc
            while e is not None and id(e) not in seen:
                seen.add(id(e))
                e.__traceback__ = None
                e = e.__cause__ or e.__context__
            del exc, e
            gc.collect()

    worker = threading.Thread(target=connect, name="dask-connect", daemon=True)  # daemon: a hung one ends with us
    worker.start()
    worker.join(limit)
    exc = got.get("error")
    if "client" in got:
        client = got["client"]
        try:  # a scheduler with no worker takes the work and fails 30 s later with "No valid workers found"
            client.wait_for_workers(1, timeout=limit)
        except (TimeoutError, OSError) as none:
            client.close()
            raise RuntimeError(f"the Dask scheduler at {scheduler!r} has no workers (none joined within {limit:g} s): "
                               f"start `dask worker {scheduler}` on each machine, or use --scheduler local (this "
                               "machine) or serial (this process)") from none
        return client
    why = (f"{type(exc).__name__}: {str(exc)[:160]}" if exc is not None else
           f"nothing answered as a Dask scheduler within {limit:g} s; the scheduler's port is usually 8786, the "
           "dashboard's 8787")
    # also what a non-Dask service there makes Dask's protocol raise (a MemoryError from a garbage
    # frame length), which is no fault of the user's data
    raise RuntimeError(f"cannot reach a Dask scheduler at {scheduler!r}, or what answers there is not one ({why}); "
                       "start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) or use --scheduler "
                       "local (this machine) or serial (this process)") from exc


@contextmanager
def dask_client(scheduler: str, workers: int | None = None) -> Iterator[Any]:
    """A Dask client, closed afterwards: 'local' starts a LocalCluster of ``workers`` processes
    (default 2) on this machine; anything else is the address of a running scheduler."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler == "local":
        # a port of the system's choosing: with None the scheduler's HTTP server still takes 8787, and a
        # second cluster (another rank under torchrun, another command) warned that it was in use
        try:
            # logs at CRITICAL only: a task's failure and a worker's death come back through its
            # future (the warning that drops the instance says why), and what Dask logged as an ERROR
            # was a worker's heartbeat meeting the scheduler closed, with its traceback, at each Ctrl-C
            # the worker processes inherit SIGINT ignored, and the preload ignores it in one started
            # again later: a Ctrl-C is this process's to handle
            with sigint_ignored():
                cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
                                       preload=["learned_solvers._interrupt"])
        except RuntimeError as exc:  # "Nanny failed to start.": the worker processes' own errors went to the log
            raise RuntimeError(
                f"the local Dask cluster's worker processes did not start ({exc}). Each is a new Python process that "
                "first imports the script that started it: in a script, call train, evaluate or the labelling under "
                "`if __name__ == \"__main__\":`, or label in this process (scheduler=\"serial\", --scheduler serial)"
            ) from exc
        client = Client(cluster)
    else:
        client = _connect(scheduler)
    try:
        yield client
    except BaseException as exc:
        from distributed.comm import CommClosedError

        # read before the client is closed below: a scheduler gone between rounds, which the
        # client tried to reach again for Dask's connect timeout before its next call raised
        # "ConnectionPool closing."
        gone = isinstance(exc, CommClosedError) or (isinstance(exc, OSError) and client.status != "running")
        # a Ctrl-C (or an error) mid-labelling: the tasks still in flight end with the connections
        # closed here, and Dask and tornado logged each as an ERROR with a traceback, after the
        # line that says why the run stopped
        with _quiet_loggers("distributed", "distributed.client", "tornado"):
            _close(client, cluster)
        if isinstance(exc, _SchedulerGone):
            raise _labelling_lost(scheduler, str(exc)) from exc
        if gone:
            raise _labelling_lost(scheduler, f"{type(exc).__name__}: {str(exc)[:160]}") from exc
        if isinstance(exc, TimeoutError) and "No valid workers" in str(exc):  # scatter's, with every worker gone
            raise _labelling_lost(scheduler, str(exc), workers_gone=True) from exc
        raise
    _close(client, cluster)


class _SchedulerGone(ConnectionError):
    """``each_completed``'s: the client lost its scheduler mid-labelling (``dask_client`` says
    what to do, knowing which scheduler the user named)."""


def _labelling_lost(scheduler: str, detail: str, *, workers_gone: bool = False) -> RuntimeError:
    """The error that ends a labelling whose Dask scheduler stopped answering or, with
    ``workers_gone``, has no workers left: what happened, and what to do."""
    local, cluster, where = scheduler == "local", "the local Dask cluster", f"the Dask scheduler at {scheduler!r}"
    if workers_gone:
        what = f"{cluster if local else where} has no workers left ({detail})"
        todo = ("use --scheduler serial (this process)" if local else
                f"start `dask worker {scheduler}` on each machine and run it again, or use --scheduler local "
                "(this machine) or serial (this process)")
    else:
        whose = f"{cluster}'s scheduler" if local else where
        what = f"{whose} stopped answering during the labelling ({detail})"
        todo = ("label in this process (--scheduler serial; scheduler='serial' from Python)" if local else
                f"start it again (`dask scheduler`, then `dask worker {scheduler}` on each machine), or label on "
                "this machine (--scheduler local; scheduler='local' from Python)")
    return RuntimeError(f"{what}; the instances labelled so far are not kept: {todo}")


def _close(client: Any, cluster: Any) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


@contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """The named loggers (and those below them) silent for the block."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextmanager
def labelling_client(scheduler: str, workers: int | None = None) -> Iterator[Any]:
    """``dask_client``, or None for 'serial' (label in this process): one cluster for every
    round of a labelling that draws more, not one started a round."""
    if scheduler == "serial":
        yield None
        return
    with dask_client(scheduler, workers) as client:
        yield client


def label_instances(qps: Sequence[QPData], *, scheduler: str = "local", workers: int | None = None,
                    solver: str = "auto", progress: bool = True, hint: str = "") -> list[Labelled]:
    """Solve every instance with ``solver``; instances that are not optimal are dropped with a
    warning (the ``mps:`` family's rule), ending with ``hint`` (the family's advice). Order is kept.
    ``label_drawn`` also replaces the dropped ones by further draws of the family."""
    return label_and_drop(qps, scheduler=scheduler, workers=workers, solver=solver, progress=progress, hint=hint)[0]


def label_and_drop(qps: Sequence[QPData], *, scheduler: str = "local", workers: int | None = None,
                   solver: str = "auto", progress: bool = True, hint: str = "") -> tuple[list[Labelled], list[int]]:
    """``label_instances``, and the positions in ``qps`` of the instances it dropped (a labelled
    instance from a Dask worker holds a copy of its problem, not the caller's object)."""
    with labelling_client(scheduler, workers) as client:
        out = _label_all(qps, client=client, solver=solver, progress=progress)
    _warn_dropped(qps, out, solver, hint)
    return [o for o in out if isinstance(o, Labelled)], [i for i, o in enumerate(out) if not isinstance(o, Labelled)]


SAME_DATA_ADVICE = ("the model learns how the answer moves with the data, so a family's instances must differ in it: a "
                    "build(rng) must draw its data from rng, an mps: family needs --perturb above 0, and a cvxpy "
                    "problem over cp.Parameter compiles at the values it holds when read (pass as_qp(problem) after "
                    "each change of the values)")


IN_TRAINING = "and one in both the training and the validation split flatters the choice of k"
"""``check_distinct``'s consequence of repeated training instances."""
IN_HELD_OUT = "each counted in the report's medians as often as it appears"
"""``check_distinct``'s consequence of repeated held-out instances."""


def repeated_instances(qps: Sequence[QPData]) -> list[tuple[int, int]]:
    """(i, j) for each instance ``i`` whose data is instance ``j``'s, ``j < i`` the first with it."""
    first: dict[str, int] = {}
    out = []
    for i, qp in enumerate(qps):
        j = first.setdefault(qp.data_digest, i)
        if j != i:
            out.append((i, j))
    return out


def check_distinct(qps: Sequence[QPData], *, what: str, consequence: str, positions: bool = True,
                   refuse: bool = True) -> None:
    """Refuse ``qps`` (``what``: 'training instances', ...) where they hold one problem's data
    and there are several (``refuse``), and warn where some repeat another's, saying what follows
    (``consequence``; ``positions``: name them by position in ``qps``)."""
    repeats = repeated_instances(qps)
    distinct = len(qps) - len(repeats)
    if refuse and len(qps) >= 2 and distinct < 2:
        raise ValueError(f"the {len(qps)} {what} are one problem: each holds the same data (costs, constraints, "
                         f"sides and bounds); {SAME_DATA_ADVICE}")
    # under torchrun every rank holds the same instances: rank 0 (torchrun's RANK) says it
    if repeats and os.environ.get("RANK", "0") == "0":
        said = ""
        if positions:
            named = ", ".join(f"{i} repeats {j}" for i, j in repeats[:4])
            said = f" ({named}{', ...' if len(repeats) > 4 else ''})"
        warnings.warn(f"{len(repeats)} of the {len(qps)} {what} repeat another's data exactly{said}: {distinct} "
                      f"distinct problems, {consequence}; {SAME_DATA_ADVICE}", RuntimeWarning, stacklevel=3)


REFILL_FACTOR = 10
"""``refill_draws`` draws at most this many times the instances asked for."""

T = TypeVar("T")


@dataclass(frozen=True)
class Drawn:
    """``label_drawn``'s result: the labelled instances kept, in draw order, and how many
    draws they rest on (``drawn``: up to the last one kept; ``drawn - len(kept)`` dropped)."""

    kept: list[Labelled]
    drawn: int
    refilled: bool


def label_drawn(draw: Callable[[int], Sequence[QPData]], count: int, *, refill: bool, scheduler: str = "local",
                workers: int | None = None, solver: str = "auto", progress: bool = True, hint: str = "",
                first: Sequence[QPData] | None = None, shard: Callable[[list], list] = list,
                gather: Callable[[list], list] = list, warn: bool = True) -> Drawn:
    """The first ``count`` instances of ``draw(n)`` (a family's first n draws of one seed; ``first``:
    those already drawn) labelled as ``label_instances`` does, the dropped ones replaced by
    further draws where ``refill`` (``refill_draws``): a user asking for 30 instances of an
    ``mps:`` file whose perturbations are often infeasible trains on 30, not on the few left.
    Under torchrun, ``shard`` and ``gather`` (``training.distributed``'s) give each rank its share
    of every round; ``warn``: say what was dropped (rank 0 alone)."""
    with labelling_client(scheduler, workers) as client:
        drawn, out, refilled = refill_draws(
            draw, count, lambda qps: gather(_label_all(shard(qps), client=client, solver=solver, progress=progress)),
            refill=refill, first=first)
    res = Drawn(kept=[o for o in out if isinstance(o, Labelled)], drawn=len(out), refilled=refilled)
    if warn:
        tail = refill_note(len(res.kept), count, len(out), refilled)
        _warn_dropped(drawn, out, solver, tail + ("; " if tail and hint else "") + hint)
    return res


def refill_draws(draw: Callable[[int], Sequence[T]], count: int, label: Callable[[list[T]], list[Any]], *,
                 refill: bool, first: Sequence[T] | None = None) -> tuple[list[T], list[Any], bool]:
    """``label`` (one result per instance: a kept item, or a str saying why it was dropped) on the
    first ``count`` draws of ``draw(n)``; where ``refill`` (a family whose draws extend,
    ``draw(n + m)[:n] == draw(n)``), on further draws in place of the dropped ones, until
    ``count`` are kept or ``REFILL_FACTOR * count`` are drawn. Returns (the draws the first
    ``count`` kept ones rest on, their results, whether more than ``count`` were drawn): the
    kept ones are the stream's first, whatever a round's size."""
    insts = list(first) if first is not None else list(draw(count))
    drawn: list[T] = []
    out: list[Any] = []
    cap = REFILL_FACTOR * count
    while insts:
        out += label(insts)
        drawn += insts
        n_kept = sum(not isinstance(o, str) for o in out)
        if not refill or n_kept >= count or n_kept == 0 or len(drawn) >= cap:
            break  # none kept: the family's perturbation, not the count, is what must change
        # the keep rate so far, with a margin, so that one more round usually suffices
        more = min(cap - len(drawn), max(count - n_kept, math.ceil(1.25 * (count - n_kept) * len(drawn) / n_kept)))
        insts = list(draw(len(drawn) + more))[len(drawn):]
    kept_at = [i for i, o in enumerate(out) if not isinstance(o, str)][:count]
    used = kept_at[-1] + 1 if len(kept_at) == count else len(out)  # draws past the count-th kept one are unused
    return drawn[:used], out[:used], used > count


def refill_note(n_kept: int, count: int, drawn: int, refilled: bool) -> str:
    """What the labelling warning adds where further draws stood in for dropped instances."""
    if not refilled:
        return ""
    if n_kept == count:
        return f"further draws stood in for them ({count} kept of the {drawn} drawn)"
    return (f"only {n_kept} of the {count} asked for were kept after {drawn} draws (at most {REFILL_FACTOR}x the "
            "count are drawn)")


SENT_AGAIN = 2
"""How many times a labelling sends again the tasks Dask cancelled for no fault of their own
(``each_ended_or_sent_again``)"""


def _label_all(qps: Sequence[QPData], *, client: Any, solver: str, progress: bool) -> list[Labelled | str]:
    """Each instance labelled (in this process where ``client`` is None), or the status (str)
    that kept it from being one; order kept."""
    if client is None:
        return [_label(q, solver) for q in tqdm(qps, desc="labelling", disable=not progress)]

    def send(todo: list[int], sent: int) -> list[Any]:
        # scattered first: instances inside the task graph make Dask warn of a large graph and send
        # them through the scheduler. But a scattered copy lives on one worker only: where that
        # worker dies, Dask cancels the task that needed it ("already forgotten"), so it is sent
        # again, inside the graph this time (the scheduler keeps it, so a further death costs
        # nothing; a scatter right after a death once met a tornado assertion in the client's
        # connection to the scheduler)
        if sent == 0:
            return client.map(_label, client.scatter([qps[i] for i in todo]), solver=solver, pure=False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*large graph", category=UserWarning)
            return client.map(_label, [qps[i] for i in todo], solver=solver, pure=False)

    out: list[Any] = [None] * len(qps)
    for i, got in each_ended_or_sent_again(send, len(qps), client=client, desc="labelling (dask)",
                                           progress=progress):
        # a worker that died on it (KilledWorker): this one is dropped
        out[i] = _failure(got) if isinstance(got, BaseException) else got
    return out


def each_ended_or_sent_again(send: Callable[[list[int], int], list[Any]], count: int, *, client: Any, desc: str,
                             progress: bool) -> Iterator[tuple[int, Any]]:
    """``each_completed`` over ``count`` tasks that ``send(positions, sent)`` submits (one
    future per position; ``sent``: how many times those were sent before), where a task Dask
    cancelled (its scattered input died with a worker, or its scheduler lost it:
    ``_Forgotten``) is sent again, up to ``SENT_AGAIN`` times, rather than ended: no fault of
    its own. Yields (position, result or error), each position once."""
    todo = list(range(count))
    for sent in range(SENT_AGAIN + 1):
        lost = []
        futures = send(todo, sent)
        said = desc if sent == 0 else f"{desc}, again: Dask lost {len(todo)} of its tasks"
        for j, got in each_completed(futures, client=client, desc=said, progress=progress):
            if isinstance(got, CancelledError) and sent < SENT_AGAIN:
                lost.append(todo[j])
            else:
                yield todo[j], got
        if not lost:
            return
        todo = lost


STALL_SECONDS = 30.0
"""How long ``each_completed`` waits with no task ending before it asks the scheduler for the
tasks Dask finished and never reported"""


def each_completed(futures: Sequence[Any], *, client: Any, desc: str,
                   progress: bool) -> Iterator[tuple[int, Any]]:
    """(position in ``futures``, its task's result or, where the task did not finish, the error
    why: an exception) for each Dask future as it ends, each position once, with a progress bar.

    Results come in Dask's own thread: a Ctrl-C in a ``fut.result()`` call met a race in Dask's
    ``sync()`` that printed a NameError traceback from tornado as the run stopped. But after a
    worker's death ``as_completed`` can wait for good: a result whose fetch raised in its
    thread is never handed on (dask/distributed#7331), and a task the scheduler holds finished
    may never be reported (dask/dask#8882); met once in CI. So after ``STALL_SECONDS`` with
    nothing ending, the scheduler is asked where the tasks left stand: one it holds in memory or
    erred is fetched again through a fresh task that returns it (the fresh key is reported
    anew), one it no longer knows ends as cancelled, with an error that says so.

    A lost connection to the scheduler, which cancels every task, raises rather than give each
    task's error: no instance failed, and no later round can run. A scheduler with no workers
    left (one without a nanny that died) is said in a warning, once: Dask waits for one to join."""
    from dask.distributed import as_completed

    done = as_completed(futures, with_results=True, raise_errors=False)
    position = {f.key: i for i, f in enumerate(futures)}
    latest = dict(enumerate(futures))  # the future still awaited at each position left

    def ended() -> str:
        return f"{len(futures) - len(latest)} of its {len(futures)} tasks had ended"

    quiet_since, said_no_workers = time.monotonic(), False
    with tqdm(total=len(futures), desc=desc, disable=not progress) as bar:
        while latest:
            batch = done.next_batch(block=False)
            for fut, got in batch:
                i = position[fut.key]
                if i not in latest:  # a position ends once, by its first future
                    continue
                error = _task_error(got)
                got = got if error is None else error
                if getattr(got, "reason", None) == "scheduler-connection-lost":
                    raise _SchedulerGone(ended())
                del latest[i]
                bar.update()
                yield i, got
            if batch:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= STALL_SECONDS:
                if client.status != "running":  # gone with results unreported: no scheduler to ask
                    raise _SchedulerGone(ended())
                fetched, workers = _fetch_again(client, latest)
                if not workers and not said_no_workers:
                    # a worker without a nanny that died: Dask waits for another to join, for good
                    said_no_workers = True
                    address = client.scheduler.address
                    warnings.warn(f"the Dask scheduler at {address!r} has no workers left, and {len(latest)} "
                                  f"labelling tasks wait for one: start `dask worker {address}` (the labelling "
                                  "goes on when one joins), or stop it (Ctrl-C)", RuntimeWarning, stacklevel=3)
                for i, again in fetched.items():
                    if isinstance(again, BaseException):
                        del latest[i]
                        bar.update()
                        yield i, again
                    else:
                        position[again.key], latest[i] = i, again
                        done.add(again)
                quiet_since = time.monotonic()
            else:
                time.sleep(0.1)  # polled: a Ctrl-C ends the wait


def _same(value: Any) -> Any:
    return value


def _fetch_again(client: Any, awaited: dict[int, Any]) -> tuple[dict[int, Any], int]:
    """For each awaited future the scheduler holds in memory or erred (so Dask has finished with it
    and ``as_completed`` lost it), a fresh future of a task that returns it, or fails as it
    did; for one the scheduler no longer knows, a ``_Forgotten`` error (a CancelledError, as a
    task whose input died with a worker: ``each_ended_or_sent_again`` sends it again). And how
    many workers the scheduler has."""

    # defined here so that cloudpickle sends it by value: a remote scheduler need not have this package
    def states(keys: list, dask_scheduler: Any = None) -> tuple[list, int]:
        return [getattr(dask_scheduler.tasks.get(k), "state", None) for k in keys], len(dask_scheduler.workers)

    from dask.utils import key_split

    positions = list(awaited)
    keys = [awaited[i].key for i in positions]
    try:
        said, workers = client.run_on_scheduler(states, keys=keys)
    except AssertionError:
        # tornado's write buffer failing its own check on a pooled connection to the scheduler (met
        # once in CI, at this call 30 s after a worker's death): asked again, once, on a fresh one
        async def drop_pooled() -> None:
            client.rpc.remove(client.scheduler.address)

        client.sync(drop_pooled)
        said, workers = client.run_on_scheduler(states, keys=keys)
    again: dict[int, Any] = {}
    for i, state in zip(positions, said):
        if state in ("memory", "erred"):
            again[i] = client.submit(_same, awaited[i], pure=False)
        elif state is None:
            again[i] = _Forgotten(f"Dask's scheduler lost the task {key_split(awaited[i].key)!r} without reporting "
                                  "how it ended (dask/dask#8882)")
    return again, workers


def _warn_dropped(qps: Sequence[QPData], out: Sequence[Labelled | str], solver: str, hint: str) -> None:
    lost = [(q, o) for q, o in zip(qps, out) if not isinstance(o, Labelled)]
    if not lost:
        return
    why = Counter(o for _, o in lost)
    said = ", ".join(f"{status} {count}" for status, count in why.most_common(4))
    said += f", and {len(why) - 4} other reasons" if len(why) > 4 else ""
    by = ", ".join(sorted({reference_solver(q, solver) for q, _ in lost}))
    warnings.warn(f"{len(lost)} of {len(out)} instances were not solved to optimality by {by} "
                  f"and were dropped ({said})" + (f"; {hint}" if hint else ""), RuntimeWarning, stacklevel=3)
