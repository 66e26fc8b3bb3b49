"""The paper-lp command on a tiny run: HiGHS labels, eight-row report shape, table beside the paper's."""

from __future__ import annotations

import json

from learned_solvers.bench.paper_lp import PAPER_TABLE
from learned_solvers.cli import main


def test_paper_lp_tiny_run_writes_json_and_table(tmp_path):
    out = tmp_path / "plp.json"
    rc = main(["paper-lp", "--train", "40", "--test", "10", "--widths", "4,8", "--epochs", "1", "--train-k", "4",
               "--data", str(tmp_path / "cache.npz"), "--out", str(out)])
    assert rc == 0 and (tmp_path / "cache.npz").exists()
    rep = json.loads(out.read_text())
    assert {(r["kind"], r["width"]) for r in rep["rows"]} == {(k, w) for k in ("implicit", "explicit") for w in (4, 8)}
    for r in rep["rows"]:
        assert 0.0 < r["test_error_mean"] < 10.0 and r["paper"] == PAPER_TABLE[r["kind"]][r["width"]]
    table = (tmp_path / "plp.md").read_text()
    assert "| 4 |" in table and "0.218" in table and "0.397" in table
    # the cache is reused: a second run labels nothing and reads the same instances
    assert main(["paper-lp", "--train", "40", "--test", "10", "--widths", "4", "--epochs", "1", "--train-k", "4",
                 "--data", str(tmp_path / "cache.npz"), "--out", str(tmp_path / "again.json")]) == 0
