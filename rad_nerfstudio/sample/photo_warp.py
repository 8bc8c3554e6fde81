"""Piecewise-affine warp from the head frame's current face layout to the pixels of the face photograph.

Control points are the 68 iBUG landmarks (which move with the expression), a ring on the head's outline as seen
from the front and an outer ring around it (for the ears). Triangles are a Delaunay triangulation of the
control points in a neutral layout, kept fixed, so the warp changes smoothly from frame to frame. Triangles
between the inner lips form the mouth opening, which is drawn procedurally instead of sampled from the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Float, Int
from scipy.spatial import Delaunay

from rad_nerfstudio.constants import INNER_LIPS, OUTER_LIPS
from rad_nerfstudio.sample.head_model import JAW_DROP, JAW_RADIUS_Y, SKULL_RADII, FaceState, landmarks_3d

OUTLINE_POINTS = 28
"""Control points on the head outline, at equal parametric angles counter-clockwise from the subject's left."""
OUTER_RING_SCALE = 1.35
"""The outer ring is the outline scaled by this about the head centre; it maps onto the outline in the photo."""
NEUTRAL_FACE = FaceState(0.35, 1.0, 1.0)
"""The layout the triangulation is built on (lips apart, so the mouth triangles are well formed)."""
SKIN, LIPS, MOUTH = 0, 1, 2
"""Regions of the warp: the mouth opening is drawn, not read off the photo."""
GRID_STEP = 2.5e-4
"""Metres per cell of the triangle-index raster over the head frame's (x, y) plane."""
GRID_ORIGIN = np.array([-0.11, -0.17])
GRID_SHAPE = (1240, 880)
"""Rows (y), columns (x) of the raster: it spans x in [-0.11, 0.11], y in [-0.17, 0.14] metres."""


def outline_points(state: FaceState, scale: float = 1.0) -> Float[np.ndarray, "k 2"]:
    """The head's outline seen from the front (head frame x, y), its lower half following the jaw drop."""
    angles = 2.0 * np.pi * np.arange(OUTLINE_POINTS) / OUTLINE_POINTS
    jaw_y = JAW_RADIUS_Y + JAW_DROP * state.mouth_open
    radius_y = np.where(np.sin(angles) >= 0, SKULL_RADII[1], jaw_y)
    return scale * np.stack([SKULL_RADII[0] * np.cos(angles), radius_y * np.sin(angles)], axis=1)


def head_control_points(state: FaceState) -> Float[np.ndarray, "p 2"]:
    """Landmarks, outline and outer ring in the head frame (x, y) for one expression."""
    return np.concatenate(
        [landmarks_3d(state)[:, :2], outline_points(state), outline_points(state, OUTER_RING_SCALE)], axis=0
    )


def fit_similarity(head_xy: Float[np.ndarray, "n 2"], photo_uv: Float[np.ndarray, "n 2"]) -> Float[np.ndarray, "2 3"]:
    """Least-squares similarity (scale, rotation, shift; y flipped) from head-frame (x, y) to photo pixels."""
    src = head_xy[:, 0] - 1j * head_xy[:, 1]  # y up -> image rows down
    dst = photo_uv[:, 0] + 1j * photo_uv[:, 1]
    sc, dc = src - src.mean(), dst - dst.mean()
    a = np.sum(dc * np.conj(sc)) / np.sum(np.abs(sc) ** 2)
    b = dst.mean() - a * src.mean()
    return np.array([[a.real, a.imag, b.real], [a.imag, -a.real, b.imag]])


def apply_affine(matrix: Float[np.ndarray, "2 3"], xy: Float[np.ndarray, "n 2"]) -> Float[np.ndarray, "n 2"]:
    return xy @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True)
