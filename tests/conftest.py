"""Shared fixtures: the real instances under ../shared/data, tiny families."""

from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def head_commit() -> str | None:
    """The commit the tests run at (None outside a git checkout): what a report made here records."""
    import subprocess

    if not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def netlib(name: str) -> Path:
    p = DATA / "netlib" / f"{name}.mps.gz"
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} not present: CI expects ../shared/data beside the clone (or LS_SHARED_DATA)")
        pytest.skip(f"{p} not present (set LS_SHARED_DATA)")
    return p


def netlib_optimum(name: str) -> float:
    with open(DATA / "netlib" / "optima.csv") as f:
        return {r["name"]: float(r["objective"]) for r in csv.DictReader(f)}[name]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.exists():
        pytest.skip("shared data folder not present")
    return DATA


def maros_meszaros(name: str):
    """A Maros-Meszaros QP (``maros_meszaros/NAME.mat``, read by the product's own ``.mat``
    reader) as ``(QPData, reference optimum)``."""
    from learned_solvers.formats.mat import read_mat

    p = DATA / "maros_meszaros" / f"{name}.mat"
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} not present: CI expects ../shared/data beside the clone (or LS_SHARED_DATA)")
        pytest.skip(f"{p} not present (set LS_SHARED_DATA)")
    with open(DATA / "maros_meszaros" / "optima.csv") as f:
        ref = {r["name"]: float(r["objective"]) for r in csv.DictReader(f)}[name]
    return read_mat(p), ref


def edited_checkpoints(path: Path, out: Path, count: int, seed: int):
    """``count`` seeded edits of the checkpoint at ``path``, written under ``out``, as (what was
    done, file): a metadata key deleted or given a value of another type (at any depth), a
    tensor deleted or cut to half its entries (flat), a byte of the file changed, the file cut
    short. For the loaders' refusal tests: each must load, or be refused with a CheckpointError."""
    import json
    import random

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    rng = random.Random(seed)
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["learned_solvers"])

    def keys(d, above=()):
        for k, v in d.items():
            yield above + (k,)
            if isinstance(v, dict):
                yield from keys(v, above + (k,))

    places = list(keys(meta))
    junk = [None, "x", [], {}, -1, 0, 10**12, 1e308, True, [1, 2], {"a": 1}, "1.0", [[1.0]]]
    for t in range(count):
        m, state = json.loads(json.dumps(meta)), dict(tensors)
        what = rng.choice(["delete key", "junk value", "delete tensor", "halve tensor", "byte", "cut"])
        where = rng.choice(places)
        if what in ("delete key", "junk value"):
            d = m
            for k in where[:-1]:
                d = d[k]
            if what == "delete key":
                del d[where[-1]]
            else:
                d[where[-1]] = rng.choice(junk)
        elif what in ("delete tensor", "halve tensor"):
            where = rng.choice(sorted(state))
            v = state.pop(where)
            if what == "halve tensor":
                state[where] = v.reshape(-1)[: max(1, v.numel() // 2)].clone()
        f = out / f"edit{t}.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(f), metadata={"learned_solvers": json.dumps(m)})
        if what in ("byte", "cut"):
            b = bytearray(f.read_bytes())
            where = rng.randrange(len(b))
            if what == "byte":
                b[where] = rng.randrange(256)
            f.write_bytes(bytes(b if what == "byte" else b[:where]))
        yield f"{what} {where}", f


def edit_outcomes(path: Path, tmp_path: Path, capsys, use, *, named=lambda f, exc: f.name in str(exc)) -> set[str]:
    """The seeded-edit tests' loop: 150 edits of the checkpoint ``path``; on each, `info` and
    `plot` describe it or refuse it naming the file, and ``use(f, what)`` (which checks what
    the edited checkpoint did and returns its outcome's name) runs with warnings silenced. A
    ``CheckpointError`` counts as "refused" where ``named(f, exc)``. Returns the outcomes seen."""
    import warnings

    from learned_solvers.checkpoint import CheckpointError

    outcomes = set()
    for what, f in edited_checkpoints(path, tmp_path, 150, seed=0):
        assert_described_or_named(f, tmp_path, capsys, what)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes.add(use(f, what))
        except CheckpointError as exc:
            assert named(f, exc), what
            outcomes.add("refused")
    return outcomes


def assert_described_or_named(f: Path, out: Path, capsys, what: str) -> None:
    """`info` and `plot` (the training curve) on the checkpoint ``f``: each describes it, or
    refuses it with one line naming the file (for the seeded-edit tests)."""
    from learned_solvers.cli import main

    for argv in (["info", str(f)], ["plot", str(f), "--out", str(out / "curve.png")]):
        rc = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 0 or (rc == 2 and str(f) in err[-1]), (what, argv[0], err[-1:])


def interrupt_command(args: list[str], bar: bytes, after: int, sig: str = "SIGINT", group: bool = False,
                      launcher: tuple[str, ...] = ("-m", "learned_solvers.cli"), env: dict | None = None,
                      cwd: Path | None = None) -> tuple[int, str, str]:
    """Run the CLI with ``args``, send a real SIGINT (or ``sig``) once tqdm's ``bar`` shows
    ``after`` steps, and return (exit status, stdout, stderr). ``group``: to the CLI's whole
    process group, its children too, as a terminal's Ctrl-C goes. ``launcher``: what Python runs
    before ``args`` (torchrun's module and options, say); ``env``: added to the environment."""
    import re
    import signal
    import subprocess
    import sys
    import time

    # a job started in the background (CI) inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: the child gets the default disposition back, as a terminal's foreground has
    # the bars refresh as on a terminal (into a pipe they would every 30 s): tqdm's own setting
    env = {**os.environ, "TQDM_MININTERVAL": "0.1", **(env or {})}
    proc = subprocess.Popen([sys.executable, *launcher, *args], stdout=subprocess.PIPE, env=env, cwd=cwd,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            start_new_session=group)
    err, deadline = b"", time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            chunk = os.read(proc.stderr.fileno(), 65536)
            err += chunk
            done = re.findall(bar + rb"[^\r\n]*?(\d+)/\d+ \[", err)
            if not chunk or (done and int(done[-1]) >= after):
                break
        if group:
            os.killpg(proc.pid, getattr(signal, sig))
        else:
            proc.send_signal(getattr(signal, sig))
        out, rest = proc.communicate(timeout=180)
    finally:
        proc.kill()
    return proc.returncode, out.decode(errors="replace"), (err + rest).decode(errors="replace")


def ends_within(seconds: float, work):
    """``work()``'s value, or the test failed if it has not ended after ``seconds`` (a hang)."""
    got = []
    runner = threading.Thread(target=lambda: got.append(work()), daemon=True)
    runner.start()
    runner.join(seconds)
    if runner.is_alive():
        pytest.fail(f"still waiting after {seconds} s")
    return got[0]
