"""Named hash-grid presets that override the per-encoder sizes."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from rad_nerfstudio.field_components.hash_grid import HashGridConfig

GridPreset = Literal["config", "study"]
"""``config``: each encoder's own sizes; ``study``: the follow-up study's tuning (2 features per level, 2^16
entries per level) on every encoder, keeping levels and resolutions."""


def preset_grid(preset: GridPreset, grid: HashGridConfig) -> HashGridConfig:
    """``grid`` with the preset's level dimension and table size."""
    if preset == "config":
        return grid
    if preset == "study":
        return replace(grid, features_per_level=2, log2_hashmap_size=16)
    raise ValueError(f"unknown grid preset {preset!r}; known: config, study")
