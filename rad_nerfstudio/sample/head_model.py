"""Geometry of the synthetic speaker: head and body parts, 68 iBUG landmarks, surface textures.

Head frame (metres): origin at the head centre, x to the image right when facing the camera
(the subject's left), y up, z out of the face towards the camera. Eyes, brows and mouth are
drawn on the front of the skull by their (x, y) position, and the landmarks are the same
(x, y) outlines lifted onto that surface, so texture and landmarks agree by construction.
The torso frame has its origin at the base of the neck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.raycast import Ellipsoid

SKULL_RADII = np.array([0.076, 0.100, 0.092])
"""Upper skull half-axes; the lower (jaw) half is taller and drops as the mouth opens."""
JAW_RADIUS_Y = 0.108
JAW_DROP = 0.012
"""Extra jaw height at full mouth opening."""
EYE_CENTERS = ((-0.031, 0.015), (0.031, 0.015))
"""Subject's right eye (image left) first, as in iBUG."""
EYE_HALF_SIZE = (0.0135, 0.0075)
IRIS_RADIUS = 0.0062
PUPIL_RADIUS = 0.0027
BROW_HEIGHT = 0.021
MOUTH_CENTER = (0.0, -0.05)
MOUTH_HALF_WIDTH = 0.024
LIP_THICKNESS = (0.006, 0.007)
"""Upper, lower lip thickness."""
NOSE_CENTER_Y = -0.012
NOSE_RADII = np.array([0.012, 0.024, 0.026])


@dataclass(frozen=True)
class FaceState:
    """The per-frame expression of the face."""

    mouth_open: float
    """0 closed, 1 wide open."""
    mouth_width: float
    """Relative to neutral."""
    eye_open: float
    """1 open, 0 closed (blink)."""


@dataclass(frozen=True)
class Palette:
    """Colours of one synthetic person (linear RGB in [0, 1])."""

    skin: Float[np.ndarray, "3"]
    hair: Float[np.ndarray, "3"]
    iris: Float[np.ndarray, "3"]
    lips: Float[np.ndarray, "3"]
    shirt: Float[np.ndarray, "3"]
    shirt_stripe: Float[np.ndarray, "3"]

    @staticmethod
    def random(rng: np.random.Generator) -> "Palette":
        skins = np.array([[0.93, 0.76, 0.64], [0.84, 0.62, 0.48], [0.66, 0.46, 0.33], [0.45, 0.31, 0.22]])
        hairs = np.array([[0.10, 0.07, 0.05], [0.32, 0.20, 0.10], [0.55, 0.40, 0.22], [0.20, 0.19, 0.18]])
        skin = skins[rng.integers(len(skins))] * rng.uniform(0.95, 1.05)
        shirt = rng.uniform(0.1, 0.8, size=3)
        return Palette(
            skin=np.clip(skin, 0, 1),
            hair=hairs[rng.integers(len(hairs))],
            iris=rng.uniform(0.1, 0.5, size=3),
            lips=np.clip(skin * np.array([0.85, 0.55, 0.55]) + np.array([0.1, 0.0, 0.02]), 0, 1),
            shirt=shirt,
            shirt_stripe=np.clip(shirt * 0.55 + 0.35 * rng.uniform(0, 1, size=3), 0, 1),
        )


def head_parts(state: FaceState) -> list[Ellipsoid]:
    """Ellipsoids of the head in the head frame (skull halves, nose, ears)."""
    jaw = np.array([SKULL_RADII[0], JAW_RADIUS_Y + JAW_DROP * state.mouth_open, SKULL_RADII[2]])
    nose_z = _face_z(0.0, NOSE_CENTER_Y, state) - 0.006
    return [
        Ellipsoid(np.zeros(3), SKULL_RADII, "above", "skull"),
        Ellipsoid(np.zeros(3), jaw, "below", "skull"),
        Ellipsoid(np.array([0.0, NOSE_CENTER_Y, nose_z]), NOSE_RADII, None, "nose"),
        Ellipsoid(np.array([-0.074, 0.0, -0.008]), np.array([0.010, 0.026, 0.016]), None, "ear"),
        Ellipsoid(np.array([0.074, 0.0, -0.008]), np.array([0.010, 0.026, 0.016]), None, "ear"),
    ]


def torso_parts() -> list[Ellipsoid]:
    """Ellipsoids of the neck and upper body in the torso frame (origin at the neck base)."""
    return [
        Ellipsoid(np.array([0.0, 0.02, 0.0]), np.array([0.048, 0.075, 0.045]), None, "neck"),
        Ellipsoid(np.array([0.0, -0.2, -0.005]), np.array([0.165, 0.17, 0.095]), None, "torso"),
        Ellipsoid(np.array([-0.13, -0.085, -0.01]), np.array([0.1, 0.045, 0.07]), None, "torso"),
        Ellipsoid(np.array([0.13, -0.085, -0.01]), np.array([0.1, 0.045, 0.07]), None, "torso"),
    ]


