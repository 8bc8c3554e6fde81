"""Shapes, ranges and gradients of the decomposed audio-spatial head field."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.field_components.hash_grid import HashGridConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadField, RadHeadFieldConfig

GRID = HashGridConfig(num_levels=4, features_per_level=2, log2_hashmap_size=10, base_resolution=4, finest_resolution=64)


def _field(ambient_dim: int = 2) -> RadHeadField:
    config = RadHeadFieldConfig(spatial_grid=GRID, audio_grid=GRID, ambient_dim=ambient_dim, hidden_dim=32)
    return RadHeadField(config, audio_code_dim=16, num_frames=10)


@pytest.mark.parametrize("ambient_dim", [1, 2, 3])
def test_outputs_have_their_shapes_and_ranges(ambient_dim):
    field = _field(ambient_dim)
    n = (6, 5)
    out = field(
        torch.rand(*n, 3),
        torch.nn.functional.normalize(torch.randn(*n, 3), dim=-1),
        torch.randn(*n, 16),
        torch.rand(*n, 1),
        torch.randint(0, 10, n),
    )
    assert out["density"].shape == (*n, 1) and torch.all(out["density"] >= 0)
    assert out["rgb"].shape == (*n, 3) and torch.all((out["rgb"] >= 0) & (out["rgb"] <= 1))
    assert out["ambient"].shape == (*n, ambient_dim) and torch.all(out["ambient"].abs() <= 1)


def test_every_part_gets_gradients_and_the_audio_code_matters():
    field = _field()
    code = torch.randn(64, 16, requires_grad=True)
    positions = torch.rand(64, 3)
    directions = torch.nn.functional.normalize(torch.randn(64, 3), dim=-1)
    out = field(positions, directions, code, torch.ones(64, 1), torch.arange(64) % 10)
    (out["density"].sum() + out["rgb"].sum() + out["ambient"].sum()).backward()
    assert code.grad is not None and code.grad.abs().sum() > 0
    for name, parameter in field.named_parameters():
        assert parameter.grad is not None, name
    other = field(positions, directions, torch.randn(64, 16), torch.ones(64, 1), torch.arange(64) % 10)
    assert not torch.allclose(other["ambient"], out["ambient"])


def test_density_only_path_matches_the_full_forward():
    field = _field()
    positions, code, eye = torch.rand(20, 3), torch.randn(20, 16), torch.rand(20, 1)
    full = field(
        positions, torch.nn.functional.normalize(torch.randn(20, 3), dim=-1), code, eye, torch.zeros(20).long()
    )
    assert torch.allclose(field.density(positions, code, eye), full["density"][:, 0], atol=1e-6)


def test_ambient_dimension_is_checked():
    with pytest.raises(ValueError, match="1, 2 or 3"):
        RadHeadField(RadHeadFieldConfig(ambient_dim=4), audio_code_dim=8, num_frames=2)


def test_without_a_frame_code_every_frame_renders_alike():
    """``latent_dim`` 0 (the CPU methods' head): the frame index changes nothing; with the anchors' 4 numbers it does
    once the codes have moved from zero."""
    positions, code, eye = torch.rand(32, 3), torch.randn(32, 16), torch.rand(32, 1)
    directions = torch.nn.functional.normalize(torch.randn(32, 3), dim=-1)
    for latent_dim in (0, 4):
        config = RadHeadFieldConfig(spatial_grid=GRID, audio_grid=GRID, hidden_dim=32, latent_dim=latent_dim)
        field = RadHeadField(config, audio_code_dim=16, num_frames=10)
        with torch.no_grad():
            field.latents.weight.normal_()
        first = field(positions, directions, code, eye, torch.zeros(32).long())["rgb"]
        other = field(positions, directions, code, eye, torch.full((32,), 7))["rgb"]
        assert torch.equal(first, other) == (latent_dim == 0)
