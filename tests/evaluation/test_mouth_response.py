"""The mouth-response diagnostic: renders told fixed mouth openings, their rise per level against the frames'."""

from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rad_nerfstudio.evaluation.mouth_pictures import CROP_HEIGHT, CROP_WIDTH
from rad_nerfstudio.evaluation.mouth_response import (
    RESPONSE_LEVELS,
    fitted_slope,
    measure_mouth_response,
    response_picture,
    response_report,
    swept_codes,
)
from rad_nerfstudio.render.controls import RenderControls

FRAMES = 10


def _head(reads_ridge_mouth: bool = True, code_dim: int = 2) -> SimpleNamespace:
    """A stand-in model: every frame's audio code is ``[row, ..., row]``, its landmark mouth ``(0, row / 10)``."""
    return SimpleNamespace(
        reads_ridge_mouth=reads_ridge_mouth,
        device=torch.device("cpu"),
        render_controls=RenderControls(eye=0.5),
        audio_codes=lambda rows: rows.float()[:, None].repeat(1, code_dim),
        ridge_targets=torch.stack([torch.zeros(FRAMES), torch.arange(FRAMES) / 10], 1),
        render_weights=nullcontext,
    )


def _grey_render(model, gain: float):
    """Renders whose grey level rises with the opening the controls tell (``gain`` grey levels per level)."""

    def render(k: int) -> np.ndarray:
        opening = float(model.render_controls.audio_code[-2])
        return np.full((32, 32, 3), 100 + gain * opening, np.uint8)

    return render


def _measure_grey(image: np.ndarray, face) -> float:  # noqa: ANN001
    return float(image.mean()) / 255


BOXES = {"face": [(4, 4, 28, 28)] * FRAMES, "mouth": [(10, 16, 22, 24)] * FRAMES}


def test_fitted_slope_is_the_least_squares_slope_over_finite_pairs_and_nan_when_undefined():
    x = np.array([-1.0, 0.0, 1.0, 2.0, np.nan])
    assert fitted_slope(x, 0.5 + 0.25 * x) == pytest.approx(0.25)
    assert np.isnan(fitted_slope(np.array([1.0, 1.0]), np.array([0.0, 1.0])))
    assert np.isnan(fitted_slope(np.array([1.0, np.nan]), np.array([0.0, 1.0])))


def test_swept_codes_set_the_mouth_part_and_keep_the_rest_of_the_frames_code():
    model = _head(code_dim=5)
    codes = swept_codes(model, 3, (-1.0, 2.0))
    assert codes.shape == (2, 5)
    assert torch.equal(codes[:, :3], torch.full((2, 3), 3.0)), "an AudioNet code beside the mouth stays the frame's"
    assert codes[:, 3].tolist() == [-1.0, 2.0] and codes[:, 4].tolist() == pytest.approx([0.3, 0.3])


def test_a_head_that_follows_the_told_opening_has_the_slope_of_its_renders_and_the_controls_come_back():
    model = _head()
    saved = model.render_controls
    response = measure_mouth_response(
        model, _grey_render(model, 20.0), lambda k: np.zeros((32, 32, 3), np.uint8), _measure_grey,
        list(range(FRAMES)), BOXES, [100 + k for k in range(FRAMES)],
    )  # fmt: skip
    assert response is not None and model.render_controls is saved
    assert response.img_ids == [100, 102, 104, 105, 107, 109] and response.opening.shape == (6, len(RESPONSE_LEVELS))
    assert response.slope == pytest.approx(20 / 255, rel=0.05)  # grey levels round to integers
    z = np.linspace(-2, 2, 9)
    report = response_report(response, 0.1 + 0.2 * z, z)
    assert report["frames_slope"] == pytest.approx(0.2)
    assert report["mouth_response"] == pytest.approx(20 / 255 / 0.2, rel=0.05)
    assert report["frames"] == response.img_ids and len(report["opening"]) == 6
    picture = response_picture(response)
    assert picture.shape == (6 * CROP_HEIGHT, (len(RESPONSE_LEVELS) + 1) * CROP_WIDTH, 3)


def test_no_face_in_the_renders_or_frames_that_do_not_vary_leave_the_response_undefined():
    model = _head()
    response = measure_mouth_response(
        model, _grey_render(model, 20.0), lambda k: np.zeros((32, 32, 3), np.uint8), lambda image, face: np.nan,
        list(range(FRAMES)), BOXES, list(range(FRAMES)),
    )  # fmt: skip
    assert response is not None and np.isnan(response.slope)
    assert response_report(response, np.full(4, 0.1), np.arange(4.0))["mouth_response"] is None
    assert response_report(response, np.arange(4.0), np.arange(4.0))["mouth_response"] is None


def test_a_head_that_reads_an_audio_code_cannot_be_told_a_mouth():
    model = _head(reads_ridge_mouth=False)
    render = _grey_render(model, 20.0)
    assert measure_mouth_response(model, render, render, _measure_grey, [0, 1], BOXES, [0, 1]) is None
