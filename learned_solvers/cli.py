"""The `learned-solvers` command line: demo, train, solve, bench, info, plot and the studies."""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._files import require_checkpoint_file
from ._threads import THREADS_FROM

__all__ = ["main", "build_parser"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from .bench.qp import BenchConfig, format_report, run_bench
    from .demo import CoreDemoConfig, embedded_sc105, format_rows, run_core_demo

    print("learned-solvers demo, part 1: learned warm starts for PDLP (tol 1e-6) on a family of LPs made")
    print("from the embedded Netlib sc105 (data perturbed by up to 10%); 120 training, 20 held-out instances.\n")
    rep = run_bench(BenchConfig(family=f"mps:{embedded_sc105()}", solver="pdlp", n_train=120, n_test=20,
                                epochs=args.epochs, device=args.device, seed=args.seed, scheduler=args.scheduler))
    print(format_report(rep))
    print("\n(nearest = optimum of the nearest training instance; oracle = the instance's own optimum;")
    print(" time_ratio = median (inference + warm solve) / cold solve.)\n")
    print("learned-solvers demo, part 2: the implicit-model core learns to solve 8x8 systems A x = b;")
    print("prediction error on 500 held-out systems as the inference iterations k grow.\n")
    rows = run_core_demo(CoreDemoConfig(device=args.device, seed=args.seed))
    print(format_rows(rows))
    from ._fenicsx import INSTALL, available

    if not available():
        print(f"\n(part 3, PDE, skipped: FEniCSx (dolfinx) is not installed; {INSTALL})")
        return 0
    from .bench.pde import PDEBenchConfig, format_pde_report, run_pde_bench

    print("\nlearned-solvers demo, part 3: learned initial guesses for PETSc Newton (SNES) on a steady")
    print("lid-driven cavity (dolfinx, Taylor-Hood, Reynolds number 100-1200); 40 training, 10 held-out.\n")
    rep = run_pde_bench(PDEBenchConfig(family="navier-stokes:n=12", solver="snes", n_train=40, n_test=10,
                                       epochs=max(args.epochs, 4), device=args.device, seed=args.seed,
                                       scheduler="serial"), progress=True)
    print(format_pde_report(rep))
    return 0


def _cmd_train_pde(args: argparse.Namespace, device: str, anchor: dict[str, str]) -> int:
    from problems.registry import make_family

    from .bench.pde import PDEBenchConfig, family_backend, train_pde_starter
    from .bench.timing import validation_verdict
    from .checkpoint import PDE_K0_STARTS
    from .training import distributed

    cfg = PDEBenchConfig(family=args.family, solver=args.solver, n_train=args.train, seed=args.seed, **anchor,
                         epochs=args.epochs, width=args.pde_width or 32, device=device,
                         ksp_type=args.ksp_type, pc=args.pc,
                         rtol=args.tol,
                         scheduler=args.scheduler, train_k=args.train_k, save_checkpoint=args.out,
                         jacobian_weight=args.jacobian_weight, solution_state=_state(args))
    fam = make_family(cfg.family)
    backend = family_backend(fam, cfg.solver, ksp_type=cfg.ksp_type, pc=cfg.pc, rtol=cfg.rtol)
    starter, info, _, _ = train_pde_starter(fam, cfg, backend, progress=True)
    if distributed.is_main():
        what = PDE_K0_STARTS[starter.anchors.kind if starter.anchors is not None else "nearest"]
        none = (f" (k 0: no network, {what}; the network did not pay for itself on the validation split)"
                if starter.k == 0 else "")
        which = "automatic k" if "auto_k" in info else "k"  # a sweep cut short before any instance: the training k
        print(f"saved {args.out} (family {fam.spec()}, {info['n_train']} instances, validation error "
              f"{info['val_error']:.3g}, {which} {starter.k}{none})")
        if verdict := validation_verdict(next((r for r in info.get("auto_k", []) if r["k"] == starter.k), None)):
            print(verdict)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from problems.registry import drawer, dropped_hint, family_key, is_pde_family, make_family, refills

    _check_family(args)
    pde = is_pde_family(args.family)
    if pde:  # options of the other side refused before torch is imported (2-3 s)
        _refuse(args, ("time_limit",), "LP/QP families")
        _refuse_linear_solver_options(args)
        anchor = _pde_anchor(args)
    else:
        _refuse(args, ("pc", "ksp_type", "pde_width", "pde_solution_state"), "PDE families")
        anchor = _lp_anchor(args)
    from .bench.qp import bench_backend, train_starter
    from .bench.timing import validation_verdict
    from .training import distributed
    from .training.data import label_drawn
    from .training.train import TrainConfig

    # under torchrun (WORLD_SIZE > 1): one DDP rank per process, rank 0 writes the checkpoint
    device = distributed.init_from_env(args.device)
    try:
        if pde:
            return _cmd_train_pde(args, device, anchor)
        fam = make_family(args.family, **({"perturb": args.perturb} if args.perturb is not None else {}))
        cfg = TrainConfig(epochs=args.epochs, width=args.width, device=device, seed=args.seed,
                          **({"train_k": args.train_k} if args.train_k is not None else {}),
                          **anchor,
                          **({"jacobian_weight": args.jacobian_weight} if args.jacobian_weight is not None else {}))
        # an unknown solver is refused before any labelling
        backend = bench_backend(args.solver, tol=args.tol, time_limit=args.time_limit)
        draw = drawer(fam, seed=args.seed)
        qps = draw(args.train)
        backend.check(qps[0])  # a family this solver cannot take is refused before any labelling
        main = distributed.is_main()
        got = label_drawn(draw, args.train, first=qps, refill=refills(fam),
                          scheduler=args.scheduler, progress=main, hint=dropped_hint(fam),
                          shard=distributed.shard, gather=distributed.gather_shards, warn=main)
        data = got.kept
        starter, info = train_starter(fam.spec(), data, config=cfg, progress=True, backend=backend if main else None,
                                      family_key=family_key(fam))
        if main:
            path = starter.save(args.out, solver=args.solver, n_drawn=got.drawn, **info)
            chosen = (f", automatic k {info['best_k']}, polish {'on' if info['best_polish'] else 'off'}"
                      + (", from the start's own active set first" if info["best_polish"]
                         and info.get("polish_first") == "predicted" else "")
                      + (" (k 0: no network, the anchor itself; the network did not pay for itself "
                         "on the validation split)" if info["best_k"] == 0 else "")
                      if "best_k" in info else "")
            print(f"saved {path} (family {fam.spec()}, {len(data)} instances, validation error "
                  f"{info['val_error']:.3g}{chosen})")
            chosen_row = next((r for r in info.get("k_sweep", [])
                               if r["k"] == info["best_k"] and r["polish"] == info["best_polish"]), None)
            if verdict := validation_verdict(chosen_row):
                print(verdict)
        distributed.barrier()
        return 0
    finally:
        distributed.shutdown()


def _cmd_solve(args: argparse.Namespace) -> int:
    from ._files import json_text, write_text
    from ._interrupt import held_interrupts
    from .backends import Status, make_backend
    from .canonical import InvalidProblemError
    from .formats.mps import read_problem, solution_dict

    many = len(args.instances) > 1
    first = None if many else read_problem(args.instances[0])  # one file: its own errors come first
    require_checkpoint_file(args.checkpoint)  # then a mistyped checkpoint, before torch is imported (2-3 s)
    from .warmstart import LearnedWarmStarter
    backend = make_backend(args.solver, **({"tol": args.tol} if args.tol is not None else {}),
                           **({"time_limit": args.time_limit} if args.time_limit is not None else {}))
    starter = LearnedWarmStarter.from_checkpoint(args.checkpoint, k=args.k, polish=_polish(args),
                                                 device=args.device, threads=args.threads)
    targets = _solution_paths(args.instances, args.solution) if args.solution else [None] * len(args.instances)

    def one(instance: str, target: Path | None) -> dict:
        qp = first if first is not None else read_problem(instance)
        res = starter.solve(qp, backend)
        sol = solution_dict(qp, res.x, res.y, res.objective)
        out = {"instance": instance, "solver": res.solver, "status": res.status, "message": res.message,
               "inaccurate": res.inaccurate, "sense": sol["sense"],
               "objective": sol["objective"], "iterations": res.iterations, "solver_seconds": res.seconds,
               "inference_seconds": res.extra.get("inference_seconds"),
               "load_seconds": res.extra.get("load_seconds", 0.0), "k": res.extra.get("k"),
               "polished": res.extra.get("polished"), "reordered": res.extra.get("reordered"),
               "warm_start_accepted": res.warm_start_accepted, "fallback": res.extra.get("fallback")}
        if target is not None:
            try:
                write_text(target, json_text({"instance": instance, "status": res.status, **sol}, indent=1) + "\n")
                out["solution"] = str(target)
            except OSError as exc:  # the solve's line is still printed: only the file is missing
                out["error"] = f"--solution {target}: cannot write it ({exc.strerror or exc})"
        return out

    if not many:
        line = one(args.instances[0], targets[0])
        print(json_text(line))
        if "error" in line:
            raise ValueError(line["error"])
        if line["status"] == Status.ERROR:  # the solver gave no answer (it failed, or ended its process)
            print(f"learned-solvers: {args.instances[0]}: the solver ended in an error: {line['message']}",
                  file=sys.stderr)
            return 1
        return 0
    # several files: one JSON line each as it finishes; a file that fails is reported and the rest go on
    failed, lines = 0, []
    try:
        for instance, target in zip(args.instances, targets, strict=True):
            try:
                line = one(instance, target)
            except (InvalidProblemError, FileNotFoundError, ValueError, TypeError, RuntimeError) as exc:
                line = {"instance": instance, "error": str(exc)}
            # a file not read, or one the solver gave no answer on (it failed, or ended its process)
            failed += "error" in line or line.get("status") == Status.ERROR
            # the line and its count together: a Ctrl-C between the two had left a printed line out of
            # the summary (3 lines above it, "2 of 2 files solved"); one that comes here waits for both
            with held_interrupts():
                print(json_text(line, indent=None), flush=True)
                lines.append(line)
    except KeyboardInterrupt:  # the finished files' summary, as bench reports its finished instances; then main's line
        from ._interrupt import stop_reason

        if lines:
            print(_solve_summary(lines), file=sys.stderr)
        print(f"learned-solvers: stopped by {stop_reason()} after {len(lines)} of {len(args.instances)} files (their "
              "lines above are whole, and so are their --solution files)", file=sys.stderr)
        raise
    print(_solve_summary(lines), file=sys.stderr)
    if failed:
        print(f"learned-solvers: {failed} of {len(args.instances)} files failed (their lines say why)", file=sys.stderr)
    return 1 if failed else 0


def _threads_arg(p: argparse.ArgumentParser, size: str) -> None:
    p.add_argument("--threads", type=_positive, default=None,
                   help=f"torch's CPU threads for inference (default: one below {THREADS_FROM:,} {size}, where "
                        "thread start-up costs more than it saves, else torch's own setting)")


def _solve_summary(lines: list[dict]) -> str:
    """One line on a batch of solves: their statuses, how many took the learned start (and why
    the others did not), the median solver and inference seconds."""
    from collections import Counter
    from statistics import median

    from .backends import Status

    ran = [ln for ln in lines if "status" in ln]
    solved = [ln for ln in ran if ln["status"] != Status.ERROR]  # the solver's error is no answer
    if not solved:
        return f"learned-solvers: none of the {len(lines)} files was solved"
    statuses = ", ".join(f"{c} {s}" for s, c in Counter(ln["status"] for ln in solved).most_common())
    if loose := sum(bool(ln.get("inaccurate")) for ln in solved):  # answers at a limit, to a looser tolerance
        statuses += f"; {loose} of them inaccurate"
    errors = len(ran) - len(solved)
    cold = Counter(ln["fallback"] for ln in solved if ln.get("fallback"))
    med = lambda key: median(ln[key] or 0.0 for ln in solved) * 1e3  # noqa: E731
    built = [ln for ln in solved if ln.get("load_seconds")]
    load = sum(ln["load_seconds"] for ln in built)
    return (f"learned-solvers: {len(solved)} of {len(lines)} files solved ({statuses})"
            + (f", {errors} ended in a solver error" if errors else "") + "; the learned start was taken "
            f"on {sum(bool(ln['warm_start_accepted']) for ln in solved)}"
            + (f", a cold start used on {sum(cold.values())} ({'; '.join(f'{c}: {why}' for why, c in cold.items())})"
               if cold else "")
            + f"; median solver {med('solver_seconds'):.2f} ms, inference {med('inference_seconds'):.2f} ms"
            + (f" (the network, first needed by {built[0]['instance']}, was built there once in {load:.2f} s, "
               "torch's import included, apart from its inference time)" if built else ""))


def _solution_paths(instances: list[str], solution: str) -> list[Path]:
    """One file for one instance; for several, ``solution`` is a folder of NAME.json, one per file."""
    if len(instances) == 1:
        return [Path(solution)]
    folder = Path(solution)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--solution {solution}: with several instances, --solution names a folder (one NAME.json "
                         "per file), and a file stands there")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--solution {solution}: cannot make the folder ({exc.strerror or exc})") from exc
    stems = [Path(i).name.split(".")[0] for i in instances]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ValueError(f"--solution {solution}: several instances share the name {twice[0]!r}; solve them in "
                         "separate calls or rename them")
    targets = [folder / f"{s}.json" for s in stems]
    if taken := [t for t in targets if t.is_dir()]:
        raise ValueError(f"--solution {solution}: {taken[0]} is a folder, where {taken[0].stem}'s solution would be "
                         "written; move it, or give another --solution folder")
    return targets


def _cmd_bench_pde(args: argparse.Namespace) -> int:
    solver = args.solver if args.solver in ("ksp", "snes") else None
    if solver is None:
        raise ValueError(f"PDE family {args.family!r} is solved by --solver ksp or --solver snes, not {args.solver!r}")
    anchor = _pde_anchor(args)
    if args.checkpoint:
        require_checkpoint_file(args.checkpoint)
    from .bench.pde import PDEBenchConfig, format_pde_report, run_pde_bench, write_pde_report  # torch: after those

    cfg = PDEBenchConfig(family=args.family, solver=solver, n_train=args.train, n_test=args.test, k=args.k,
                         checkpoint=args.checkpoint, save_checkpoint=args.save_checkpoint, seed=args.seed,
                         epochs=args.epochs, width=args.pde_width or 32, device=args.device,
                         ksp_type=args.ksp_type, pc=args.pc,
                         rtol=args.tol,
                         test_family=args.test_family, scheduler=args.scheduler,
                         train_k=args.train_k, jacobian_weight=args.jacobian_weight, solution_state=_state(args),
                         precision=args.pde_precision or "float32", threads=args.threads, **anchor)
    rep = run_pde_bench(cfg)
    return _emit(rep, args, format_pde_report(rep), write_pde_report)


def _emit(rep: dict, args: argparse.Namespace, table: str, write: Callable[[dict, str], Any],
          plot: Callable[[dict, str], Any] | None = None) -> int:
    """A command's report: its ``table`` printed, then written (``write``) where --out asks and
    drawn where --plot asks (``plot``: the report's own figure; None: a bench report's)."""
    print(table)
    if args.out:
        print(f"report written to {write(rep, args.out)}")
    if args.plot:
        if plot is None:
            from .bench.plots import plot_bench as plot
        print(f"plot written to {plot(rep, args.plot)}")
    return 0


def _check_family(args: argparse.Namespace) -> None:
    """--family (and --test-family) made once before torch is imported, so that a misspelt name
    or parameter is refused at once, not after 3-4 s of imports (making a family samples nothing)."""
    from problems.registry import is_pde_family, make_family

    for spec in (args.family, getattr(args, "test_family", None)):
        if spec:
            lp = getattr(args, "perturb", None) is not None and not is_pde_family(spec)
            make_family(spec, **({"perturb": args.perturb} if lp else {}))


def _cmd_bench(args: argparse.Namespace) -> int:
    from problems.registry import is_pde_family

    _check_family(args)
    if args.checkpoint:
        # the checkpoint is the model: an option that shapes training would be ignored
        given = [f"--{n.replace('_', '-')}" for n, default in args.training_defaults.items()
                 if getattr(args, n) != default]
        if given:
            raise ValueError(f"{', '.join(given)} shape{'s' if len(given) == 1 else ''} the model bench trains, "
                             f"and --checkpoint {args.checkpoint} is used as it is: drop "
                             f"{'it' if len(given) == 1 else 'them'}, or drop --checkpoint to train one")
    if args.solver in ("ksp", "snes") and not is_pde_family(args.family):
        raise ValueError(f"{args.family!r} is an LP/QP family, solved by --solver pdlp, osqp, scs or highs; "
                         f"--solver {args.solver} solves PDE families (darcy, nonlinear-poisson, navier-stokes, "
                         "dolfinx:MODULE:FUNCTION)")
    if is_pde_family(args.family):
        _refuse(args, ("pinned", "polish", "no_polish", "perturb", "time_limit"), "LP/QP families")
        _refuse_linear_solver_options(args)
        return _cmd_bench_pde(args)
    _refuse(args, ("pc", "ksp_type", "pde_width", "pde_solution_state", "pde_precision"), "PDE families")
    anchor = _lp_anchor(args)
    if args.checkpoint:  # a mistyped path too, before torch is imported (2-3 s)
        require_checkpoint_file(args.checkpoint)
    from .bench.qp import BenchConfig, format_report, run_bench, write_report  # torch: after the refusals

    cfg = BenchConfig(family=args.family, solver=args.solver, n_train=args.train, n_test=args.test, k=args.k,
                      checkpoint=args.checkpoint, seed=args.seed, tol=args.tol, pinned=args.pinned,
                      time_limit=args.time_limit, perturb=args.perturb, epochs=args.epochs, width=args.width,
                      device=args.device, scheduler=args.scheduler, polish=_polish(args),
                      save_checkpoint=args.save_checkpoint, train_k=args.train_k,
                      jacobian_weight=args.jacobian_weight, test_family=args.test_family, threads=args.threads,
                      **anchor)
    rep = run_bench(cfg)
    return _emit(rep, args, format_report(rep), write_report)


def _cmd_info(args: argparse.Namespace) -> int:
    from ._files import json_text

    if len(args.checkpoints) == 1:  # one mistyped path: said before torch is imported (2-3 s)
        require_checkpoint_file(args.checkpoints[0])
    from .checkpoint import CheckpointError, describe_checkpoint, format_checkpoint_info, interpreting

    def described(path: str, indent: int | None) -> str:
        info = describe_checkpoint(path)
        with interpreting(path):  # an edited header (a list where a dict was) is named, not a TypeError
            return json_text(info.to_dict(), indent=indent) if args.json else format_checkpoint_info(info)

    if len(args.checkpoints) == 1:  # one file: its error is the command's
        print(described(args.checkpoints[0], 1))
        return 0
    failed = 0
    for path in args.checkpoints:  # several: each is described or its error said, and the rest go on
        try:
            text = described(path, None)
        except (CheckpointError, FileNotFoundError) as exc:
            failed += 1
            print(json.dumps({"path": path, "error": str(exc)}) if args.json else f"{path}\n  error: {exc}",
                  flush=True)
            continue
        print(text, flush=True)
    if failed:
        print(f"learned-solvers: {failed} of {len(args.checkpoints)} files could not be read", file=sys.stderr)
    return 1 if failed else 0


def _cmd_families(args: argparse.Namespace) -> int:
    import textwrap

    from problems.registry import describe_families

    infos = describe_families(args.name)
    if args.json:
        from ._files import json_text

        print(json_text([dict(spec=f.spec, kind=f.kind, summary=f.summary, parameters=f.parameters,
                              **({"doc": f.doc} if args.name else {})) for f in infos], indent=1))
        return 0
    for f in infos:
        params = ", ".join(f"{k}={v}" for k, v in f.parameters.items())
        if args.name:  # one family: its whole docstring
            print(f"{f.spec} ({f.kind} family)\n\n{f.doc}\n")
            # after the name, or after the path or pattern the spec gives first (mps:PATH,perturb=0.2)
            form = f"{f.spec},KEY=VALUE,..." if ":" in f.spec else f"{f.spec}:KEY=VALUE,..."
            mine = "no key=value parameters" if not f.spec.startswith(("dolfinx:", "cvxpy:", "scip:")) else (
                f"keywords of your function (--family {f.spec}:KEY=VALUE,...)")
            print(f"parameters (--family {form}), defaults: {params}" if params else
                  f"{mine}: the instances come from your own code")
            continue
        print(f"{f.spec}  [{f.kind}]")
        print(textwrap.fill(f.summary, width=100, initial_indent="    ", subsequent_indent="    "))
        if params:
            print(textwrap.fill(f"defaults: {params}", width=100, initial_indent="    ", subsequent_indent="      "))
    if not args.name:
        print("\nlearned-solvers families NAME tells one in full; a spec takes key=value options after ':', e.g. "
              "--family random-lp:m=50,n=100")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .bench.plots import (is_paper_lp_report, is_scaling_report, is_sensitivity_report, load_report, plot_bench,
                              plot_overview, plot_paper_lp, plot_scaling, plot_sensitivity, plot_training, reading)
    from .checkpoint import CheckpointError, describe_checkpoint, interpreting

    missing = [r for r in args.reports if not Path(r).is_file()]
    if missing:  # said as `solve` says a missing file, not as Python's "[Errno 2]"
        first = (f"{missing[0]} is a folder, not a report or checkpoint" if Path(missing[0]).is_dir()
                 else f"no such report or checkpoint: {missing[0]}")
        raise FileNotFoundError(first + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if len(args.reports) == 1:  # a saved `scaling`, `sensitivity` or `paper-lp` report redrawn (its --plot figure)
        try:
            doc = json.loads(Path(args.reports[0]).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            doc = None  # load_report below says what is wrong, unless it is a checkpoint
        if doc is None:
            try:  # a checkpoint: its training curve
                meta = describe_checkpoint(args.reports[0]).meta
            except CheckpointError:
                if Path(args.reports[0]).suffix == ".safetensors":
                    raise  # a damaged checkpoint is said to be one, not "not a JSON file"
                meta = None
            if meta is not None:
                with interpreting(args.reports[0]):
                    path = plot_training(meta, args.out, name=args.reports[0])
                print(f"plot written to {path}")
                return 0
        for is_kind, draw, what in ((is_scaling_report, plot_scaling, "scaling report"),
                                    (is_sensitivity_report, plot_sensitivity, "sensitivity report"),
                                    (is_paper_lp_report, plot_paper_lp, "paper-lp report")):
            if is_kind(doc):
                with reading(args.reports[0], what):
                    path = draw(doc, args.out)
                print(f"plot written to {path}")
                return 0
    reports = {Path(r).stem: load_report(r) for r in args.reports}
    if len(reports) < len(args.reports):
        raise ValueError("two reports share a file name; the overview names its rows by file name")
    with reading(", ".join(args.reports)):
        path = plot_bench(next(iter(reports.values())), args.out) if len(reports) == 1 else \
            plot_overview(reports, args.out)
    print(f"plot written to {path}")
    return 0


def _cmd_scaling(args: argparse.Namespace) -> int:
    from problems.registry import is_pde_family

    _check_family(args)
    pde = is_pde_family(args.family)
    if pde:
        _refuse(args, ("polish", "time_limit"), "LP/QP families")
        _refuse_linear_solver_options(args)
    else:
        _refuse(args, ("pc", "ksp_type", "pde_precision"), "PDE families")
    require_checkpoint_file(args.checkpoint)  # after the options' own refusals, before torch is imported
    from .bench.scaling import ScalingConfig, format_scaling, plot_scaling, run_scaling, write

    ks = args.ks
    if pde:
        from .bench.pde import run_pde_scaling

        rep = run_pde_scaling(checkpoint=args.checkpoint, family=args.family, solver=args.solver, ks=ks,
                              n_test=args.test, seed=args.seed, device=args.device, pc=args.pc,
                              ksp_type=args.ksp_type, rtol=args.tol, precision=args.pde_precision or "float32",
                              scheduler=args.scheduler)
    else:
        rep = run_scaling(ScalingConfig(checkpoint=args.checkpoint, family=args.family, solver=args.solver, ks=ks,
                                        n_test=args.test, seed=args.seed, polish=args.polish, device=args.device,
                                        tol=args.tol, time_limit=args.time_limit, scheduler=args.scheduler))
    return _emit(rep, args, format_scaling(rep), write, plot_scaling)


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from problems.registry import is_pde_family

    _check_family(args)
    if is_pde_family(args.family):  # before torch is imported, as bench refuses it
        _refuse(args, ("time_limit",), "LP/QP families")
    from .bench.sensitivity import SensitivityConfig, format_sensitivity, plot_sensitivity, run_sensitivity, write

    rep = run_sensitivity(SensitivityConfig(family=args.family, solver=args.solver, n_test=args.test, seed=args.seed,
                                            noise=args.noise, tol=args.tol, time_limit=args.time_limit,
                                            pinned=args.pinned, pc=args.pc, ksp_type=args.ksp_type,
                                            direction=args.direction, moved=args.moved, swaps=args.swaps,
                                            scheduler=args.scheduler))
    return _emit(rep, args, format_sensitivity(rep), write, plot_sensitivity)


def _cmd_paper_lp(args: argparse.Namespace) -> int:
    from .bench.paper_lp import PaperLPConfig, format_table, run_paper_lp, write

    lr = {"lr": args.lr} if args.lr is not None else {}
    cfg = PaperLPConfig(n_train=args.train, n_test=args.test, widths=args.widths,
                        epochs=args.epochs, train_k=args.train_k, eval_k=args.eval_k, device=args.device, seed=args.seed,
                        data=args.data, scheduler=args.scheduler, backward=args.backward,
                        residual_feedback=not args.no_residual_feedback, **lr)
    rep = run_paper_lp(cfg)
    print(format_table(rep))
    jp, mp = write(rep, args.out)
    print(f"report written to {jp}" + (f" and {mp}" if mp is not None else ""))
    if args.plot:
        from .bench.plots import plot_paper_lp

        print(f"plot written to {plot_paper_lp(rep, args.plot)}")
    return 0


def _family_args(p: argparse.ArgumentParser, *, from_checkpoint: bool = False) -> None:
    p.add_argument("--family", required=not from_checkpoint,
                   help="LP/QP: random-lp[:m=200,n=400], mps:PATH, files:GLOB (your own instance files), portfolio, "
                        "mpc, lasso, cvxpy:MODULE:FUNCTION, scip:MODULE:FUNCTION (pyscipopt); "
                        "PDE: darcy[:n=64], nonlinear-poisson, navier-stokes, dolfinx:MODULE:FUNCTION "
                        "(key=value options after ':'; `learned-solvers families` lists each one's)"
                        + ("; with --checkpoint, default: the family it was trained on" if from_checkpoint else ""))
    p.add_argument("--perturb", type=float, default=None, help="mps: (and random-lp) families: relative perturbation d (0.1)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the instances and of training (default 0)")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    p.add_argument("--epochs", type=_positive, default=40, help="training epochs (default 40)")
    p.add_argument("--width", type=_positive, default=64, help="LP/QP model width (default 64; PDE: --pde-width)")
    p.add_argument("--train-k", type=_training_iterations, default=None,
                   help="model iterations in training (default 20 for LP/QP, 16 for PDE families, 4 for a PDE "
                        "solution-state model); more reach "
                        "farther across the instance's graph")
    p.add_argument("--jacobian-weight", type=_weight, default=None,
                   help="weight of the Jacobian penalty that keeps the block contractive in training "
                        "(default 1.0 for LP/QP, 0 for PDE families)")
    p.add_argument("--anchor", choices=("linear", "kernel", "nearest"), default=None,
                   help="what the model corrects and k = 0 hands over: 'nearest' (the nearest training solution), "
                        "LP/QP 'linear' (default: a ridge regression of the training optima on the family's varying "
                        "data), PDE 'kernel' (default: a kernel regression of the training solutions on the "
                        "fields, where leave-one-out prefers it to the nearest one)")
    p.add_argument("--scheduler", default="local",
                   help="labelling: 'local' Dask cluster (default), a scheduler address, or 'serial'")


def _krylov_args(p: argparse.ArgumentParser, *, ksp_type: bool = True) -> None:
    """--pc (and --ksp-type): the Krylov solve of a PDE family's --solver ksp."""
    own = "on a dolfinx: family the problem's own"
    p.add_argument("--pc", default=None, help=f"PDE ksp: PETSc preconditioner (default gamg; {own}; jacobi, ilu, ...)")
    if ksp_type:
        p.add_argument("--ksp-type", default=None, help=f"PDE ksp: PETSc Krylov method (default cg; {own}; gmres, ...)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="learned-solvers",
                                description="Learned implicit models that warm-start classical solvers.")
    from ._version import __version__

    p.add_argument("--version", action="version", version=f"learned-solvers {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the main job on embedded defaults (CPU, minutes)")
    d.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    d.add_argument("--seed", type=_seed, default=0, help="seed of the instances and of training (default 0)")
    d.add_argument("--epochs", type=_positive, default=10, help="training epochs of the LP model")
    d.add_argument("--scheduler", default="local", help="labelling: 'local' Dask cluster, an address, or 'serial'")
    d.set_defaults(func=_cmd_demo)

    t = sub.add_parser("train", help="train a warm-start model on a problem family",
                       epilog="Data-parallel: torchrun --nproc_per_node N -m learned_solvers.cli train ... "
                              "(DDP; one GPU per rank with --device cuda; rank 0 writes the checkpoint).")
    _family_args(t)
    t.add_argument("--solver", default=None,
                   help="the solver the model will warm-start (recorded; PDE families: ksp or snes, which also "
                        "times the automatic k; default: pdlp for LP/QP families, ksp for a linear PDE family, snes "
                        "for a nonlinear one)")
    t.add_argument("--train", type=_training_count, default=200, help="training instances (at least 2)")
    _krylov_args(t)
    t.add_argument("--tol", type=_positive_number, default=None,
                   help="tolerance of the solves that time the automatic k (default: the backend's; PDE 1e-8, "
                        "a dolfinx: family's own)")
    t.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                   help="LP/QP: the solver's time limit per solve that times the automatic k (default: the "
                        "backend's, 600 s for PDLP and HiGHS, none for OSQP; inf: none); not for SCS, which stops by "
                        "iterations")
    t.add_argument("--pde-width", type=_positive, default=None, help="PDE: mesh-model width (default 32)")
    t.add_argument("--pde-solution-state", choices=["auto", "on", "off"], default=None,
                   help="PDE: carry the solution in the model's state and correct it by a learned step in "
                        "the residual, so the answer is the fixed point and more --k converge to it (auto: on "
                        "for symmetric linear and for quasilinear problems); off: decode it from the hidden state")
    t.add_argument("--out", required=True, help="checkpoint path (.safetensors)")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("solve", help="solve MPS/LP files with a learned warm start")
    s.add_argument("instances", nargs="+", metavar="instance",
                   help="an .mps/.lp/.qps file (optionally .gz) or a .mat QP; several: one JSON line each on stdout")
    s.add_argument("--checkpoint", required=True, help="a model saved by `train` or `bench --save-checkpoint`")
    s.add_argument("--solver", default=None, choices=["pdlp", "osqp", "scs", "highs"],
                   help="default: the checkpoint's (the one it was trained and its k chosen for), else pdlp")
    s.add_argument("--k", type=_iterations, default=None,
                   help="model iterations (default: the checkpoint's; 0: no network, the anchor: the family's linear "
                        "model or the nearest training optimum)")
    s.add_argument("--tol", type=_positive_number, default=None, help="solver tolerance (default: the backend's)")
    s.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                   help="the solver's time limit per instance (default: the backend's, 600 s for PDLP and HiGHS, "
                        "none for OSQP; inf: none); a warm solve that reaches it is confirmed by a cold one, so an "
                        "instance can take up to twice it; not for SCS, which stops by iterations")
    _polish_args(s, "")
    s.add_argument("--device", default="cpu", help="torch device for inference: cpu (default) or cuda")
    _threads_arg(s, "graph nodes")
    s.add_argument("--solution", default=None,
                   help="JSON file for the solution: primal values by column name, row duals by row name "
                        "(several instances: a folder of NAME.json)")
    s.set_defaults(func=_cmd_solve)

    b = sub.add_parser("bench", help="cold vs learned vs nearest-neighbour vs oracle on held-out instances")
    _family_args(b, from_checkpoint=True)
    b.add_argument("--solver", default=None, choices=["pdlp", "osqp", "scs", "highs", "ksp", "snes"],
                   help="LP/QP: pdlp, osqp, scs, highs; PDE families: ksp (Krylov) or snes (Newton); "
                        "default: --checkpoint's solver, else pdlp, ksp or snes by the family")
    _krylov_args(b)
    b.add_argument("--test-family", default=None,
                   help="test on this family spec with the model trained (or loaded) here: PDE, a finer mesh "
                        "(darcy:n=128; a builder's keyword, dolfinx:MODULE:FUNCTION:n=128); LP/QP, the same "
                        "generator at another size (random-lp:m=400,n=800)")
    b.add_argument("--pde-width", type=_positive, default=None, help="PDE: mesh-model width (default 32)")
    b.add_argument("--pde-precision", choices=["float32", "float64"], default=None,
                   help="PDE: precision of inference (default float32, where a solution-state model on a symmetric "
                        "linear or a quasilinear problem still converges past 1e-7, its solution and residual kept "
                        "in float64; "
                        "float64 runs the whole network so, at about 1.7x the inference time)")
    b.add_argument("--pde-solution-state", choices=["auto", "on", "off"], default=None,
                   help="PDE: carry the solution in the model's state and correct it by a learned step in "
                        "the residual, so the answer is the fixed point and more --k converge to it (auto: on "
                        "for symmetric linear and for quasilinear problems); off: decode it from the hidden state")
    b.add_argument("--train", type=_positive, default=200, help="training instances (default 200)")
    b.add_argument("--test", type=_positive, default=30, help="held-out instances (default 30)")
    b.add_argument("--k", type=_iterations, default=None,
                   help="model iterations (default: the automatic k; 0: no network, the anchor: LP/QP the family's "
                        "linear model or the nearest training optimum, PDE the training solutions' kernel "
                        "regression or the nearest of them)")
    b.add_argument("--checkpoint", default=None, help="use this model instead of training one")
    b.add_argument("--save-checkpoint", default=None, help="save the model trained here")
    b.add_argument("--tol", type=_positive_number, default=None, help="solver tolerance (default: the backend's)")
    _time_limit_arg(b)
    _threads_arg(b, "graph nodes or mesh dofs")
    b.add_argument("--pinned", action="store_true", help="OSQP/SCS: pin adaptive features (l2ws setting)")
    _polish_args(b, "LP/QP: ")
    b.add_argument("--out", default=None, help="JSON report path (-: standard output, the table then on stderr)")
    b.add_argument("--plot", default=None, help="PNG path: per-instance iteration and time ratios")
    b.set_defaults(training_defaults={n: b.get_default(n) for n in (
        "train", "epochs", "width", "pde_width", "train_k", "jacobian_weight", "anchor", "pde_solution_state",
        "save_checkpoint")})
    b.set_defaults(func=_cmd_bench)

    i = sub.add_parser("info", help="what a checkpoint was trained on, how it runs, and whether this version loads "
                                    "it (its header only: no weights loaded)")
    i.add_argument("checkpoints", nargs="+", help=".safetensors files written by train or bench --save-checkpoint")
    i.add_argument("--json", action="store_true", help="JSON instead of text (one line per file when several)")
    i.set_defaults(func=_cmd_info)

    fa = sub.add_parser("families", help="the problem families --family takes, what each is and its parameters "
                                         "with their defaults")
    fa.add_argument("name", nargs="?", default=None, help="one family (e.g. darcy, mps): its whole description")
    fa.add_argument("--json", action="store_true", help="JSON instead of text")
    fa.set_defaults(func=_cmd_families)

    pt = sub.add_parser("plot", help="plot saved bench reports: one report per instance, several side by side; "
                                     "or one scaling, sensitivity or paper-lp report; or a checkpoint's training "
                                     "curve")
    pt.add_argument("reports", nargs="+",
                    help="JSON reports written by `bench --out` (or one by `scaling`, `sensitivity` or `paper-lp "
                         "--out`, or one checkpoint)")
    pt.add_argument("--out", required=True, help="PNG path")
    pt.set_defaults(func=_cmd_plot)

    c = sub.add_parser("scaling", help="error, solver iterations and time against model iterations k")
    c.add_argument("--checkpoint", required=True, help="a model saved by `train` or `bench --save-checkpoint`")
    c.add_argument("--family", default=None, help="a family spec (default: the one the checkpoint was trained on)")
    c.add_argument("--solver", default=None, choices=["pdlp", "osqp", "scs", "highs", "ksp", "snes"],
                   help="pdlp/osqp/scs/highs for LP/QP families, ksp/snes for PDE families (default: the "
                        "checkpoint's)")
    _krylov_args(c)
    c.add_argument("--tol", type=_positive_number, default=None,
                   help="solver tolerance (default: the backend's; PDE: KSP's or SNES's relative one, the family's)")
    c.add_argument("--pde-precision", choices=["float32", "float64"], default=None,
                   help="PDE: precision of inference (default float32, where a solution-state model on a symmetric "
                        "linear or a quasilinear problem still converges past 1e-7, its solution and residual kept "
                        "in float64; "
                        "float64 runs the whole network so, at about 1.7x the inference time)")
    c.add_argument("--ks", type=_iteration_list, default=_ks("1,2,4,8,16,32,64"),
                   help="model iterations to sweep, comma-separated (default 1,2,4,8,16,32,64)")
    c.add_argument("--test", type=_positive, default=20, help="held-out instances (default 20)")
    c.add_argument("--seed", type=_seed, default=0, help="seed of the instances (default 0)")
    c.add_argument("--polish", action="store_true", help="polish each iterate (off: shows the raw model)")
    _time_limit_arg(c)
    c.add_argument("--device", default="cpu", help="torch device for inference: cpu (default) or cuda")
    c.add_argument("--scheduler", default="serial", help="labelling: 'serial', 'local' or a Dask address")
    c.add_argument("--out", default=None, help="JSON report path (-: standard output, the table then on stderr)")
    c.add_argument("--plot", default=None, help="PNG path")
    c.set_defaults(func=_cmd_scaling)

    se = sub.add_parser("sensitivity", help="solver iterations from the optimum moved by a relative error "
                        "(how accurate a start must be; no model involved)")
    se.add_argument("--family", required=True, help="a family spec, as for bench")
    se.add_argument("--solver", default=None, choices=["pdlp", "osqp", "scs", "highs", "ksp", "snes"],
                    help="pdlp/osqp/scs/highs for LP/QP families, ksp/snes for PDE families (default: pdlp, ksp "
                         "for a linear PDE family, snes for a nonlinear one)")
    se.add_argument("--noise", type=_fractions, default=_fractions("1e-4,1e-3,1e-2,5e-2,0.15"),
                    help="relative start errors, comma-separated")
    se.add_argument("--test", type=_positive, default=10, help="held-out instances (default 10)")
    se.add_argument("--seed", type=_seed, default=0, help="seed of the instances (default 0)")
    se.add_argument("--tol", type=_positive_number, default=None, help="solver tolerance (default: the backend's)")
    se.add_argument("--pinned", action="store_true", help="OSQP/SCS: pin adaptive features (l2ws setting)")
    _time_limit_arg(se)
    _krylov_args(se)
    se.add_argument("--direction", default="random", choices=["random", "smooth", "active-set"],
                    help="noise independent per entry (random); PDE families: a random smooth field (smooth); "
                         "LP families: the vertex of the optimal active set with --swaps of its constraints "
                         "swapped (active-set)")
    se.add_argument("--moved", default="both", choices=["both", "primal", "dual"],
                    help="LP/QP families: which half of the primal-dual start is moved (default both); primal or "
                         "dual keeps the other half exact")
    se.add_argument("--swaps", type=_swap_list, default=(0, 1, 2, 4, 8, 16),
                    help="--direction active-set: how many constraints to swap, comma-separated (default "
                         "0,1,2,4,8,16)")
    se.add_argument("--scheduler", default="serial", help="labelling: 'serial', 'local' or a Dask address")
    se.add_argument("--out", default=None, help="JSON report path (-: standard output, the table then on stderr)")
    se.add_argument("--plot", default=None, help="PNG path")
    se.set_defaults(func=_cmd_sensitivity)

    pl = sub.add_parser("paper-lp", help="reproduce Table 1 of the implicit-models paper (implicit vs explicit GNN)")
    pl.add_argument("--train", type=_positive, default=2500, help="training instances (default 2500, the paper's)")
    pl.add_argument("--test", type=_positive, default=1000, help="test instances (default 1000, the paper's)")
    pl.add_argument("--widths", type=_ks, default=_ks("4,8,16,32"), help="embedding widths, comma-separated")
    pl.add_argument("--epochs", type=_positive, default=20, help="training epochs per model (default 20)")
    pl.add_argument("--lr", type=_positive_number, default=None,
                    help="Adam learning rate, cosine decay over the epochs (default: PaperLPConfig's)")
    pl.add_argument("--train-k", type=_positive, default=32, help="implicit training iterations = explicit depth")
    pl.add_argument("--eval-k", type=_positive, default=None,
                    help="implicit test-time iterations (default 4 x --train-k)")
    pl.add_argument("--backward", default="phantom", choices=["phantom", "implicit"],
                    help="implicit model's gradients: phantom (default) or exact implicit differentiation")
    pl.add_argument("--no-residual-feedback", action="store_true",
                    help="drop the KKT-residual feedback from the block (closer to the paper's plain GNN)")
    pl.add_argument("--device", default="cpu")
    pl.add_argument("--seed", type=_seed, default=0)
    pl.add_argument("--data", default=None, help="labelled-data cache (.npz): read if present, else written")
    pl.add_argument("--scheduler", default="serial", help="labelling: 'serial', 'local' Dask cluster, or an address")
    pl.add_argument("--out", default="paper_lp.json", help="JSON report (a .md table is written beside it)")
    pl.add_argument("--plot", default=None, help="PNG path: test error against width, beside the paper's")
    pl.set_defaults(func=_cmd_paper_lp)
    # an option is spelt whole: `train --k 4` (train has no --k) was read as --ksp-type 4
    for parser in (p, *sub.choices.values()):
        parser.allow_abbrev = False
    return p


def _integer(text: str, *, least: int, most: int | None = None, advice: str) -> int:
    """An integer option from ``least`` to ``most``; else argparse's error, ``advice`` its text."""
    try:
        v = int(text)
    except ValueError:
        v = least - 1
    if v < least or (most is not None and v > most):
        raise argparse.ArgumentTypeError(f"{text!r}: {advice}")
    return v


def _positive(text: str) -> int:
    """A count or an iteration number: an integer >= 1."""
    return _integer(text, least=1, advice="give an integer >= 1")


def _training_count(text: str) -> int:
    """`train --train`: an integer >= 2 (one instance, at least, is held out to choose k)."""
    return _integer(text, least=2, advice="give an integer >= 2 (at least one instance is held out to validate the "
                                          "model and choose k)")


def _seed(text: str) -> int:
    """--seed: an integer from 0 to ``options.SEED_LIMIT``."""
    from .options import SEED_LIMIT

    return _integer(text, least=0, most=SEED_LIMIT, advice=f"give an integer from 0 to {SEED_LIMIT}")


def _iterations(text: str) -> int:
    """--k: model iterations, an integer >= 0 (0: no network, the anchor)."""
    from ._limits import K_LIMIT

    return _integer(text, least=0, most=K_LIMIT,
                    advice=f"give an integer from 1 to {K_LIMIT} (model iterations), or 0 (no network)")


def _training_iterations(text: str) -> int:
    """--train-k: model iterations in training, an integer from 1 (refused here, before torch is
    imported and the instances labelled, not by the trainer's config after them)."""
    from ._limits import K_LIMIT

    return _integer(text, least=1, most=K_LIMIT, advice=f"give an integer from 1 to {K_LIMIT} (model iterations)")


def _weight(text: str) -> float:
    """--jacobian-weight: a finite number >= 0 (0: no penalty)."""
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number >= 0 (0: no penalty)")
    return v


def _ks(text: str, *, least: int = 1, most: int | None = None) -> tuple[int, ...]:
    """--widths, --swaps: integers from ``least`` (to ``most``), comma-separated, in increasing order."""
    try:
        ks = sorted({int(v) for v in text.split(",")})
    except ValueError:
        ks = []
    if not ks or ks[0] < least or (most is not None and ks[-1] > most):
        upto = f"from {least} to {most}" if most is not None else f">= {least}"
        raise argparse.ArgumentTypeError(f"{text!r}: give integers {upto}, comma-separated (e.g. 1,2,4,8)")
    return tuple(ks)


def _iteration_list(text: str) -> tuple[int, ...]:
    """--ks: model iterations, comma-separated (0: the anchor, no network)."""
    from ._limits import K_LIMIT

    return _ks(text, least=0, most=K_LIMIT)


def _swap_list(text: str) -> tuple[int, ...]:
    """--swaps: constraint counts, comma-separated (0: the optimum's own active set)."""
    return _ks(text, least=0)


def _time_limit_arg(p: argparse.ArgumentParser) -> None:
    """--time-limit of the LP/QP sweeps (bench, scaling, sensitivity)."""
    p.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                   help="LP/QP: the solver's time limit per solve (default: the backend's, 600 s for PDLP and "
                        "HiGHS, none for OSQP; inf: none); not for SCS, which stops by iterations")


