"""Head rotations of a dataset's ``transforms_*.json`` against a clip's ground truth (rad-sample's or a look's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.evaluation.process_scores import head_to_camera_rotations, rotation_errors_deg, split_frames


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


def rotation_errors(transforms_root: Path, clip: Path) -> dict:
    """Median, p90 and mean rotation error in degrees of the training frames and of the validation frames."""
    report = {}
    for split in ("train", "val"):
        frames = split_frames(transforms_root, split)
        ids = [int(f["img_id"]) for f in frames]
        errors = rotation_errors_deg(true_head_rotations(clip, ids), head_to_camera_rotations(frames))
        report[split] = {
            "frames": len(ids),
            "median_deg": float(np.median(errors)),
            "p90_deg": float(np.percentile(errors, 90)),
            "mean_deg": float(errors.mean()),
        }
    return report
