"""How open the mouth is in each frame, measured by MediaPipe's face mesh, and how well two such tracks agree.

The opening is the inner-lip gap over the mouth width: the mean distance of three vertically facing inner-lip
vertex pairs (left, centre, right) over the distance between the mouth corners. It is scale-free, so a render
and its ground truth, or videos of different sizes, compare directly; about 0 for closed lips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
from jaxtyping import Float, Int, UInt8

from rad_nerfstudio.process.mesh_to_ibug import MESH_TO_IBUG68

if TYPE_CHECKING:  # mediapipe is imported when a detector is built
    from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector

INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
"""Face-mesh vertices of the upper and lower inner lip facing each other: left of centre, centre, right."""
MOUTH_CORNERS = (61, 291)
"""Face-mesh vertices of the two mouth corners."""


@dataclass(frozen=True)
class MouthTrack:
    """Per-frame mouth measurements; NaN where no face was found."""

    opening: Float[np.ndarray, " n"]
    """Inner-lip gap over mouth width (see the module docstring)."""
    width: Float[np.ndarray, " n"]
    """Mouth-corner distance in frame pixels."""
    landmarks68: Float[np.ndarray, "n 68 2"]
    """iBUG-68 points read off the mesh (``MESH_TO_IBUG68``), frame pixel-index coordinates."""

    @property
    def detection_rate(self) -> float:
        """Fraction of frames in which a face was found."""
        return float(np.isfinite(self.opening).mean()) if self.opening.size else 0.0


def mouth_opening(vertices: Float[np.ndarray, "468 2"]) -> tuple[float, float]:
    """(opening, width in pixels) of one face mesh."""
    upper, lower = (np.array(side) for side in zip(*INNER_LIP_PAIRS, strict=True))
    gap = float(np.linalg.norm(vertices[upper] - vertices[lower], axis=-1).mean())
    width = float(np.linalg.norm(vertices[MOUTH_CORNERS[0]] - vertices[MOUTH_CORNERS[1]]))
    return (gap / width if width > 0 else float("nan")), width


def measure_frame(
    detector: FaceMeshDetector, frame: UInt8[np.ndarray, "h w 3"], face: tuple[int, int, int, int] | None = None
) -> tuple[float, float, Float[np.ndarray, "68 2"]]:
    """(opening, width, iBUG-68 points) of one RGB frame, all NaN when no face is found."""
    vertices = detector.mesh(frame, face)
    if vertices is None:
        return float("nan"), float("nan"), np.full((68, 2), np.nan)
    return *mouth_opening(vertices), vertices[list(MESH_TO_IBUG68)]


def measure_mouth(
    frames: UInt8[np.ndarray, "n h w 3"] | Iterable[UInt8[np.ndarray, "h w 3"]],
    faces: Int[np.ndarray, "n 4"] | None = None,
) -> MouthTrack:
    """Measure each RGB frame (an array, or any iterable such as a video reader) independently, near its face
    rect ``x0, y0, x1, y1`` when given (else anywhere in the frame).

    Raises ``BackendUnavailableError`` (with the install hint) when mediapipe is missing."""
    from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector

    measured = []
    with FaceMeshDetector() as detector:
        for k, frame in enumerate(frames):
            face = None if faces is None else _rect(faces[k])
            measured.append(measure_frame(detector, frame, face))
    if not measured:
        return MouthTrack(np.zeros(0), np.zeros(0), np.zeros((0, 68, 2)))
    opening, width, landmarks = zip(*measured, strict=True)
    return MouthTrack(np.array(opening), np.array(width), np.stack(landmarks))


def _rect(values: Int[np.ndarray, "4"]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(v) for v in values)
    return x0, y0, x1, y1


def pearson_r(a: Float[np.ndarray, " n"], b: Float[np.ndarray, " n"]) -> float:
    """Pearson correlation over the entries finite in both; NaN with fewer than 3 of them or a constant side."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return float("nan")
    x, y = a[keep] - a[keep].mean(), b[keep] - b[keep].mean()
    scale = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / scale) if scale > 1e-12 else float("nan")


def opening_spread(openings: Float[np.ndarray, " n"]) -> float | None:
    """Standard deviation of the finite openings (about 0 for a mouth that never moves); None if there are none."""
    kept = openings[np.isfinite(openings)]
    return float(kept.std()) if kept.size else None
