"""Planes over (spatial axis, code number): bilinear lookups multiplied over the three axes, zero where the code is."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from rad_nerfstudio.field_components.code_planes import CodePlanes, CodePlanesConfig
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.fields.er_nerf_head_field import ErNerfHeadField, ErNerfHeadFieldConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadField, RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.model_components import compiled_fields as compiled_module
from rad_nerfstudio.model_components.compiled_fields import compiled_fields
from rad_nerfstudio.models.er_nerf import ErNerfModelConfig
from tests.model_steps import TINY_GRID, build_model, sample_manager, train_step, trained_small_model
from tests.models.test_er_nerf_model import PLANE

SIZES = CodePlanesConfig(spatial_resolutions=(4, 7), code_resolution=5, features=3, code_range=2.0)


def _bilinear(plane: torch.Tensor, along: float, code: float, code_range: float) -> torch.Tensor:
    """One plane [features, code cells, spatial cells] read at a point in [0, 1] and a code, by hand."""
    cells, width = plane.shape[-2], plane.shape[-1]
    u = along * (width - 1)
    v = (min(max(code / code_range, -1.0), 1.0) + 1.0) / 2.0 * (cells - 1)
    u0, v0 = min(int(u), width - 2), min(int(v), cells - 2)
    fu, fv = u - u0, v - v0
    return (
        plane[:, v0, u0] * (1 - fu) * (1 - fv)
        + plane[:, v0, u0 + 1] * fu * (1 - fv)
        + plane[:, v0 + 1, u0] * (1 - fu) * fv
        + plane[:, v0 + 1, u0 + 1] * fu * fv
    )


def test_features_are_the_planes_products_under_the_code_less_under_a_zero_code():
    planes = CodePlanes(2, SIZES)
    g = torch.Generator().manual_seed(0)
    positions, code = torch.rand(6, 3, generator=g), 3.0 * torch.randn(6, 2, generator=g)  # some beyond the range
    out = planes(positions, code)
    assert out.shape == (6, planes.output_dim) == (6, 2 * 2 * 3)
    for i in range(6):
        expected = []
        for level in planes.planes:
            for j in range(2):
                product = {value: torch.ones(3) for value in (float(code[i, j]), 0.0)}
                for axis in range(3):
                    for value in product:
                        product[value] = product[value] * _bilinear(
                            level[j * 3 + axis].detach(), float(positions[i, axis]), value, SIZES.code_range
                        )
                expected.append(product[float(code[i, j])] - product[0.0])
        torch.testing.assert_close(out[i], torch.cat(expected), atol=1e-5, rtol=1e-5)


def test_a_zero_code_gives_zero_features_and_moves_no_plane():
    planes = CodePlanes(2, SIZES)
    positions = torch.rand(8, 3)
    code = torch.randn(8, 2)
    code[4:] = 0.0  # outside the mouth's region the model hands the field a zero code
    out = planes(positions, code)
    assert torch.all(out[4:] == 0) and torch.all(out[:4].abs().sum(-1) > 0)
    assert not planes(positions[4:], code[4:]).requires_grad  # nothing was looked up, so no plane can move


def test_gradients_reach_the_planes_and_the_features_vary_smoothly_with_the_code():
    planes = CodePlanes(1, SIZES)
    positions = torch.rand(16, 3)
    planes(positions, torch.randn(16, 1)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in planes.planes)
    with torch.no_grad():
        near = planes(positions, torch.full((16, 1), 0.5)) - planes(positions, torch.full((16, 1), 0.501))
    assert near.abs().max() < 1e-2


@pytest.mark.parametrize(
    "code_dim, sizes",
    [
        (0, SIZES),
        (2, CodePlanesConfig(code_resolution=1)),
        (2, CodePlanesConfig(spatial_resolutions=(1,))),
        (2, CodePlanesConfig(code_range=0.0)),
    ],
)
def test_degenerate_sizes_are_refused(code_dim, sizes):
    with pytest.raises(ValueError, match="code planes"):
        CodePlanes(code_dim, sizes)


def _head(kind: str, code_planes: bool):
    if kind == "rad":
        sizes = RadHeadFieldConfig(spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32)
        return RadHeadField(replace(sizes, code_planes=code_planes, code_planes_sizes=SIZES), 2, num_frames=4)
    sizes = ErNerfHeadFieldConfig(planes=PLANE, hidden_dim=32)
    return ErNerfHeadField(replace(sizes, code_planes=code_planes, code_planes_sizes=SIZES), 2, num_frames=4)


@pytest.mark.parametrize("kind", ["rad", "er"])
def test_both_heads_read_the_code_planes_right_after_their_spatial_encoding_when_asked(kind):
    plain, field = _head(kind, code_planes=False), _head(kind, code_planes=True)
    assert plain.code_planes is None and field.code_planes is not None
    assert field.sigma.in_dim == plain.sigma.in_dim + field.code_planes.output_dim
    positions, code, eye = torch.rand(10, 3), torch.randn(10, 2), torch.rand(10, 1)
    features, _ = field.features(positions, code, eye)
    spatial = field.spatial.output_dim
    moving = features[:, spatial : spatial + field.code_planes.output_dim]
    torch.testing.assert_close(moving, field.code_planes(positions, code))


def test_an_er_nerf_model_trains_its_code_planes_inside_the_mouth_region_at_the_grids_rate(dataset):
    manager = sample_manager(dataset)
    model = build_model(
        ErNerfModelConfig(
            head=ErNerfHeadFieldConfig(planes=PLANE, hidden_dim=32, code_planes=True, code_planes_sizes=SIZES),
            torso=TorsoFieldConfig(grid=TINY_GRID, hidden_dim=32),
            occupancy=OccupancyGridConfig(resolution=16, candidates=48),
            audio_encoder="ridge-mouth",
            audio_in_mouth_region=True,
            head_steps=10,
            lips_steps=2,
            lpips_pretrained=False,
        ),
        manager,
    )
    assert isinstance(model.head, ErNerfHeadField) and model.head.code_planes is not None
    train_step(manager, model, 3)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.head.code_planes.planes)
    grids = {id(p) for p in model.get_param_groups()["grids"]}
    assert all(id(p) in grids for p in model.head.code_planes.planes)


@pytest.mark.slow
def test_compiled_renders_read_the_code_planes_without_a_graph_break_and_give_the_eager_image(dataset, monkeypatch):
    """Inductor for real: compiled, every point is looked up (no data-dependent shape); the image is the eager one."""
    head = RadHeadFieldConfig(
        spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32, code_planes=True, code_planes_sizes=SIZES
    )
    model, manager = trained_small_model(
        dataset, steps=10, head=head, audio_encoder="ridge-mouth", audio_in_mouth_region=True
    )
    camera = manager.eval_dataset.cameras[0:1]
    monkeypatch.setattr(compiled_module, "_failed", {})
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    with torch.no_grad():
        acting = model.audio_gate(torch.rand(4096, 3)).gt(0).any()
        eager = model.get_outputs_for_camera(camera)["rgb"]
        with compiled_fields(model):
            compiled = model.get_outputs_for_camera(camera)["rgb"]
    assert acting, "the mouth's region holds points that read the code planes"
    assert compiled_module._failed == {}
    assert dict(torch._dynamo.utils.counters["graph_break"]) == {}
    mse = float(((compiled - eager) ** 2).mean())
    assert mse == 0.0 or -10 * math.log10(mse) >= 45.0, mse


def test_the_cpu_sized_methods_read_code_planes_with_three_cells_along_the_number_and_the_paper_sized_do_not():
    """Three cells: the real clip's held-out mouth follows the speech at least as well as without planes and the
    astronaut look's follows its truth (README, "Three cells along the number"); the anchors' fields have none."""
    from rad_nerfstudio.method_configs import er_nerf, er_nerf_small, rad_nerf, rad_nerf_small

    for small in (er_nerf_small, rad_nerf_small):
        head = small.config.pipeline.model.head
        assert head.code_planes and head.code_planes_sizes.code_resolution == 3
    assert not any(paper.config.pipeline.model.head.code_planes for paper in (er_nerf, rad_nerf))
