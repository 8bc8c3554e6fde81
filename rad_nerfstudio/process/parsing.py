"""Semantic parsing into background / head / neck / torso without a face-parsing network: a person mask cut by
the jaw line of the 68 landmarks, and the narrow part of the person under the chin as the neck."""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float, UInt8

from rad_nerfstudio.constants import JAW, PARSING_CLASSES

HEAD, NECK, TORSO = (PARSING_CLASSES.index(name) for name in ("head", "neck", "torso"))
SHOULDER_WIDTH = 1.1
"""The neck ends at the first row below the chin where the person is wider than this many jaw widths."""
JAW_MARGIN = 0.1
"""How far below the jaw landmarks the head ends (the chin's underside), in face heights (brows to chin). On
rad-sample clips head / neck IoU rise from 0.81-0.85 / 0.41-0.46 at 0 to 0.89-0.93 / 0.55-0.61 at 0.1 (and on
to 0.15); 0.1 is kept because on real faces the iBUG jaw points lie on the outline itself."""
MAX_NECK_LENGTH = 1.0
"""Nor does it reach further below the chin than this many face heights (brows to chin)."""


def face_height(landmarks: Float[np.ndarray, "68 2"]) -> float:
    """Brows to chin, in pixels: the unit of the parsing geometry."""
    return float(landmarks[8, 1] - landmarks[17:27, 1].min())


def jaw_line(landmarks: Float[np.ndarray, "68 2"], width: int) -> Float[np.ndarray, " w"]:
    """For every image column, the row where the head ends: the jaw contour, and the chin's row beyond it."""
    jaw = landmarks[list(JAW)]
    order = np.argsort(jaw[:, 0])
    line = np.interp(np.arange(width), jaw[order, 0], jaw[order, 1])
    outside = (np.arange(width) < jaw[:, 0].min()) | (np.arange(width) > jaw[:, 0].max())
    line[outside] = jaw[:, 1].max()
    return line + JAW_MARGIN * face_height(landmarks)


def neck_mask(person: Bool[np.ndarray, "h w"], landmarks: Float[np.ndarray, "68 2"]) -> Bool[np.ndarray, "h w"]:
    """The person's narrow column under the chin: in each row from the jaw's top down, the run of person pixels
    through the chin's column, until the run widens into shoulders (``parse_portrait`` keeps the part below the
    jaw line)."""
    height, width = person.shape
    jaw = landmarks[list(JAW)]
    jaw_width = jaw[:, 0].max() - jaw[:, 0].min()
    chin_x, chin_y = int(round(landmarks[8, 0])), landmarks[8, 1]
    neck = np.zeros_like(person)
    if not 0 <= chin_x < width:
        return neck
    for row in range(
        int(np.floor(jaw[:, 1].min())), min(height, int(chin_y + MAX_NECK_LENGTH * face_height(landmarks)))
    ):
        if not person[row, chin_x]:
            continue
        left = chin_x - np.argmin(person[row, chin_x::-1]) + 1 if not person[row, : chin_x + 1].all() else 0
        right = chin_x + np.argmin(person[row, chin_x:]) if not person[row, chin_x:].all() else width
        if right - left > SHOULDER_WIDTH * jaw_width and row > chin_y:
            break
        neck[row, left:right] = True
    return neck


def parse_portrait(person: Bool[np.ndarray, "h w"], landmarks: Float[np.ndarray, "68 2"]) -> UInt8[np.ndarray, "h w"]:
    """Labels (indices of ``PARSING_CLASSES``): the person above the jaw line (the chin's row beyond the jaw)
    is head, hair included; the narrow column under the chin is neck; the rest of the person is torso."""
    height, width = person.shape
    below_jaw = np.arange(height)[:, None] > jaw_line(landmarks, width)[None, :]
    neck = neck_mask(person, landmarks)
    labels = np.zeros((height, width), np.uint8)
    labels[person & ~below_jaw] = HEAD
    labels[person & below_jaw] = TORSO
    labels[neck & below_jaw] = NECK
    return labels
