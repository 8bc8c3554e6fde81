"""Real face frames with known mouth openings: scikit-image's astronaut photo with her jaw opened by a warp."""

from __future__ import annotations

import cv2
import numpy as np

MOUTH_CENTRE_X, MOUTH_LINE_Y = 223, 146
"""Where her lips meet in the 512 px photo (between face-mesh vertices 13 and 14, found once)."""
PORTRAIT = (slice(10, 250), slice(110, 340))
"""A head-and-shoulders crop of the photo, like a talking-portrait frame."""
FACE_IN_PORTRAIT = (70, 60, 161, 168)
"""Her face rect ``x0, y0, x1, y1`` in the portrait crop's pixels (before resizing)."""


def open_mouth(photo: np.ndarray, gap: float) -> np.ndarray:
    """The photo with the lower lip pulled down by ``gap`` px at the centre (an elliptic profile that closes at
    the mouth corners) and dark mouth inside; the chin below absorbs the shift."""
    height, width = photo.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    profile = np.sqrt(np.clip(1 - ((xs - MOUTH_CENTRE_X) / 21) ** 2, 0, 1))
    falloff = np.clip(1 - (ys - MOUTH_LINE_Y - 12) / 20, 0, 1) * (ys >= MOUTH_LINE_Y)
    shift = gap * profile * falloff
    opened = cv2.remap(photo, xs, ys - shift, cv2.INTER_LINEAR)
    opened[(ys >= MOUTH_LINE_Y) & (ys - shift < MOUTH_LINE_Y)] = (70, 25, 30)
    return opened


def portrait_frames(gaps: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` portrait frames, one per lip gap (px of the 512 px photo)."""
    from skimage import data

    photo = data.astronaut()
    frames = [open_mouth(photo, float(g))[PORTRAIT] for g in gaps]
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])


def face_rect(size: int) -> np.ndarray:
    """``FACE_IN_PORTRAIT`` in the pixels of ``size`` px portrait frames."""
    rows, cols = PORTRAIT[0].stop - PORTRAIT[0].start, PORTRAIT[1].stop - PORTRAIT[1].start
    scale = np.array([size / cols, size / rows, size / cols, size / rows])
    return np.round(np.array(FACE_IN_PORTRAIT) * scale).astype(int)
