"""The torch-free parts of the mesh model: the family's scales (``FamilyNorm``), the dofs' keys
(``dof_keys``) and the coarse operator's refusal, which a start from the training solutions
(k = 0) uses without the network, and so without importing torch (``models.mesh_graph``
re-exports them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..canonical.pde import PDEData

__all__ = ["CoarseOperatorError", "FamilyNorm", "dof_keys"]


class CoarseOperatorError(ValueError):
    """The coarse correction's operator P^T A P is not positive definite (an indefinite or
    singular problem): training goes on without the correction; inference falls back to the cold guess."""


@dataclass
class FamilyNorm:
    """Scales fitted on the training set: u_scale (solution RMS), per-field mean/std, and the
    domain's bounding box (2, gdim) used to place the coarse bins."""

    u_scale: float
    field_mean: list[float]
    field_std: list[float]
    bbox: list[list[float]]

    def __post_init__(self) -> None:
        # a checkpoint's record: numbers of the right shapes, or a clear refusal now rather than at a guess
        mean, std = (np.asarray(v, dtype=float) for v in (self.field_mean, self.field_std))
        if not (np.isfinite(self.u_scale) and self.u_scale > 0):
            raise ValueError(f"u_scale {self.u_scale!r} is not a positive number")
        if mean.ndim != 1 or mean.shape != std.shape or not (np.isfinite(mean).all() and (std > 0).all()):
            raise ValueError(f"field_mean {mean.shape} and field_std {std.shape} are not one finite mean and one "
                             "positive spread per field")
        box = np.asarray(self.bbox, dtype=float)
        if box.ndim != 2 or box.shape[0] != 2 or not box.shape[1] or not (
                np.isfinite(box).all() and (box[0] <= box[1]).all()):
            raise ValueError(f"bbox {self.bbox!r} is not (lower corner, upper corner)")

    @staticmethod
    def fit(pdes: list[PDEData], solutions: list[np.ndarray]) -> FamilyNorm:
        u = np.concatenate(solutions)
        f = np.concatenate([p.fields for p in pdes])
        lo = np.min([p.coords.min(0) for p in pdes], 0)
        hi = np.max([p.coords.max(0) for p in pdes], 0)
        return FamilyNorm(u_scale=float(np.sqrt(np.mean(u ** 2)) or 1.0), field_mean=f.mean(0).tolist(),
                          field_std=np.maximum(f.std(0), 1e-12).tolist(), bbox=[lo.tolist(), hi.tolist()])

    def to_dict(self) -> dict:
        return asdict(self)

    # how far (in training standard deviations) a field may lie from the training mean
    OUT_OF_FAMILY_STDS = 10.0

    def outside(self, fields: np.ndarray) -> str | None:
        """Why fields (n, F) lie outside the training family, or None: a value more than
        ``OUT_OF_FAMILY_STDS`` training standard deviations from the training mean."""
        mean, std = np.asarray(self.field_mean), np.asarray(self.field_std)
        dev = np.abs(np.asarray(fields) - mean)
        far = dev > self.OUT_OF_FAMILY_STDS * std + 1e-9 * (np.abs(mean) + 1.0)
        if not far.any():
            return None
        j = int(np.argmax(far.any(axis=0)))
        worst = float(np.asarray(fields)[:, j][np.argmax(dev[:, j])])
        return (f"field {j} reaches {worst:.4g}, where the training instances had {mean[j]:.4g} +- {std[j]:.4g} "
                f"(mean +- standard deviation)")


def dof_keys(pde: PDEData) -> np.ndarray:
    """(n, d) the dofs' coordinates, or (n, d + 1) with the component each dof carries last
    (0, 1, ...: ``to_pde``'s component fields) on vector and mixed spaces, whose dofs share points:
    what tells one dof from another."""
    comp = [i for i, name in enumerate(pde.field_names) if name.startswith("component_")]
    if not comp:
        return pde.coords
    return np.hstack([pde.coords, np.argmax(pde.fields[:, comp], axis=1)[:, None]])
