"""Lips patches for the lips fine-tuning stage: a square grid of pixels spanning one frame's lips rectangle."""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor


def lips_patch_indices(
    image: int, rect: Int[Tensor, "4"], patch_size: int, generator: torch.Generator
) -> Int[Tensor, "patch_pixels 3"]:
    """``patch_size x patch_size`` (image, row, column) indices, row-major, evenly spread over the square
    ``rect = (x0, y0, x1, y1)`` with a random sub-stride offset (every pixel when the rect is ``patch_size`` wide)."""
    x0, y0, x1, y1 = (int(v) for v in rect)
    offset = torch.rand(2, generator=generator, dtype=torch.float64)
    steps = torch.arange(patch_size, dtype=torch.float64)
    rows = (y0 + ((steps + offset[0]) * (y1 - y0) / patch_size).floor().long()).clamp(y0, y1 - 1)
    cols = (x0 + ((steps + offset[1]) * (x1 - x0) / patch_size).floor().long()).clamp(x0, x1 - 1)
    grid_rows, grid_cols = torch.meshgrid(rows, cols, indexing="ij")
    return torch.stack([torch.full_like(grid_rows, image), grid_rows, grid_cols], dim=-1).reshape(-1, 3)
