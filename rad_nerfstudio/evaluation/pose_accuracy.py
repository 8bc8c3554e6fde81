"""Head rotations of a dataset's ``transforms_*.json`` against a clip's ground truth (rad-sample's or a look's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.evaluation.process_scores import (
    head_frame_change,
    head_to_camera_rotations,
    nearest_rotation,
    rotation_errors_deg,
    split_frames,
)

AXES = ("yaw", "pitch", "roll")
"""Head turns about the camera's up, right and viewing axes, in that order."""


def true_head_rotations(clip: Path, img_ids: list[int]) -> Float[np.ndarray, "n 3 3"]:
    """The true head-to-camera rotations of frames ``img_ids`` of a clip: rad-sample's ``gt/params.npz`` or a held-out
    look's ``gt/gt.json`` (its ``c2w_radnerf``, the transforms' convention)."""
    params, described = clip / "gt" / "params.npz", clip / "gt" / "gt.json"
    if params.is_file():
        return np.asarray(np.load(params)["head_rotation"], dtype=np.float64)[img_ids]
    if described.is_file():
        frames = json.loads(described.read_text())["frames"]
        by_id = {int(f["frame"]): f for f in frames}
        return head_to_camera_rotations([{"transform_matrix": by_id[i]["c2w_radnerf"]} for i in img_ids])
    raise InputFileError(clip, "has no ground-truth poses (gt/params.npz or gt/gt.json)")


def head_turns_deg(
    truth: Float[np.ndarray, "n 3 3"], estimate: Float[np.ndarray, "n 3 3"]
) -> tuple[Float[np.ndarray, "n 3"], Float[np.ndarray, "n 3"]]:
    """Each frame's yaw, pitch and roll (``AXES``, degrees) away from the truth's mean pose, of the truth and of the
    estimate once its head frame is matched to the truth's."""
    matched = estimate @ head_frame_change(truth, estimate).T
    rest = nearest_rotation(truth.sum(0))  # the truth's chordal mean

    def turns(rotations: np.ndarray) -> np.ndarray:
        return Rotation.from_matrix(rotations @ rest.T).as_euler("YXZ", degrees=True)

    return turns(truth), turns(matched)


def axis_report(truth: Float[np.ndarray, "n 3 3"], estimate: Float[np.ndarray, "n 3 3"]) -> dict:
    """Per axis (``AXES``): the truth's spread, the estimate's slope against it (1: turns as far as the truth; 0:
    does not see the axis) and the RMS error, in degrees. A median error does not say which turn a pose fit misses."""
    true_turns, estimated_turns = head_turns_deg(truth, estimate)
    report = {}
    for axis, name in enumerate(AXES):
        t, e = true_turns[:, axis], estimated_turns[:, axis]
        spread = float(t.std())
        report[name] = {
            "true_std_deg": spread,
            "slope": float(((t - t.mean()) * (e - e.mean())).mean() / spread**2) if spread > 0 else float("nan"),
            "error_rms_deg": float(np.sqrt(((e - t) ** 2).mean())),
        }
    return report


def rotation_errors(transforms_root: Path, clip: Path) -> dict:
    """Median, p90 and mean rotation error in degrees of the training frames and of the validation frames, and
    per axis (``axis_report``)."""
    report = {}
    for split in ("train", "val"):
        frames = split_frames(transforms_root, split)
        ids = [int(f["img_id"]) for f in frames]
        truth, estimate = true_head_rotations(clip, ids), head_to_camera_rotations(frames)
        errors = rotation_errors_deg(truth, estimate)
        report[split] = {
            "frames": len(ids),
            "median_deg": float(np.median(errors)),
            "p90_deg": float(np.percentile(errors, 90)),
            "mean_deg": float(errors.mean()),
            "axes": axis_report(truth, estimate),
        }
    return report
