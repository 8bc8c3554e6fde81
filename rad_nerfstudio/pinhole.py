"""The anchors' pinhole camera: OpenGL axes, landmarks in pixel-index coordinates.

A camera-space point ``p`` (x right, y up, looking down -z) lands at pixel-index coordinates
``u = cx + f x / -z``, ``v = cy - f y / -z``: the centre of pixel (row 0, column 0) is (0, 0).
nerfstudio shoots rays through pixel centres at ``index + 0.5``, so its ``cx``/``cy`` are these + 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float


@dataclass(frozen=True)
class Pinhole:
    """Intrinsics of a square-pixel pinhole camera in the anchors' convention."""

    width: int
    height: int
    focal: float
    cx: float
    cy: float

    def pixel_directions(self, supersample: int = 1) -> Float[np.ndarray, "h w s 3"]:
        """Camera-space ray directions (z = -1) through ``supersample**2`` points of every pixel."""
        offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
        rows = np.arange(self.height)[:, None, None, None] + offsets[None, None, :, None]
        cols = np.arange(self.width)[None, :, None, None] + offsets[None, None, None, :]
        rows, cols = np.broadcast_arrays(rows, cols)
        x = (cols - self.cx) / self.focal
        y = -(rows - self.cy) / self.focal
        dirs = np.stack([x, y, -np.ones_like(x)], axis=-1)
        return dirs.reshape(self.height, self.width, supersample * supersample, 3)

    def project(self, points_cam: Float[np.ndarray, "*n 3"]) -> Float[np.ndarray, "*n 2"]:
        """Pixel-index coordinates (u = column, v = row) of camera-space points."""
        depth = -points_cam[..., 2]
        u = self.cx + self.focal * points_cam[..., 0] / depth
        v = self.cy - self.focal * points_cam[..., 1] / depth
        return np.stack([u, v], axis=-1)


def world_to_camera(points: Float[np.ndarray, "*n 3"], c2w: Float[np.ndarray, "4 4"]) -> Float[np.ndarray, "*n 3"]:
    """Transform world points into the camera frame of a camera-to-world matrix."""
    rotation, translation = c2w[:3, :3], c2w[:3, 3]
    return (points - translation) @ rotation
