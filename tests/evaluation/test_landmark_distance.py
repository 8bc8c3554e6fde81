"""The mouth landmark distance, as placed and centred (the anchors' LMD)."""

from __future__ import annotations

import numpy as np
import pytest

from rad_nerfstudio.evaluation.landmark_distance import MOUTH, mouth_distance, mouth_points_distance


def _face(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(40, 90, size=(68, 2))


def test_a_mouth_moved_whole_is_off_as_placed_and_exact_centred():
    truth = _face()
    moved = truth + np.array([3.0, 4.0])
    distance = mouth_points_distance(moved, truth)
    assert distance.placed == pytest.approx(5.0) and distance.centred == pytest.approx(0.0, abs=1e-12)


def test_a_mouth_opened_is_off_both_ways_and_only_its_points_count():
    truth = _face()
    opened = truth.copy()
    opened[MOUTH][:, 1] += np.linspace(-2.0, 2.0, 20)  # the lips part about their centre
    opened[:48] += 100.0  # the eyes, nose and jaw are not the mouth
    distance = mouth_points_distance(opened, truth)
    shifts = np.abs(np.linspace(-2.0, 2.0, 20))
    assert distance.placed == pytest.approx(shifts.mean()) and distance.centred == pytest.approx(shifts.mean())


def test_a_missing_or_nan_detection_gives_none():
    truth = _face()
    broken = truth.copy()
    broken[50] = np.nan
    assert mouth_points_distance(None, truth) is None and mouth_points_distance(truth, None) is None
    assert mouth_points_distance(broken, truth) is None


def test_mouth_distance_detects_both_images_in_the_face_box():
    seen = []

    def detector(image, face):
        seen.append((int(image[0, 0, 0]), face))
        return _face() + image[0, 0, 0]

    render, truth = np.full((8, 8, 3), 2, np.uint8), np.zeros((8, 8, 3), np.uint8)
    distance = mouth_distance(detector, render, truth, (1, 2, 6, 7))
    assert seen == [(2, (1, 2, 6, 7)), (0, (1, 2, 6, 7))]
    assert distance.placed == pytest.approx(np.sqrt(8.0)) and distance.centred == pytest.approx(0.0, abs=1e-12)
