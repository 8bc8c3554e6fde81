"""Where in the head's frame the audio may act: a box around the mouth and chin, from the landmarks of every
frame triangulated through the frames' cameras.

The scene is the head's frame, so the mouth stays at one place in it whatever the pose. Keeping the audio's
influence inside this box stops the audio code from explaining what the audio cannot cause (pose-dependent
shading, the outline of the head, the eyes), which is what a single clip otherwise lets it memorise.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.constants import INNER_LIPS, JAW, OUTER_LIPS

CHIN = range(JAW.start + 5, JAW.stop - 5)
"""Jaw points 5-11: the chin, which drops when the mouth opens."""
REGION_MARGIN = 0.2
"""Margin around the triangulated mouth and chin points, as a fraction of the face width (jaw 0 to jaw 16)."""


def landmark_rays(
    landmarks: Float[np.ndarray, "frames points 2"],
    camera_to_worlds: Float[np.ndarray, "frames 3 4"],
    intrinsics: Float[np.ndarray, "4"],
) -> tuple[Float[np.ndarray, "frames 3"], Float[np.ndarray, "frames points 3"]]:
    """Camera centres and unit world directions of the rays through pixel-index landmarks.

    ``intrinsics`` are nerfstudio's ``fx, fy, cx, cy`` (rays through index + 0.5); cameras are OpenGL."""
    fx, fy, cx, cy = intrinsics
    local = np.stack(
        [(landmarks[..., 0] + 0.5 - cx) / fx, -(landmarks[..., 1] + 0.5 - cy) / fy, -np.ones(landmarks.shape[:2])],
        axis=-1,
    )
    directions = np.einsum("fij,fpj->fpi", camera_to_worlds[:, :, :3], local)
    return camera_to_worlds[:, :, 3], directions / np.linalg.norm(directions, axis=-1, keepdims=True)


def triangulate_landmarks(
    landmarks: Float[np.ndarray, "frames points 2"],
    camera_to_worlds: Float[np.ndarray, "frames 3 4"],
    intrinsics: Float[np.ndarray, "4"],
) -> tuple[Float[np.ndarray, "points 3"], Float[np.ndarray, " points"]]:
    """The world point nearest (least squares) to each landmark's rays over all frames, and the RMS distance of
    those rays from it (how well the landmark stays put in the head's frame)."""
    origins, directions = landmark_rays(landmarks, camera_to_worlds, intrinsics)
    projector = np.eye(3) - directions[..., :, None] * directions[..., None, :]  # [F, P, 3, 3]
    lhs = projector.sum(0)
    rhs = np.einsum("fpij,fj->pi", projector, origins)
    points = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    offsets = np.einsum("fpij,fpj->fpi", projector, points[None] - origins[:, None])
    return points, np.sqrt((offsets**2).sum(-1).mean(0))


def mouth_region(
    landmarks: Float[np.ndarray, "frames 68 2"],
    camera_to_worlds: Float[np.ndarray, "frames 3 4"],
    intrinsics: Float[np.ndarray, "4"],
) -> Float[np.ndarray, "2 3"] | None:
    """Axis-aligned box (min, max corners, world units) around the mouth and chin with a margin of
    ``REGION_MARGIN`` face widths, or None when the landmarks do not triangulate (a degenerate camera set)."""
    points, spread = triangulate_landmarks(landmarks, camera_to_worlds, intrinsics)
    face_width = float(np.linalg.norm(points[JAW.start] - points[JAW.stop - 1]))
    keep = np.r_[list(OUTER_LIPS), list(INNER_LIPS), list(CHIN)]
    if not (np.isfinite(points).all() and face_width > 0) or float(np.median(spread[keep])) > 0.5 * face_width:
        return None
    margin = REGION_MARGIN * face_width
    return np.stack([points[keep].min(0) - margin, points[keep].max(0) + margin])
