"""Ray-cast renderer of the synthetic speaker: colour frame, parsing labels and torso layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.pinhole import Pinhole
from rad_nerfstudio.sample.head_model import FaceState, head_parts, landmarks_3d, torso_parts
from rad_nerfstudio.sample.lighting import LIGHT_DIRECTION, diffuse
from rad_nerfstudio.sample.looks import AlbedoFn, Look
from rad_nerfstudio.sample.raycast import Ellipsoid, nearest_hit

HIDDEN_TORSO_DARKENING = 0.8
"""Torso-layer pixels hidden behind the head are darkened, as the anchors' in-painting does."""

LABEL_BACKGROUND, LABEL_HEAD, LABEL_NECK, LABEL_TORSO = 0, 1, 2, 3
MOUTH = slice(48, 68)
"""Lip landmarks: their box is supersampled too in adaptive mode (sharp teeth and lip edges)."""


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


@dataclass
class _Rays:
    """Per-ray results of one batch of rays."""

    rgb: np.ndarray
    labels: np.ndarray
    body_hit: np.ndarray
    torso_rgb: np.ndarray
    surface: np.ndarray
    """Which part each ray shows (head part k, or 16 + torso part k, or -1): part edges need supersampling."""


def _shade(
    albedo: np.ndarray, normals_cam: np.ndarray, view_dirs: np.ndarray, shininess: float, specular: float
) -> np.ndarray:
    half = LIGHT_DIRECTION - view_dirs
    half /= np.linalg.norm(half, axis=-1, keepdims=True)
    highlight = specular * np.clip(np.einsum("ij,ij->i", normals_cam, half), 0.0, None)[:, None] ** shininess
    return albedo * diffuse(normals_cam) + highlight


