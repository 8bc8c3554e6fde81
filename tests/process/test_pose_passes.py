"""rad-process's pose passes: short head trainings that refine the training frames' poses, each on the last one's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import yaml

from rad_nerfstudio.evaluation.pose_alignment import AlignmentSettings
from rad_nerfstudio.process.pipeline import LANDMARK_POSES_DIR
from rad_nerfstudio.process.pose_passes import HELD_OUT_ALIGNMENT_STEPS, refine_poses
from tests.helpers import read_transforms


def _matrices(folder: Path, split: str) -> dict:
    return {f["img_id"]: np.array(f["transform_matrix"]) for f in read_transforms(folder, split)["frames"]}


def test_rad_process_runs_one_pass_unless_told_otherwise(tmp_path):
    from rad_nerfstudio.process.pipeline import ProcessSettings
    from rad_nerfstudio.process.pose_passes import DEFAULT_POSE_PASSES
    from rad_nerfstudio.scripts.process import ProcessArgs

    assert DEFAULT_POSE_PASSES == 1
    assert ProcessArgs(video=tmp_path / "in.mp4", output_dir=tmp_path / "out").refine_poses == DEFAULT_POSE_PASSES
    assert ProcessSettings(tmp_path / "in.mp4", tmp_path / "out").pose_passes == DEFAULT_POSE_PASSES


def test_rad_process_keeps_the_landmark_poses_and_uses_them_without_passes(processed):
    root = processed["root"]
    for split in ("train", "val"):
        assert read_transforms(root / LANDMARK_POSES_DIR, split) == read_transforms(root, split)
    record = json.loads((root / ".rad-process" / "steps" / "refine-poses.json").read_text())
    assert record["settings"] == {"passes": 0} and "landmark fit" in record["summary"]


def test_each_pass_refines_the_training_poses_of_the_last_one_and_aligns_the_held_out_ones(processed, tmp_path):
    root = Path(shutil.copytree(processed["root"], tmp_path / "dataset"))
    landmark = root / LANDMARK_POSES_DIR
    before = {split: _matrices(landmark, split) for split in ("train", "val")}
    reports = []
    results = refine_poses(root, landmark, 2, tmp_path / "passes", report=lambda k, r: reports.append(k), head_steps=4)
    assert reports == [1, 2] and len(results) == 2
    second = yaml.load((results[1].run_dir / "config.yml").read_text(), Loader=yaml.Loader)
    assert second.pipeline.datamanager.dataparser.poses == results[0].poses_dir, "on the first one's poses"
    for result in results:
        assert result.mean_rotation_deg > 0 and np.isfinite(result.mean_rotation_deg)
        assert np.isfinite(result.held_out_rotation_deg)
    first = _matrices(results[0].poses_dir, "val")
    after = {split: _matrices(results[-1].poses_dir, split) for split in ("train", "val")}
    moved = [np.abs(after["train"][i] - m).max() for i, m in before["train"].items()]
    assert min(moved) > 0, "every training frame's pose is refined"
    assert after["val"].keys() == before["val"].keys()
    # Adam moves each tangent coordinate by at most about its rate a step, the rate falling linearly to zero
    reach = np.sqrt(3) * AlignmentSettings().learning_rate * HELD_OUT_ALIGNMENT_STEPS / 2 * len(results)
    for img_id, matrix in after["val"].items():  # aligned to the head: a rigid motion off the landmark pose, if any
        rotation = matrix[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
        np.testing.assert_array_equal(matrix[3], [0, 0, 0, 1])
        turn = np.clip((np.trace(before["val"][img_id][:3, :3].T @ rotation) - 1) / 2, -1, 1)
        assert np.arccos(turn) <= reach * 1.01
    turned = [np.abs(first[i] - m).max() for i, m in before["val"].items()]
    assert (max(turned) > 0) == (results[0].held_out_rotation_deg > 0), "the first pass's fit reached the files"
    for split in ("train", "val"):  # the dataset's own files are not touched by the passes
        assert read_transforms(root, split) == read_transforms(landmark, split)