def _face_z(x, y, state: FaceState):
    """z of the front skull surface at (x, y) (upper half above y = 0, jaw below)."""
    radius_y = np.where(np.asarray(y) >= 0, SKULL_RADII[1], JAW_RADIUS_Y + JAW_DROP * state.mouth_open)
    inside = 1.0 - (np.asarray(x) / SKULL_RADII[0]) ** 2 - (np.asarray(y) / radius_y) ** 2
    return SKULL_RADII[2] * np.sqrt(np.clip(inside, 0.0, None))


def _lid_height(u, eye_open: float):
    """Upper-lid offset from the eye centre at normalised x position ``u`` (lower lid is the mirror at eye_open=1)."""
    s = np.sqrt(np.clip(1.0 - np.asarray(u) ** 2, 0.0, None))
    return EYE_HALF_SIZE[1] * s * (2.0 * eye_open - 1.0), -EYE_HALF_SIZE[1] * s


def mouth_profile(state: FaceState) -> tuple[float, float, float, float, float, float]:
    """Outer half-width, inner half-width, inner top/bottom extents, outer top/bottom extents."""
    opening = 0.0006 + 0.012 * state.mouth_open
    outer_w = MOUTH_HALF_WIDTH * state.mouth_width
    inner_w = outer_w - 0.004
    inner_top, inner_bottom = 0.25 * opening, 1.75 * opening
    return outer_w, inner_w, inner_top, inner_bottom, inner_top + LIP_THICKNESS[0], inner_bottom + LIP_THICKNESS[1]


def _brow_range(eye_x: float) -> tuple[float, float]:
    """Image-left and image-right x ends of the brow over an eye (longer on the temple side)."""
    return (eye_x - 0.018, eye_x + 0.016) if eye_x < 0 else (eye_x - 0.016, eye_x + 0.018)


def _brow_y(x, eye_x: float):
    return EYE_CENTERS[0][1] + BROW_HEIGHT + 0.004 * (1.0 - ((np.asarray(x) - eye_x) / 0.018) ** 2)


def landmarks_3d(state: FaceState) -> Float[np.ndarray, "68 3"]:
    """The 68 iBUG landmarks of the face in the head frame."""
    xy = np.zeros((68, 2))
    # jaw 0-16, on the skull contour from the subject's right ear around the chin
    s = np.linspace(-1.0, 1.0, 17)
    azimuth = np.deg2rad(78.0) * s
    elevation = np.deg2rad(8.0 - 68.0 * (1.0 - np.abs(s) ** 1.5))
    jaw_y = np.where(elevation >= 0, SKULL_RADII[1], JAW_RADIUS_Y + JAW_DROP * state.mouth_open)
    jaw = np.stack(
        [
            SKULL_RADII[0] * np.cos(elevation) * np.sin(azimuth),
            jaw_y * np.sin(elevation),
            SKULL_RADII[2] * np.cos(elevation) * np.cos(azimuth),
        ],
        axis=1,
    )
    # brows 17-21 (right, outer to inner) and 22-26 (left, inner to outer)
    (rx, _), (lx, _) = EYE_CENTERS
    right_brow_x = np.linspace(*_brow_range(rx), 5)
    left_brow_x = np.linspace(*_brow_range(lx), 5)
    xy[17:22] = np.stack([right_brow_x, _brow_y(right_brow_x, rx)], axis=1)
    xy[22:27] = np.stack([left_brow_x, _brow_y(left_brow_x, lx)], axis=1)
    # eyes 36-41 and 42-47: corner, two upper-lid points, corner, two lower-lid points (clockwise in the image)
    w = EYE_HALF_SIZE[0]
    third = 1.0 / 3.0
    # both eyes start at their image-left corner: outer for the right eye, inner for the left eye
    for base, (cx, cy) in ((36, EYE_CENTERS[0]), (42, EYE_CENTERS[1])):
        upper, lower = _lid_height(third, state.eye_open)
        xs = [cx - w, cx - w * third, cx + w * third, cx + w, cx + w * third, cx - w * third]
        ys = [cy, cy + upper, cy + upper, cy, cy + lower, cy + lower]
        xy[base : base + 6] = np.stack([xs, ys], axis=1)
    # lips: outer 48-59 from the right corner over the top, inner 60-67 likewise
    outer_w, inner_w, inner_top, inner_bottom, outer_top, outer_bottom = mouth_profile(state)
    mx, my = MOUTH_CENTER
    u_outer = np.array([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0, -1 / 3, -2 / 3])
    top = np.array([0, 1, 1, 1, 1, 1, 0, -1, -1, -1, -1, -1])
    s_outer = np.sqrt(1.0 - u_outer**2)
    xy[48:60] = np.stack(
        [mx + outer_w * u_outer, my + s_outer * np.where(top > 0, outer_top, np.where(top < 0, -outer_bottom, 0))],
        axis=1,
    )
    u_inner = np.array([-1, -0.5, 0, 0.5, 1, 0.5, 0, -0.5])
    top_inner = np.array([0, 1, 1, 1, 0, -1, -1, -1])
    s_inner = np.sqrt(1.0 - u_inner**2)
    xy[60:68] = np.stack(
        [
            mx + inner_w * u_inner,
            my + s_inner * np.where(top_inner > 0, inner_top, np.where(top_inner < 0, -inner_bottom, 0)),
        ],
        axis=1,
    )
    points = np.concatenate([xy, _face_z(xy[:, 0], xy[:, 1], state)[:, None]], axis=1)
    points[0:17] = jaw
    # nose 27-30 along the ridge, 31-35 along the base
    nose = head_parts(state)[2]
    ridge_y = np.linspace(0.014, NOSE_CENTER_Y, 4)
    for k, y in enumerate(ridge_y):
        v = (y - nose.center[1]) / nose.radii[1]
        z_nose = nose.center[2] + nose.radii[2] * np.sqrt(max(0.0, 1.0 - v * v))
        points[27 + k] = (0.0, y, max(z_nose, float(_face_z(0.0, y, state))))
    az = np.deg2rad(np.array([-55.0, -28.0, 0.0, 28.0, 55.0]))
    el = np.deg2rad(-52.0)
    base = np.stack([np.cos(el) * np.sin(az), np.full(5, np.sin(el)), np.cos(el) * np.cos(az)], axis=1)
    points[31:36] = nose.center + nose.radii * base
    return points