def _seconds(text: str) -> float:
    """--time-limit: a positive number of seconds, or inf for none."""
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds (e.g. 60), or inf for none")
    return v


def _positive_number(text: str) -> float:
    """--tol, --lr: a positive finite number (0 is refused, not read as the default)."""
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number (e.g. 1e-6)")
    return v


def _fractions(text: str) -> tuple[float, ...]:
    """--noise: relative errors > 0, comma-separated, in increasing order."""
    try:
        vs = sorted({float(v) for v in text.split(",")})
    except ValueError:
        vs = []
    if not vs or not vs[0] > 0 or not all(v < float("inf") for v in vs):
        raise argparse.ArgumentTypeError(f"{text!r}: give relative errors > 0, comma-separated (e.g. 1e-4,1e-3,0.01)")
    return tuple(vs)


@contextlib.contextmanager
def _c_stdout_to_stderr():
    """For the block, what C libraries write to file descriptor 1 (HiGHS prints a banner
    whenever a solver object is made) goes to 2, while Python's ``print`` keeps stdout: a
    command's stdout is its report alone, fit for ``> report.txt`` or ``| jq``."""
    try:
        real = sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        real = False  # stdout captured in Python (pytest, a notebook): only descriptor 1 moves
    sys.stdout.flush()
    saved = os.dup(1)
    old = sys.stdout
    if real:
        sys.stdout = open(saved, "w", buffering=1, encoding=old.encoding, errors=old.errors, closefd=False)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        sys.stdout = old
        os.close(saved)


