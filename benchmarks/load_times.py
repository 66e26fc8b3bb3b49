"""Time what a user waits for before the first solve: loading a checkpoint, and the commands
that only read files (`info`, `plot`, `solve` of one file). Not a bench figure: the bench times
inference and solves in a warm process.

    python benchmarks/load_times.py --dir runs/load_times            # trains four tiny checkpoints once
    PYTHONPATH=/path/to/other/checkout python benchmarks/load_times.py --dir runs/load_times

Each figure is a fresh Python process (best of --repeat); the second form times another
version of the code on the same files (a git worktree), as benchmarks/HISTORY.md's session 63 did.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
_LOAD = ("import time, torch{pde}\nfrom {module} import {cls}\n"
         "t = time.perf_counter(); {cls}.from_checkpoint({path!r}{k}); a = time.perf_counter() - t\n"
         "t = time.perf_counter(); {cls}.from_checkpoint({path!r}{k}); b = time.perf_counter() - t\n"
         "print(a, b)")


# the script's own module is appended to the path: the code timed stays the installed or PYTHONPATH one
_CVXPY = ("import sys\nsys.path.append({tests!r})\nimport numpy as np\nfrom cvxpy_portfolio import build\n"
          "from learned_solvers.cvxpy_plugin import LearnedOSQP\nprob = build(np.random.default_rng(7))\n"
          "prob.solve(solver=LearnedOSQP({path!r}))\nassert prob.status == 'optimal'")

_DOLFINX = ("import sys\nsys.path.append({root!r})\nimport dolfinx_solver\nfrom problems.registry import make_family\n"
            "from learned_solvers.warmstart_pde import LearnedPDEStarter\nfam = make_family('darcy:n=8')\n"
            "prob, fields = fam.load(fam.sample(1, seed=11)[0])\n"
            "res = LearnedPDEStarter.from_checkpoint({path!r}).solve(prob, fields=fields)\n"
            "assert res.status == 'optimal'")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "learned_solvers.cli", *args]


def _run(cmd: list[str], cwd: Path) -> str:
    """stdout of cmd, run from ``cwd``: outside any checkout, so that the code is the one on
    PYTHONPATH or installed, not the one in the working folder (which Python puts first)."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd).stdout


def _timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    _run(cmd, cwd)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, required=True, help="folder for the two tiny checkpoints (made if missing)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    args.dir = args.dir.resolve()
    lp, pde = args.dir / "lp.safetensors", args.dir / "pde.safetensors"
    # whose automatic start is the polished anchor (k = 0, no network): afiro's and the portfolio's
    afiro, portfolio = args.dir / "afiro.safetensors", args.dir / "portfolio.safetensors"
    for path, how in ((lp, ("--family", "random-lp:m=10,n=20", "--train", "12")),
                      (pde, ("--family", "darcy:n=8", "--train", "12")),
                      (afiro, ("--family", f"mps:{DATA / 'netlib' / 'afiro.mps.gz'}", "--solver", "pdlp", "--train", "16")),
                      (portfolio, ("--family", "cvxpy:tests.cvxpy_portfolio:build", "--solver", "osqp", "--train", "16"))):
        if not path.exists():  # from the checkout (the portfolio's module is in its tests/)
            _run(_cli("train", *how, "--epochs", "1", "--scheduler", "serial", "--out", str(path)), ROOT)
    code = _run([sys.executable, "-c", "import learned_solvers; print(learned_solvers.__file__)"], args.dir)
    print(f"code: {Path(code.strip()).parent}")
    # the tiny checkpoints' automatic k is 0, whose load builds no network (since 0777e75); k = 1 builds it
    for name, module, cls, path, pde_import, k in (
            ("LearnedWarmStarter.from_checkpoint", "learned_solvers.warmstart", "LearnedWarmStarter", lp, "", ""),
            ("LearnedWarmStarter.from_checkpoint(k=1)", "learned_solvers.warmstart", "LearnedWarmStarter", lp, "",
             ", k=1"),
            ("LearnedPDEStarter.from_checkpoint", "learned_solvers.warmstart_pde", "LearnedPDEStarter", pde,
             ", dolfinx_solver", ""),
            ("LearnedPDEStarter.from_checkpoint(k=1)", "learned_solvers.warmstart_pde", "LearnedPDEStarter", pde,
             ", dolfinx_solver", ", k=1")):
        code = _LOAD.format(pde=pde_import, module=module, cls=cls, path=str(path), k=k)
        runs = [tuple(map(float, _run([sys.executable, "-c", code], args.dir).split())) for _ in range(args.repeat)]
        print(f"{name}: first load {min(r[0] for r in runs):.3f} s, second {min(r[1] for r in runs):.3f} s")
    report = ROOT / "benchmarks" / "results" / "scaling-kb2-polish.json"
    for label, cmd in (("info", _cli("info", str(lp))),
                       ("plot of a scaling report", _cli("plot", str(report), "--out", str(args.dir / "s.png"))),
                       ("solve afiro (one file, cold: out of family)",
                        _cli("solve", str(DATA / "netlib" / "afiro.mps.gz"), "--checkpoint", str(lp), "--solver",
                             "highs")),
                       ("solve afiro with its own family's k = 0 checkpoint",
                        _cli("solve", str(DATA / "netlib" / "afiro.mps.gz"), "--checkpoint", str(afiro), "--solver",
                             "pdlp")),
                       ("a cvxpy portfolio script through LearnedOSQP, k = 0 checkpoint",
                        [sys.executable, "-c", _CVXPY.format(tests=str(ROOT / "tests"), path=str(portfolio))]),
                       ("a dolfinx darcy script through LearnedPDEStarter, k = 0 checkpoint",
                        [sys.executable, "-c", _DOLFINX.format(root=str(ROOT), path=str(pde))])):
        print(f"{label}: {min(_timed(cmd, args.dir) for _ in range(args.repeat)):.2f} s (whole command)")


if __name__ == "__main__":
    main()
