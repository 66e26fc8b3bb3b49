"""Writing output files whole or not at all: a report, figure, solution or cache is written to
a temporary file beside its path and moved onto the path when complete, so a full disk or an
interrupted run leaves the file that was there before (a report of yesterday's run, say)
instead of a cut one. Reports are standard JSON: a NaN or infinite figure is written as null, as
``solution_dict`` writes a solution's, since jq, JavaScript and most JSON readers refuse Python's
``NaN``."""

from __future__ import annotations

import json
import math
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "figure_path", "json_text", "names_stdout", "python_stdout", "require_checkpoint_file",
           "save_figure", "stdout_kept", "write_json", "write_or_spare", "write_text",
           "written_in_place"]


def _create_beside(p: Path) -> Path:
    """A new empty file in ``p``'s folder, created as ``open(p, "w")`` would create ``p``: its
    mode from the umask (mkstemp's 0600 would make reports private to the writer), or ``p``'s
    own where ``p`` exists, since writing over a file keeps its mode."""
    mode = stat.S_IMODE(p.stat().st_mode) if p.exists() else 0o666
    while True:
        tmp = p.with_name(f".{p.stem}.{secrets.token_hex(4)}{p.suffix or '.tmp'}")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
        except FileExistsError:
            continue
        os.close(fd)
        if p.exists():
            os.chmod(tmp, mode)  # os.open's mode passed through the umask
        return tmp


# what standard output names while Python's is sent elsewhere: a descriptor, or a stream that has
# none (``main`` called in-process under pytest's capture or redirect_stdout(io.StringIO()))
_stdout: list[Any] = []


@contextmanager
def stdout_kept(out: int | Any) -> Iterator[None]:
    """For the block, ``-`` and ``/dev/stdout`` name ``out``, the command's real standard output
    (a descriptor, or a Python stream without one), whatever ``sys.stdout`` is then sent to
    (stderr, for its table)."""
    _stdout.append(out)
    try:
        yield
    finally:
        _stdout.pop()


def _descriptor(path: str | os.PathLike[str]) -> int | None:
    """The open file descriptor ``path`` names (``-`` or ``/dev/stdout``, ``/dev/fd/N``,
    ``/proc/self/fd/N``), or None. Standard output is Python's stdout: while a command sends C
    libraries' output on descriptor 1 to stderr (``cli``), that is another descriptor."""
    text = os.fspath(path)
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            fd = int(text[len(prefix):])
            break
    else:
        fd = {"-": 1, "/dev/stdout": 1, "/dev/stderr": 2}.get(text)
    if fd == 1 and _stdout:
        return _stdout[-1] if isinstance(_stdout[-1], int) else 1
    if fd in (1, 2):
        stream = sys.stdout if fd == 1 else sys.stderr
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # replaced in Python (pytest, a notebook)
            pass
    return fd


def python_stdout(path: str | os.PathLike[str]) -> Any | None:
    """The Python stream standard output is where ``path`` names it and that stream has no
    descriptor (captured in Python: a notebook, pytest, ``redirect_stdout``); else None."""
    if os.fspath(path) not in ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        return None
    stream = _stdout[-1] if _stdout else sys.stdout
    if isinstance(stream, int):
        return None
    try:
        stream.fileno()
        return None
    except (AttributeError, OSError, ValueError):
        return stream


