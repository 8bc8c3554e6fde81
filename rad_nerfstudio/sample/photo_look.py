"""The photo look: a real face photograph warped onto the ray-cast head, its suit onto the torso.

Each head point's front position (head frame x, y) is mapped into the photo by the piecewise-affine warp of
``photo_warp`` from the frame's landmark layout, so the lips part, the jaw drops and the eyelids close with the
expression; the mouth opening is drawn by ``mouth_interior``. The photo already holds its studio lighting, so
its colours are divided by part of the shading the renderer applies at the rest pose: the output at rest looks
like the photo, and the shading changes as the head turns. Neck and torso take the photo's turtleneck and suit
through the head's similarity transform at the rest pose.
"""

from __future__ import annotations

from typing import List

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.face_photo import PHOTO_LANDMARKS, PHOTO_OUTLINE, load_face_photo
from rad_nerfstudio.sample.head_model import FaceState, head_parts
from rad_nerfstudio.sample.lighting import diffuse
from rad_nerfstudio.sample.looks import AlbedoFn, LookName
from rad_nerfstudio.sample.motion import HEAD_REST_TRANSLATION
from rad_nerfstudio.sample.mouth_interior import lip_shading, mouth_interior
from rad_nerfstudio.sample.photo_sampling import prefiltered, sample_bilinear
from rad_nerfstudio.sample.photo_torso import photo_torso_albedo
from rad_nerfstudio.sample.photo_warp import LIPS, MOUTH, FaceWarp
from rad_nerfstudio.sample.raycast import Ellipsoid, intersect, normal_at

DESHADE_POWER = 0.75
"""The photo is divided by the rest-pose shading to this power (1 would reproduce the photo at rest)."""
PIXELS_PER_METRE_AT_SIZE_1 = 2.0
"""Image pixels per metre at the head's distance, per pixel of frame size (focal 1.6 size at 0.8 m)."""
NOSE_HEIGHT = 0.02
"""Metres in front of the cheek from which the nose is shaded with its own normals as much as it gets."""
NOSE_OWN_SHADING = 0.6
"""Weight of the nose's own normal (against the cheek's behind it) in its shading normal at the tip."""
EAR_PULL = np.array([0.88, 1.0])
"""Ears take the colour of the face's edge: their (x, y) is pulled this much towards the middle."""


class PhotoLook:
    """The astronaut photo on the head and torso."""

    name: LookName = "photo"
    adaptive_supersampling = True

    def __init__(self, size: int):
        self.warp = FaceWarp.build(np.asarray(PHOTO_LANDMARKS, float), np.asarray(PHOTO_OUTLINE, float))
        photo_per_frame_px = float(np.hypot(*self.warp.similarity[:, 0])) / (PIXELS_PER_METRE_AT_SIZE_1 * size)
        self.photo = prefiltered(load_face_photo(), photo_per_frame_px)
        self.skull = head_parts(FaceState(0.0, 1.0, 1.0))[:2]

    def head_albedo(self, state: FaceState, parts: List[Ellipsoid]) -> AlbedoFn:
        frame_warp = self.warp.for_face(state)

        def albedo(part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
            if part.part == "nose":  # the photo projected from the rest view: it meets the cheeks without a seam
                xy = self._skull_behind(points)[0][:, :2]
            else:
                xy = points[:, :2] * EAR_PULL if part.part == "ear" else points[:, :2]
            uv, region = frame_warp.lookup(xy)
            color = sample_bilinear(self.photo, uv) / self._rest_shading(part, points)
            front = (points[:, 2] > 0.0) & (part.part == "skull")
            lips = front & (region == LIPS)
            color[lips] *= lip_shading(points[lips, :2], state)
            mouth = front & (region == MOUTH)
            color[mouth] = mouth_interior(points[mouth, :2], state)
            return color

        return albedo

    def torso_albedo(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
        color = photo_torso_albedo(part.part, points, self.photo, self.warp.similarity)
        return color / self._rest_shading(part, points)

    def shading_normals(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
        """Surface normals, but the nose's lean towards the cheek's behind it where it meets the face, so that
        it rises out of the face instead of sitting on it."""
        normals = normal_at(points, part)
        if part.part != "nose":
            return normals
        behind, cheek = self._skull_behind(points)
        rise = np.clip(np.linalg.norm(points - behind, axis=1) / NOSE_HEIGHT, 0.0, 1.0)[:, None]
        blended = cheek + NOSE_OWN_SHADING * rise * (normals - cheek)
        return blended / np.linalg.norm(blended, axis=1, keepdims=True)

    def _rest_shading(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 1"]:
        """The part of the renderer's diffuse shading at rest (facing the camera) that the photo is divided by."""
        return diffuse(self.shading_normals(part, points)) ** DESHADE_POWER

    def _skull_behind(self, points: Float[np.ndarray, "n 3"]) -> tuple[Float[np.ndarray, "n 3"], np.ndarray]:
        """The skull points behind nose points as the camera sees them at rest, and their normals."""
        camera = -HEAD_REST_TRANSLATION  # the camera centre in the head frame at the rest pose
        directions = points - camera
        hits = np.stack([intersect(camera, directions, half) for half in self.skull])
        upper = hits[0] <= hits[1]
        t = np.where(upper, hits[0], hits[1])
        behind = camera + np.where(np.isfinite(t), t, 1.0)[:, None] * directions
        normals = np.where(upper[:, None], normal_at(behind, self.skull[0]), normal_at(behind, self.skull[1]))
        return behind, normals