def _state(args: argparse.Namespace) -> bool | None:
    """--pde-solution-state: None (auto), True or False."""
    return {None: None, "auto": None, "on": True, "off": False}[args.pde_solution_state]


def _polish_args(p: argparse.ArgumentParser, where: str) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--polish", action="store_true",
                   help=f"{where}polish the prediction (its active set's KKT system) before the solver; default: "
                        "the checkpoint's choice, made with its automatic k on the validation split (by total time, "
                        "unless dropping it costs relatively more solver iterations than it saves time)")
    g.add_argument("--no-polish", action="store_true", help=f"{where}hand the raw prediction to the solver")


def _polish(args: argparse.Namespace) -> bool | None:
    """--polish / --no-polish, or None: the checkpoint's (or bench's automatic) choice."""
    return True if args.polish else False if args.no_polish else None


def _pde_anchor(args: argparse.Namespace) -> dict[str, str]:
    """--anchor for a PDE family: kernel or nearest ({} for the default)."""
    if args.anchor == "linear":
        raise ValueError(f"--anchor linear applies to LP/QP families only; {args.family} is a PDE family: "
                         "--anchor kernel (the default) or --anchor nearest")
    return {"anchor": args.anchor} if args.anchor is not None else {}


def _lp_anchor(args: argparse.Namespace) -> dict[str, str]:
    """--anchor for an LP/QP family: linear or nearest ({} for the default)."""
    if args.anchor == "kernel":
        raise ValueError(f"--anchor kernel applies to PDE families only; {args.family} is an LP/QP family: "
                         "--anchor linear (the default) or --anchor nearest")
    return {"anchor": args.anchor} if args.anchor is not None else {}


