"""Canonical forms: what adapters produce, models read and backends solve."""

from .qp import InvalidProblemError, QPData, QPSolution, kkt_residuals

__all__ = ["InvalidProblemError", "QPData", "QPSolution", "kkt_residuals"]
