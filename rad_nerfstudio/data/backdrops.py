"""Torso backdrops: a frame's torso layer over the background plate, what the head is rendered over in the
head stages (the anchors' ``bg_torso_img``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from jaxtyping import UInt8

from rad_nerfstudio.errors import DatasetError


def torso_backdrop(path: Path, plate: UInt8[np.ndarray, "h w 3"]) -> UInt8[np.ndarray, "h w 3"]:
    """The RGBA torso image at ``path`` composited over ``plate`` (resized to the plate's size), as uint8 RGB."""
    rgba = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise DatasetError(path, "cannot be read as an RGBA image (torso layer)")
    rgba = cv2.cvtColor(rgba, cv2.COLOR_BGRA2RGBA).astype(np.float32)
    height, width = plate.shape[:2]
    if rgba.shape[:2] != (height, width):
        rgba = cv2.resize(rgba, (width, height), interpolation=cv2.INTER_AREA)
    alpha = rgba[..., 3:] / 255.0
    composite = rgba[..., :3] * alpha + plate.astype(np.float32) * (1.0 - alpha)
    return np.clip(np.round(composite), 0, 255).astype(np.uint8)
