"""Head pose and focal length from face-mesh landmarks alone (no 3D morphable model).

1. The person's rigid face shape: generalised Procrustes over the per-frame 3D meshes; the vertices that move
   least relative to it (not lips, eyelids, jaw) are the rigid set.
2. Metric scale from a typical outer eye-corner distance; the head frame is x right, y up, z out of the face,
   with its origin ``HEAD_CENTRE_DEPTH`` behind the rigid points' centroid.
3. Focal length: the reprojection error is profiled over candidate focal lengths, the meshes back-projected
   through each candidate (so that the shape carries no perspective of its own); ``focal_length.choose_focal``
   takes the minimum when the error rises clearly around it, else a stated prior (see there).
4. Bundle adjustment: poses and a shape correction together, with a temporal smoothness term.

On clips with small head rotations the focal length is weakly determined; pass it when it is known. Rotations
depend on it a little: a focal length twice too long over-rotates large turns by about a quarter (see
``focal_length.PRIOR_FOCAL_PER_WIDTH`` for how the prior keeps that within 1.5 degrees median on the test tracks).

Poses come out as ``p_cam = R p_head + t`` in an OpenGL camera (x right, y up, looking down -z), metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from nerfstudio.cameras.lie_groups import exp_map_SO3xR3
from torch import Tensor

from rad_nerfstudio.process.focal_length import FocalChoice, candidates, choose_focal, prior_focal
from rad_nerfstudio.process.landmark_backends import MESH_LAYOUT, PointLayout

EYE_CORNER_DISTANCE = 0.09
"""Outer eye-corner distance of an adult face in metres (sets the metric scale)."""
HEAD_CENTRE_DEPTH = 0.07
"""How far behind the face's rigid points the head frame's origin lies (metres)."""
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])
SHAPE_WEIGHT = 1e4
"""Cost of the shape correction per squared metre: a 1 cm change costs as much as one squared pixel of error."""
FOCAL_SEARCH_FRAMES = 120
"""Frames (evenly spread) on which focal-length candidates are compared."""
PROFILE_ITERATIONS = 50
"""L-BFGS iterations per focal-length candidate (enough for a smooth error profile)."""
JITTER_SCALE = torch.tensor([0.01, 0.01, 0.01, 0.002, 0.002, 0.002], dtype=torch.float64)
"""Frame-to-frame pose acceleration (radians, metres) that the smoothness term weighs like one squared pixel."""
DEFAULT_POSE_SMOOTHNESS = 1.0
"""Weight of the temporal smoothness term of the final fit (``rad-process --smooth-poses``)."""


@dataclass
class HeadPoseFit:
    """Per-frame head poses and the camera."""

    rotation: Float[np.ndarray, "n 3 3"]
    """Head-to-camera rotation (OpenGL camera)."""
    translation: Float[np.ndarray, "n 3"]
    """Head origin in camera coordinates (metres, OpenGL camera)."""
    focal: float
    """Focal length in pixels."""
    focal_choice: FocalChoice
    """How the focal length was chosen (given, estimated with its confidence, or the prior)."""
    reprojection_px: float
    """RMS reprojection error of the rigid points after the fit."""
    rigid_vertices: np.ndarray
    """Mesh vertices treated as rigid."""


def _similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale, rotation, translation with ``target ~ s R source + t`` (Umeyama)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    a, b = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float((sigma * np.diag(d)).sum() / (a**2).sum())
    return scale, rotation, mu_t - scale * rotation @ mu_s


def _procrustes_mean(meshes: np.ndarray, rounds: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Mean shape (unit RMS radius, first frame's orientation) and every mesh aligned to it."""
    reference = meshes[0] - meshes[0].mean(0)
    reference /= np.sqrt((reference**2).sum(1).mean())
    aligned = meshes
    for _ in range(rounds):
        aligned = np.stack([_apply(_similarity(m, reference), m) for m in meshes])
        mean = aligned.mean(0)
        reference = (mean - mean.mean(0)) / np.sqrt(((mean - mean.mean(0)) ** 2).sum(1).mean())
    return reference, aligned


