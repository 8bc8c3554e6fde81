"""Per-frame quantities derived from the 68 iBUG landmarks: eye openness and face / lips rectangles."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int

from rad_nerfstudio.constants import INNER_LIPS, LEFT_EYE, NOSE_BOTTOM, NUM_LANDMARKS, OUTER_LIPS, RIGHT_EYE
from rad_nerfstudio.errors import DatasetError


def read_landmarks(path: Path) -> Float[np.ndarray, "68 2"]:
    """An ``.lms`` file: 68 lines of ``x y`` in pixel-index coordinates."""
    if not path.exists():
        raise DatasetError(path, "does not exist (landmarks of this frame)")
    try:
        points = np.loadtxt(path, ndmin=2)
    except ValueError as err:
        raise DatasetError(path, f"is not a table of 'x y' numbers ({err})") from err
    if points.shape != (NUM_LANDMARKS, 2):
        raise DatasetError(path, f"has {points.shape[0]} points of {points.shape[1]} values, expected 68 'x y' lines")
    if not np.all(np.isfinite(points)):
        raise DatasetError(path, "contains NaN or infinite coordinates")
    return points


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def eye_area_ratio(landmarks: Float[np.ndarray, "68 2"], width: int, height: int) -> float:
    """RAD-NeRF's eye feature: area of both eye polygons over the image area."""
    return (_polygon_area(landmarks[RIGHT_EYE]) + _polygon_area(landmarks[LEFT_EYE])) / float(width * height)


def openness_from_areas(areas: Float[np.ndarray, " n"]) -> Float[np.ndarray, " n"]:
    """Eye areas relative to their median: about 1 for normally open eyes, 0 for closed."""
    median = float(np.median(areas))
    return areas / median if median > 0 else np.zeros_like(areas)


def read_au45(path: Path, frame_ids: np.ndarray) -> Float[np.ndarray, " n"]:
    """Eye openness from OpenFace's ``au.csv``: ``1 - clip(AU45_r, 0, 2) / 2`` (AU45 is the blink intensity)."""
    if not path.exists():
        raise DatasetError(path, "does not exist; --eye-feature au45 needs OpenFace's action units")
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if "AU45_r" not in header:
            raise DatasetError(path, "has no AU45_r column (OpenFace writes it as ' AU45_r')")
        column = header.index("AU45_r")
        values = np.array([float(row[column]) for row in reader if row])
    if frame_ids.max() >= values.size:
        raise DatasetError(path, f"has {values.size} rows but frames go up to img_id {int(frame_ids.max())}")
    return 1.0 - np.clip(values[frame_ids], 0.0, 2.0) / 2.0


def smooth(values: Float[np.ndarray, " n"], window: int) -> Float[np.ndarray, " n"]:
    """Centred moving average over ``window`` frames (edges average what exists); ``window <= 1`` is a no-op."""
    if window <= 1:
        return values
    half = window // 2
    sums = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.clip(np.arange(values.size) - half, 0, values.size)
    hi = np.clip(np.arange(values.size) + half + 1, 0, values.size)
    return (sums[hi] - sums[lo]) / (hi - lo)


def bounding_rect(points: Float[np.ndarray, "k 2"], width: int, height: int) -> Int[np.ndarray, "4"]:
    """Half-open pixel rectangle ``(x0, y0, x1, y1)`` covering the points, clipped to the image."""
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.floor(points.max(0)).astype(int) + 1
    return np.array([max(0, x0), max(0, y0), min(width, x1), min(height, y1)])


def square_rect(rect: Int[np.ndarray, "4"], min_size: int, width: int, height: int) -> Int[np.ndarray, "4"]:
    """A square around ``rect``'s centre with side ``max(w, h, min_size)``, shifted (not cut) to fit the image."""
    side = min(max(rect[2] - rect[0], rect[3] - rect[1], min_size), width, height)
    cx, cy = (rect[0] + rect[2]) // 2, (rect[1] + rect[3]) // 2
    x0 = int(np.clip(cx - side // 2, 0, width - side))
    y0 = int(np.clip(cy - side // 2, 0, height - side))
    return np.array([x0, y0, x0 + side, y0 + side])


def padded_rect(rect: Int[np.ndarray, "4"], fraction: float, width: int, height: int) -> Int[np.ndarray, "4"]:
    """``rect`` grown on every side by ``fraction`` of its width, clipped to the image."""
    pad = int(np.ceil(fraction * (rect[2] - rect[0])))
    return np.array(
        [max(0, rect[0] - pad), max(0, rect[1] - pad), min(width, rect[2] + pad), min(height, rect[3] + pad)]
    )


MOUTH_PAD = 0.15
"""The tight mouth rectangle: the lips' bounding box grown by this fraction of the mouth width on each side."""


def face_rects(
    landmarks: Float[np.ndarray, "68 2"], width: int, height: int, lips_min_size: int
) -> dict[str, Int[np.ndarray, "4"]]:
    """Face, lower face (nose base down), eyes, lips (square, >= ``lips_min_size``) and mouth (the lips' tight
    box, ``MOUTH_PAD`` of the mouth width around it) rectangles."""
    face = bounding_rect(landmarks, width, height)
    lower = face.copy()
    lower[1] = max(face[1], int(np.floor(landmarks[NOSE_BOTTOM, 1].min())))
    eyes = bounding_rect(landmarks[RIGHT_EYE.start : LEFT_EYE.stop], width, height)
    lips = bounding_rect(landmarks[OUTER_LIPS.start : INNER_LIPS.stop], width, height)
    return {
        "face": face,
        "lower_face": lower,
        "eyes": eyes,
        "lips": square_rect(lips, lips_min_size, width, height),
        "mouth": padded_rect(lips, MOUTH_PAD, width, height),
    }


INNER_LIP_PAIRS_68 = ((61, 67), (62, 66), (63, 65))
"""iBUG-68 inner-lip points facing each other: left of centre, centre, right."""
MOUTH_CORNERS_68 = (48, 54)
OUTER_EYE_CORNERS_68 = (36, 45)


def mouth_shape(landmarks: Float[np.ndarray, "68 2"]) -> Float[np.ndarray, "2"]:
    """(opening, width) of the mouth: the mean inner-lip gap over the mouth width (about 0 for closed lips, as the
    evaluation measures renders), and the mouth width over the outer eye-corner distance (rounded lips are
    narrow). Both scale-free."""
    upper, lower = (list(side) for side in zip(*INNER_LIP_PAIRS_68, strict=True))
    width = float(np.linalg.norm(landmarks[MOUTH_CORNERS_68[0]] - landmarks[MOUTH_CORNERS_68[1]]))
    eyes = float(np.linalg.norm(landmarks[OUTER_EYE_CORNERS_68[0]] - landmarks[OUTER_EYE_CORNERS_68[1]]))
    gap = float(np.linalg.norm(landmarks[upper] - landmarks[lower], axis=-1).mean())
    return np.array([gap / max(width, 1e-6), width / max(eyes, 1e-6)])
