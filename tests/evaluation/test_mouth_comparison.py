"""rad-eval's mouth report: which openings it correlates, and the audio code's prediction beside them."""

from __future__ import annotations

import numpy as np
import pytest

from rad_nerfstudio.evaluation.mouth_comparison import MouthComparison, attainable_mouth_r


def _comparison(render: list[float], truth: list[float]) -> MouthComparison:
    comparison = MouthComparison(detector=None)  # pyright: ignore[reportArgumentType]  (report measures nothing)
    comparison.opening = {"render": render, "truth": truth}
    return comparison


def test_the_render_is_scored_against_what_its_audio_code_predicts():
    render = [0.1, 0.3, 0.2, 0.5, float("nan"), 0.4]
    truth = [0.2, 0.1, 0.4, 0.3, 0.2, 0.5]
    follows = 2 * np.nan_to_num(np.array(render), nan=9.0) + 1  # the render follows it exactly (NaN frame skipped)
    notes: dict = {}
    result, per_frame = _comparison(render, truth).report(None, notes, follows)
    assert result["mouth_r_audio_prediction"] == pytest.approx(1.0)
    assert per_frame["mouth_opening_audio_prediction"] == pytest.approx(list(follows))
    assert "mouth_r_truth" not in result and notes == {}
    result, per_frame = _comparison(render, truth).report(None, notes)
    assert "mouth_r_audio_prediction" not in result and "mouth_opening_audio_prediction" not in per_frame


def test_a_constant_prediction_is_undefined_with_the_reason():
    notes: dict = {}
    result, _ = _comparison([0.1, 0.3, 0.2, 0.5], [0.2, 0.1, 0.4, 0.3]).report(None, notes, np.full(4, 0.3))
    assert result["mouth_r_audio_prediction"] is None
    assert "constant: audio code's opening" in notes["mouth_r_audio_prediction"]


def test_the_attainable_r_discounts_the_prediction_by_the_detectors_own_noise():
    assert attainable_mouth_r(0.8, 0.64) == pytest.approx(0.64)
    assert attainable_mouth_r(0.8, 1.0) == pytest.approx(0.8)
    assert np.isnan(attainable_mouth_r(0.8, -0.2)) and np.isnan(attainable_mouth_r(float("nan"), 0.9))


def test_the_report_has_the_detectors_repeatability_and_the_attainable_r():
    truth = [0.2, 0.1, 0.4, 0.3, 0.2, 0.5]
    mirrored = [0.25, 0.1, 0.35, 0.3, 0.15, 0.5]
    predicted = np.array([0.1, 0.2, 0.3, 0.4, 0.1, 0.4])
    comparison = _comparison([0.1, 0.3, 0.2, 0.5, 0.3, 0.4], truth)
    comparison.opening["truth_mirrored"] = mirrored
    result, per_frame = comparison.report(None, {}, predicted)
    repeatability = np.corrcoef(truth, mirrored)[0, 1]
    assert result["mouth_detector_repeatability"] == pytest.approx(repeatability)
    assert result["mouth_r_attainable"] == pytest.approx(np.corrcoef(predicted, truth)[0, 1] * np.sqrt(repeatability))
    assert per_frame["mouth_opening_truth_mirrored"] == pytest.approx(mirrored)
    result, _ = comparison.report(None, {})  # no audio prediction: nothing to discount
    assert "mouth_r_attainable" not in result and result["mouth_detector_repeatability"] is not None


def test_each_ground_truth_frame_is_read_again_mirrored_inside_its_mirrored_face_box():
    from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector
    from tests.mouth_faces import face_rect, portrait_frames

    size = 192
    frames = portrait_frames(np.arange(0, 17, 4.0), size)
    x0, y0, x1, y1 = (int(v) for v in face_rect(size))
    face = (x0, y0, x1, y1)
    with FaceMeshDetector() as detector:
        comparison = MouthComparison(detector)
        for k, frame in enumerate(frames):
            comparison.add(k, frame, frame, face, face)
    truth, mirrored = (np.array(comparison.opening[name]) for name in ("truth", "truth_mirrored"))
    assert np.isfinite(mirrored).all() and np.allclose(mirrored, truth, atol=0.05), (truth, mirrored)
    result, _ = comparison.report(None, {}, truth)
    repeatability = float(result["mouth_detector_repeatability"])  # pyright: ignore[reportArgumentType]
    assert repeatability > 0.9
    assert result["mouth_r_attainable"] == pytest.approx(np.sqrt(repeatability))
