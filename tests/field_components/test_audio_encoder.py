"""AudioNet, audio attention and test-time smoothing."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.field_components.audio_encoder import AudioAttention, AudioEncoder, AudioNet, smooth_codes


def test_audionet_reduces_a_window_to_a_code():
    net = AudioNet(in_dim=29, code_dim=64)
    windows = torch.randn(3, 5, 16, 29, requires_grad=True)
    codes = net(windows)
    assert codes.shape == (3, 5, 64)
    codes.sum().backward()
    assert windows.grad is not None and all(p.grad is not None for p in net.parameters())


def test_attention_weights_are_a_distribution_over_neighbours():
    attention = AudioAttention(code_dim=16)
    codes = torch.randn(4, 8, 16)
    weights = attention.weights(codes)
    assert weights.shape == (4, 8) and torch.all(weights >= 0)
    assert torch.allclose(weights.sum(-1), torch.ones(4))
    mixed = attention(codes)
    assert torch.allclose(mixed, (weights[..., None] * codes).sum(1))


def test_encoder_depends_on_the_audio_and_without_attention_uses_the_centre_window():
    encoder = AudioEncoder(in_dim=8, code_dim=16)
    context = torch.randn(2, 8, 16, 8)
    codes = encoder(context)
    assert codes.shape == (2, 16)
    assert not torch.allclose(encoder(context * 2), codes)
    plain = AudioEncoder(in_dim=8, code_dim=16, use_attention=False)
    changed = context.clone()
    changed[:, 0] += 5.0  # a far neighbour changes nothing without attention
    assert torch.equal(plain(changed), plain(context))
    assert torch.allclose(plain(context), plain.net(context[None, :, 4])[0])


@pytest.mark.parametrize("use_attention", [True, False])
def test_encoding_a_track_once_per_window_matches_the_per_frame_context(use_attention):
    from rad_nerfstudio.audio.windows import neighbour_windows

    torch.manual_seed(0)
    encoder = AudioEncoder(in_dim=8, code_dim=16, use_attention=use_attention)
    track = torch.randn(20, 16, 8, requires_grad=True)
    centres = torch.tensor([0, 1, 2, 10, 11, 18, 19, 10])  # both ends (edge windows beyond) and a repeat
    per_frame = encoder(neighbour_windows(track, centres))
    per_window = encoder.encode_track(track, centres)
    assert torch.allclose(per_window, per_frame, atol=1e-6)
    weights = torch.randn_like(per_frame)
    (grad_frame,) = torch.autograd.grad((per_frame * weights).sum(), track)
    (grad_window,) = torch.autograd.grad((encoder.encode_track(track, centres) * weights).sum(), track)
    assert torch.allclose(grad_window, grad_frame, atol=1e-5) and grad_frame.abs().sum() > 0


def test_momentum_smoothing():
    codes = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    smoothed = smooth_codes(codes, beta=0.35)
    assert torch.allclose(smoothed[:, 0], torch.tensor([0.0, 0.65, 0.8775, 0.307125]))
    assert torch.equal(smooth_codes(codes, beta=0.0), codes)
    with pytest.raises(ValueError):
        smooth_codes(codes, beta=1.0)