def _apply(transform: tuple[float, np.ndarray, np.ndarray], points: np.ndarray) -> np.ndarray:
    scale, rotation, translation = transform
    return scale * points @ rotation.T + translation


def rigid_points(meshes: Float[np.ndarray, "n v 3"], layout: PointLayout, rigid_fraction: float = 0.5) -> np.ndarray:
    """Indices of the face's rigid points: of the points above the nose tip (the jaw and lips move with speech),
    the ``rigid_fraction`` that move least relative to the mean shape, and the outer eye corners."""
    mean, aligned = _procrustes_mean(meshes)
    wobble = np.sqrt(((aligned - aligned.mean(0)) ** 2).sum(-1).mean(0))
    upper = np.flatnonzero(mean[:, 1] <= mean[layout.nose_tip, 1])  # image y grows downwards
    rigid = np.sort(upper[np.argsort(wobble[upper])[: max(6, int(len(upper) * rigid_fraction))]])
    return np.union1d(rigid, layout.outer_eye_corners)


def back_project(
    points: Float[np.ndarray, "n r 3"], focal: float, centre: np.ndarray, corners: tuple[int, int]
) -> Float[np.ndarray, "n r 3"]:
    """Tracked points (pixels, relative depth in pixels) in metres in the OpenCV camera at ``focal``: the eyes'
    depth from the metric eye-corner distance, the other points' depths relative to it."""
    eyes = points[:, list(corners)]
    span = np.linalg.norm(eyes[:, 0] - eyes[:, 1], axis=-1)  # pixels, any head turn (depth included)
    eye_depth = focal * EYE_CORNER_DISTANCE / span
    depth = eye_depth[:, None] + (points[..., 2] - eyes[..., 2].mean(1, keepdims=True)) * (eye_depth / focal)[:, None]
    return np.concatenate([(points[..., :2] - centre) * (depth / focal)[..., None], depth[..., None]], -1)


def rigid_shape(points: Float[np.ndarray, "n r 3"], corners: tuple[int, int]) -> Float[np.ndarray, "r 3"]:
    """The rigid points' mean shape in the head frame (metres), from per-frame points in image-like axes (x right,
    y down, z away); ``corners`` index the outer eye corners among them."""
    mean, _ = _procrustes_mean(points)
    mean = mean * (EYE_CORNER_DISTANCE / np.linalg.norm(mean[corners[0]] - mean[corners[1]]))
    head = (mean - mean.mean(0)) @ OPENCV_TO_OPENGL  # image axes (y down, z away) -> head axes (y up, z out)
    head[:, 2] += HEAD_CENTRE_DEPTH
    return head


def _project(shape: Tensor, tangent: Tensor, focal: float, centre: Tensor) -> Tensor:
    """Pixel positions ``[n, r, 2]`` of the shape under per-frame (axis-angle, translation) OpenCV poses."""
    pose = exp_map_SO3xR3(tangent[:, [3, 4, 5, 0, 1, 2]])  # nerfstudio orders (translation, rotation)
    points = torch.einsum("nij,rj->nri", pose[:, :, :3], shape) + pose[:, None, :, 3]
    depth = points[..., 2:].clamp(min=1e-3)
    return focal * points[..., :2] / depth + centre


def _fit(
    shape: Tensor,
    observed: Tensor,
    tangent: Tensor,
    focal: float,
    centre: Tensor,
    iterations: int,
    smoothness: float = 0.0,
) -> tuple[Tensor, float]:
    """L-BFGS on the reprojection error at a fixed focal length, over the per-frame poses and a shape correction
    (weighed by ``SHAPE_WEIGHT``); returns the poses and the RMS reprojection error in pixels."""
    tangent = tangent.clone().requires_grad_(True)
    delta = torch.zeros_like(shape, requires_grad=True)
    optimizer = torch.optim.LBFGS([tangent, delta], max_iter=iterations, line_search_fn="strong_wolfe")

    def loss() -> Tensor:
        optimizer.zero_grad()
        error = (_project(shape + delta, tangent, focal, centre) - observed).square().sum(-1).mean()
        if smoothness > 0 and len(tangent) > 2:
            jerk = (tangent[2:] - 2 * tangent[1:-1] + tangent[:-2]) / JITTER_SCALE
            error = error + smoothness * jerk.square().sum(-1).mean()
        error = error + SHAPE_WEIGHT * delta.square().sum(-1).mean()
        error.backward()
        return error

    optimizer.step(loss)  # pyright: ignore[reportArgumentType]
    with torch.no_grad():
        rms = float((_project(shape + delta, tangent, focal, centre) - observed).square().sum(-1).mean().sqrt())
    return tangent.detach(), rms


