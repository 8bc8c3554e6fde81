"""Background plate, ground-truth frames on that plate, and torso layers with the region under the head filled."""

from __future__ import annotations

from typing import Iterable, Tuple

import cv2
import numpy as np
from jaxtyping import Bool, Float, UInt8

from rad_nerfstudio.process.parsing import HEAD, NECK, TORSO, face_height

PLATE_FRAMES = 64
"""Frames (evenly spread) whose unoccupied pixels vote for the background plate."""
UNDER_HEAD_SHADE = 0.7
"""Brightness of the filled region under the head, relative to the neck it continues (a soft shadow)."""
UNDER_HEAD_REACH = 0.3
"""How far above the visible neck the fill goes, in face heights (brows to chin)."""


def background_plate(
    samples: Iterable[Tuple[UInt8[np.ndarray, "h w 3"], UInt8[np.ndarray, "h w"]]], margin: int = 3
) -> UInt8[np.ndarray, "h w 3"]:
    """Per-pixel median of the frames where the pixel shows background (the person grown by ``margin`` pixels);
    pixels never seen are in-painted."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    stack, seen = [], []
    for frame, labels in samples:
        free = cv2.dilate((labels > 0).astype(np.uint8), kernel) == 0
        stack.append(np.where(free[..., None], frame.astype(np.float32), np.nan))
        seen.append(free)
    votes = np.stack(stack)
    never = ~np.any(np.stack(seen), axis=0)
    plate = np.nan_to_num(np.nanmedian(np.where(never[None, ..., None], 0.0, votes), axis=0)).astype(np.uint8)
    if never.any():
        plate = cv2.inpaint(plate, never.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    return plate


def on_plate(
    frame: UInt8[np.ndarray, "h w 3"], labels: UInt8[np.ndarray, "h w"], plate: UInt8[np.ndarray, "h w 3"]
) -> UInt8[np.ndarray, "h w 3"]:
    """The frame with everything but the person replaced by the plate (the layout's ``gt_imgs``)."""
    return np.where((labels > 0)[..., None], frame, plate)


def torso_layer(
    frame: UInt8[np.ndarray, "h w 3"], labels: UInt8[np.ndarray, "h w"], landmarks: Float[np.ndarray, "68 2"]
) -> UInt8[np.ndarray, "h w 4"]:
    """RGBA neck and torso; head pixels just above the neck (up to ``UNDER_HEAD_REACH`` face heights) are filled by
    continuing each neck column upwards, darkened, so that the layer stays whole when the head moves."""
    body: Bool[np.ndarray, "h w"] = (labels == NECK) | (labels == TORSO)
    rgba = np.zeros((*labels.shape, 4), np.uint8)
    rgba[..., :3] = np.where(body[..., None], frame, 0)
    rgba[..., 3] = body * 255
    reach = int(np.ceil(UNDER_HEAD_REACH * face_height(landmarks)))
    for column in np.flatnonzero((labels == NECK).any(axis=0)):
        top = int(np.flatnonzero(labels[:, column] == NECK).min())
        start = max(0, top - reach)
        head_rows = np.flatnonzero(labels[start:top, column] == HEAD) + start
        if head_rows.size:
            rgba[head_rows, column, :3] = (frame[top, column] * UNDER_HEAD_SHADE).astype(np.uint8)
            rgba[head_rows, column, 3] = 255
    return rgba
