"""Which camera and eye openness each frame of a rendered video uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
from jaxtyping import Float, Int
from nerfstudio.cameras.camera_paths import get_path_from_json
from nerfstudio.cameras.cameras import Cameras

from rad_nerfstudio.data.portrait_tables import FRAME_INDEX_KEY
from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.render.schedules import blink_schedule, ping_pong

POSE_HELP = "train (training poses forwards then backwards), frame (one training frame), or a camera path .json"
EYE_HELP = "train (each pose frame's own), blink (natural blinks), or a number (fixed openness, 1 open, 0 closed)"


def check_pose_choice(pose: str) -> None:
    """Refuse an unknown pose source before anything slow happens."""
    if pose in ("train", "frame"):
        return
    path = Path(pose)
    if path.suffix.lower() != ".json":
        raise InputFileError(path, f"is not a pose source: use {POSE_HELP}")
    if not path.is_file():
        raise InputFileError(path, "does not exist (camera path)")


def parse_eye(eye: str) -> float | None:
    """``None`` for ``train`` / ``blink``, else the fixed openness."""
    if eye in ("train", "blink"):
        return None
    try:
        return float(eye)
    except ValueError:
        raise ValueError(f"--eye {eye!r}: use {EYE_HELP}") from None


def plan_cameras(
    pose: str, pose_frame: int, train_cameras: Cameras, viewer_row: int, length: int
) -> Tuple[Cameras, Int[np.ndarray, " length"]]:
    """The cameras to draw from and, per output frame, the index of its camera.

    Camera-path cameras get ``viewer_row`` as their dataset frame (its torso image and per-frame code)."""
    count = len(train_cameras)
    if pose == "train":
        return train_cameras, ping_pong(count, length)
    if pose == "frame":
        if not 0 <= pose_frame < count:
            raise ValueError(f"--pose-frame {pose_frame}: the model has {count} training frames (0 to {count - 1})")
        return train_cameras, np.full(length, pose_frame, dtype=np.int64)
    path = Path(pose)
    try:
        cameras = get_path_from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        raise InputFileError(path, f"is not a nerfstudio camera path ({type(err).__name__}: {err})") from err
    if len(cameras) == 0:
        raise InputFileError(path, "has no cameras")
    cameras.metadata = {FRAME_INDEX_KEY: torch.full((len(cameras), 1), viewer_row, dtype=torch.long)}
    stretch = np.round(np.arange(length) * (len(cameras) - 1) / max(1, length - 1)).astype(np.int64)
    return cameras, stretch


def plan_eye(eye: str, length: int, fps: float, open_value: float, seed: int) -> Float[np.ndarray, " length"] | None:
    """Per-frame eye openness, or ``None`` to keep each pose frame's own."""
    if eye == "train":
        return None
    if eye == "blink":
        return blink_schedule(length, fps, open_value, seed)
    return np.full(length, parse_eye(eye), dtype=np.float32)