def _refuse_linear_solver_options(args: argparse.Namespace) -> None:
    """--pc and --ksp-type choose the Krylov solve of --solver ksp; Newton keeps the family's own."""
    given = [f"--{n.replace('_', '-')}" for n in ("pc", "ksp_type") if getattr(args, n, None) is not None]
    if args.solver == "snes" and given:
        raise ValueError(f"{', '.join(given)} choose{'s' if len(given) == 1 else ''} the linear solver of --solver "
                         "ksp; with --solver snes each Newton step keeps the linear solver of the family's problem: "
                         f"drop {'it' if len(given) == 1 else 'them'}")


def _refuse(args: argparse.Namespace, names: tuple[str, ...], where: str) -> None:
    """Options given that only mean something for other families: an error, not silence."""
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) not in (None, False)]
    if given:
        raise ValueError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to {where} only; "
                         f"{args.family} is not one")


def _default_family(args: argparse.Namespace) -> dict[str, Any] | None:
    """--family left out of bench or scaling: the one --checkpoint was trained on, so a saved
    model is benched with `bench --checkpoint C` alone. Returns the checkpoint's metadata where it
    read it (for ``_default_solver``: the header is read once)."""
    if not hasattr(args, "family") or args.family is not None:
        return None
    if not getattr(args, "checkpoint", None):
        raise ValueError("--family is required: the family to train and test on (or --checkpoint, whose family is "
                         "then the default)")
    require_checkpoint_file(args.checkpoint)  # before the checkpoint module's torch
    from .checkpoint import describe_checkpoint

    meta = describe_checkpoint(args.checkpoint).meta  # a file that is not one is refused here, by name
    # a PDE checkpoint's family is the mesh-free key (its model runs on any mesh of the family), the
    # spec trained on beside it (not in those written before 2026-12-02); an LP/QP one's is its spec
    spec = meta.get("spec") if meta.get("kind") == "pde" else meta.get("family")
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"--checkpoint {args.checkpoint} does not record the family spec it was trained on (it names "
                         f"{meta.get('family')!r}, its family's key); give --family")
    name, _, rest = spec.partition(":")
    where = rest.split(",")[0]
    if name in ("mps", "files") and not (glob.glob(where) if name == "files" else os.path.exists(where)):
        # the spec's path is as typed where it was trained, often relative to that folder
        raise ValueError(f"--checkpoint {args.checkpoint} was trained on --family {spec}, and {where} is not found "
                         f"from here ({os.getcwd()}): give --family {name}:{'GLOB' if name == 'files' else 'PATH'} "
                         "with the path from here (the checkpoint knows its family by content, not by path)")
    args.family = spec
    return meta