class FaceWarp:
    """The fixed triangulation and the photo position of every control point."""

    triangles: Int[np.ndarray, "t 3"]
    photo_points: Float[np.ndarray, "p 2"]
    region: Int[np.ndarray, " t"]
    """``MOUTH`` for triangles between the inner lips, ``LIPS`` for those between inner and outer lips."""
    similarity: Float[np.ndarray, "2 3"]
    """Head frame to photo, fitted to the landmarks: the warp outside every triangle."""

    @staticmethod
    def build(photo_landmarks: Float[np.ndarray, "68 2"], photo_outline: Float[np.ndarray, "k 2"]) -> FaceWarp:
        photo_points = np.concatenate([photo_landmarks, photo_outline, photo_outline], axis=0)
        triangles = Delaunay(head_control_points(NEUTRAL_FACE)).simplices.astype(np.int64)
        inner = ((triangles >= INNER_LIPS.start) & (triangles < INNER_LIPS.stop)).all(axis=1)
        lips = ((triangles >= OUTER_LIPS.start) & (triangles < INNER_LIPS.stop)).all(axis=1)
        region = np.where(inner, MOUTH, np.where(lips, LIPS, SKIN))
        similarity = fit_similarity(landmarks_3d(NEUTRAL_FACE)[:, :2], photo_landmarks)
        return FaceWarp(triangles, photo_points, region, similarity)

    def for_face(self, state: FaceState) -> FrameWarp:
        """The warp of one frame's expression."""
        return FrameWarp(self, head_control_points(state))


class FrameWarp:
    """Head-frame (x, y) to photo pixels for one expression: a raster of triangle ids, then barycentric mapping."""

    def __init__(self, warp: FaceWarp, head_points: Float[np.ndarray, "p 2"]):
        self.warp = warp
        corners = head_points[warp.triangles]  # [t, 3, 2]
        edges = (corners[:, 1:] - corners[:, :1]).transpose(0, 2, 1)  # [t, 2, 2]: columns are edge vectors
        det = np.linalg.det(edges)
        usable = np.abs(det) > 1e-10
        # barycentric (l1, l2) = inverse @ (p - corner 0); unusable (flat) triangles are never rasterised
        self.inverse = np.linalg.inv(np.where(usable[:, None, None], edges, np.eye(2)))
        self.origin = corners[:, 0]
        self.index = np.full(GRID_SHAPE, -1, dtype=np.int32)
        scale = 16.0 / GRID_STEP  # 4 fractional bits for fillConvexPoly
        cells = np.round((corners - GRID_ORIGIN) * scale).astype(np.int32)
        for t in np.argsort(np.abs(det), kind="stable"):  # large triangles last: they own shared edge cells
            if usable[t]:
                cv2.fillConvexPoly(self.index, cells[t], (int(t),), lineType=cv2.LINE_8, shift=4)

    def lookup(self, xy: Float[np.ndarray, "n 2"]) -> tuple[Float[np.ndarray, "n 2"], Int[np.ndarray, " n"]]:
        """Photo pixel coordinates of head-frame points, and their region (``SKIN``, ``LIPS`` or ``MOUTH``)."""
        cell = np.floor((xy - GRID_ORIGIN) / GRID_STEP + 0.5).astype(np.int64)  # cell centres on integers
        rows = np.clip(cell[:, 1], 0, GRID_SHAPE[0] - 1)
        cols = np.clip(cell[:, 0], 0, GRID_SHAPE[1] - 1)
        tri = self.index[rows, cols]
        inside = tri >= 0
        uv = apply_affine(self.warp.similarity, xy)
        t = tri[inside]
        lam = np.einsum("nij,nj->ni", self.inverse[t], xy[inside] - self.origin[t])
        lam = np.clip(lam, 0.0, None)
        lam /= np.maximum(lam.sum(1, keepdims=True), 1.0)  # clamp into the triangle
        weights = np.concatenate([1.0 - lam.sum(1, keepdims=True), lam], axis=1)
        uv[inside] = np.einsum("nk,nkd->nd", weights, self.warp.photo_points[self.warp.triangles[t]])
        region = np.full(len(xy), SKIN)
        region[inside] = self.warp.region[t]
        return uv, region