def _initial_poses(head: np.ndarray, observed: np.ndarray, focal: float, centre: np.ndarray) -> np.ndarray:
    """Per-frame (axis-angle, translation) of the frontal shape (OpenCV axes) by EPnP."""
    import cv2

    frontal = head @ OPENCV_TO_OPENGL  # OpenCV axes
    poses = []
    for points in observed:
        ok, rvec, tvec = cv2.solvePnP(
            np.ascontiguousarray(frontal),
            np.ascontiguousarray(points),
            _camera(focal, centre),
            np.zeros(4),
            flags=cv2.SOLVEPNP_EPNP,
        )
        if not ok:
            raise RuntimeError("PnP failed on a frame")
        poses.append(np.concatenate([rvec[:, 0], tvec[:, 0]]))
    return np.stack(poses)


def _camera(focal: float, centre: np.ndarray) -> np.ndarray:
    return np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])


def fit_head_poses(
    meshes: Float[np.ndarray, "n v 3"],
    width: int,
    height: int,
    layout: PointLayout = MESH_LAYOUT,
    focal: float | None = None,
    smoothness: float = DEFAULT_POSE_SMOOTHNESS,
) -> HeadPoseFit:
    """Head poses (and, unless ``focal`` is given in pixels, the focal length: see ``focal_length``) of 3D face
    points tracked in ``width x height`` frames (pixel-index coordinates, depth growing away from the camera; no
    missing frames), laid out as ``layout`` says. The focal length is profiled on up to ``FOCAL_SEARCH_FRAMES``
    frames."""
    rigid = rigid_points(meshes, layout)
    corners = (
        int(np.searchsorted(rigid, layout.outer_eye_corners[0])),
        int(np.searchsorted(rigid, layout.outer_eye_corners[1])),
    )
    tracked = meshes[:, rigid]
    observed = tracked[..., :2]
    centre = np.array([width / 2.0, height / 2.0])  # the layout's cx, cy
    centre_t = torch.tensor(centre, dtype=torch.float64)
    observed_t = torch.tensor(observed)

    def fitted(candidate: float, frames: np.ndarray, iterations: int, smoothness: float = 0.0):
        head = rigid_shape(back_project(tracked[frames], candidate, centre, corners), corners)
        shape_t = torch.tensor(head @ OPENCV_TO_OPENGL, dtype=torch.float64)  # a frontal face in OpenCV axes
        initial = torch.tensor(_initial_poses(head, observed[frames], candidate, centre), dtype=torch.float64)
        return _fit(shape_t, observed_t[frames], initial, candidate, centre_t, iterations, smoothness)

    if focal:
        choice = FocalChoice(float(focal), "given", prior_focal(width))
    else:
        probe = np.unique(
            np.linspace(0, len(observed) - 1, min(len(observed), FOCAL_SEARCH_FRAMES)).round().astype(int)
        )
        focals = candidates(width)
        profile = [fitted(float(f), probe, PROFILE_ITERATIONS)[1] for f in focals]
        choice = choose_focal(focals, profile, width, len(probe))
    tangent, rms = fitted(choice.focal, np.arange(len(observed)), 200, smoothness)
    pose = exp_map_SO3xR3(tangent[:, [3, 4, 5, 0, 1, 2]]).numpy()
    rotation_cv, translation_cv = pose[:, :, :3] @ OPENCV_TO_OPENGL, pose[:, :, 3]  # head axes -> OpenCV camera
    return HeadPoseFit(
        rotation=OPENCV_TO_OPENGL @ rotation_cv,
        translation=translation_cv @ OPENCV_TO_OPENGL,
        focal=choice.focal,
        focal_choice=choice,
        reprojection_px=rms,
        rigid_vertices=rigid,
    )
