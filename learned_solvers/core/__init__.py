"""The implicit-model core: forward fixed-point solvers, implicit layers, stability tools."""

from .config import K_LIMIT, check_fields
from .fixed_point import (
    Anderson,
    FixedPointNotConverged,
    FixedPointResult,
    NonFiniteInputError,
    Picard,
    fixed_point,
)
from .implicit import (
    BackwardMode,
    ImplicitDiff,
    ImplicitLayer,
    ImplicitOutput,
    JacobianFree,
    Phantom,
    Unrolled,
)
from .memory import SavedTensors, peak_cuda_bytes, saved_tensors
from .stability import counting_parameters, estimate_lipschitz_z, jacobian_penalty, spectral_linear

__all__ = [
    "Anderson",
    "K_LIMIT",
    "check_fields",
    "counting_parameters",
    "BackwardMode",
    "FixedPointNotConverged",
    "FixedPointResult",
    "ImplicitDiff",
    "ImplicitLayer",
    "ImplicitOutput",
    "JacobianFree",
    "NonFiniteInputError",
    "Phantom",
    "Picard",
    "SavedTensors",
    "Unrolled",
    "estimate_lipschitz_z",
    "fixed_point",
    "jacobian_penalty",
    "peak_cuda_bytes",
    "saved_tensors",
    "spectral_linear",
]
