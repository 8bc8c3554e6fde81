"""rad-eval's mouth report: which openings it correlates, and the audio code's prediction beside them."""

from __future__ import annotations

import numpy as np
import pytest

from rad_nerfstudio.evaluation.mouth_comparison import MouthComparison


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
