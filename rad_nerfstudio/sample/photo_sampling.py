"""Reading colours off a photo: anti-alias prefiltering, bilinear samples."""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Float, UInt8


def prefiltered(photo: UInt8[np.ndarray, "h w 3"], photo_per_frame_px: float) -> Float[np.ndarray, "h w 3"]:
    """The photo in [0, 1], blurred against aliasing where a frame pixel covers more than a photo pixel."""
    image = photo.astype(np.float32) / 255.0
    sigma = 0.45 * photo_per_frame_px
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0.3 else image


def sample_bilinear(image: Float[np.ndarray, "h w 3"], uv: Float[np.ndarray, "n 2"]) -> Float[np.ndarray, "n 3"]:
    """Bilinear samples at pixel-index coordinates (clamped to the image)."""
    h, w = image.shape[:2]
    u = np.clip(uv[:, 0], 0.0, w - 1.001)
    v = np.clip(uv[:, 1], 0.0, h - 1.001)
    u0, v0 = u.astype(np.int64), v.astype(np.int64)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    top = image[v0, u0] * (1.0 - fu) + image[v0, u0 + 1] * fu
    bottom = image[v0 + 1, u0] * (1.0 - fu) + image[v0 + 1, u0 + 1] * fu
    return (top * (1.0 - fv) + bottom * fv).astype(np.float64)
