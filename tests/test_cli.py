"""The command line: demo and error handling."""

from __future__ import annotations

import subprocess
import sys


def test_demo_prints_error_falling_with_k():
    out = subprocess.run(
        [sys.executable, "-m", "learned_solvers.cli", "demo"], capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr
    rows = [l.split("|") for l in out.stdout.splitlines() if l.strip()[:1].isdigit()]
    errors = [float(r[1]) for r in rows]
    assert len(errors) >= 5 and errors[-1] < 0.1 * errors[0]


def test_unknown_option_is_rejected():
    out = subprocess.run(
        [sys.executable, "-m", "learned_solvers.cli", "demo", "--bogus"], capture_output=True, text=True
    )
    assert out.returncode != 0 and "unrecognized arguments" in out.stderr
