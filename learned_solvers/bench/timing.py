"""Timing shared by the benches: the same solve repeated, the fastest run kept (the iterations
are the same every time; millisecond timings on a shared machine are not)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import numpy as np

from .._interrupt import forget_frames, stop_reason
from ..backends.base import SolveResult, Status

__all__ = ["TIMING_REPEATS", "K_TIE", "POLISH_WINS", "BARELY_FEWER", "CLOSER", "Outcome", "fastest", "outcome",
           "parsimonious_k", "parsimonious_start", "wins_by_instance", "stop_on_ctrl_c", "failed_row", "verdict",
           "validation_verdict", "reached_optimum", "unreached_line", "short_starts",
           "warn_cold_cut_short"]

T = TypeVar("T")
TIMING_REPEATS = 3
K_TIE = 0.05  # relative difference of median times below which two ks count as a tie


def failed_row(name: str, exc: Exception, *, trace: bool = False) -> dict[str, str]:
    """A held-out instance whose run raised, as the report keeps it (named, with its error, and
    with ``trace`` the last frames), so that the sweep goes on with the others."""
    row = {"name": name, "error": f"{type(exc).__name__}: {exc}"}
    if trace:
        import traceback

        row["trace"] = traceback.format_exc(limit=3)
    return row


_NOT_REACHED = ("at a limit, an error or a verdict of no optimum, or solved cold in the start's place, count in the "
                "ratios with the iterations they took")
"""how the tables read the solves that are not ``reached_optimum``"""


def reached_optimum(res: SolveResult) -> bool:
    """A sweep's solve (``SolveResult``) ended at the solver's optimum, to its tolerance, from the start
    it was given: not at a limit, an error or a verdict, not inaccurate, not solved cold in its place. The
    iterations of any other solve count in the sweep's ratios, but read as a figure of another kind."""
    return res.status == Status.OPTIMAL and not res.inaccurate and not res.extra.get("fallback")


def unreached_line(what: str) -> str:
    """The table's line under a sweep whose ``converged`` column counts fewer ``reached_optimum`` solves
    of ``what`` than ran."""
    return (f"(converged: the solves {what} that ended at the solver's optimum; the others, {_NOT_REACHED}, so read a "
            "row with fewer as the solver's effort, not as the start's gain)")


def short_starts(converged: dict[str, int] | None, n: int) -> str | None:
    """A bench table's line where the solves from some start did not all end at the solver's optimum from
    it (``converged``: {start: count of ``reached_optimum`` solves} of ``n`` instances; None in reports
    from before the count), or None: that start's ratio then counts the solver's effort, not the start's
    gain (a baseline's too, which a learned start is measured against)."""
    if not converged or all(c >= n for c in converged.values()):
        return None
    return ("at the solver's optimum from their start: " + ", ".join(f"{s} {c}/{n}" for s, c in converged.items())
            + f"; the other solves, {_NOT_REACHED}")


def warn_cold_cut_short(cold: list[SolveResult], solver: str, *, what: str, judged: str) -> int:
    """Warn where cold solves (``SolveResult``s) of ``what`` ended at the solver's time or iteration
    limit: ``judged`` (the ratios to them) then compare with solves cut short. Returns how many did."""
    if short := sum(c.status == Status.LIMIT for c in cold):
        warnings.warn(f"{short} of the {len(cold)} cold solves {what} ended at the solver's limit ({solver}'s time "
                      f"or iteration limit): {judged} compare with solves cut short; raise the limit (--time-limit, "
                      "time_limit=) for fair ones", RuntimeWarning, stacklevel=3)
    return short


@contextmanager
def stop_on_ctrl_c(total: int, done: Callable[[], int]) -> Iterator[list[str]]:
    """Around a bench's loop over held-out instances: a Ctrl-C ends the loop and leaves in the
    yielded list how far it got, so the report is written on the finished instances (an hour's
    bench is not lost to one keypress); before the first one finishes, it aborts as usual."""
    stopped: list[str] = []
    try:
        yield stopped
    except KeyboardInterrupt as exc:
        if done() == 0:
            raise
        stopped.append(f"stopped by {stop_reason()} after {done()} of {total} held-out instances")
        warnings.warn(f"bench {stopped[0]}; reporting on those ({stop_reason()} again aborts it)", UserWarning,
                      stacklevel=3)
        forget_frames(exc)


@contextmanager
def cut_short(total: int, done: Callable[[], int]) -> Iterator[list[str]]:
    """Around the validation sweep that chooses the automatic k: a Ctrl-C or SIGTERM ends it and
    leaves in the yielded list how far it got, so that the choice is made on the instances
    finished and the trained model is kept (a sweep takes minutes on large instances)."""
    stopped: list[str] = []
    try:
        yield stopped
    except KeyboardInterrupt as exc:
        stopped.append(f"stopped by {stop_reason()} after {done()} of {total} validation instances")
        forget_frames(exc)


