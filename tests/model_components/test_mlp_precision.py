"""Renders with bfloat16 MLPs: only in the block, only renders on the fused path (never training, gradients or the
torch path), float32 outputs, and an image within 45 dB of the float32 render."""

from __future__ import annotations

import pytest
import torch
from rad_nerfstudio.cuda.kernels import fused  # pyright: ignore[reportMissingImports]
from torch import nn

from rad_nerfstudio.model_components import mlp_precision
from rad_nerfstudio.model_components.compiled_fields import compiled_fields
from rad_nerfstudio.model_components.mlp_precision import bfloat16_mlps, wants_bfloat16
from tests.model_steps import trained_small_model


@pytest.fixture
def trained(dataset):
    model, manager = trained_small_model(dataset, steps=20)
    model.step = model.schedule.torso_start  # head and torso both render
    model.eval()
    return model, manager.eval_dataset.cameras[0:1]


@pytest.fixture
def product_dtypes(trained):
    """The dtypes that the head's first density layer and the torso's colour layer multiplied in, per call."""
    model, _ = trained
    seen: list[torch.dtype] = []
    layers = [
        next(m for m in field.modules() if isinstance(m, nn.Linear)) for field in (model.head.sigma, model.torso.color)
    ]
    hooks = [layer.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype)) for layer in layers]
    yield seen
    for hook in hooks:
        hook.remove()


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0.0 else -10.0 * torch.log10(torch.tensor(mse)).item()


def test_auto_takes_bfloat16_only_where_the_cpu_has_the_units(monkeypatch):
    monkeypatch.setattr(mlp_precision, "native_bfloat16", lambda: False)
    assert not wants_bfloat16("auto") and wants_bfloat16("bfloat16") and not wants_bfloat16("float32")
    monkeypatch.setattr(mlp_precision, "native_bfloat16", lambda: True)
    assert wants_bfloat16("auto") and not wants_bfloat16("float32")


def test_renders_in_the_block_multiply_in_bfloat16_and_after_it_in_float32(trained, product_dtypes):
    model, camera = trained
    with torch.no_grad():
        before = model.get_outputs_for_camera(camera)["rgb"]
        assert set(product_dtypes) == {torch.float32}
        product_dtypes.clear()
        with bfloat16_mlps(model):
            reduced = model.get_outputs_for_camera(camera)
        assert set(product_dtypes) == {torch.bfloat16}
        assert all(value.dtype == torch.float32 for value in reduced.values() if value.is_floating_point())
        product_dtypes.clear()
        after = model.get_outputs_for_camera(camera)["rgb"]
    assert set(product_dtypes) == {torch.float32}
    assert torch.equal(before, after), "the MLPs' own forward is back after the block"
    assert _psnr(reduced["rgb"], before) >= 45.0


def test_training_gradients_the_torch_path_and_disabled_stay_float32(trained, product_dtypes):
    model, camera = trained
    rays = 64
    with bfloat16_mlps(model):
        with fused(False), torch.no_grad():  # the torch path: the float32 reference
            model.get_outputs_for_camera(camera)
        with torch.enable_grad():  # test-time pose alignment renders with gradients
            positions = torch.rand(rays, 3, requires_grad=True)
            model.head.sigma(torch.rand(rays, model.head.sigma.in_dim) + positions.sum() * 0)
        model.train()
        with torch.no_grad():
            model.head.sigma(torch.rand(rays, model.head.sigma.in_dim))
        model.eval()
    with bfloat16_mlps(model, enabled=False), torch.no_grad():
        model.get_outputs_for_camera(camera)
    assert set(product_dtypes) == {torch.float32}


@pytest.mark.slow
def test_compiled_fields_with_bfloat16_mlps_compile_whole_and_render_the_image(trained):
    """Inductor for real: the autocast regions inside the fields compile without graph breaks."""
    model, camera = trained
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    with torch.no_grad():
        reference = model.get_outputs_for_camera(camera)["rgb"]
        with compiled_fields(model), bfloat16_mlps(model):
            rendered = model.get_outputs_for_camera(camera)["rgb"]
    assert dict(torch._dynamo.utils.counters["graph_break"]) == {}
    assert _psnr(rendered, reference) >= 45.0
