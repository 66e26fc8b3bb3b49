"""The paper-lp command on a tiny run: HiGHS labels, eight-row report shape, table beside the paper's."""

from __future__ import annotations

import json

from learned_solvers.bench.paper_lp import PAPER_TABLE
from learned_solvers.cli import main


def test_paper_lp_tiny_run_writes_json_and_table(tmp_path):
    out = tmp_path / "plp.json"
    rc = main(["paper-lp", "--train", "40", "--test", "10", "--widths", "4,8", "--epochs", "1", "--train-k", "4",
               "--data", str(tmp_path / "cache.npz"), "--out", str(out), "--plot", str(tmp_path / "plp.png")])
    assert rc == 0 and (tmp_path / "cache.npz").exists() and (tmp_path / "plp.png").stat().st_size > 10_000
    rep = json.loads(out.read_text())
    assert {(r["kind"], r["width"]) for r in rep["rows"]} == {(k, w) for k in ("implicit", "explicit") for w in (4, 8)}
    for r in rep["rows"]:
        assert 0.0 < r["test_error_mean"] < 10.0 and r["paper"] == PAPER_TABLE[r["kind"]][r["width"]]
    table = (tmp_path / "plp.md").read_text()
    assert "| 4 |" in table and "0.218" in table and "0.397" in table
    # the cache is reused: a second run labels nothing and reads the same instances
    assert main(["paper-lp", "--train", "40", "--test", "10", "--widths", "4", "--epochs", "1", "--train-k", "4",
                 "--data", str(tmp_path / "cache.npz"), "--out", str(tmp_path / "again.json")]) == 0


def test_paper_lp_refuses_bad_options_and_caches_naming_them(tmp_path, capsys):
    """Bad options are refused before any labelling; a --data file that is not the cache paper-lp
    wrote (junk, a pickle, a key missing, NaN optima, mismatched arrays, cut short, a folder) is
    refused naming the file, and nothing is read from a pickle."""
    import numpy as np
    import pytest

    from learned_solvers.bench.paper_lp import PaperLPConfig, make_data

    base = ["paper-lp", "--train", "10", "--test", "1", "--widths", "4", "--epochs", "1", "--train-k", "2",
            "--out", str(tmp_path / "r.json")]
    for opt, said in ((["--lr", "0"], "--lr"), (["--seed", "-1"], "--seed"), (["--eval-k", "0"], "--eval-k"),
                      (["--eval-k", "20000"], "eval_k"), (["--seed", str(2**40)], "--seed")):
        try:  # argparse refuses with SystemExit(2), a config check with exit status 2
            rc = main([*base, *opt])
        except SystemExit as exc:
            rc = exc.code
        assert rc == 2 and said in capsys.readouterr().err, opt
    for bad in ({"lr": float("nan")}, {"seed": -1}, {"train_k": 0}, {"backward": "exact"}, {"batch": 0},
                {"residual_feedback": "yes"}):
        with pytest.raises((ValueError, TypeError)):
            PaperLPConfig(n_train=10, n_test=1, **bad)

    good = tmp_path / "good.npz"
    make_data(PaperLPConfig(n_train=10, n_test=1, data=str(good)), progress=False)
    with np.load(good) as f:
        arrays = dict(f)
    edits = {
        "junk": lambda p: p.write_text("junk"),
        "pickle": lambda p: np.savez(p, **{**arrays, "x": np.array([object()], dtype=object)}),
        "no-x": lambda p: np.savez(p, **{k: v for k, v in arrays.items() if k != "x"}),
        "nan-x": lambda p: np.savez(p, **{**arrays, "x": arrays["x"] * np.nan}),
        "short-x": lambda p: np.savez(p, **{**arrays, "x": arrays["x"][:3]}),
        "cut": lambda p: p.write_bytes(good.read_bytes()[:300]),
    }
    for name, make in edits.items():
        path = tmp_path / f"{name}.npz"
        make(path)
        assert main([*base, "--data", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert f"--data {path}" in err and "not a paper-lp data cache" in err and "Traceback" not in err, (name, err)
    assert main([*base, "--data", str(tmp_path)]) == 2 and "is a folder" in capsys.readouterr().err
    # a cache too small for the run: said with both ways out (it had said only what was missing)
    assert main([*base, "--data", str(good), "--train", "20"]) == 2
    assert f"--data {good} holds 11 instances, and --train + --test ask for 21: ask for at most 11, or delete it" \
        in capsys.readouterr().err