def sweep_skipped(training_stopped: str | None) -> str | None:
    """Why the validation sweep that chooses the automatic k does not run, or None: after a
    SIGTERM, a batch scheduler's kill follows (Slurm's 30 s later), and under torchrun its agent
    kills the ranks 30 s after any signal, so the trained model must be saved before that,
    whatever the sweep would cost."""
    if not training_stopped:
        return None
    from ..training.distributed import rank_and_world

    if rank_and_world()[1] > 1:
        return (f"not run: training was stopped by {stop_reason()} under torchrun (its agent ends the ranks 30 s "
                "after the signal)")
    if stop_reason() == "SIGTERM":
        return "not run: training was stopped by SIGTERM (a batch scheduler's kill follows it)"
    return None


def sweep_cut_short(cut: str, *, chosen: bool, default: str) -> None:
    """Say that the automatic k's validation sweep was cut short (or skipped), and what the model runs."""
    from ..training.loop import TrainingInterrupted

    then = ("the start is chosen on those" if chosen else
            f"the model keeps {default} (another: --k to solve or bench, starter.k from Python)")
    warnings.warn(f"the automatic k's validation sweep was {cut}; {then}. The trained model is kept",
                  TrainingInterrupted, stacklevel=3)


TOO_FEW_TO_JUDGE = 5
"""held-out instances below which the table says the figures are too few to judge a family by"""


def dropped_line(rep: dict, *, why: str = "not solved to optimality by the reference solver") -> str | None:
    """The table's line on the instances dropped for ``why`` (the report's ``dropped``), or None."""
    d = rep.get("dropped") or {}
    if not (d.get("train") or d.get("test")):
        return None
    parts = [f"{d[s]} of the {d[f'{s}_drawn']} {what}" for s, what in (("train", "training"), ("test", "held-out"))
             if d.get(s)]
    few = rep["n_test"] < TOO_FEW_TO_JUDGE
    # the family drew more in their place (training.data.label_drawn), up to the counts asked for
    more = " (further draws stood in for them)" if d.get("refilled") else ""
    return (f"dropped, {why}: {' and '.join(parts)} instances drawn{more}; the "
            f"figures are of the {rep['n_test']} held-out instance{'s' * (rep['n_test'] != 1)} left"
            + (f", too few to judge the family by ({advice(rep).test}, or a family that keeps more: see the "
               "labelling warning)" if few else ""))


def fastest(run: Callable[[], tuple[T, float]], repeats: int = TIMING_REPEATS) -> tuple[T, float]:
    """``run()`` returns (result, seconds); the result and seconds of its fastest call."""
    best: tuple[T, float] | None = None
    for _ in range(max(1, repeats)):
        out = run()
        if best is None or out[1] < best[1]:
            best = out
    return best  # type: ignore[return-value]


def parsimonious_k(rows: list[dict], *, tie: float = K_TIE) -> int:
    """The smallest k whose ``total_seconds_median`` is within ``tie`` of the fastest row's:
    a larger k that is not clearly faster on the validation split is noise, and costs more
    model iterations on every later solve."""
    best = min(r["total_seconds_median"] for r in rows)
    return int(min(r["k"] for r in rows if r["total_seconds_median"] <= (1.0 + tie) * best))


POLISH_WINS = 0.5
"""share of validation instances that going without the polish must win, more than this, for it to go"""


def wins_by_instance(a: dict, b: dict, *, wins: float = POLISH_WINS) -> bool:
    """Whether setting ``a`` beats ``b`` instance by instance: on more than ``wins`` of the
    validation instances it saves more, relatively, in time than it costs in solver
    iterations, (time a / time b) x (iterations a / iterations b) < 1. ``a`` and ``b`` are
    validation rows with per-instance ``seconds`` and ``iterations``, in one order. The rule by
    which the polish goes and k = 0 (no network, the anchor) replaces the network's k, on both
    the LP/QP and the PDE side: by time alone a start that costs nothing would win wherever
    solves are short, whatever it costs in iterations."""
    times = np.asarray(a["seconds"]) / np.maximum(b["seconds"], 1e-12)
    # + 1: a start on the optimum leaves the solver no iterations
    iters = (np.asarray(a["iterations"]) + 1.0) / (np.asarray(b["iterations"]) + 1.0)
    return bool(times.size and np.mean(times * iters < 1.0) > wins)