def names_stdout(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is standard output: ``-``, ``/dev/stdout``, ``/dev/fd/1``."""
    fd = _descriptor(path)
    return fd is not None and fd == _descriptor("-")


def written_in_place(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a device, a pipe or an open descriptor, written in place, not
    replaced (links followed: ``/dev/stdout`` to a pipe realpath cannot name). A folder is not
    one: writing a file there fails, either way."""
    if _descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
        return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
    except OSError:  # not there yet (or not reachable): a new file, written the atomic way
        return False


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that read the format from it,
    such as matplotlib's ``savefig``, still do), moved onto ``path`` when the block ends
    without an error and removed otherwise. A link is followed: its target is what is written.
    What is not a regular file (a device, a named pipe) is written in place. An open descriptor
    (``/dev/stdout``) gets the whole file written to it at the end, where it stands: opening
    ``/dev/stdout`` would cut a redirected stdout's file to nothing, and replacing it would
    leave the shell's descriptor on a removed file."""
    fd = _descriptor(path)
    if fd is not None:
        with tempfile.TemporaryDirectory(prefix="learned-solvers-") as folder:
            tmp = Path(folder) / f"out{Path(path).suffix}"
            yield tmp
            if (stream := python_stdout(path)) is not None:
                _write_stream(stream, tmp.read_bytes(), path)
                return
            for stream in (sys.stdout, sys.stderr):  # what was printed before comes first
                with suppress(OSError, ValueError):
                    stream.flush()
            data = memoryview(tmp.read_bytes())
            try:
                while data:
                    data = data[os.write(fd, data):]
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc
        return
    if written_in_place(path):
        yield Path(path)
        return
    p = Path(os.path.realpath(path))
    tmp = None
    try:
        tmp = _create_beside(p)
        yield tmp
        os.replace(tmp, p)  # atomic on POSIX: the temporary file is in the same folder
    except BaseException as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None:  # named by the user's path, not the temporary one
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise


def _write_stream(stream: Any, data: bytes, path: str | os.PathLike[str]) -> None:
    """``data`` to a Python stream: as bytes where it has a buffer, else as text (a figure, which
    is not text, is refused with what to do)."""
    if (buffer := getattr(stream, "buffer", None)) is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
        return
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ValueError(f"{os.fspath(path)}: standard output here is a text stream ({type(stream).__name__}) and "
                         "this file is binary (a figure); give a file name instead") from None
    stream.write(text)
    stream.flush()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """``Path(path).write_text(text)``, whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _plain(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays made Python's and non-finite floats made None."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalar or array
        return _plain(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(obj: Any, *, indent: int | None = 2) -> str:
    """``obj`` as standard JSON (no NaN or Infinity: those become null)."""
    return json.dumps(_plain(obj), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """``obj`` written to ``path`` as standard JSON (``json_text``), whole or not at all; the
    parent folder is created if missing; a spare copy where ``path`` cannot be written
    (``write_or_spare``)."""
    text = json_text(obj) + "\n"

    def write(to: Path) -> None:
        to.parent.mkdir(parents=True, exist_ok=True)
        write_text(to, text)

    return write_or_spare(path, write, "report")


def write_or_spare(path: str | os.PathLike[str], write: Callable[[Path], None], what: str) -> Path:
    """``write(path)``; where that fails (a full disk, its folder removed while a run went on),
    ``write`` to a spare path in the temporary folder, then an OSError that names it: the last
    step of hours of training or benchmarking does not lose them."""
    p = Path(path)
    try:
        write(p)
        return p
    except OSError as exc:
        if written_in_place(p):  # a pipe or stdout whose reader left: nothing to keep a copy of there
            raise
        why = exc.strerror or str(exc)
        spare = Path(tempfile.gettempdir()) / f"{p.stem or what}.{os.getpid()}{p.suffix}"
        try:
            write(spare)
        except OSError:
            raise OSError(f"cannot write the {what} {p} ({why}), nor a spare copy in {spare.parent}") from exc
        raise OSError(f"cannot write the {what} {p} ({why}); it was saved to {spare} instead: move it where you "
                      "want it") from exc


def figure_path(path: str | os.PathLike[str]) -> Path:
    """The file ``save_figure(fig, path)`` writes: ``path``, or without a suffix ``path`` with
    matplotlib's default format's (``r`` -> ``r.png``), unless it is a device such as /dev/null."""
    import matplotlib

    p = Path(path)
    if not p.suffix and not written_in_place(p):  # /dev/null stays itself
        p = p.with_name(f"{p.name}.{matplotlib.rcParams['savefig.format']}")
    return p


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int) -> Path:
    """``fig.savefig(path)``, whole or not at all, in the format the path's suffix names (a path
    without one gets matplotlib's default format's, as ``savefig`` itself does, unless it is a
    device such as /dev/null); the parent folder is created if missing."""
    import matplotlib

    p = figure_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=dpi, format=p.suffix[1:].lower() or matplotlib.rcParams["savefig.format"])
    return p


def require_checkpoint_file(p: str | os.PathLike) -> None:
    """FileNotFoundError, saying what to give, where ``p`` is a folder or no file (checked before
    torch is imported: the command line refuses a mistyped --checkpoint at once)."""
    p = Path(p)
    if p.is_dir():
        inside = sorted(p.glob("*.safetensors"))
        raise FileNotFoundError(f"{p} is a folder, not a checkpoint" + (f": give a file in it, e.g. {inside[0]}"
                                                                         if inside else ""))
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint at {p}")