def _default_solver(args: argparse.Namespace, meta: dict[str, Any] | None = None) -> None:
    """--solver left out: the checkpoint's, the solver it was trained and its automatic k chosen
    for, where the command takes it; else the family's own: ksp for a linear PDE family, snes for
    a nonlinear one, pdlp for LP/QP. `bench --family darcy` had run as `--solver pdlp` and then
    been refused for a solver the user never named. meta: the checkpoint's, where already read."""
    if not hasattr(args, "solver") or args.solver is not None:
        return
    from problems.registry import is_pde_family, make_family

    family = getattr(args, "family", None)
    pde_family = family is not None and is_pde_family(family)  # solve: LP/QP files
    if getattr(args, "checkpoint", None) and os.path.isfile(args.checkpoint):  # else the command refuses it, by name
        from .checkpoint import CheckpointError, describe_checkpoint

        try:
            recorded = (meta if meta is not None else describe_checkpoint(args.checkpoint).meta).get("solver")
        except (CheckpointError, OSError):  # the command's own load says what is wrong with the file
            recorded = None
        # a checkpoint of the other side is the loader's to refuse, by family, not this default's
        if recorded in ("pdlp", "osqp", "scs", "highs", "ksp", "snes") and (recorded in ("ksp", "snes")) == pde_family:
            args.solver = recorded
            return
    if pde_family:
        args.solver = "ksp" if make_family(family).kind == "linear" else "snes"
        return
    args.solver = "pdlp"


