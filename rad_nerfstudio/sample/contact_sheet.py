"""Contact sheets: look at a generated sample at a glance."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from jaxtyping import Float, UInt8


def frame_grid(
    frames: Sequence[UInt8[np.ndarray, "h w 3"]], captions: Sequence[str], columns: int = 4
) -> UInt8[np.ndarray, "H W 3"]:
    """Frames tiled in a grid with a caption under each (RGB)."""
    h, w = frames[0].shape[:2]
    caption_h = max(14, h // 10)
    rows = (len(frames) + columns - 1) // columns
    sheet = np.full((rows * (h + caption_h), columns * w, 3), 255, dtype=np.uint8)
    scale = caption_h / 32.0
    for k, (frame, caption) in enumerate(zip(frames, captions, strict=False)):
        r, c = divmod(k, columns)
        y0, x0 = r * (h + caption_h), c * w
        sheet[y0 : y0 + h, x0 : x0 + w] = frame
        cv2.putText(
            sheet,
            caption,
            (x0 + 2, y0 + h + int(caption_h * 0.75)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return sheet


def layers_strip(
    rgb: UInt8[np.ndarray, "h w 3"],
    landmarks: Float[np.ndarray, "68 2"],
    parsing_rgb: UInt8[np.ndarray, "h w 3"],
    torso_rgba: UInt8[np.ndarray, "h w 4"],
    background: UInt8[np.ndarray, "h w 3"],
) -> UInt8[np.ndarray, "h W 3"]:
    """One frame, its landmarks, parsing, torso layer (over a checkerboard) and background, side by side."""
    marked = rgb.copy()
    radius = max(1, rgb.shape[0] // 160)
    for u, v in landmarks:
        cv2.circle(marked, (int(round(u)), int(round(v))), radius, (0, 255, 0), -1)
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    checker = np.where((((yy // 8) + (xx // 8)) % 2 == 0)[..., None], 200, 120).astype(np.float32)
    alpha = torso_rgba[..., 3:4].astype(np.float32) / 255.0
    torso = (torso_rgba[..., :3] * alpha + checker * (1 - alpha)).astype(np.uint8)
    return np.concatenate([rgb, marked, parsing_rgb, torso, background], axis=1)
