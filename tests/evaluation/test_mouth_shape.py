"""The mouth opening measured by MediaPipe's face mesh on real face frames with known lip gaps."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rad_nerfstudio.data.landmarks import face_rects
from rad_nerfstudio.evaluation.mouth_shape import measure_mouth, pearson_r
from rad_nerfstudio.process.face_mesh import BackendUnavailableError
from tests.mouth_faces import face_rect, portrait_frames

GAPS = np.arange(0, 17, 2.0)
"""Lip gaps drawn, px of the 512 px photo: closed-ish (she smiles with her teeth showing) to wide open."""


@pytest.mark.parametrize("size", [128, 256])
def test_the_measured_opening_follows_the_drawn_lip_gap(size):
    frames = portrait_frames(GAPS, size)
    for faces in (None, np.tile(face_rect(size), (len(GAPS), 1))):
        track = measure_mouth(frames, faces)
        assert track.detection_rate == 1.0
        assert pearson_r(GAPS, track.opening) >= 0.9, track.opening
        assert track.opening[-1] > 1.5 * track.opening[0]
        assert track.landmarks68.shape == (len(GAPS), 68, 2) and np.isfinite(track.landmarks68).all()
        x0, y0, x1, y1 = face_rect(size)
        lips = track.landmarks68[:, 48:68]
        assert (lips[..., 0] > x0).all() and (lips[..., 0] < x1).all() and (lips[..., 1] > y0).all()
        corners = np.linalg.norm(track.landmarks68[:, 48] - track.landmarks68[:, 54], axis=-1)
        assert np.allclose(track.width, corners, rtol=0.05), "mesh corners 61, 291 next to iBUG 48, 54"


def test_a_small_face_in_a_large_frame_is_measured_on_a_crop_and_mapped_back():
    portraits = portrait_frames(GAPS, 192)
    frames = np.full((len(GAPS), 720, 1280, 3), 128, np.uint8)
    frames[:, 300:492, 400:592] = portraits
    offset = np.array([400, 300])
    faces = np.tile(face_rect(192) + np.tile(offset, 2), (len(GAPS), 1))
    track = measure_mouth(frames, faces)
    assert track.detection_rate == 1.0 and pearson_r(GAPS, track.opening) >= 0.9, track.opening
    alone = measure_mouth(portraits)
    assert np.abs(track.landmarks68 - (alone.landmarks68 + offset)).max() < 2.5, "frame pixels, as on its own"
    assert measure_mouth(frames[:1]).detection_rate == 0.0, "a 75 px face in 1280x720 needs the crop"


def test_a_frame_without_a_face_is_nan_and_the_others_are_measured():
    frames = portrait_frames(np.array([0.0, 10.0]), 192)
    frames = np.concatenate([frames[:1], np.full_like(frames[:1], 90), frames[1:]])
    track = measure_mouth(frames, np.tile(face_rect(192), (3, 1)))
    assert np.isnan(track.opening[1]) and np.isnan(track.width[1]) and np.isnan(track.landmarks68[1]).all()
    assert np.isfinite(track.opening[[0, 2]]).all() and track.opening[2] > track.opening[0]
    assert track.detection_rate == pytest.approx(2 / 3)
    empty = measure_mouth(np.zeros((0, 64, 64, 3), np.uint8))
    assert empty.opening.shape == (0,) and empty.detection_rate == 0.0


def test_the_tight_mouth_box_hugs_the_lips():
    track = measure_mouth(portrait_frames(np.array([8.0]), 128))
    points = track.landmarks68[0]
    x0, y0, x1, y1 = face_rects(points, 128, 128, lips_min_size=32)["mouth"]
    lips = points[48:68]
    assert (lips[:, 0] >= x0).all() and (lips[:, 0] < x1).all() and (lips[:, 1] >= y0).all() and (lips[:, 1] < y1).all()
    span = lips.max(0) - lips.min(0)
    assert x1 - x0 <= span[0] * 1.3 + 4 and y1 - y0 <= span[1] + 0.3 * span[0] + 4
    forced = face_rects(points, 128, 128, lips_min_size=32)["lips"]
    assert y1 - y0 < forced[3] - forced[1] == 32, "no 32 px square minimum, unlike the lips rect"
    assert face_rects(np.full((68, 2), 1.0), 4, 4, lips_min_size=2)["mouth"].tolist() == [0, 0, 3, 3], "clipped"


def test_pearson_r_ignores_nan_and_is_nan_when_undefined():
    a = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    assert pearson_r(a, 2 * a + 1) == pytest.approx(1.0)
    assert pearson_r(a, -a) == pytest.approx(-1.0)
    assert np.isnan(pearson_r(np.ones(5), a)), "a constant side"
    assert np.isnan(pearson_r(a[:2], a[:2])), "fewer than 3 pairs"


def test_without_mediapipe_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'rad-nerfstudio\[process\]'"):
        measure_mouth(np.zeros((1, 64, 64, 3), np.uint8))
