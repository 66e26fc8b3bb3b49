"""Checkpoints: weights in safetensors, metadata as JSON inside the same file. No pickle."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import require_checkpoint_file
from ._provenance import describe_provenance, provenance
from ._version import __version__

if TYPE_CHECKING:  # torch is imported where weights are read or a model built: `info` reads the header alone
    import torch

__all__ = ["CheckpointError", "Checkpoint", "CheckpointInfo", "save_checkpoint", "load_checkpoint",
           "describe_checkpoint", "format_checkpoint_info", "interpreting", "model_for_weights", "UnbuiltNetwork",
           "LazyNetwork"]

FORMAT = "learned-solvers/1"


class CheckpointError(ValueError):
    """The checkpoint is unreadable, of another format or version, or of another family."""


@dataclass
class Checkpoint:
    """state: weights (torch tensors, or numpy arrays where loaded with ``arrays="numpy"``);
    meta: JSON-able dict (format, version, kind, family, model config...)."""

    state: dict[str, Any]
    meta: dict[str, Any]


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    from ._files import atomic_path, write_or_spare

    full = {"format": FORMAT, "version": __version__, **meta, "provenance": provenance()}
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def write(to: Path) -> None:
        try:
            to.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(to) as tmp:
                save_file(tensors, str(tmp), metadata={"learned_solvers": json.dumps(full)})
        except SafetensorError as exc:  # an I/O error in safetensors' Rust writer (a full disk) comes as this
            raise OSError(str(exc)) from exc

    # where the path went bad while training ran (a full disk, a folder removed), the model is kept
    return write_or_spare(path, write, "checkpoint")


# what each kind's loader reads from the metadata
_REQUIRED = {"qp-implicit-gnn": ("family", "model", "scale_range"), "pde": ("family", "model", "norm", "signature")}
# which class loads each kind of checkpoint (for the message when the wrong one is used)
_LOADERS = {"qp-implicit-gnn": "learned_solvers.warmstart.LearnedWarmStarter.from_checkpoint (LP/QP)",
            "pde": "learned_solvers.warmstart_pde.LearnedPDEStarter.from_checkpoint (dolfinx)"}


def load_checkpoint(path: str | os.PathLike[str], *, kind: str | None = None,
                    family: str | tuple[str, ...] | None = None, arrays: str = "torch") -> Checkpoint:
    """Load weights and metadata; refuse another format, major version, kind or family.
    ``family``: the family's names (its spec, and its ``family_key`` where that is another,
    e.g. an MPS file's content rather than its path); either may match the checkpoint's.
    ``arrays``: "torch" tensors, or "numpy" arrays, read without importing torch (2-3 s)."""
    from safetensors import SafetensorError

    if arrays not in ("torch", "numpy"):
        raise ValueError(f"arrays must be 'torch' or 'numpy', got {arrays!r}")
    p = Path(path)
    meta, _ = _read_header(p)
    why = _refusal(meta, kind=kind, family=family)
    if why is not None:
        raise CheckpointError(f"{p}: {why}")
    if arrays == "numpy":
        from safetensors.numpy import load_file
    else:
        from safetensors.torch import load_file
    try:
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:  # TypeError: a dtype numpy lacks (bf16)
        raise _unreadable(p, exc) from exc
    # training never saves a NaN or inf (it refuses to), so one here is damage; left in, every
    # later start would fall back to cold with a warning, a solve at a time
    bad = [k for k, v in state.items() if not _finite(v)]
    if bad:
        raise CheckpointError(f"{p}: {', '.join(sorted(bad)[:3])}{' and others' if len(bad) > 3 else ''} "
                              "hold NaN or inf, which training never saves: the file was damaged; restore it or "
                              "retrain")
    return Checkpoint(state=state, meta=meta)


def _finite(v: Any) -> bool:
    """A tensor or array holds no NaN or inf (one not of floating point, none)."""
    import numpy as np

    if isinstance(v, np.ndarray):
        return not np.issubdtype(v.dtype, np.floating) or bool(np.isfinite(v).all())
    import torch

    return not v.is_floating_point() or bool(torch.isfinite(v).all())


@contextmanager
def interpreting(path: str | os.PathLike[str]) -> Iterator[None]:
    """Errors raised while a loader builds its model, anchors and options from a checkpoint that
    ``load_checkpoint`` took (its format, version and family fit), as a CheckpointError: what
    is left to go wrong is contents this version cannot use (an edited or damaged file)."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its contents do not fit this version of learned-solvers "
                              f"({type(exc).__name__}: {exc}); the file was edited or damaged: retrain or restore "
                              "it") from exc