def head_albedo(
    part: str, points: Float[np.ndarray, "n 3"], state: FaceState, palette: Palette, nose: Ellipsoid
) -> Float[np.ndarray, "n 3"]:
    """Surface colour of head points of one part (``skull``, ``nose`` or ``ear``)."""
    color = np.tile(palette.skin, (points.shape[0], 1))
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    if part == "ear":
        return color * 0.9
    if part == "nose":
        local = (points - nose.center) / nose.radii
        nostril = (local[:, 1] < -0.55) & (np.abs(np.abs(local[:, 0]) - 0.45) < 0.22) & (local[:, 2] > 0.3)
        color = color * np.array([1.0, 0.95, 0.93])
        color[nostril] = palette.skin * 0.35
        return color
    front = z > 0.03
    hair = y > 0.062 - 0.5 * np.clip(0.05 - z, 0.0, None)
    color[hair] = palette.hair * (0.9 + 0.2 * (np.sin(x * 900.0 + y * 300.0) > 0))[hair, None]
    for cx, cy in EYE_CENTERS:
        u = (x - cx) / EYE_HALF_SIZE[0]
        upper, lower = _lid_height(u, state.eye_open)
        dy = y - cy
        in_eye = front & (np.abs(u) < 1.0)
        visible = in_eye & (dy > lower) & (dy < upper)
        lid = in_eye & (dy >= upper) & (dy < -lower + 0.0012)
        r = np.hypot(x - cx, dy)
        color[lid] = palette.skin * 0.82
        color[visible] = np.array([0.94, 0.93, 0.9])
        color[visible & (r < IRIS_RADIUS)] = palette.iris
        color[visible & (r < PUPIL_RADIUS)] = 0.03
        lash = in_eye & (np.abs(dy - upper) < 0.0009)
        color[lash] = palette.hair * 0.5
        lo, hi = _brow_range(cx)
        brow = front & (np.abs(y - _brow_y(x, cx)) < 0.0024) & (x > lo - 0.001) & (x < hi + 0.001)
        color[brow] = palette.hair
    outer_w, inner_w, inner_top, inner_bottom, outer_top, outer_bottom = mouth_profile(state)
    mx, my = MOUTH_CENTER
    s_outer = np.sqrt(np.clip(1.0 - ((x - mx) / outer_w) ** 2, 0.0, None))
    s_inner = np.sqrt(np.clip(1.0 - ((x - mx) / inner_w) ** 2, 0.0, None))
    dy = y - my
    lips = front & (s_outer > 0) & (dy < outer_top * s_outer) & (dy > -outer_bottom * s_outer)
    interior = front & (s_inner > 0) & (dy < inner_top * s_inner) & (dy > -inner_bottom * s_inner)
    color[lips] = palette.lips
    color[interior] = np.array([0.22, 0.04, 0.06])
    teeth = interior & (dy > inner_top * s_inner - 0.0035)
    color[teeth] = np.array([0.92, 0.9, 0.84])
    return color


def torso_albedo(part: str, points: Float[np.ndarray, "n 3"], palette: Palette) -> Float[np.ndarray, "n 3"]:
    """Surface colour of neck (skin) and torso (striped shirt) points in the torso frame."""
    if part == "neck":
        return np.tile(palette.skin * 0.88, (points.shape[0], 1))
    stripe = (np.floor((points[:, 1] + 1.0) / 0.03) % 2).astype(bool)
    color = np.where(stripe[:, None], palette.shirt_stripe, palette.shirt)
    collar = (points[:, 1] > -0.045) & (np.abs(points[:, 0]) < 0.075) & (points[:, 2] > 0)
    color[collar] = palette.shirt * 0.6
    return color
