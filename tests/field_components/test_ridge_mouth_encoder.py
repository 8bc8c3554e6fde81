"""The ridge regression of the mouth from the audio: features, fit, choice of strength, prediction."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.evaluation.mouth_shape import pearson_r
from rad_nerfstudio.field_components.ridge_mouth_encoder import MAX_SPREAD_GAIN, RIDGE_GRID, RidgeMouthEncoder


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


def test_full_spread_scales_the_shrunk_predictions_to_the_targets_spread_without_changing_their_order():
    """A weak relation (much noise): the ridge shrinks its predictions towards the mean; ``full_spread`` scales their
    deviations back to the targets' spread on held-out frames, around the same mean, and r stays as it was."""
    windows, targets = _track(frames=400)
    targets = targets + 1.5 * torch.randn(400, 2, generator=torch.Generator().manual_seed(3))
    train, held_out = torch.arange(320), torch.arange(320, 400)
    unclamped = {"within_training_range": False}  # the spread alone
    shrunk = RidgeMouthEncoder(in_dim=8).fit(windows, train, targets[train], full_spread=False, **unclamped)
    spread = RidgeMouthEncoder(in_dim=8).fit(windows, train, targets[train], **unclamped)
    assert torch.equal(shrunk.spread_gain, torch.ones(2))
    assert bool((spread.spread_gain > 1.3).all()) and bool((spread.spread_gain <= MAX_SPREAD_GAIN).all())
    before, after = shrunk.encode_track(windows, held_out), spread.encode_track(windows, held_out)
    for column in range(2):
        r_before = pearson_r(before[:, column].numpy(), targets[held_out, column].numpy())
        assert abs(pearson_r(after[:, column].numpy(), targets[held_out, column].numpy()) - r_before) < 1e-5
    deviation = after - spread.weights[-1]
    torch.testing.assert_close(deviation, (before - shrunk.weights[-1]) * spread.spread_gain, rtol=1e-4, atol=1e-5)
    ratio = targets[held_out].std(0) / after.std(0)
    assert bool((ratio > 0.6).all()) and bool((ratio < 1.6).all()), ratio  # near the targets' spread now
    assert bool((targets[held_out].std(0) / before.std(0) > 1.6).all())  # and far from it before
    assert 0.0 < shrunk.cross_validated_r < 0.6


def test_predictions_stay_within_the_training_mouths_range_unless_turned_off():
    """Frames louder than any training frame ask for a mouth beyond the training range: clamped to it, per output;
    predictions inside it are the regression's own."""
    windows, targets = _track(frames=300)
    loud = windows.clone()
    loud[250:] *= 4.0
    train, every = torch.arange(240), torch.arange(300)
    clamped = RidgeMouthEncoder(in_dim=8).fit(loud, train, targets[train])
    free = RidgeMouthEncoder(in_dim=8).fit(loud, train, targets[train], within_training_range=False)
    low, high = targets[train].min(0).values, targets[train].max(0).values
    torch.testing.assert_close(clamped.low, low)
    torch.testing.assert_close(clamped.high, high)
    assert bool(torch.isinf(free.low).all()) and bool(torch.isinf(free.high).all())
    plain, kept = free.encode_track(loud, every), clamped.encode_track(loud, every)
    outside = (plain < low) | (plain > high)
    assert int(outside[250:].sum()) > 20  # the loud frames ask for more than any training frame showed
    assert bool(((kept >= low) & (kept <= high)).all())
    torch.testing.assert_close(kept[~outside], plain[~outside])
    torch.testing.assert_close(kept, plain.clamp(low, high))


def test_targets_the_audio_cannot_predict_get_at_most_the_capped_gain():
    windows, _ = _track()
    noise = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    encoder = RidgeMouthEncoder(in_dim=8).fit(windows, torch.arange(300), noise)
    assert bool((encoder.spread_gain >= 1.0).all()) and bool((encoder.spread_gain <= MAX_SPREAD_GAIN).all())


@pytest.mark.parametrize("features", [6, 40])
def test_the_ridge_weights_are_the_direct_solution_with_more_frames_or_more_features(features):
    """Primal (Gram of the features) and dual (kernel of the frames) give the weights of the direct solve of the
    penalised normal equations, the bias (last) unpenalised."""
    from rad_nerfstudio.field_components.ridge_mouth_encoder import _RidgeSolutions

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(20, features, generator=generator, dtype=torch.float64)
    design = torch.cat([x - x.mean(0), torch.ones(20, 1, dtype=torch.float64)], 1)
    targets = torch.randn(20, 2, generator=generator, dtype=torch.float64) + 3.0
    solutions = _RidgeSolutions(design, targets)
    assert solutions.dual == (features > 20)
    for penalty in (0.1, 5.0):
        diagonal = torch.full((features + 1,), penalty, dtype=torch.float64)
        diagonal[-1] = 0.0
        direct = torch.linalg.solve(design.T @ design + torch.diag(diagonal), design.T @ targets)
        torch.testing.assert_close(solutions.weights(penalty), direct, rtol=1e-8, atol=1e-9)
