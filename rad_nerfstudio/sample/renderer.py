"""Ray-cast renderer of the synthetic speaker: colour frame, parsing labels and torso layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.pinhole import Pinhole
from rad_nerfstudio.sample.head_model import FaceState, Palette, head_albedo, head_parts, torso_albedo, torso_parts
from rad_nerfstudio.sample.raycast import Ellipsoid, nearest_hit, normal_at

LIGHT_DIRECTION = np.array([-0.45, 0.55, 0.7]) / np.linalg.norm([-0.45, 0.55, 0.7])
"""Key light, camera frame, from the upper left in front of the subject."""
AMBIENT = 0.32
HIDDEN_TORSO_DARKENING = 0.8
"""Torso-layer pixels hidden behind the head are darkened, as the anchors' in-painting does."""

LABEL_BACKGROUND, LABEL_HEAD, LABEL_NECK, LABEL_TORSO = 0, 1, 2, 3


@dataclass(frozen=True)
class FrameParams:
    """Everything that changes from frame to frame."""

    head_rotation: Float[np.ndarray, "3 3"]
    head_translation: Float[np.ndarray, "3"]
    torso_rotation: Float[np.ndarray, "3 3"]
    torso_translation: Float[np.ndarray, "3"]
    face: FaceState


@dataclass
class FrameRender:
    rgb: UInt8[np.ndarray, "h w 3"]
    labels: UInt8[np.ndarray, "h w"]
    """0 background, 1 head, 2 neck, 3 torso (majority over the supersamples)."""
    torso_rgba: UInt8[np.ndarray, "h w 4"]
    """Neck and torso without the head; alpha 255 where they are."""


def _shade(
    albedo: np.ndarray, normals_cam: np.ndarray, view_dirs: np.ndarray, shininess: float, specular: float
) -> np.ndarray:
    lambert = np.clip(normals_cam @ LIGHT_DIRECTION, 0.0, None)[:, None]
    half = LIGHT_DIRECTION - view_dirs
    half /= np.linalg.norm(half, axis=-1, keepdims=True)
    highlight = specular * np.clip(np.einsum("ij,ij->i", normals_cam, half), 0.0, None)[:, None] ** shininess
    return albedo * (AMBIENT + (1.0 - AMBIENT) * lambert) + highlight


class PortraitRenderer:
    """Renders frames of one synthetic person for one camera."""

    def __init__(self, camera: Pinhole, palette: Palette, background: Float[np.ndarray, "h w 3"], supersample: int):
        self.camera = camera
        self.palette = palette
        self.background = background
        self.supersample = supersample
        self.directions = camera.pixel_directions(supersample).reshape(-1, 3).astype(np.float32)
        self.view_dirs = self.directions / np.linalg.norm(self.directions, axis=-1, keepdims=True)
        self.torso_parts = torso_parts()

    def _cast(self, rotation: np.ndarray, translation: np.ndarray, parts: list[Ellipsoid]):
        """The camera centre in the part group's frame, and each ray's nearest hit (``inf`` / -1 on a miss).

        Only rays that pass the group's bounding sphere are intersected (most of the image misses the head).
        """
        n = self.directions.shape[0]
        centre, radius = _bounding_sphere(parts)
        centre_cam = rotation @ centre + translation
        along = self.view_dirs @ centre_cam.astype(np.float32)
        near = np.flatnonzero(float(centre_cam @ centre_cam) - along**2 <= radius**2)
        origin = -translation @ rotation
        t = np.full(n, np.inf, dtype=np.float32)
        index = np.full(n, -1, dtype=np.int64)
        t[near], index[near] = nearest_hit(origin, self.directions[near] @ rotation.astype(np.float32), parts)
        return origin, t, index

    def _colour(self, parts, rotation, origin, t, index, albedo_fn) -> np.ndarray:
        colours = np.zeros((self.directions.shape[0], 3), dtype=np.float32)
        for k, part in enumerate(parts):
            sel = np.flatnonzero(index == k)
            if sel.size == 0:
                continue
            points = origin + t[sel, None] * (self.directions[sel] @ rotation.astype(np.float32))
            normals = normal_at(points, part) @ rotation.T
            shiny = part.part in ("skull", "nose")
            colours[sel] = _shade(albedo_fn(part, points), normals, self.view_dirs[sel], 24.0, 0.08 if shiny else 0.0)
        return colours

    def render(self, params: FrameParams) -> FrameRender:
        head = head_parts(params.face)
        head_origin, t_head, i_head = self._cast(params.head_rotation, params.head_translation, head)
        body_origin, t_body, i_body = self._cast(params.torso_rotation, params.torso_translation, self.torso_parts)
        head_colour = self._colour(
            head,
            params.head_rotation,
            head_origin,
            t_head,
            i_head,
            lambda part, pts: head_albedo(part.part, pts, params.face, self.palette, head[2]),
        )
        body_colour = self._colour(
            self.torso_parts,
            params.torso_rotation,
            body_origin,
            t_body,
            i_body,
            lambda part, pts: torso_albedo(part.part, pts, self.palette),
        )
        n_sub = self.supersample**2
        bg = np.repeat(self.background.reshape(-1, 3), n_sub, axis=0)
        head_front = (i_head >= 0) & (t_head <= t_body)
        body_hit = i_body >= 0
        rgb = np.where(head_front[:, None], head_colour, np.where(body_hit[:, None], body_colour, bg))
        labels = np.full(rgb.shape[0], LABEL_BACKGROUND, dtype=np.int64)
        labels[body_hit] = np.where(
            np.asarray([p.part == "neck" for p in self.torso_parts])[i_body[body_hit]], LABEL_NECK, LABEL_TORSO
        )
        labels[head_front] = LABEL_HEAD
        torso_rgb = body_colour * np.where(head_front & body_hit, HIDDEN_TORSO_DARKENING, 1.0)[:, None]

        h, w = self.camera.height, self.camera.width
        counts = np.stack([(labels == c).reshape(h * w, n_sub).sum(1) for c in range(4)], axis=1)
        body_cover = body_hit.reshape(h * w, n_sub).mean(1)
        torso_rgb_px = torso_rgb.reshape(h * w, n_sub, 3).sum(1) / np.maximum(body_cover * n_sub, 1)[:, None]
        return FrameRender(
            rgb=_to_uint8(rgb.reshape(h * w, n_sub, 3).mean(1)).reshape(h, w, 3),
            labels=np.argmax(counts, axis=1).astype(np.uint8).reshape(h, w),
            torso_rgba=np.concatenate(
                [_to_uint8(torso_rgb_px * (body_cover >= 0.5)[:, None]), _to_uint8((body_cover >= 0.5)[:, None])],
                axis=1,
            ).reshape(h, w, 4),
        )


def _bounding_sphere(parts: list[Ellipsoid]) -> tuple[np.ndarray, float]:
    """A sphere (centre, radius) enclosing every ellipsoid of a part group."""
    lo = np.min([p.center - p.radii for p in parts], axis=0)
    hi = np.max([p.center + p.radii for p in parts], axis=0)
    return (lo + hi) / 2.0, float(np.linalg.norm(hi - lo) / 2.0)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