def _check_solver_options(args: argparse.Namespace) -> None:
    """--tol and --pinned where the solver takes no such setting, refused naming the option:
    make_backend's TypeError lists the backend's Python settings, which the command line does
    not take."""
    from .backends import BACKENDS, backend_class, backend_options

    solver = getattr(args, "solver", None)
    if solver not in BACKENDS:  # ksp, snes: their own options, checked by the PDE commands
        return
    if getattr(args, "tol", None) is not None and "tol" not in backend_options(solver):
        raise ValueError(f"--tol does not apply to --solver {solver}, which runs at its own tolerances (primal and "
                         f"dual feasibility {backend_class(solver).default_tolerance:g}); leave --tol out")
    if getattr(args, "time_limit", None) is not None and "time_limit" not in backend_options(solver):
        takers = ", ".join(b for b in BACKENDS if "time_limit" in backend_options(b))
        raise ValueError(f"--time-limit applies to --solver {takers}; {solver} stops by iterations only: leave "
                         "--time-limit out")
    if getattr(args, "pinned", False) and "pinned" not in backend_options(solver):
        takers = " and ".join(b for b in BACKENDS if "pinned" in backend_options(b))
        raise ValueError(f"--pinned applies to --solver {takers} (it pins OSQP's adaptive rho, SCS's "
                         f"normalisation and acceleration); {solver} has none to pin: leave --pinned out")


