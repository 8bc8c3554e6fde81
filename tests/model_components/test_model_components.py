"""Compositing math, losses, LPIPS, the stage schedule and the EMA."""

from __future__ import annotations

from urllib.error import URLError

import pytest
import torch
import torch.nn.functional as F

from rad_nerfstudio.model_components.compositing import over, render_samples
from rad_nerfstudio.model_components.losses import (
    entropy_loss,
    marched_distortion_loss,
    masked_mean,
    photometric_errors,
    photometric_loss,
)
from rad_nerfstudio.model_components.lpips_net import Lpips, LpipsUnavailableError
from rad_nerfstudio.model_components.stages import StageSchedule


def _render(density_value: float):
    k = 4
    density = torch.full((2, k), density_value)
    rgb = torch.tensor([1.0, 0.0, 0.0]).expand(2, k, 3)
    t = torch.arange(k + 1, dtype=torch.float32) * 0.1
    valid = torch.tensor([[True] * k, [False] * k])
    return render_samples(density, rgb, t[:-1].expand(2, k), t[1:].expand(2, k), valid)


def test_opaque_head_hides_what_is_behind_and_empty_space_shows_it():
    torso = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    opaque = _render(1e4)
    assert torch.allclose(opaque["accumulation"][0], torch.ones(1))
    assert torch.allclose(over(opaque["rgb"], opaque["accumulation"], torso)[0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(opaque["depth"][0], torch.tensor([0.05]), atol=1e-3), "the first sample takes it all"
    empty = _render(0.0)
    assert torch.all(empty["accumulation"] == 0)
    assert torch.allclose(over(empty["rgb"], empty["accumulation"], torso), torso)
    assert torch.all(opaque["accumulation"][1] == 0), "padding samples render nothing"


def test_half_transparent_layers_mix():
    front = torch.tensor([[0.5, 0.0, 0.0]])  # premultiplied red at alpha 0.5
    assert torch.allclose(
        over(front, torch.tensor([[0.5]]), torch.tensor([[0.0, 0.0, 1.0]])), torch.tensor([[0.5, 0.0, 0.5]])
    )


@pytest.mark.parametrize("beta", [0.05, 1.0])
def test_each_photometric_loss_matches_its_formula(beta):
    a, b = torch.rand(50, 3), torch.rand(50, 3)
    d = (a - b).abs()
    assert torch.allclose(photometric_loss("mse", a, b), (d**2).mean())
    assert torch.allclose(photometric_loss("l1", a, b), d.mean())
    smooth = torch.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta).mean()
    assert torch.allclose(photometric_loss("smooth_l1", a, b, beta), smooth)
    huber = torch.where(d < beta, 0.5 * d**2, beta * (d - 0.5 * beta)).mean()
    assert torch.allclose(photometric_loss("huber", a, b, beta), huber)
    assert torch.allclose(photometric_loss("smooth_l1", a, b, 1.0), 0.5 * F.mse_loss(a, b)), "beta 1 on [0,1]"
    with pytest.raises(ValueError):
        photometric_loss("l3", a, b)  # type: ignore[arg-type]
    per_ray = photometric_errors("smooth_l1", a, b, beta)
    assert per_ray.shape == (50,)
    assert torch.allclose(per_ray, torch.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta).mean(-1))


def test_entropy_is_zero_for_decided_opacity_and_maximal_at_one_half():
    assert entropy_loss(torch.tensor([[0.0], [1.0]])) < 1e-3
    assert torch.isclose(entropy_loss(torch.tensor([[0.5]])), torch.log(torch.tensor(2.0)))


def test_masked_mean():
    values = torch.tensor([1.0, 2.0, 3.0])
    assert masked_mean(values, torch.tensor([True, False, True])) == 2.0
    assert masked_mean(values, torch.zeros(3, dtype=torch.bool)) == 0.0


