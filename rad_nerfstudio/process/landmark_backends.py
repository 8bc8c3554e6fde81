"""Landmark backends of rad-process: each tracks 3D face points per frame and says which of them are the 68
iBUG points, the outer eye corners and the nose tip (what the pose fit needs).

``mediapipe``: MediaPipe's face mesh, offline (the model ships in the wheel). ``face-alignment``: face-alignment's
3D-FAN with its S3FD face detector (weights download once, then offline; more accurate on real faces)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Literal, Tuple

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.process.face_mesh import BackendUnavailableError, track_face_mesh
from rad_nerfstudio.process.mesh_to_ibug import MESH_TO_IBUG68

LandmarkBackendName = Literal["mediapipe", "face-alignment"]
Frames = Iterable[UInt8[np.ndarray, "h w 3"]]


@dataclass(frozen=True)
class PointLayout:
    """Where the points a pose fit and the ``.lms`` files need are in a backend's point set."""

    ibug68: Tuple[int, ...]
    outer_eye_corners: Tuple[int, int]
    nose_tip: int


MESH_LAYOUT = PointLayout(MESH_TO_IBUG68, (33, 263), 4)
IBUG_LAYOUT = PointLayout(tuple(range(68)), (36, 45), 30)


def track_fan_landmarks(frames: Frames, device: str = "cpu", fan=None) -> Float[np.ndarray, "n 68 3"]:
    """face-alignment's 3D landmarks of the largest face per frame (NaN where none), depth growing away from the
    camera like MediaPipe's. ``fan`` replaces the network (tests)."""
    if fan is None:
        try:
            import face_alignment

            fan = face_alignment.FaceAlignment(face_alignment.LandmarksType.THREE_D, device=device, flip_input=False)
        except Exception as error:  # noqa: BLE001 - any import / download failure means "unavailable, because"
            raise BackendUnavailableError(
                f"face-alignment's 3D-FAN could not be loaded ({type(error).__name__}: {error}); its weights download "
                "once from https://www.adrianbulat.com/downloads/python-fan/ into the torch hub cache, or use "
                "--landmarks mediapipe (offline)"
            ) from error
    tracks = []
    for frame in frames:
        found = fan.get_landmarks_from_image(frame)
        if not found:
            tracks.append(np.full((68, 3), np.nan))
            continue
        points = max((np.asarray(f, dtype=np.float64) for f in found), key=lambda p: np.ptp(p[:, 0]) * np.ptp(p[:, 1]))
        tracks.append(points)
    track = np.stack(tracks) if tracks else np.zeros((0, 68, 3))
    nose_ahead = np.nanmedian(track[:, 30, 2] - track[:, [36, 45], 2].mean(-1)) if len(track) else -1.0
    if nose_ahead > 0:  # the nose tip must be nearer the camera than the eye corners
        track[..., 2] *= -1
    return track


BACKENDS: Dict[str, Tuple[Callable[[Frames], np.ndarray], PointLayout]] = {
    "mediapipe": (track_face_mesh, MESH_LAYOUT),
    "face-alignment": (track_fan_landmarks, IBUG_LAYOUT),
}
"""Each backend's tracker and point layout."""