def parsimonious_start(rows: list[dict], *, tie: float = K_TIE, wins: float = POLISH_WINS) -> tuple[bool, int]:
    """(polish, k) from rows with ``polish``, ``k``, ``total_seconds_median`` and, per validation
    instance in one order, ``seconds`` and ``iterations``; then ``parsimonious_k`` among that
    setting's rows.

    The fastest setting of each kind (by median time) are compared instance by instance: the
    polish goes where, on more than ``wins`` of the instances, going without it saves more,
    relatively, in time than it costs in solver iterations (``wins_by_instance``). Time alone
    would drop it wherever inference dominates a sub-millisecond solve, also where it lands on the optimum and
    the start without it takes more iterations than a cold solve (mpc with OSQP); iterations
    alone would keep it where it misses the optimum and only costs time (random-lp). Instance by
    instance, because PDLP's iterations from a start that is not the optimum move by large
    fractions when the start moves by rounding: blend's validation medians moved by more than
    10% between two LU orderings of the same vertices, enough to flip a comparison of medians; a
    count of the instances each side wins is not moved by a few large swings. On a tie the
    polish stays.

    Rows with k = 0 (no network: the anchor) are weighed last, polished only,
    by the same rule: that start replaces the network's chosen setting only where it wins there.
    Unpolished, k = 0 is a start that costs
    nothing (with a nearest anchor, the bench's nearest-neighbour baseline itself): it would win
    by this rule wherever solves are short, whatever it costs in iterations (portfolio with
    OSQP: a tenth of the time for 5x the iterations)."""
    net = [r for r in rows if r["k"] >= 1]
    zero = [r for r in rows if r["k"] == 0 and r["polish"]]
    if not net:
        if not zero:
            raise ValueError("no setting to choose from: k = 0 is weighed with the polish only")
        return True, 0
    best = {}
    for r in net:
        if r["polish"] not in best or r["total_seconds_median"] < best[r["polish"]]["total_seconds_median"]:
            best[r["polish"]] = r
    polish = True if True in best else next(iter(best))
    if False in best and True in best and wins_by_instance(best[False], best[True], wins=wins):
        polish = False
    k = parsimonious_k([r for r in net if r["polish"] == polish], tie=tie)
    if zero:
        chosen = next(r for r in net if r["polish"] == polish and r["k"] == k)
        if wins_by_instance(zero[0], chosen, wins=wins):
            return True, 0
    return polish, k


FIXED_COSTS_DOMINATE = 0.5
"""share of the cold solve's time that a solve from the exact solution still takes, above
which the verdict puts a lost saving down to the solver's fixed costs"""


BARELY_FEWER = 0.9
"""iteration ratio from which a start saves the solver too little to pay even if made at no cost"""

CLOSER = ("`learned-solvers sensitivity` measures how close to the optimum a start must be for this solver to "
          "gain, `learned-solvers scaling` what more model iterations buy")


@dataclass(frozen=True)
class Advice:
    """How a report's reader changes what ran, in the terms of the call that made it: the
    command line's options, or the Python call's arguments (``evaluate``, ``evaluate_pde``)."""

    more: str  # train on more instances
    fewer_k: str  # run fewer model iterations
    network: str  # run the network where k = 0 was chosen
    test: str  # test on more held-out instances


CLI_ADVICE = Advice(more="train on more instances (--train)", fewer_k="fewer model iterations (--k)",
                    network="bench --k 1", test="more --test")
PYTHON_ADVICE = Advice(more="train on more instances", fewer_k="fewer model iterations (starter.k)",
                       network="starter.k = 1", test="more held-out instances")


def advice(rep: dict) -> Advice:
    """The terms for a report: a Python call's report says ``"api": "python"``."""
    return PYTHON_ADVICE if rep.get("api") == "python" else CLI_ADVICE


class Outcome(StrEnum):
    """What a start did against a cold solve, as the bench's verdict and train's validation line say it."""

    NO_FEWER_ITERATIONS = "no fewer iterations"
    PAYS = "pays"
    TOO_FEW_SAVED = "too few iterations saved"  # to pay even if the start cost nothing
    WORK_NOT_TIME = "work, not time"


def outcome(*, iteration_ratio: float, time_ratio: float) -> Outcome:
    """The one rule behind both verdicts (``verdict`` on bench medians, ``cli``'s on a validation row)."""
    if iteration_ratio >= 1.0:
        return Outcome.NO_FEWER_ITERATIONS
    if time_ratio < 1.0:
        return Outcome.PAYS
    return Outcome.TOO_FEW_SAVED if iteration_ratio >= BARELY_FEWER else Outcome.WORK_NOT_TIME