def test_stage_schedule():
    schedule = StageSchedule(head_steps=10, lips_steps=5)
    assert [schedule.stage_at(s) for s in (0, 9, 10, 14, 15, 99)] == ["head", "head", "lips", "lips", "torso", "torso"]
    assert StageSchedule(10, 0).stage_at(10) == "torso"
    assert StageSchedule(10, 0, train_torso=False).stage_at(50) == "head"


def test_parameter_ema_averages_swaps_in_and_restores():
    from rad_nerfstudio.model_components.ema import ParameterEMA

    module = torch.nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.fill_(1.0)
    ema = ParameterEMA(module, decay=0.9)
    with torch.no_grad():
        module.weight.fill_(2.0)
    ema.update()
    assert torch.allclose(ema.shadow_0, torch.full((1, 2), 1.1))  # 0.9 * 1 + 0.1 * 2
    with ema.averaged():
        assert torch.allclose(module.weight, torch.full((1, 2), 1.1))
        with ema.averaged():  # nested: still the averaged weights, and no second swap
            assert torch.allclose(module.weight, torch.full((1, 2), 1.1))
        assert torch.allclose(module.weight, torch.full((1, 2), 1.1)), "the inner block did not restore early"
    assert torch.all(module.weight == 2.0), "live weights are back"
    assert "shadow_0" in ema.state_dict() and len(list(ema.parameters())) == 0
    with pytest.raises(ValueError):
        ParameterEMA(module, decay=1.0)


def test_lpips_is_zero_for_equal_images_positive_otherwise_and_differentiable():
    lpips = Lpips(pretrained=False)
    target = torch.rand(2, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    prediction = (target + 0.2 * torch.randn_like(target)).clamp(0, 1).requires_grad_(True)
    assert torch.allclose(lpips(target, target), torch.zeros(2), atol=1e-6)
    distance = lpips(prediction, target)
    assert distance.shape == (2,) and (distance > 0).all()
    distance.sum().backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0


def test_lpips_without_its_weights_says_what_to_download_and_where(monkeypatch, tmp_path):
    import torchvision.models._api

    def offline(*args, **kwargs):
        raise URLError("no route to host")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # nothing cached
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(
        LpipsUnavailableError, match=f"alexnet-owt-7be5be79.pth.*{tmp_path}/hub/checkpoints.*no route to host"
    ):
        Lpips(pretrained=True)


def test_distortion_loss_is_small_for_a_surface_and_large_for_a_fog_even_across_gaps():
    starts = torch.tensor([[0.0, 0.1, 0.2, 0.3, 0.9, 1.0], [0.0, 0.1, 0.2, 0.3, 0.9, 1.0]])
    ends = starts + 0.1  # a gap between 0.4 and 0.9 (cells the occupancy grid skipped)
    surface = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    fog = torch.tensor([[0.2, 0.2, 0.2, 0.2, 0.1, 0.1]])
    far_apart = torch.tensor([[0.5, 0.0, 0.0, 0.0, 0.0, 0.5]])
    surface_loss = float(marched_distortion_loss(surface, starts[:1], ends[:1]))
    assert surface_loss == pytest.approx(0.1 / 3)  # one full bin of width 0.1: w^2 * width / 3
    assert float(marched_distortion_loss(fog, starts[:1], ends[:1])) > 5 * surface_loss
    # two halves 1.0 apart across the gap: 2 * 0.25 * 1.0 between them, plus 2 * 0.25 * 0.1 / 3 inside
    assert float(marched_distortion_loss(far_apart, starts[:1], ends[:1])) == pytest.approx(0.5 + 0.05 / 3)
    assert float(marched_distortion_loss(torch.zeros(2, 6), starts, ends)) == 0.0
    weights = fog.clone().requires_grad_(True)
    marched_distortion_loss(weights, starts[:1], ends[:1]).backward()
    assert weights.grad is not None and float(weights.grad.abs().sum()) > 0