def model_for_weights(path: str | os.PathLike[str], build: Callable[[], torch.nn.Module],
                      state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """The model ``build()`` makes from the recorded config, on the CPU, its weights not yet
    loaded; refused if it would not take the weights ``state``, without spending memory on a
    config that asks for more (an edited one could ask for terabytes): its weights are first
    counted on torch's meta device, the spectral norms' vectors left out
    (``core.counting_parameters``: their start there costs 2-3 s of imports), and a config that
    makes more than the file holds is refused. Only then is the model built (at most three times
    the file's weights) and its shapes compared."""
    import torch

    from .core import counting_parameters

    with torch.device("meta"), counting_parameters():
        asked = sum(t.numel() for t in build().state_dict().values())
    held = sum(t.numel() for t in state.values())
    if asked > held:
        raise CheckpointError(f"{path}: the recorded model config makes {asked:,} weights, more than the file's "
                              f"{held:,}; the file was edited or damaged: retrain or restore it")
    model = build()
    want = model.state_dict()
    wrong = [f"{k} is {tuple(state[k].shape)}, the config makes {tuple(v.shape)}"
             for k, v in want.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    missing = [k for k in want if k not in state]
    if wrong or missing:
        raise CheckpointError(f"{path}: the weights do not fit the recorded model config ("
                              + "; ".join(wrong[:2] + [f"no {k}" for k in missing[:2]])
                              + "); the file was edited or damaged: retrain or restore it")
    return model


class UnbuiltNetwork:
    """A checkpoint's network, not yet built: ``build()`` checks the weights against the recorded
    config and loads them. A start that runs no network (k = 0, the anchor) is made without it, and
    without importing torch (2-3 s, most of a `solve` command's time). A subclass names its model
    (``make``)."""

    def __init__(self, path: str | os.PathLike[str], config: Any, weights: Mapping[str, Any]) -> None:
        self.path, self.config, self.weights = path, config, weights

    def make(self, config: dict[str, Any]) -> Callable[[], torch.nn.Module]:
        """What builds the model from the recorded config (TypeError or ValueError if it cannot)."""
        raise NotImplementedError

    def build(self) -> torch.nn.Module:
        import torch

        with interpreting(self.path):
            if not isinstance(self.config, dict):
                raise TypeError(f"the recorded model config is {type(self.config).__name__}, not a JSON object")
            try:
                make = self.make(self.config)
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"{self.path}: the recorded model config does not fit this version ({exc})"
                                      ) from exc
            weights = {k: torch.from_numpy(v) for k, v in self.weights.items()}
            model = model_for_weights(self.path, make, weights)
            missing, unexpected = model.load_state_dict(weights, strict=False)
            if missing or unexpected:
                raise CheckpointError(f"{self.path}: weights do not fit the model (missing {missing[:3]}, "
                                      f"unexpected {unexpected[:3]})")
        return model


class LazyNetwork:
    """A starter whose network may come as an ``UnbuiltNetwork``, built on first use
    (``_network()``): a checkpoint loaded for a start that runs none never builds it. The
    subclass's ``_take(model)`` readies a built one (device, precision)."""

    _model: Any = None
    _unbuilt: UnbuiltNetwork | None = None

    def _hold(self, model: torch.nn.Module | UnbuiltNetwork) -> None:
        self._model = None
        self._unbuilt = model if isinstance(model, UnbuiltNetwork) else None
        if self._unbuilt is None:
            self._take(model)

    def _take(self, model: torch.nn.Module) -> None:
        raise NotImplementedError

    def _network(self) -> Any:
        if self._model is None:
            self._take(self._unbuilt.build())
            self._unbuilt = None
        return self._model

    def _built_in(self) -> float:
        """Build the network if it is not yet; the seconds that took (0 where built): a cost of
        the process, as loading the checkpoint is, which a start's inference time leaves out."""
        if self._model is not None:
            return 0.0
        t = time.perf_counter()
        self._network()
        return time.perf_counter() - t


def _unreadable(p: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(f"{p}: not a learned-solvers checkpoint, or one damaged or cut short (an interrupted "
                           f"copy?): safetensors read failed: {exc}. Copy it again, or retrain")


def _read_header(p: Path) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """(metadata, tensor name -> shape), read from the header alone: no weights are loaded."""
    from safetensors import SafetensorError, safe_open

    require_checkpoint_file(p)
    try:
        with safe_open(str(p), framework="numpy") as f:  # not "pt": the header is read without torch
            raw = (f.metadata() or {}).get("learned_solvers")
            shapes = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable(p, exc) from exc
    if raw is None:
        raise CheckpointError(f"{p}: safetensors file without learned-solvers metadata")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{p}: its learned-solvers metadata is not JSON ({exc}); the file was edited or "
                              "damaged: retrain or restore it") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{p}: its learned-solvers metadata is not a JSON object")
    return meta, shapes


def _refusal(meta: dict[str, Any], *, kind: str | None = None,
             family: str | tuple[str, ...] | None = None) -> str | None:
    """Why this version will not load the checkpoint (as asked), or None."""
    if meta.get("format") != FORMAT:
        return f"checkpoint format {meta.get('format')!r}, this version reads {FORMAT!r}"
    if str(meta.get("version", "")).split(".")[0] != __version__.split(".")[0]:
        return f"written by learned-solvers {meta.get('version')}, this is {__version__}; retrain"
    if kind is not None and meta.get("kind") != kind:
        hint = _LOADERS.get(str(meta.get("kind")))
        return f"a {meta.get('kind')!r} checkpoint, expected {kind!r}" + (f"; load it with {hint}" if hint else "")
    missing = [k for k in _REQUIRED.get(str(meta.get("kind")), ()) if k not in meta]
    if missing:
        return (f"its metadata lacks {missing}; the file was edited or not written by learned-solvers: "
                "retrain or restore it")
    accepted = (family,) if isinstance(family, str) else tuple(family or ())
    if accepted and meta.get("family") not in accepted and meta.get("family_key", meta.get("family")) not in accepted:
        return (f"trained on family {meta.get('family')!r}, not {accepted[0]!r}; train one for this family "
                "(learned-solvers train --family ...)")
    return None


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint holds, read from its header (``describe_checkpoint``; no weights loaded).

    parameters: trained weights (the spectral normalisation's power-iteration vectors left out);
    anchors: the anchor bank's tensors (training solutions the model corrects), name -> shape;
    refusal: why this version would not load it (None: it loads); meta: its JSON metadata, with
    the per-instance lists of the automatic-k sweep left out (each row keeps its medians)."""

    path: str
    kind: str | None
    family: str | None
    version: str | None
    refusal: str | None
    parameters: int
    anchors: dict[str, list[int]]
    meta: dict[str, Any]

    @property
    def loads(self) -> bool:
        return self.refusal is None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loads": self.loads}


PDE_K0_STARTS = {"kernel": "the training solutions' kernel regression", "nearest": "the nearest training solution"}
"""what a PDE start at k = 0 is, by the anchor's kind (``MeshAnchorBank.kind``): info, train and bench say it"""


def _pde_anchor(meta: dict) -> str:
    """A PDE checkpoint's anchor: "kernel" where its metadata chose the regression, else "nearest"
    (checkpoints from before the kernel anchor, and those whose leave-one-out preferred the nearest)."""
    a = meta.get("anchor")
    return "kernel" if isinstance(a, dict) and a.get("kind") == "kernel" else "nearest"


def describe_checkpoint(path: str | os.PathLike[str]) -> CheckpointInfo:
    """Read what a checkpoint was trained on and whether this version loads it, without
    loading its weights. Unreadable files raise ``CheckpointError`` as ``load_checkpoint`` does."""
    p = Path(path)
    meta, shapes = _read_header(p)
    anchors = {k: v for k, v in shapes.items() if k.startswith("anchor")}
    # spectral_norm keeps its power-iteration vectors _u, _v beside the weight: state, not parameters
    weights = [v for k, v in shapes.items() if k not in anchors and not k.endswith(("._u", "._v"))]
    if isinstance(meta.get("names"), list):  # the training names: how many, not the lists
        meta = {**meta, "names": [{k: len(v) if isinstance(v, list) else v for k, v in g.items()}
                                  for g in meta["names"] if isinstance(g, dict)]}
    if isinstance(meta.get("k_sweep"), list):
        meta = {**meta, "k_sweep": [{k: v for k, v in row.items() if not isinstance(v, list)}
                                    for row in meta["k_sweep"] if isinstance(row, dict)]}
    return CheckpointInfo(path=str(p), kind=meta.get("kind"), family=meta.get("family"), version=meta.get("version"),
                          refusal=_refusal(meta), parameters=sum(math.prod(s) for s in weights), anchors=anchors,
                          meta=meta)


_KINDS = {"qp-implicit-gnn": "LP/QP model (bipartite graph of A)", "pde": "PDE model (dolfinx mesh)"}


def format_checkpoint_info(info: CheckpointInfo) -> str:
    """A few readable lines: what it was trained on, how it runs, whether it loads here."""
    m = info.meta
    rows: list[tuple[str, str]] = [("kind", _KINDS.get(str(info.kind), str(info.kind))), ("family", str(info.family))]
    if isinstance(m.get("spec"), str) and m["spec"] != info.family:  # a PDE model's: the key above has no mesh
        rows.append(("trained on", m["spec"]))
    made = describe_provenance(m.get("provenance"))
    rows.append(("written by", f"learned-solvers {info.version}" + (f" ({made})" if made else "")
                 + f"; this is {__version__}: " + ("loads" if info.loads else f"refused: {info.refusal}")))
    if "solver" in m:
        tol = m.get("solver_tolerance")
        # the tolerance its automatic k was timed at: a start that pays at 1e-6 may not at 1e-4
        # no k was timed where the sweep did not run (training stopped by SIGTERM, or under torchrun)
        timed = not str(m.get("k_sweep_interrupted", "")).startswith("not run")
        atol = m.get("solver_atol")  # a PDE script's own absolute tolerance, where it set one
        also = f", atol {atol:g}" if isinstance(atol, (int, float)) and not isinstance(atol, bool) else ""
        rows.append(("solver", str(m["solver"]) + (f" (its automatic k timed at tolerance {tol:g}{also})"
                                                   if isinstance(tol, (int, float)) and timed else "")))
    if "canonical_sizes" in m:
        sizes = m["canonical_sizes"]
        rows.append(("sizes", ", ".join(f"{n} variables x {mm} constraints" for n, mm in sizes[:4])
                     + (f", ... ({len(sizes)} sizes)" if len(sizes) > 4 else "")))
    sig = m.get("signature")
    if isinstance(sig, dict):
        comps, element = sig.get("components", 1), str(sig.get("element"))
        element = f"{element}{sig.get('degree')}" if element.isalpha() else f"{element} of degree {sig.get('degree')}"
        rows.append(("space", f"{element}, {comps} component{'s' * (comps != 1)}, "
                              f"fields {', '.join(sig.get('field_names') or []) or 'none'}, {sig.get('kind')} problem"))
    if isinstance(m.get("model"), dict):
        rows.append(("model", " ".join(f"{k}={v}" for k, v in m["model"].items())))
    k = m.get("best_k", m.get("k"))
    if k is not None:
        polish = f", polish {'on' if m['best_polish'] else 'off'}" if "best_polish" in m else ""
        if polish and m["best_polish"] and m.get("polish_first") == "predicted":
            polish += ", from the start's own active set first"
        chosen = " (chosen on validation instances" + polish + ")" if "k_sweep" in m else polish.replace(", ", "; ")
        anchor_only = ""
        if k == 0 and info.kind == "pde":
            anchor_only = (f"; k = 0 runs no network: the start is {PDE_K0_STARTS[_pde_anchor(m)]} (where none fits "
                           f"the problem, the network runs at k = {m.get('best_network_k', '?')})")
        elif k == 0:
            anchor_only = "; k = 0 runs no network: the start is the anchor"
        cut = (f"; the validation sweep that chooses k was {m['k_sweep_interrupted']}"
               if m.get("k_sweep_interrupted") else "")
        rows.append(("inference", f"k = {k}{chosen}{anchor_only}{cut}"))
    bank = next((s for name, s in info.anchors.items() if name.endswith(("solutions", ".x"))), None)
    unit = "dofs" if info.kind == "pde" else "variables"
    # a bank over drifting files holds its solutions in the union of their names (models.anchors.Layout)
    by_name = ", the union of their names: an instance of any size is read in by name" if any(
        name.startswith("anchors.layout.") for name in info.anchors) else ""
    rows.append(("weights", f"{info.parameters:,} trained parameters"
                 + (f"; anchor bank of {bank[0]} training solutions ({bank[1]:,} {unit}{by_name})" if bank else "")))
    if bank and info.kind == "pde":
        a = m.get("anchor") if isinstance(m.get("anchor"), dict) else None
        errs = (f" (leave-one-out relative error {a['loo_error']:.3g}, the nearest other training solution's "
                f"{a['nearest_loo_error']:.3g})" if a and isinstance(a.get("loo_error"), (int, float))
                and isinstance(a.get("nearest_loo_error"), (int, float)) else "")
        shape = {"matern52": "Matern 5/2"}.get(a.get("shape"), "Gaussian") if a else "Gaussian"
        on = "the fields' linear prediction of the solution" if a and a.get("metric") == "linear" else "the fields"
        rows.append(("anchor", (f"the training solutions' {shape}-kernel regression on {on}"
                                if _pde_anchor(m) == "kernel" else "the nearest training solution") + errs))
    # labelling drops the instances with no reference optimum, and draws more in their place
    drawn = (f" (of {m['n_drawn']} drawn: the others had no reference solution)"
             if isinstance(m.get("n_drawn"), int) and isinstance(m.get("n_train"), int) and m["n_drawn"] > m["n_train"]
             else "")
    done = [f"{m['n_train']} instances{drawn}" if "n_train" in m else "",
            f"{m['train_seconds']:.0f} s" if isinstance(m.get("train_seconds"), (int, float)) else "",
            f"on {m['train']['device']}" if isinstance(m.get("train"), dict) and "device" in m["train"] else "",
            # it decides whether more k buys accuracy (docs/test_time_compute.md)
            f"Jacobian penalty weight {m['train']['jacobian_weight']:g}"
            if isinstance(m.get("train"), dict) and isinstance(m["train"].get("jacobian_weight"), (int, float)) else "",
            f"validation error {m['val_error']:.3g}" if isinstance(m.get("val_error"), (int, float)) else "",
            str(m["interrupted"]) if m.get("interrupted") else "",
            f"its curve of {len(m['history'])} epoch{'s' * (len(m['history']) != 1)} kept "
            f"(learned-solvers plot {Path(info.path).name} draws it)"
            if isinstance(m.get("history"), list) and m["history"] else ""]
    if any(done):
        rows.append(("training", ", ".join(d for d in done if d)))
    chosen_row = next((r for r in m.get("k_sweep") or [] if isinstance(r, dict) and r.get("k") == k
                       and r.get("polish", m.get("best_polish")) == m.get("best_polish")), None)
    if chosen_row and "time_ratio" in chosen_row and "iteration_ratio" in chosen_row:
        rows.append(("validation", f"{chosen_row['iteration_ratio']:.2f}x the cold solve's iterations and "
                                   f"{chosen_row['time_ratio']:.2f}x its time at k = {k}, inference included "
                                   "(medians per instance, on the training run's validation split)"))
    if str(info.kind) in _LOADERS:
        rows.append(("load with", _LOADERS[str(info.kind)].split(" (")[0] + "(path)"))
    width = max(len(r[0]) for r in rows)
    return "\n".join([info.path] + [f"  {name:<{width}}  {value}" for name, value in rows])
