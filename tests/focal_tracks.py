"""Landmark tracks of the synthetic speaker with a known camera: the rad-sample head's 68 landmarks moved by
rad-sample's motion and projected through a chosen focal length (the head keeps its size in the frame), as a
3D landmark detector reports them (pixels, relative depth in pixels), with detector-like noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rad_nerfstudio.pinhole import Pinhole
from rad_nerfstudio.sample.generate import FOCAL_PER_PIXEL, REST_DISTANCE
from rad_nerfstudio.sample.head_model import FaceState, landmarks_3d
from rad_nerfstudio.sample.motion import random_motion


@dataclass
class Track:
    points: np.ndarray
    """``[n, 68, 3]``: pixel-index coordinates and depth (pixels, growing away from the camera)."""
    rotation: np.ndarray
    """True head-to-camera rotations ``[n, 3, 3]``."""
    focal: float
    """True focal length in pixels."""


def speaker_track(
    focal_per_width: float, turn: float, size: int = 256, frames: int = 150, noise_px: float = 0.3, seed: int = 0
) -> Track:
    """``frames`` frames at 25 fps of a ``size`` px square camera with focal ``focal_per_width * size``; head
    rotations ``turn`` times rad-sample's (yaw 7, pitch 4, roll 3 degrees); Gaussian noise of ``noise_px``."""
    rng = np.random.default_rng(seed)
    motion = random_motion(rng, frames, 25.0, REST_DISTANCE * focal_per_width / FOCAL_PER_PIXEL, turn)
    talk = 0.5 + 0.5 * np.sin(np.arange(frames) * 0.9)  # the mouth opening and closing
    faces = np.stack([landmarks_3d(FaceState(float(m), 1.0, 1.0)) for m in talk])
    camera_points = np.einsum("nij,nkj->nki", motion.head_rotation, faces) + motion.head_translation[:, None]
    camera = Pinhole(size, size, focal_per_width * size, size / 2.0, size / 2.0)
    pixels = camera.project(camera_points)
    distance = -camera_points[..., 2]
    depth = (distance - distance.mean(1, keepdims=True)) * camera.focal / distance.mean(1, keepdims=True)
    points = np.concatenate([pixels, depth[..., None]], -1) + noise_px * rng.standard_normal((frames, 68, 3))
    return Track(points, motion.head_rotation, camera.focal)
