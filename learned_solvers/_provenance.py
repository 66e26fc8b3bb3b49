"""What made a report or a checkpoint: the package's version and, in a git checkout, its commit;
when, by which command, on what machine, with which solver and library releases. A figure in a
committed report can then be traced to the code and the machine that measured it, and a rerun on
other code told from the old one."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from ._version import __version__

__all__ = ["provenance", "stamped", "describe_provenance"]

# the distributions whose release moves a figure: the solvers, the numerics, the model's framework
PACKAGES = ("numpy", "scipy", "torch", "ortools", "osqp", "scs", "highspy", "clarabel", "cvxpy", "PySCIPOpt",
            "dolfinx-solver-real", "fenics-dolfinx", "dask")
# the code that makes the figures (git pathspecs): a change to the docs or to the reports themselves,
# which a script of several bench runs rewrites as it goes, does not make a report's commit a lie
CODE = ("learned_solvers", "problems", ":(glob)benchmarks/*.py", ":(glob)benchmarks/*.sh")


@cache
def _checkout() -> Path | None:
    """The source checkout this package runs from (an editable install, or the repo itself), or
    None (an installed wheel: its folder may sit inside some other repository)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / ".git").exists() and (root / "pyproject.toml").is_file() else None


def _git(*args: str) -> str | None:
    root = _checkout()
    if root is None:
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no git on the machine, or it hung
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _command() -> list[str]:
    """argv, the program by its base name; ``python -m learned_solvers.cli`` as the command it is,
    and ``python -m pytest`` as ``pytest`` (not its ``__main__.py``)."""
    if not sys.argv or not sys.argv[0]:
        return ["python", *sys.argv[1:]]
    prog = Path(sys.argv[0])
    if prog.suffix == ".py" and prog.resolve().parent == Path(__file__).resolve().parent:
        return ["learned-solvers", *sys.argv[1:]]
    return [prog.parent.name if prog.name == "__main__.py" else prog.name, *sys.argv[1:]]


def provenance() -> dict[str, Any]:
    """JSON-able: ``learned_solvers`` (version), ``commit`` (None outside a git checkout),
    ``code_changed`` (the commit's learned_solvers/, problems/ or benchmarks' scripts differ from
    the files that ran; None where unknown), ``written_utc``, ``command`` (argv, the program by its base
    name), ``python``, ``machine`` (platform, CPUs this process may use, torch's threads where
    torch is loaded) and ``packages`` (the releases installed)."""
    commit = _git("rev-parse", "HEAD")
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE) if commit else None
    machine: dict[str, Any] = {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))
                               if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    torch = sys.modules.get("torch")  # not imported for this (2-3 s): loaded wherever a network ran
    if torch is not None:
        machine["torch_threads"] = torch.get_num_threads()
    return {"learned_solvers": __version__, "commit": commit,
            "code_changed": None if changed is None else bool(changed),
            "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": _command(),
            "python": platform.python_version(), "machine": machine, "packages": _packages()}


def stamped(rep: dict[str, Any]) -> dict[str, Any]:
    """``rep`` with its ``provenance`` as it is written (a copy: the caller's dict is unchanged)."""
    return {**rep, "provenance": provenance()}


def describe_provenance(p: Any) -> str | None:
    """Where and when, for people: "at commit 1a2b3c4d5e6f, 2026-12-04 08:45 UTC, 2 CPUs" (what
    follows a version in ``info``); None for metadata from before provenance was kept."""
    if not isinstance(p, dict) or not isinstance(p.get("learned_solvers"), str):
        return None
    commit = p.get("commit")
    parts = [f"at commit {commit[:12]}" + (" with changes to its code" if p.get("code_changed") else "")
             if isinstance(commit, str) else "not from a git checkout"]
    when = p.get("written_utc")
    if isinstance(when, str):
        parts.append(when[:16].replace("T", " ") + " UTC")
    cpus = p.get("machine", {}).get("cpus") if isinstance(p.get("machine"), dict) else None
    if isinstance(cpus, int):
        parts.append(f"{cpus} CPU{'s' * (cpus != 1)}")
    return ", ".join(parts)
