"""ER-NeRF's tri-plane hash encoding: three 2D multiresolution hash grids on the xy, yz and xz planes."""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor, nn

from rad_nerfstudio.field_components.hash_grid import HashGrid, HashGridConfig

ER_NERF_PLANE_GRID = HashGridConfig(
    num_levels=12, features_per_level=1, log2_hashmap_size=14, base_resolution=64, finest_resolution=512
)
"""Each plane's grid in ER-NeRF's code (the study's preset raises it to 2 features and 2^16 entries)."""

PLANES = ((0, 1), (1, 2), (0, 2))
"""Coordinate pairs of the xy, yz and xz planes."""


class TriPlaneHashGrid(nn.Module):
    """Features of 3D points as the concatenation of three 2D hash-grid lookups (one per axis-aligned plane)."""

    def __init__(
        self, config: HashGridConfig = ER_NERF_PLANE_GRID, implementation: Literal["auto", "torch", "tcnn"] = "auto"
    ) -> None:
        super().__init__()
        self.planes = nn.ModuleList(HashGrid(2, config, implementation) for _ in PLANES)
        self.output_dim = len(PLANES) * config.output_dim

    def forward(self, x: Float[Tensor, "*batch 3"]) -> Float[Tensor, "*batch features"]:
        """Features of points in [0, 1]^3, ordered xy | yz | xz."""
        return torch.cat([plane(x[..., list(axes)]) for plane, axes in zip(self.planes, PLANES, strict=True)], dim=-1)
