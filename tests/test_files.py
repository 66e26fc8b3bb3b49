"""Output files are written whole or not at all: when a write fails (here the process may not
write past 4 kB, RLIMIT_FSIZE, as a full disk would stop it), the file that was there before is
kept, no temporary file is left beside it, and the command ends with one line naming the file."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 4096


def _small_files() -> None:  # in the child: writes past LIMIT bytes fail with EFBIG instead of a signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "learned_solvers.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, preexec_fn=_small_files, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("command", ["bench", "train"])
def test_a_failed_write_keeps_the_file_that_was_there(tmp_path, command):
    fam = ["--family", "random-lp:m=5,n=10", "--solver", "pdlp", "--train", "4", "--epochs", "1", "--width", "8",
           "--scheduler", "serial"]
    if command == "bench":
        out, old = tmp_path / "report.json", '{"old": "report"}\n'
        args = ["bench", *fam, "--test", "2", "--out", str(out)]
    else:
        out, old = tmp_path / "model.safetensors", "an older checkpoint\n"
        args = ["train", *fam, "--out", str(out)]
    out.write_text(old)
    r = _run(args, tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("learned-solvers: error:") and str(out) in last and "Traceback" not in r.stderr, last
    assert out.read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_atomic_writes_keep_permissions_follow_links_and_name_the_path(tmp_path):
    from learned_solvers._files import atomic_path, save_figure, write_text

    target = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_text(link, "{}")
    assert link.is_symlink() and target.read_text() == "{}"
    assert (target.stat().st_mode & 0o777) == 0o666 & ~_current_umask()  # as open() would create it
    target.chmod(0o640)
    write_text(target, "{}")
    assert (target.stat().st_mode & 0o777) == 0o640  # writing over a file keeps its mode
    with pytest.raises(OSError, match="real.json"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "{}" and sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    assert save_figure(fig, tmp_path / "fig", dpi=50) == tmp_path / "fig.png"  # as savefig names it
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"
    # what is not a regular file is written in place (a pipe here; /dev/null alike): moving a finished
    # temporary file onto /dev/stdout sent to /dev/null, as root, had made /dev/null a regular file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_text(fifo, "through a pipe")
    reader.join(10)
    assert got == ["through a pipe"] and fifo.is_fifo()
    from learned_solvers._files import written_in_place

    assert written_in_place(fifo) and written_in_place("/dev/null") and written_in_place("-")
    assert not written_in_place(target) and not written_in_place(tmp_path / "new.png")
    plt.close(fig)


@pytest.mark.parametrize("target", ["-", "/dev/stdout"])
def test_a_report_sent_to_stdout_is_the_json_alone_and_leaves_stderr_alone(tmp_path, target):
    """``--out -`` (or /dev/stdout) with stdout and stderr sent to files: stdout holds the JSON
    report alone, fit for ``| jq``, and the table goes to stderr. /dev/stdout had gone to stderr,
    where the command sends C libraries' stdout, and replaced the stderr file with the report."""
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:
        r = subprocess.run([sys.executable, "-m", "learned_solvers.cli", "bench", "--family", "random-lp:m=5,n=10",
                            "--train", "4", "--test", "2", "--epochs", "1", "--width", "8", "--scheduler", "serial",
                            "--out", target], cwd=tmp_path, stdout=o, stderr=e, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, err.read_text()[-2000:]
    rep = json.loads(out.read_text())
    assert rep["family"].startswith("random-lp") and rep["n_test"] == 2
    log = err.read_text()
    assert "labelling" in log[:400] and "time_ratio" in log and log.rstrip().endswith(f"report written to {target}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["err.txt", "out.txt"]


def test_stdout_captured_in_python_gets_the_report_alone(tmp_path, monkeypatch):
    """``main([..., "--out", "-"])`` called in-process (a notebook, a script's redirect_stdout):
    the report goes to the Python stream that is stdout, alone; it had gone to descriptor 1, which
    the command sends to stderr. A figure is refused up front where that stream takes only text."""
    import contextlib
    import io

    from learned_solvers.cli import main

    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["bench", "--family", "random-lp:m=5,n=10", "--train", "4", "--test", "2", "--epochs", "1",
                   "--width", "8", "--scheduler", "serial", "--out", "-"])
    assert rc == 0, err.getvalue()[-2000:]
    rep = json.loads(out.getvalue())
    assert rep["n_test"] == 2 and "time_ratio" in err.getvalue()
    (tmp_path / "r.json").write_text(out.getvalue())
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["plot", "r.json", "--out", "-"]) == 2
    assert "standard output here is a text stream (StringIO), which takes no figure" in err.getvalue()
    binary = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # a stream with a buffer takes the PNG
    with contextlib.redirect_stdout(binary):
        assert main(["plot", "r.json", "--out", "-"]) == 0
    binary.flush()
    assert binary.buffer.getvalue().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_one_output_on_stdout_and_no_markdown_beside_a_device(tmp_path):
    r = _run(["bench", "--family", "random-lp:m=5,n=10", "--out", "-", "--plot", "/dev/stdout"], tmp_path)
    assert r.returncode == 2 and "--out and --plot both name standard output; send all but one to files" in r.stderr
    r = _run(["bench", "--family", "random-lp:m=5,n=10", "--out", "r.json", "--save-checkpoint", "./r.json"], tmp_path)
    assert r.returncode == 2 and "--out and --save-checkpoint name the same file" in r.stderr, r.stderr
    # a figure without a suffix is saved as matplotlib's default format's, r -> r.png
    r = _run(["bench", "--family", "random-lp:m=5,n=10", "--out", "r.png", "--plot", "r"], tmp_path)
    assert r.returncode == 2 and "--out and --plot name the same file" in r.stderr, r.stderr
    r = _run(["solve", "a.mps", "b.mps", "--checkpoint", "c.safetensors", "--solution", "-"], tmp_path)
    assert r.returncode == 2 and "a device or standard output takes one instance's solution" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # paper-lp writes its table beside the report: beside /dev/stdout that was a new file in /dev
    from learned_solvers.bench import paper_lp

    fifo = tmp_path / "report"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    rep = {"metric": "m", "config": {"backward": "b", "train_k": 1}, "rows": []}
    assert paper_lp.write(rep, fifo) == (fifo, None)
    reader.join(10)
    written = json.loads(got[0])
    assert written.pop("provenance")["learned_solvers"] and written == rep  # the report, and what made it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_an_output_path_holding_another_kind_of_file_is_not_written_over(tmp_path):
    """`train --out notes.txt` replaced the notes with a checkpoint; a report (--out) or solution
    likewise wrote over any file. A checkpoint goes only over a checkpoint, a JSON file over a
    JSON file (an older report), refused before any work."""
    # a checkpoint's name ends in .safetensors (another is refused as such): notes under that name
    notes, named = tmp_path / "notes.txt", tmp_path / "notes.safetensors"
    for f in (notes, named):
        f.write_text("precious\n")
    fam = ["--family", "random-lp:m=5,n=10", "--train", "4", "--epochs", "1", "--width", "8", "--scheduler", "serial"]
    for args, what, f in ((["train", *fam, "--out", str(named)], "checkpoint", named),
                          (["bench", *fam, "--save-checkpoint", str(named)], "checkpoint", named),
                          (["bench", *fam, "--out", str(notes)], "JSON file", notes)):
        r = _run(args, tmp_path)
        assert r.returncode == 2 and f"{f}: a file is there that is not a {what}" in r.stderr, r.stderr[-800:]
        assert "labelling" not in r.stderr and f.read_text() == "precious\n"
    ck, old = tmp_path / "model.safetensors", tmp_path / "old.json"
    old.write_text('{"an": "older report"}')
    for args in (["train", *fam, "--out", str(ck)],
                 ["bench", *fam, "--test", "2", "--save-checkpoint", str(ck), "--out", str(old)]):
        r = subprocess.run([sys.executable, "-m", "learned_solvers.cli", *args], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})  # no file-size limit
        assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(old.read_text())["n_test"] == 2


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_paper_lp_cache_without_npz_suffix_is_read_back(tmp_path):
    """A --data path without .npz: numpy's savez added the suffix, so the next run found no cache."""
    from learned_solvers.bench.paper_lp import PaperLPConfig, make_data

    path = tmp_path / "cache"
    d = make_data(PaperLPConfig(n_train=10, n_test=1, data=str(path)), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
    again = make_data(PaperLPConfig(n_train=10, n_test=1, data=str(path)), progress=False)
    assert json.dumps(again.x.tolist()) == json.dumps(d.x.tolist())
