"""Landmark distance (LMD): how far the mouth landmarks of a render are from those of the ground truth,
both detected inside the known face rectangle by face-alignment's 2D-FAN or, offline, MediaPipe's face mesh
(``mesh_landmarks.FaceMeshDetector``, its 68 points read off the mesh).

Two readings of the same points: as placed (``lmd``: the mouth's shape and where the head and the pose put it) and
centred, each set of mouth points on its own mean first (``lmd_centred``: the mouth's shape alone, the anchors'
protocol; RAD-NeRF's and ER-NeRF's reported LMD is this one)."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
from jaxtyping import Float, UInt8

MOUTH = slice(48, 68)
"""iBUG-68 mouth points (outer and inner lips)."""


class LandmarkDetector(Protocol):
    def __call__(
        self, image: UInt8[np.ndarray, "h w 3"], face: tuple[int, int, int, int]
    ) -> Float[np.ndarray, "68 2"] | None: ...


class DetectorUnavailableError(RuntimeError):
    """No landmark detector could be built (typically: its weights cannot be downloaded)."""


class FaceAlignmentDetector:
    """face-alignment's 2D-FAN given the face box (no face detector, so no detector weights)."""

    name = "face-alignment-2d-fan"

    def __init__(self, device: str = "cpu") -> None:
        try:
            import face_alignment

            self._fa = face_alignment.FaceAlignment(
                face_alignment.LandmarksType.TWO_D, device=device, face_detector="folder", flip_input=False
            )
        except Exception as error:  # noqa: BLE001 - any import / download failure means "unavailable, because"
            raise DetectorUnavailableError(
                f"face-alignment's 2D-FAN could not be loaded ({type(error).__name__}: {error}); its weights "
                "download once from https://www.adrianbulat.com/downloads/python-fan/ into the torch hub cache"
            ) from error

    def __call__(
        self, image: UInt8[np.ndarray, "h w 3"], face: tuple[int, int, int, int]
    ) -> Float[np.ndarray, "68 2"] | None:
        box = np.array([[*face, 1.0]], dtype=np.float32)
        found = self._fa.get_landmarks_from_image(image, detected_faces=box)
        if not found:
            return None
        return np.asarray(found[0], dtype=np.float64)[:, :2]


class MouthDistance(NamedTuple):
    """Mean pixel distance between two sets of mouth points: as placed, and each set centred on its own mean."""

    placed: float
    centred: float


def mouth_distance(
    detector: LandmarkDetector,
    render: UInt8[np.ndarray, "h w 3"],
    truth: UInt8[np.ndarray, "h w 3"],
    face: tuple[int, int, int, int],
) -> MouthDistance | None:
    """The mouth landmarks' distance between ``render`` and ``truth`` (None if either detection fails)."""
    return mouth_points_distance(detector(render, face), detector(truth, face))


def mouth_points_distance(
    render: Float[np.ndarray, "68 2"] | None, truth: Float[np.ndarray, "68 2"] | None
) -> MouthDistance | None:
    """The distance between the mouth points of two landmark sets (None if either is missing or NaN)."""
    if render is None or truth is None:
        return None
    mouth_render, mouth_truth = render[MOUTH], truth[MOUTH]
    placed = float(np.linalg.norm(mouth_render - mouth_truth, axis=-1).mean())
    centred_offsets = (mouth_render - mouth_render.mean(0)) - (mouth_truth - mouth_truth.mean(0))
    centred = float(np.linalg.norm(centred_offsets, axis=-1).mean())
    return MouthDistance(placed, centred) if np.isfinite(placed) and np.isfinite(centred) else None
