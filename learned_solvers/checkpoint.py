"""Checkpoints: weights in safetensors, metadata as JSON inside the same file. No pickle."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ._version import __version__

__all__ = ["CheckpointError", "Checkpoint", "save_checkpoint", "load_checkpoint"]

FORMAT = "learned-solvers/1"


class CheckpointError(ValueError):
    """The checkpoint is unreadable, of another format or version, or of another family."""


@dataclass
class Checkpoint:
    """state: weights; meta: JSON-able dict (format, version, kind, family, model config...)."""

    state: dict[str, torch.Tensor]
    meta: dict[str, Any]


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    full = {"format": FORMAT, "version": __version__, **meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_file(tensors, str(p), metadata={"learned_solvers": json.dumps(full)})
    return p


# what each kind's loader reads from the metadata
_REQUIRED = {"qp-implicit-gnn": ("family", "model", "scale_range"), "pde": ("family", "model", "norm", "signature")}
# which class loads each kind of checkpoint (for the message when the wrong one is used)
_LOADERS = {"qp-implicit-gnn": "learned_solvers.warmstart.LearnedWarmStarter.from_checkpoint (LP/QP)",
            "pde": "learned_solvers.warmstart_pde.LearnedPDEStarter.from_checkpoint (dolfinx)"}


def load_checkpoint(path: str | os.PathLike[str], *, kind: str | None = None,
                    family: str | tuple[str, ...] | None = None) -> Checkpoint:
    """Load weights and metadata; refuse another format, major version, kind or family.
    ``family``: the family's names (its spec, and its ``family_key`` where that is another,
    e.g. an MPS file's content rather than its path); either may match the checkpoint's."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint at {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            raw = (f.metadata() or {}).get("learned_solvers")
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: not a learned-solvers checkpoint (safetensors read failed: {exc})") from exc
    if raw is None:
        raise CheckpointError(f"{p}: safetensors file without learned-solvers metadata")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{p}: its learned-solvers metadata is not JSON ({exc}); the file was edited or "
                              "damaged: retrain or restore it") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{p}: its learned-solvers metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{p}: checkpoint format {meta.get('format')!r}, this version reads {FORMAT!r}")
    if str(meta.get("version", "")).split(".")[0] != __version__.split(".")[0]:
        raise CheckpointError(f"{p}: written by learned-solvers {meta.get('version')}, this is {__version__}; retrain")
    if kind is not None and meta.get("kind") != kind:
        hint = _LOADERS.get(str(meta.get("kind")))
        raise CheckpointError(f"{p}: a {meta.get('kind')!r} checkpoint, expected {kind!r}"
                              + (f"; load it with {hint}" if hint else ""))
    missing = [k for k in _REQUIRED.get(str(meta.get("kind")), ()) if k not in meta]
    if missing:
        raise CheckpointError(f"{p}: its metadata lacks {missing}; the file was edited or not written by "
                              "learned-solvers: retrain or restore it")
    accepted = (family,) if isinstance(family, str) else tuple(family or ())
    if accepted and meta.get("family") not in accepted and meta.get("family_key", meta.get("family")) not in accepted:
        raise CheckpointError(
            f"{p}: trained on family {meta.get('family')!r}, not {accepted[0]!r}; train one for this family "
            "(learned-solvers train --family ...)"
        )
    return Checkpoint(state=state, meta=meta)
