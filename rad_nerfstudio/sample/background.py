"""A static textured background plate (a room wall with a window, a shelf and a plant)."""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Float


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    coarse = rng.uniform(0.0, 1.0, size=(cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def make_background(rng: np.random.Generator, size: int) -> Float[np.ndarray, "h w 3"]:
    """RGB background in [0, 1], resolution independent in layout (drawn in unit coordinates)."""
    v, u = np.mgrid[0:size, 0:size].astype(np.float32) / size
    wall = rng.uniform(0.45, 0.8, size=3).astype(np.float32)
    image = wall * (0.85 + 0.2 * (1.0 - v))[..., None]
    image *= (0.92 + 0.16 * _smooth_noise(rng, size, 6))[..., None]
    # a window: bright panes with a frame, on one side
    side = float(rng.choice([0.06, 0.68]))
    window = (u > side) & (u < side + 0.26) & (v > 0.08) & (v < 0.5)
    panes = window & ~((np.abs(u - (side + 0.13)) < 0.008) | (np.abs(v - 0.29) < 0.008))
    image[window] = 0.95
    image[panes] = np.array([0.72, 0.84, 0.95], dtype=np.float32) * (0.9 + 0.1 * (1 - v[panes]))[:, None]
    # a shelf with books on the other side
    shelf_x = 0.7 if side < 0.5 else 0.05
    shelf = (u > shelf_x) & (u < shelf_x + 0.25) & (np.abs(v - 0.62) < 0.012)
    image[shelf] = np.array([0.35, 0.24, 0.15])
    for k in range(7):
        x0 = shelf_x + 0.01 + k * 0.034
        height = float(rng.uniform(0.06, 0.11))
        book = (u > x0) & (u < x0 + 0.028) & (v < 0.608) & (v > 0.608 - height)
        image[book] = rng.uniform(0.15, 0.85, size=3)
    # a plant: a green blob on a pot in a lower corner
    pot_x = float(rng.uniform(0.05, 0.2)) if side > 0.5 else float(rng.uniform(0.8, 0.92))
    leaves = ((u - pot_x) / 0.09) ** 2 + ((v - 0.78) / 0.12) ** 2 < 1.0
    image[leaves] = np.array([0.2, 0.5, 0.22]) * (0.7 + 0.6 * _smooth_noise(rng, size, 24)[leaves])[:, None]
    pot = (np.abs(u - pot_x) < 0.05) & (v > 0.88)
    image[pot] = np.array([0.6, 0.33, 0.2])
    grain = rng.normal(0.0, 0.015, size=(size, size, 1)).astype(np.float32)
    return np.clip(image + grain, 0.0, 1.0)
