"""The rad-nerf model on the sample: outputs, stage-dependent gradients, occupancy updates, nerfstudio round trip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from nerfstudio.engine.callbacks import TrainingCallbackAttributes

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.field_components.hash_grid import HashGridConfig
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig

GRID = HashGridConfig(num_levels=4, features_per_level=2, log2_hashmap_size=10, base_resolution=8, finest_resolution=64)


@pytest.fixture
def parts(dataset):
    config = TalkingPortraitDataManagerConfig(data=dataset)
    config.pixel_sampler.num_rays_per_batch = 256
    manager = config.setup(device="cpu")
    model = RadNerfModelConfig(
        head=RadHeadFieldConfig(spatial_grid=GRID, audio_grid=GRID, hidden_dim=32),
        torso=TorsoFieldConfig(grid=GRID, hidden_dim=32),
        occupancy=OccupancyGridConfig(resolution=16, candidates=48),
        head_steps=10,
    ).setup(
        scene_box=manager.train_dataset.scene_box,
        num_train_data=len(manager.train_dataset),
        metadata=manager.train_dataset.metadata,
    )
    return manager, model


def _step(manager, model, step):
    model.step = step
    ray_bundle, batch = manager.next_train(step)
    outputs = model(ray_bundle)
    losses = model.get_loss_dict(outputs, batch, model.get_metrics_dict(outputs, batch))
    model.zero_grad(set_to_none=True)
    sum(losses.values()).backward()
    return outputs, losses


def test_head_stage_outputs_losses_and_gradients(parts):
    manager, model = parts
    outputs, losses = _step(manager, model, 0)
    for key, width in (("rgb", 3), ("head_rgb", 3), ("accumulation", 1), ("depth", 1), ("ambient", 1)):
        assert outputs[key].shape == (256, width), key
    assert set(losses) == {"rgb_loss", "entropy_loss", "ambient_loss"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert model.head.spatial.table.grad is not None and model.head.spatial.table.grad.abs().sum() > 0
    assert model.audio_encoder.net.head[0].weight.grad is not None, "the audio path is trained"
    assert model.torso.grid.table.grad is None, "the torso waits for its stage"


def test_torso_stage_freezes_the_head_and_trains_the_torso(parts):
    manager, model = parts
    outputs, losses = _step(manager, model, 10)
    assert model.stage == "torso" and set(losses) == {"rgb_loss"}
    assert outputs["torso_alpha"].shape == (256, 1)
    assert model.torso.grid.table.grad is not None and model.torso.grid.table.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.head.parameters()), "head frozen: no gradients at all"
    assert all(p.grad is None for p in model.audio_encoder.parameters())


def test_param_groups_split_grids_from_mlps_and_the_torso_from_the_head(parts):
    _, model = parts
    groups = model.get_param_groups()
    assert {id(p) for p in groups["grids"]} == {id(model.head.spatial.table), id(model.head.audio.table)}
    assert [id(p) for p in groups["torso_grids"]] == [id(model.torso.grid.table)]
    assert {id(p) for p in groups["torso_mlps"]} | {id(model.torso.grid.table)} == {
        id(p) for p in model.torso.parameters()
    }
    assert sum(len(g) for g in groups.values()) == len(list(model.parameters()))


def test_the_trained_step_and_so_the_stage_is_saved_with_the_model(parts):
    _, model = parts
    model.step = 12
    state = {key: value.clone() for key, value in model.state_dict().items()}
    assert int(state["trained_steps"]) == 12
    model.step = 0
    model.load_state_dict(state)
    assert model.step == 12 and model.stage == "torso" and model.torso_trained


def test_occupancy_callback_updates_the_grid_under_a_training_condition(parts):
    _, model = parts
    callbacks = model.get_training_callbacks(TrainingCallbackAttributes(None, None, None, None))
    assert model.occupancy.occupancy_ratio() == 1.0
    for callback in callbacks:
        callback.run_callback_at_location(0, callback.where_to_run[0])
    assert int(model.occupancy.updates) == 1 and torch.isfinite(model.occupancy.density).all()


def test_full_image_rendering_uses_the_frame_and_the_viewer_frame(parts):
    manager, model = parts
    model.eval()
    camera, batch = manager.next_eval_image(0)
    outputs = model.get_outputs_for_camera(camera)
    assert outputs["rgb"].shape == (96, 96, 3) and outputs["torso_rgb"].shape == (96, 96, 3)
    metrics, images = model.get_image_metrics_and_images(outputs, batch)
    assert set(metrics) == {"psnr", "ssim"} and images["img"].shape == (96, 192, 3)
    camera.metadata = None  # a viewer camera carries no frame: the viewer's frame is used
    assert model.get_outputs_for_camera(camera)["rgb"].shape == (96, 96, 3)


def _nerfstudio(command: str, *args: str) -> str:
    """Run one of nerfstudio's own commands from this environment; its output, or a failure showing it."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / command), *args], capture_output=True, text=True, timeout=400
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_ns_train_then_ns_eval_and_a_stage_alone_from_the_checkpoint(dataset, tmp_path):
    """On a dataset laid out exactly like the anchors' (their files only, DeepSpeech features), nerfstudio's own
    trainer writes a checkpoint that its own ns-eval and --load-dir read back."""
    shutil.rmtree(dataset / "gt")
    shutil.rmtree(dataset / "raw")
    np.save(dataset / "aud_ds.npy", np.random.default_rng(0).normal(size=(100, 16, 29)).astype(np.float32))
    common = [
        "rad-nerf-small",
        "--data",
        str(dataset),
        "--vis",
        "tensorboard",
        "--output-dir",
        str(tmp_path),
        "--timestamp",
        "t",
        "--steps-per-eval-image",
        "1000",
        "--pipeline.model.head-steps",
        "2",
        "--pipeline.datamanager.pixel-sampler.num-rays-per-batch",
        "128",
    ]
    log = _nerfstudio("ns-train", *common, "--max-num-iterations", "4", "--steps-per-save", "4")
    assert "deepspeech [100, 16, 29]" in log.replace("\n", " ")
    run = tmp_path / dataset.name / "rad-nerf-small" / "t"
    assert list((run / "nerfstudio_models").glob("step-*.ckpt"))
    metrics = tmp_path / "metrics.json"
    _nerfstudio("ns-eval", "--load-config", str(run / "config.yml"), "--output-path", str(metrics))
    assert "psnr" in json.loads(metrics.read_text())["results"]
    _nerfstudio("ns-train", *common, "--load-dir", str(run / "nerfstudio_models"), "--max-num-iterations", "6")
