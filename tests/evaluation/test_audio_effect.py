"""rad-eval's audio effect: does the head field read the audio (renders with open vs closed audio differ)?"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rad_nerfstudio.evaluation.audio_effect import IGNORED_BELOW, audio_effect
from rad_nerfstudio.render.controls import RenderControls

OPENING = torch.tensor([0.1, 0.5, 0.0, 0.9, 0.3, 0.2, 0.4, 0.6])
"""Landmark mouth opening of each row; rows 0-5 train, 6-7 validation: row 3 opens widest, row 2 is closed."""
BOX = (2, 3, 6, 7)


def _model():
    mouth_shape = torch.stack([OPENING, torch.zeros_like(OPENING)], dim=1)
    return SimpleNamespace(mouth_shape=mouth_shape, train_rows=torch.arange(6), render_controls=RenderControls())


def _renderer(model, gain: float):
    """Renders whose mouth box shows ``gain`` x the opening of the row whose audio the controls ask for."""

    def render(k: int) -> np.ndarray:
        image = np.full((10, 10, 3), 0.5, dtype=np.float32)
        source = model.render_controls.audio_frame
        opening = float(OPENING[6 + k if source is None else source])
        x0, y0, x1, y1 = BOX
        image[y0:y1, x0:x1] += gain * opening
        image[0, 0] = opening  # outside the box: not counted
        return image

    return render


@pytest.mark.parametrize("gain", [0.5, 0.0])
def test_the_mouth_box_difference_between_the_widest_and_the_closed_audio(gain):
    model = _model()
    before = model.render_controls
    effect = audio_effect(model, _renderer(model, gain), [BOX, BOX], [106, 107])
    assert effect is not None
    assert effect["open_audio_from_row"] == 3 and effect["closed_audio_from_row"] == 2
    assert effect["mouth_difference"] == pytest.approx(gain * 0.9)
    assert effect["ignored"] == (gain * 0.9 < IGNORED_BELOW) and effect["frames"] == [106, 107]
    assert model.render_controls is before, "the frames' own conditions are back"


def test_no_effect_without_landmarks_or_validation_frames():
    model = _model()
    assert audio_effect(model, _renderer(model, 1.0), [], []) is None
    model.mouth_shape = None
    assert audio_effect(model, _renderer(model, 1.0), [BOX], [106]) is None
