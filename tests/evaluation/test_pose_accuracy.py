"""Per-axis head-pose accuracy: which turn a pose estimate misses, whatever its head frame."""

import numpy as np
from scipy.spatial.transform import Rotation

from rad_nerfstudio.evaluation.pose_accuracy import AXES, axis_report, head_turns_deg
from rad_nerfstudio.evaluation.process_scores import head_frame_change


def _poses(turns_deg: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Head-to-camera rotations turned by (yaw, pitch, roll) about the camera's axes from ``rest``."""
    return Rotation.from_euler("YXZ", turns_deg, degrees=True).as_matrix() @ rest


def test_axis_report_finds_a_missed_pitch_and_an_overturned_yaw_in_another_head_frame():
    t = np.linspace(0, 6 * np.pi, 300)
    turns = np.stack([4 * np.sin(t), 2 * np.sin(1.7 * t + 1), 1.5 * np.cos(0.6 * t)], -1)
    rest = Rotation.from_euler("xyz", [180, 8, 3], degrees=True).as_matrix()  # a camera facing the head
    truth = _poses(turns, rest)
    other_frame = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_matrix()
    estimate = _poses(turns * np.array([1.2, 0.1, 1.0]), rest) @ other_frame

    np.testing.assert_allclose(head_frame_change(truth, estimate), other_frame, atol=2e-3)
    true_turns, estimated_turns = head_turns_deg(truth, estimate)
    np.testing.assert_allclose(true_turns, turns - turns.mean(0), atol=0.15)  # about the chordal mean pose
    report = axis_report(truth, estimate)
    assert list(report) == list(AXES)
    np.testing.assert_allclose([report[a]["slope"] for a in AXES], [1.2, 0.1, 1.0], atol=0.03)
    np.testing.assert_allclose(report["pitch"]["error_rms_deg"], 0.9 * turns[:, 1].std(), rtol=0.05)
    np.testing.assert_allclose(report["yaw"]["true_std_deg"], turns[:, 0].std(), rtol=0.02)
    assert report["roll"]["error_rms_deg"] < 0.05


def test_axis_report_of_exact_poses_is_one_to_one():
    turns = np.random.default_rng(0).normal(scale=3.0, size=(50, 3))
    truth = _poses(turns, np.eye(3))
    report = axis_report(truth, truth)
    for axis in AXES:
        assert abs(report[axis]["slope"] - 1.0) < 1e-6 and report[axis]["error_rms_deg"] < 1e-6
