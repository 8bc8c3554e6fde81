"""Renders with compiled fields: the same image as eager, only where they serve (no gradients, eval mode, fused
kernels on), eager again after the block, and one line and eager renders where compiling fails."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.model_components import compiled_fields as compiled_module
from rad_nerfstudio.model_components.compiled_fields import PAYS_OFF_PIXELS, compiled_fields, wants_compiling
from tests.model_steps import trained_small_model


@pytest.fixture
def trained(dataset):
    model, manager = trained_small_model(dataset, steps=20)
    model.step = model.schedule.torso_start  # head and torso both render
    return model, manager.eval_dataset.cameras[0:1]


@pytest.fixture
def counted_compile(monkeypatch):
    """torch.compile replaced by a stand-in that counts the calls of what it 'compiles' (no inductor: fast)."""
    calls = []

    def compile_stand_in(function, **options):
        assert options == {"dynamic": True}

        def run(*args, **kwargs):
            calls.append(function)
            return function(*args, **kwargs)

        return run

    monkeypatch.setattr(compiled_module.torch, "compile", compile_stand_in)
    monkeypatch.setattr(compiled_module, "_failed", {})
    return calls


def test_auto_compiles_only_a_render_that_pays_for_it():
    assert wants_compiling("on", 1) and not wants_compiling("off", 10 * PAYS_OFF_PIXELS)
    assert wants_compiling("auto", PAYS_OFF_PIXELS) and not wants_compiling("auto", PAYS_OFF_PIXELS - 1)


def test_renders_in_the_block_go_through_the_compiled_fields_and_after_it_not(trained, counted_compile):
    model, camera = trained
    with torch.no_grad():
        eager = model.get_outputs_for_camera(camera)["rgb"]
        with compiled_fields(model):
            inside = model.get_outputs_for_camera(camera)["rgb"]
        served = len(counted_compile)
        after = model.get_outputs_for_camera(camera)["rgb"]
    assert served > 0 and {f.__self__ for f in counted_compile} == {model.head, model.torso}
    assert len(counted_compile) == served  # back to eager
    torch.testing.assert_close(inside, eager)
    torch.testing.assert_close(after, eager)
    assert "forward" not in model.head.__dict__ and "forward" not in model.torso.__dict__


def test_training_gradients_and_off_stay_eager(counted_compile):
    fields = torch.nn.Module()
    fields.head, fields.torso = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    points = torch.rand(5, 3)
    fields.eval()
    with compiled_fields(fields, enabled=False), torch.no_grad():
        fields.head(points)
    with compiled_fields(fields):
        fields.head(points)  # gradients on (test-time pose alignment)
        fields.train()
        with torch.no_grad():
            fields.torso(points)
        assert counted_compile == []
        fields.eval()
        with torch.no_grad():
            fields.torso(points)
    assert len(counted_compile) == 1


def test_a_failed_compile_says_so_once_and_renders_eagerly(trained, monkeypatch, capsys):
    model, camera = trained

    def broken(function, **options):
        def run(*args, **kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")

        return run

    monkeypatch.setattr(compiled_module.torch, "compile", broken)
    monkeypatch.setattr(compiled_module, "_failed", {})
    with torch.no_grad():
        eager = model.get_outputs_for_camera(camera)["rgb"]
        with compiled_fields(model):
            first = model.get_outputs_for_camera(camera)["rgb"]
            second = model.get_outputs_for_camera(camera)["rgb"]
    said = capsys.readouterr().out
    assert said.count("compiled fields unavailable") == 1 and "No working C++ compiler" in said
    torch.testing.assert_close(first, eager)
    torch.testing.assert_close(second, eager)


@pytest.mark.slow
def test_the_compiled_fields_render_the_eager_image(trained, monkeypatch):
    """Inductor for real (tens of seconds): the grid encoding stays one registered operator, not a graph break."""
    model, camera = trained
    monkeypatch.setattr(compiled_module, "_failed", {})
    torch._dynamo.reset()
    with torch.no_grad():
        eager = model.get_outputs_for_camera(camera)["rgb"]
        with compiled_fields(model):
            compiled = model.get_outputs_for_camera(camera)["rgb"]
    assert compiled_module._failed == {}
    assert dict(torch._dynamo.utils.counters["graph_break"]) == {}
    mse = float(((compiled - eager) ** 2).mean())
    assert mse == 0.0 or -10 * torch.log10(torch.tensor(mse)) >= 45.0, mse
