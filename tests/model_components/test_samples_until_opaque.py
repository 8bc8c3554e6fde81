"""Training rays keep only their samples in front of the point where they turn opaque (``samples_until_opaque``)."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.model_components.compositing import reference_render_samples
from rad_nerfstudio.model_components.early_stop_compositing import OPAQUE, samples_until_opaque


def _rays(layout: str) -> tuple:
    """64 rays of 12 samples: opaque surfaces at random depths, thin fog, empty rays; valid samples first in their
    rows ("first") or scattered among invalid ones in depth order ("scattered", the torch marcher's layout)."""
    generator = torch.Generator().manual_seed(3)
    rays, k = 64, 12
    density = torch.rand(rays, k, generator=generator) * 0.5
    surface = torch.randint(0, k, (rays,), generator=generator)
    density[torch.arange(rays), surface] = torch.rand(rays, generator=generator) * 400.0  # opaque on most rays
    density[:8] = 0.05  # fog: never opaque
    rgb = torch.rand(rays, k, 3, generator=generator)
    t_starts = torch.linspace(0.0, 1.1, k).expand(rays, k).contiguous()
    t_ends = t_starts + 0.1
    counts = torch.randint(0, k + 1, (rays,), generator=generator)
    valid = torch.arange(k)[None, :] < counts[:, None]
    if layout == "scattered":
        valid = torch.rand(rays, k, generator=generator) < 0.7
    return density, rgb, t_starts, t_ends, valid


@pytest.mark.parametrize("layout", ["first", "scattered"])
def test_the_kept_samples_render_what_all_of_them_do_and_the_rest_lie_behind_opaque_points(layout):
    density, rgb, t_starts, t_ends, valid = _rays(layout)
    evaluated = []

    def density_at(ray_id: torch.Tensor, sample_id: torch.Tensor) -> torch.Tensor:
        evaluated.append(ray_id.numel())
        return density[ray_id, sample_id]

    keep = samples_until_opaque(valid, t_starts, t_ends, density_at, piece=3, tail=0)
    assert not bool((keep & ~valid).any())
    everything = reference_render_samples(density, rgb, t_starts, t_ends, valid)
    kept = reference_render_samples(density, rgb, t_starts, t_ends, keep)
    for key in ("rgb", "accumulation"):
        assert float((kept[key] - everything[key]).abs().max()) <= OPAQUE
    # each dropped sample lies behind a point where its ray's transmittance is below the threshold
    dropped = valid & ~keep
    assert bool(dropped.any()), "some rays turn opaque before their last sample"
    optical = torch.where(valid, density * (t_ends - t_starts), torch.zeros_like(density))
    in_front = torch.exp(-(optical.cumsum(-1) - optical))
    assert bool((in_front[dropped] <= OPAQUE).all()) and bool((in_front[keep] > OPAQUE).all())
    assert bool(keep[:8].eq(valid[:8]).all()), "rays that never turn opaque keep every sample"
    assert sum(evaluated) < int(valid.sum()), "rays stop being evaluated once opaque"


def test_the_kept_samples_do_not_depend_on_the_piece_size():
    density, _, t_starts, t_ends, valid = _rays("scattered")

    def density_at(ray_id: torch.Tensor, sample_id: torch.Tensor) -> torch.Tensor:
        return density[ray_id, sample_id]

    masks = [
        samples_until_opaque(valid, t_starts, t_ends, density_at, piece=piece, tail=tail)
        for piece, tail in ((1, 0), (4, 0), (4, 1024), (12, 0))
    ]
    for mask in masks[1:]:
        assert torch.equal(mask, masks[0])


def test_training_on_the_kept_samples_gives_the_gradients_of_all_samples():
    """The dropped samples' part in the loss's gradient is below the threshold's order."""
    density, rgb, t_starts, t_ends, valid = _rays("first")
    keep = samples_until_opaque(valid, t_starts, t_ends, lambda r, s: density[r, s])
    target = torch.rand(density.shape[0], 3, generator=torch.Generator().manual_seed(5))
    grads = []
    for mask in (valid, keep):
        leaves = density.clone().requires_grad_(), rgb.clone().requires_grad_()
        rendered = reference_render_samples(*leaves, t_starts, t_ends, mask)
        loss = ((rendered["rgb"] - target) ** 2).sum()
        grads.append(torch.autograd.grad(loss, leaves))
    for everything, kept in zip(*grads, strict=True):
        assert float((everything - kept).abs().max()) < 1e-3
