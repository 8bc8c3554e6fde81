"""The fused ray marcher over the max occupancy grid (``csrc/march_cpu.cpp``).

Its reference is ``rad_nerfstudio.field_components.occupancy.MaxOccupancyGrid.reference_march``: the same samples
(start, end) in occupied cells, nearest first; each ray's kept samples come first in its row, then padding. It also
gives each sample's candidate index, from which a caller recomputes the bounds differentiably when the rays need
gradients (the kernel's are constants)."""

from __future__ import annotations

from typing import Tuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from .kernels import kernels_for

MarchResult = Tuple[Float[Tensor, "rays k"], Float[Tensor, "rays k"], Bool[Tensor, "rays k"], Int[Tensor, "rays k"]]


def fused_march(
    origins: Float[Tensor, "rays 3"],
    directions: Float[Tensor, "rays 3"],
    occupied: Bool[Tensor, " cells"],
    aabb: Float[Tensor, "2 3"],
    resolution: int,
    candidates: int,
    max_samples: int,
    near: float,
) -> MarchResult | None:
    """(t_starts, t_ends, valid, candidate index) of at most ``max_samples`` samples per ray among ``candidates``
    evenly spaced positions inside ``aabb``; None when the kernel cannot serve (off, not built, not float32)."""
    if origins.dtype != torch.float32 or directions.dtype != torch.float32:
        return None
    kernels = kernels_for(origins.device)
    if kernels is None:
        return None
    t_starts, t_ends, valid, candidate = kernels.march_rays(
        origins.detach(), directions.detach(), occupied, aabb, resolution, candidates, max_samples, float(near)
    )
    return t_starts, t_ends, valid, candidate
