"""Limits that the command line checks before any work, here so that checking them imports no
torch (the implicit-model core's package imports it: 2-3 s before a refusal)."""

from __future__ import annotations

__all__ = ["K_LIMIT"]

K_LIMIT = 10_000
"""The most model iterations a model config trains with, and a checkpoint records as its
automatic k (the automatic choice sweeps up to 64): a larger value, from an edited file, would
run for days."""