_OUTPUTS = ("out", "plot", "save_checkpoint", "solution")


def _on_stdout(args: argparse.Namespace) -> list[str]:
    """The output options (``--out``, ...) that name standard output."""
    from ._files import names_stdout

    return [f"--{n.replace('_', '-')}" for n in _OUTPUTS if getattr(args, n, None) and names_stdout(getattr(args, n))]


@contextlib.contextmanager
def _output_on_stdout(args: argparse.Namespace):
    """Where an output file is standard output (``--out -`` or ``/dev/stdout``), the file alone
    goes there, fit for ``| jq`` or ``> fig.png``, and what the command prints (its table, where
    it wrote what) goes to stderr."""
    from ._files import stdout_kept

    if not _on_stdout(args):
        yield
        return
    try:
        out = sys.stdout.fileno()  # in _c_stdout_to_stderr: the real stdout's copy
    except (AttributeError, OSError, ValueError):  # captured in Python (pytest, a notebook): the stream itself
        out = sys.stdout
    with stdout_kept(out), contextlib.redirect_stdout(sys.stderr):
        yield


def _refuse_overwrite(option: str, path: Path, what: str) -> None:
    """A file already at an output path is written over only if it is what the command writes
    (a checkpoint, a JSON report or solution): `train --out notes.txt` had replaced the notes."""
    try:
        size = path.stat().st_size
    except OSError:  # nothing there yet
        return
    if size == 0:
        return
    why = None
    if what == "checkpoint":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt"):
                pass
        except Exception as exc:  # safetensors raises its own error types for a file that is not one
            why = str(exc).splitlines()[0][:120]
    elif size > 256 * 2**20:
        why = f"{size / 2**20:.0f} MiB, more than a report or solution"
    else:
        try:
            json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            why = str(exc)[:120]
    if why is not None:
        raise ValueError(f"{option} {path}: a file is there that is not a {what} ({why}), and the command writes "
                         "over nothing else: choose another path, or remove the file")


