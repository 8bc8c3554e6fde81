"""The ridge regression of the mouth from the audio: features, fit, choice of strength, prediction."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.evaluation.mouth_shape import pearson_r
from rad_nerfstudio.field_components.ridge_mouth_encoder import RIDGE_GRID, RidgeMouthEncoder


def _track(frames: int = 300, channels: int = 8, seed: int = 0):
    """Windows whose loudness in channel 0 (at the window's centre) drives the 'opening' and channel 1 the 'width'."""
    generator = torch.Generator().manual_seed(seed)
    windows = torch.randn(frames, 16, channels, generator=generator)
    opening = windows[:, 4:12, 0].mean(1)
    width = windows[:, 4:12, 1].mean(1) - 0.5 * opening
    targets = torch.stack([opening, width], dim=-1)
    return windows, targets + 0.05 * torch.randn(frames, 2, generator=generator)


def test_features_pool_each_neighbouring_window_and_repeat_the_edge_window_beyond_the_track():
    encoder = RidgeMouthEncoder(in_dim=3, context=1, bins=4)
    windows = torch.arange(5 * 16 * 3, dtype=torch.float32).reshape(5, 16, 3)
    features = encoder.features(windows, torch.tensor([0, 2]))
    assert features.shape == (2, 3 * 4 * 3)
    first = features[0].reshape(3, 4, 3)
    assert torch.allclose(first[0], windows[0].reshape(4, 4, 3).mean(1))  # frame -1 lies before: frame 0 again
    assert torch.allclose(first[1], windows[0].reshape(4, 4, 3).mean(1))
    last = encoder.features(windows, torch.tensor([4]))[0].reshape(3, 4, 3)
    assert torch.allclose(last[2], windows[4].reshape(4, 4, 3).mean(1))  # frame 5 lies past the end: frame 4 again
    assert torch.allclose(features[1].reshape(3, 4, 3)[2], windows[3].reshape(4, 4, 3).mean(1))


def test_the_fit_predicts_held_out_frames_of_a_linear_relation():
    windows, targets = _track()
    train, held_out = torch.arange(240), torch.arange(240, 300)
    encoder = RidgeMouthEncoder(in_dim=8).fit(windows, train, targets[train])
    predicted = encoder.encode_track(windows, held_out)
    assert predicted.shape == (60, 2)
    for column in range(2):
        assert pearson_r(predicted[:, column].numpy(), targets[held_out, column].numpy()) > 0.9
    assert min(abs(float(encoder.strength) - s) for s in RIDGE_GRID) < 1e-6


def test_noise_targets_choose_a_strong_ridge_and_signal_a_weak_one():
    windows, targets = _track()
    frames = torch.arange(300)
    noise = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    strong = RidgeMouthEncoder(in_dim=8).fit(windows, frames, noise)
    weak = RidgeMouthEncoder(in_dim=8).fit(windows, frames, targets)
    assert float(strong.strength) > float(weak.strength)


def test_the_fit_is_saved_with_the_state_dict():
    windows, targets = _track()
    fitted = RidgeMouthEncoder(in_dim=8).fit(windows, torch.arange(300), targets)
    loaded = RidgeMouthEncoder(in_dim=8)
    loaded.load_state_dict(fitted.state_dict())
    centres = torch.arange(10)
    assert torch.equal(loaded.encode_track(windows, centres), fitted.encode_track(windows, centres))


def test_bins_must_divide_the_window():
    with pytest.raises(ValueError, match="divide"):
        RidgeMouthEncoder(in_dim=4, bins=5)


def test_a_tracks_predictions_are_kept_until_the_track_or_the_fit_changes():
    """Hundreds of frames a step read the same fixed regression: its predictions of a track are computed once, and
    afresh for another track, a track changed in place, or a new fit."""
    windows, targets = _track()
    encoder = RidgeMouthEncoder(in_dim=8).fit(windows, torch.arange(200), targets[:200])
    frames = torch.tensor([3, 150, 299, 3])
    torch.testing.assert_close(encoder.encode_track(windows, frames), encoder.predict(windows, frames))
    other = windows.flip(0).contiguous()
    torch.testing.assert_close(encoder.encode_track(other, frames), encoder.predict(other, frames))
    windows.mul_(2.0)  # the same tensor, changed in place
    torch.testing.assert_close(encoder.encode_track(windows, frames), encoder.predict(windows, frames))
    before = encoder.encode_track(windows, frames)
    encoder.fit(windows, torch.arange(100, 300), targets[100:])
    after = encoder.encode_track(windows, frames)
    torch.testing.assert_close(after, encoder.predict(windows, frames))
    assert not torch.allclose(before, after), "a new fit predicts anew"
