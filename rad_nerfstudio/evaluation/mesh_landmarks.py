"""MediaPipe's face mesh run on one image at a time (static-image mode), on an upscaled crop around the face.

Each image is measured on its own, so a render and its ground truth are treated alike (no tracking state
carried from frame to frame). Works offline: the models ship inside the mediapipe wheel.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Type

import cv2
import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.process.face_mesh import MESH_POINTS, mediapipe_solutions
from rad_nerfstudio.process.mesh_to_ibug import MESH_TO_IBUG68

CROP_SIZE = 384
"""Longer side, in pixels, the crop around the face is resized to before the face mesh sees it."""
CROP_MARGIN = 1.0
"""The face rect is grown by this fraction of its size on every side (the detector wants some context)."""
SMALL_FACE = 0.25
"""Only a face rect smaller than this fraction of the image's shorter side is cropped around."""


def _crop_box(face: tuple[int, int, int, int] | None, width: int, height: int) -> tuple[int, int, int, int]:
    """The face rect grown by ``CROP_MARGIN`` when the face is small in the image, else the whole image (a crop
    that follows the rect from frame to frame shifts by a pixel or two, which moves the mesh measurably)."""
    if face is None or face[2] <= face[0] or face[3] <= face[1]:
        return 0, 0, width, height
    x0, y0, x1, y1 = face
    if max(x1 - x0, y1 - y0) >= SMALL_FACE * min(width, height):
        return 0, 0, width, height
    grow = CROP_MARGIN * max(x1 - x0, y1 - y0)
    return (
        max(0, int(np.floor(x0 - grow))),
        max(0, int(np.floor(y0 - grow))),
        min(width, int(np.ceil(x1 + grow))),
        min(height, int(np.ceil(y1 + grow))),
    )


class FaceMeshDetector:
    """468 face-mesh vertices (or the iBUG 68 points read off them) of the single face in an RGB image."""

    name = "mediapipe-face-mesh"

    def __init__(self, min_confidence: float = 0.5) -> None:
        self._mesh: Any = mediapipe_solutions().face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,  # the attention model: better lips
            min_detection_confidence=min_confidence,
        )

    def mesh(
        self, image: UInt8[np.ndarray, "h w 3"], face: tuple[int, int, int, int] | None = None
    ) -> Float[np.ndarray, "468 2"] | None:
        """Vertices in the image's pixel-index coordinates; searched near ``face`` (x0, y0, x1, y1) first, then
        in the whole image; None when no face is found."""
        height, width = image.shape[:2]
        boxes = [_crop_box(face, width, height)]
        if boxes[0] != (0, 0, width, height):
            boxes.append((0, 0, width, height))
        for x0, y0, x1, y1 in boxes:
            scale = CROP_SIZE / max(x1 - x0, y1 - y0)
            size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            crop = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1, :3]), size, interpolation=cv2.INTER_CUBIC)
            found = self._mesh.process(crop).multi_face_landmarks
            if found:
                normalised = np.array([(p.x, p.y) for p in found[0].landmark[:MESH_POINTS]], dtype=np.float64)
                return normalised * np.array([x1 - x0, y1 - y0]) + np.array([x0, y0]) - 0.5
        return None

    def __call__(
        self, image: UInt8[np.ndarray, "h w 3"], face: tuple[int, int, int, int]
    ) -> Float[np.ndarray, "68 2"] | None:
        """The iBUG-68 points (a ``LandmarkDetector`` for the landmark distance)."""
        vertices = self.mesh(image, face)
        return None if vertices is None else vertices[list(MESH_TO_IBUG68)]

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceMeshDetector:
        return self

    def __exit__(
        self, kind: Type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