def _is_figure(args: argparse.Namespace, name: str) -> bool:
    """Whether the output option ``name`` is a figure: --plot, and plot's --out."""
    return name == "plot" or (name == "out" and args.func is _cmd_plot)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output path that cannot be written before the work that fills it is spent:
    its folder is made if missing, and must then be a writable folder."""
    from ._files import figure_path, python_stdout, written_in_place

    to_stdout = _on_stdout(args)
    if len(to_stdout) > 1:
        raise ValueError(f"{' and '.join(to_stdout)} {'both' if len(to_stdout) == 2 else 'all'} name standard output; "
                         "send all but one to files")
    # a figure's as save_figure writes it: `--plot r` is r.png, which `--out r.png` would name too
    files = [(f"--{n.replace('_', '-')}", os.path.realpath(figure_path(v) if _is_figure(args, n) else v))
             for n in _OUTPUTS if (v := getattr(args, n, None)) and not written_in_place(v)]
    for name in _OUTPUTS:
        v = getattr(args, name, None)
        if v and _is_figure(args, name) and (stream := python_stdout(v)) is not None and not hasattr(stream, "buffer"):
            raise ValueError(f"--{name.replace('_', '-')} {v}: standard output here is a text stream "
                             f"({type(stream).__name__}), which takes no figure; give a file name")
    for i, (one, path) in enumerate(files):  # the second write would replace the first
        if twice := [other for other, q in files[i + 1:] if q == path]:
            raise ValueError(f"{one} and {twice[0]} name the same file ({path}); give each its own")
    for name in _OUTPUTS:
        path = getattr(args, name, None)
        if not path:
            continue
        if name == "solution" and len(args.instances) > 1:  # a folder then: _solution_paths
            if written_in_place(path):
                raise ValueError(f"--solution {path}: with several instances, --solution names a folder (one "
                                 "NAME.json per file); a device or standard output takes one instance's solution")
            continue
        if written_in_place(path):  # /dev/stdout, a pipe: written in place, its folder (/dev) is not written
            continue
        checkpoint = name == "save_checkpoint" or (name == "out" and args.func is _cmd_train)
        # as train(out=...) from Python refuses it (a folder is told so below)
        if checkpoint and Path(path).suffix != ".safetensors" and not Path(path).is_dir():
            raise ValueError(f"--{name.replace('_', '-')} {path}: a checkpoint is a .safetensors file (weights and "
                             f"JSON metadata); name it e.g. {Path(path).with_suffix('.safetensors')}")
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ValueError(f"--{name.replace('_', '-')} {path}: a file stands where its folder should be") from exc
        except OSError as exc:
            raise ValueError(f"--{name.replace('_', '-')} {path}: cannot make its folder ({exc.strerror})") from exc
        if not os.access(folder, os.W_OK):
            raise ValueError(f"--{name.replace('_', '-')} {path}: its folder {folder} is not writable")
        try:  # for real: os.access says yes to root, and on file systems that take no files (/proc)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            raise ValueError(f"--{name.replace('_', '-')} {path}: cannot write a file in its folder {folder} "
                             f"({exc.strerror or exc}); give a path in a writable folder") from exc
        if Path(path).is_dir():
            raise ValueError(f"--{name.replace('_', '-')} {path}: is a folder; give a file name")
        figure = _is_figure(args, name)
        if not figure:
            _refuse_overwrite(f"--{name.replace('_', '-')}", Path(path),
                              "checkpoint" if checkpoint else "JSON file")
        if figure and Path(path).suffix:
            from matplotlib.backend_bases import FigureCanvasBase

            kinds = FigureCanvasBase.get_supported_filetypes()
            if Path(path).suffix[1:].lower() not in kinds:
                raise ValueError(f"--{name} {path}: matplotlib cannot write a {Path(path).suffix} figure; "
                                 f"use one of {', '.join(sorted(kinds))} (.png by default)")


def _drop_stdout_if_gone() -> bool:
    """Where stdout cannot be written (a full disk, a closed pipe), what is left in its buffer
    goes to the null device, so the interpreter's flush at exit adds no "Exception ignored";
    True where stdout was so gone."""
    try:
        sys.stdout.flush()
    except OSError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, AttributeError, ValueError):  # stdout replaced in Python (pytest, a notebook)
            pass
        return True
    return False


@contextlib.contextmanager
def _plain_warnings():
    """The package's own warnings (a fallback to a cold start, an unseen size, ...) as one line
    each, ``learned-solvers: warning: ...``, not with the library's source line under them."""
    shown = warnings.showwarning
    here = str(Path(__file__).resolve().parent)

    def show(message, category, filename, lineno, file=None, line=None):
        ours = category.__module__.split(".")[0] == __package__ or str(Path(filename).resolve()).startswith(here)
        if not ours:
            return shown(message, category, filename, lineno, file, line)
        print(f"learned-solvers: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ._fenicsx import FEniCSxMissingError
    from .options import check_device

    from ._mpi import launched_ranks, torchrun_ranks

    if (world := torchrun_ranks()) > 1 and args.func is not _cmd_train:
        # each rank would run the whole command and write the same files
        print(f"learned-solvers: error: only `train` runs under torchrun (WORLD_SIZE={world}); "
              "run the other commands as one process", file=sys.stderr)
        return 2

    ranks = launched_ranks()
    if ranks > 1:
        # each rank would run the whole command; the bench's Dask workers, children of an MPI
        # rank, died at start (KilledWorker)
        print(f"learned-solvers: error: the commands run as one process, not under mpirun ({ranks} ranks); for a mesh "
              "spread over MPI ranks, call LearnedPDEStarter from your own dolfinx script under mpirun (docs/pde.md, "
              "'MPI'); for more labelling workers use --scheduler", file=sys.stderr)
        return 2
    from ._interrupt import sigterm_as_ctrl_c

    sigterm_as_ctrl_c()  # a batch job's time limit keeps what Ctrl-C keeps
    try:
        check_device(getattr(args, "device", "cpu"), what="--device")
        _default_solver(args, _default_family(args))
        _check_solver_options(args)
        _check_outputs(args)
        with _c_stdout_to_stderr(), _plain_warnings(), _output_on_stdout(args):
            return int(args.func(args))
    # InvalidProblemError and CheckpointError are ValueErrors: importing them here (the checkpoint
    # module imports torch, 2-3 s) had delayed every refusal of a bad option by as much
    except (FEniCSxMissingError, OSError, ValueError, TypeError, RuntimeError) as exc:  # OSError: a file not found, ...
        if isinstance(exc, BrokenPipeError) and _drop_stdout_if_gone():
            # the reader of stdout left (`| head`): quiet, with the status a shell gives a process its SIGPIPE ends
            return 141
        print(f"learned-solvers: error: {exc}", file=sys.stderr)
        _drop_stdout_if_gone()
        return 2
    except MemoryError as exc:  # e.g. a family spec asking for 100,000 assets
        print(f"learned-solvers: error: out of memory ({exc or 'MemoryError'}): smaller instances (the family's "
              "size parameters), fewer of them (--train, --test), or a machine with more memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a user's Ctrl-C: a line, not a traceback (train and bench keep what they can)
        from ._interrupt import stop_reason

        print(f"learned-solvers: interrupted ({stop_reason()})", file=sys.stderr)
        return 143 if stop_reason() == "SIGTERM" else 130  # 128 + the signal's number, as a shell reports it


if __name__ == "__main__":
    warnings.filterwarnings("default")
    sys.exit(main())