class PortraitRenderer:
    """Renders frames of one synthetic person for one camera."""

    def __init__(self, camera: Pinhole, look: Look, background: Float[np.ndarray, "h w 3"], supersample: int):
        self.camera = camera
        self.look = look
        self.background = background.reshape(-1, 3)
        self.supersample = supersample
        self.directions = camera.pixel_directions(supersample).reshape(-1, 3).astype(np.float32)
        self.view_dirs = self.directions / np.linalg.norm(self.directions, axis=-1, keepdims=True)
        self.centres = camera.pixel_directions(1).reshape(-1, 3).astype(np.float32)
        self.centre_view_dirs = self.centres / np.linalg.norm(self.centres, axis=-1, keepdims=True)
        self.torso_parts = torso_parts()
        self.is_neck = np.asarray([p.part == "neck" for p in self.torso_parts])

    def _cast(self, directions, view_dirs, rotation: np.ndarray, translation: np.ndarray, parts: list[Ellipsoid]):
        """The camera centre in the part group's frame, and each ray's nearest hit (``inf`` / -1 on a miss).

        Only rays that pass the group's bounding sphere are intersected (most of the image misses the head).
        """
        n = directions.shape[0]
        centre, radius = _bounding_sphere(parts)
        centre_cam = rotation @ centre + translation
        along = view_dirs @ centre_cam.astype(np.float32)
        near = np.flatnonzero(float(centre_cam @ centre_cam) - along**2 <= radius**2)
        origin = -translation @ rotation
        t = np.full(n, np.inf, dtype=np.float32)
        index = np.full(n, -1, dtype=np.int64)
        t[near], index[near] = nearest_hit(origin, directions[near] @ rotation.astype(np.float32), parts)
        return origin, t, index

    def _color(self, directions, view_dirs, parts, rotation, origin, t, index, albedo_fn: AlbedoFn) -> np.ndarray:
        colors = np.zeros((directions.shape[0], 3), dtype=np.float32)
        for k, part in enumerate(parts):
            sel = np.flatnonzero(index == k)
            if sel.size == 0:
                continue
            points = origin + t[sel, None] * (directions[sel] @ rotation.astype(np.float32))
            normals = self.look.shading_normals(part, points) @ rotation.T
            shiny = part.part in ("skull", "nose")
            colors[sel] = _shade(albedo_fn(part, points), normals, view_dirs[sel], 24.0, 0.08 if shiny else 0.0)
        return colors

    def _trace(self, directions, view_dirs, background, params: FrameParams, head, head_albedo: AlbedoFn) -> _Rays:
        head_origin, t_head, i_head = self._cast(
            directions, view_dirs, params.head_rotation, params.head_translation, head
        )
        body_origin, t_body, i_body = self._cast(
            directions, view_dirs, params.torso_rotation, params.torso_translation, self.torso_parts
        )
        head_color = self._color(
            directions, view_dirs, head, params.head_rotation, head_origin, t_head, i_head, head_albedo
        )
        body_color = self._color(
            directions,
            view_dirs,
            self.torso_parts,
            params.torso_rotation,
            body_origin,
            t_body,
            i_body,
            self.look.torso_albedo,
        )
        head_front = (i_head >= 0) & (t_head <= t_body)
        body_hit = i_body >= 0
        rgb = np.where(head_front[:, None], head_color, np.where(body_hit[:, None], body_color, background))
        labels = np.full(rgb.shape[0], LABEL_BACKGROUND, dtype=np.int64)
        labels[body_hit] = np.where(self.is_neck[i_body[body_hit]], LABEL_NECK, LABEL_TORSO)
        labels[head_front] = LABEL_HEAD
        torso_rgb = body_color * np.where(head_front & body_hit, HIDDEN_TORSO_DARKENING, 1.0)[:, None]
        surface = np.where(head_front, i_head, np.where(body_hit, 16 + i_body, -1))
        return _Rays(rgb, labels, body_hit, torso_rgb, surface)

    def render(self, params: FrameParams) -> FrameRender:
        head = head_parts(params.face)
        head_albedo = self.look.head_albedo(params.face, head)
        h, w = self.camera.height, self.camera.width
        n_sub = self.supersample**2
        if self.look.adaptive_supersampling and n_sub > 1:
            return self._render_adaptive(params, head, head_albedo)
        bg = np.repeat(self.background, n_sub, axis=0)
        rays = self._trace(self.directions, self.view_dirs, bg, params, head, head_albedo)
        counts = np.stack([(rays.labels == c).reshape(h * w, n_sub).sum(1) for c in range(4)], axis=1)
        body_cover = rays.body_hit.reshape(h * w, n_sub).mean(1)
        torso_rgb_px = rays.torso_rgb.reshape(h * w, n_sub, 3).sum(1) / np.maximum(body_cover * n_sub, 1)[:, None]
        rgb_px = rays.rgb.reshape(h * w, n_sub, 3).mean(1)
        return _frame(h, w, rgb_px, np.argmax(counts, axis=1), body_cover, torso_rgb_px)

    def _render_adaptive(self, params: FrameParams, head, head_albedo: AlbedoFn) -> FrameRender:
        """One ray per pixel, then ``supersample**2`` rays in pixels on a part edge or over the lips."""
        h, w = self.camera.height, self.camera.width
        n_sub = self.supersample**2
        first = self._trace(self.centres, self.centre_view_dirs, self.background, params, head, head_albedo)
        rgb_px = first.rgb.astype(np.float64)
        labels = first.labels.copy()
        body_cover = first.body_hit.astype(np.float64)
        torso_rgb_px = first.torso_rgb.astype(np.float64)
        redo = np.flatnonzero(_edges(first.surface.reshape(h, w)) | self._mouth_box(params))
        if redo.size:
            pick = (redo[:, None] * n_sub + np.arange(n_sub)).reshape(-1)
            bg = np.repeat(self.background[redo], n_sub, axis=0)
            rays = self._trace(self.directions[pick], self.view_dirs[pick], bg, params, head, head_albedo)
            counts = np.stack([(rays.labels == c).reshape(-1, n_sub).sum(1) for c in range(4)], axis=1)
            labels[redo] = np.argmax(counts, axis=1)
            body_cover[redo] = rays.body_hit.reshape(-1, n_sub).mean(1)
            torso_sum = rays.torso_rgb.reshape(-1, n_sub, 3).sum(1)
            torso_rgb_px[redo] = torso_sum / np.maximum(body_cover[redo] * n_sub, 1)[:, None]
            rgb_px[redo] = rays.rgb.reshape(-1, n_sub, 3).mean(1)
        return _frame(h, w, rgb_px, labels, body_cover, torso_rgb_px)

    def _mouth_box(self, params: FrameParams) -> np.ndarray:
        """Pixels of the lips' bounding box (grown by a pixel)."""
        lips = landmarks_3d(params.face)[MOUTH] @ params.head_rotation.T + params.head_translation
        uv = self.camera.project(lips)
        x0, y0 = np.maximum(np.floor(uv.min(0)).astype(int) - 1, 0)
        x1, y1 = np.ceil(uv.max(0)).astype(int) + 2
        box = np.zeros((self.camera.height, self.camera.width), dtype=bool)
        box[y0:y1, x0:x1] = True
        return box.reshape(-1)


def _edges(surface: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood shows another surface (flattened)."""
    edge = np.zeros(surface.shape, dtype=bool)
    horizontal = surface[:, 1:] != surface[:, :-1]
    vertical = surface[1:] != surface[:-1]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:] |= vertical
    edge[:-1] |= vertical
    return edge.reshape(-1)


def _frame(h: int, w: int, rgb_px, labels_px, body_cover, torso_rgb_px) -> FrameRender:
    body = (body_cover >= 0.5)[:, None]
    return FrameRender(
        rgb=_to_uint8(rgb_px).reshape(h, w, 3),
        labels=labels_px.astype(np.uint8).reshape(h, w),
        torso_rgba=np.concatenate([_to_uint8(torso_rgb_px * body), _to_uint8(body)], axis=1).reshape(h, w, 4),
    )


def _bounding_sphere(parts: list[Ellipsoid]) -> tuple[np.ndarray, float]:
    """A sphere (centre, radius) enclosing every ellipsoid of a part group."""
    lo = np.min([p.center - p.radii for p in parts], axis=0)
    hi = np.max([p.center + p.radii for p in parts], axis=0)
    return (lo + hi) / 2.0, float(np.linalg.norm(hi - lo) / 2.0)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
