"""The offline landmark backend: MediaPipe's face mesh (its model ships inside the wheel), run as a tracker.

Install with ``pip install 'rad-nerfstudio[process]'``. Points come back in pixel-index coordinates
(pixel (0, 0)'s centre is (0, 0)); ``z`` is MediaPipe's relative depth in the same pixel units (smaller is nearer).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from jaxtyping import Float, UInt8

MESH_POINTS = 468
"""Vertices of MediaPipe's face mesh (the refined model's 10 iris points are dropped)."""


class BackendUnavailableError(ValueError):
    """A landmark or segmentation backend cannot run here (package or weights missing): the user can fix it."""


def mediapipe_solutions() -> Any:
    """MediaPipe's legacy solutions module (bundled models), or a clear error naming the extra to install."""
    return _mediapipe().solutions


def _mediapipe():
    try:
        import mediapipe  # pyright: ignore[reportMissingImports]
    except ImportError as error:
        raise BackendUnavailableError(
            "the offline landmark backend needs MediaPipe: pip install 'rad-nerfstudio[process]' "
            f"(mediapipe==0.10.21); import failed with: {error}"
        ) from error
    return mediapipe


def track_face_mesh(
    frames: Iterable[UInt8[np.ndarray, "h w 3"]], min_confidence: float = 0.3
) -> Float[np.ndarray, "n 468 3"]:
    """Face-mesh vertices of the single face in each RGB frame, NaN where no face was found."""
    meshes = []
    with mediapipe_solutions().face_mesh.FaceMesh(
        static_image_mode=False,
        max_num_faces=1,
        refine_landmarks=True,  # the attention model: steadier eyes and lips, and better head rotations
        min_detection_confidence=min_confidence,
        min_tracking_confidence=min_confidence,
    ) as tracker:
        for frame in frames:
            height, width = frame.shape[:2]
            found = tracker.process(np.ascontiguousarray(frame)).multi_face_landmarks
            if not found:
                meshes.append(np.full((MESH_POINTS, 3), np.nan))
                continue
            points = np.array([(p.x, p.y, p.z) for p in found[0].landmark[:MESH_POINTS]], dtype=np.float64)
            meshes.append(points * np.array([width, height, width]) - np.array([0.5, 0.5, 0.0]))
    return np.stack(meshes) if meshes else np.zeros((0, MESH_POINTS, 3))