def validation_verdict(row: dict | None, *, more: str = CLI_ADVICE.more) -> str:
    """What the chosen start (its row of the validation sweep, ``k_sweep``) did against a cold
    solve, as ``train`` says it; ``more``: the advice to train on more instances, in the caller's
    terms. "" without a timed row."""
    if not row or "time_ratio" not in row:
        return ""
    line = (f"on the validation split this start takes {row['iteration_ratio']:.2f}x the cold solve's iterations "
            f"and {row['time_ratio']:.2f}x its time, inference included (medians per instance)")
    said = outcome(iteration_ratio=row["iteration_ratio"], time_ratio=row["time_ratio"])
    if said is Outcome.NO_FEWER_ITERATIONS:
        return line + f": it does not cut solver iterations here; {more}, or solve cold; " + CLOSER
    if said is Outcome.TOO_FEW_SAVED:
        return line + f": too few iterations saved to pay even for a start made at no cost; {CLOSER}"
    if said is Outcome.WORK_NOT_TIME:
        return (line + ": it saves solver work, not time, at this size (inference costs more than the iterations "
                "saved); it pays where solves cost more: larger instances, tighter tolerances")
    return line


def disagreement(statuses: list[tuple[str, str]], n: int) -> str | None:
    """Where warm and cold solves ended differently: "on D of N instances (cold ...; warm ...)",
    from one (cold status, warm status) per instance of ``n`` whose answers differ; None if none."""
    if not statuses:
        return None
    count = lambda names: ", ".join(f"{s} {names.count(s)}" for s in sorted(set(names)))  # noqa: E731
    return (f"on {len(statuses)} of {n} instances (cold: {count([c for c, _ in statuses])}; "
            f"warm: {count([w for _, w in statuses])})")


def verdict(*, iteration_ratio: float, time_ratio: float, start_seconds: float, saved_seconds: float,
            k: int | None, fixed_share: float | None = None, differ: str | None = None,
            words: Advice = CLI_ADVICE) -> str:
    """One line for the bench table: does the learned start pay on this family, and if not, why.

    Medians of the report: ``start_seconds`` is what making the start costs (inference with
    its polish; for a PDE also the extraction beyond the assembly a cold call does),
    ``saved_seconds`` the solve time it saves (negative if the warm solve is slower); ``k``: the
    model iterations run (None: the model's training iterations); ``fixed_share``: the solve
    from the instance's own solution against the cold solve, where timed (what no start saves);
    ``differ``: ``disagreement``, where warm and cold answers differ and the ratios compare two
    ends, not one answer reached faster; ``words``: the advice's terms (``advice(report)``)."""
    if differ is not None:
        return (f"verdict: warm and cold solves end differently {differ}, so the ratios above compare two ends, not "
                "one answer reached faster. Where the cold solve stops at a limit, raise it or choose a solver that "
                "converges on this family; where the warm one does, the start is the cause: solve cold")
    if not all(math.isfinite(v) for v in (iteration_ratio, time_ratio, start_seconds, saved_seconds)):
        return "verdict: no figures to judge by"
    said = outcome(iteration_ratio=iteration_ratio, time_ratio=time_ratio)
    if said is Outcome.NO_FEWER_ITERATIONS:
        return (f"verdict: the learned start does not cut solver iterations here ({iteration_ratio:.2f}x cold): "
                f"solve cold, or {words.more} of this family; {CLOSER}")
    if said is Outcome.PAYS:
        return (f"verdict: the learned start pays: {iteration_ratio:.2f}x the solver iterations and "
                f"{time_ratio:.2f}x the time of a cold solve, inference included")
    fewer = f", {words.fewer_k}" if k is None or k > 1 else ""
    if saved_seconds <= 0 and fixed_share is not None and fixed_share < FIXED_COSTS_DOMINATE:
        # from the exact solution the solve is quick: fixed costs are not what eats the saving
        why = (f"and the warm solve takes no less time than the cold one: at {iteration_ratio:.2f}x the iterations, "
               "what it saves is within the timing's noise (fixed costs are not the cause: from the instance's own "
               f"solution the solve takes {fixed_share:.2f}x)")
    elif saved_seconds <= 0:
        share = "" if fixed_share is None else f"; from the instance's own solution it still takes {fixed_share:.2f}x"
        why = ("and the warm solve takes no less time than the cold one (the solver's fixed costs, such as a "
               f"preconditioner's set-up, outweigh the iterations saved{share})")
    elif start_seconds > saved_seconds:
        why = f"more than the {1e3 * saved_seconds:.2f} ms of solving it saves"
    else:
        # medians of the parts, ratio per instance: where the saving is uneven the two disagree
        why = (f"against the {1e3 * saved_seconds:.2f} ms that solving it saves in the median; medians do not "
               f"add, and instance by instance inference + warm solve comes to {time_ratio:.2f}x the cold solve")
    where = (f"It pays where solves cost more than inference: larger instances, tighter tolerances{fewer}"
             if said is Outcome.WORK_NOT_TIME else
             f"A start that saves {1 - iteration_ratio:.0%} of the iterations gains little even if made at no cost: "
             + CLOSER)
    return (f"verdict: the learned start cuts solver iterations ({iteration_ratio:.2f}x) but not time: making it "
            f"costs {1e3 * start_seconds:.2f} ms, {why}. {where}")
