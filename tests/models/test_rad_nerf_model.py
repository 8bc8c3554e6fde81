"""The rad-nerf model on the sample: outputs, stage-dependent gradients, occupancy updates, nerfstudio round trip."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nerfstudio.engine.callbacks import TrainingCallbackLocation
from nerfstudio.viewer.utils import parse_object
from nerfstudio.viewer.viewer_elements import ViewerElement

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.data.error_map_sampler import ErrorMapSamplerConfig
from rad_nerfstudio.data.pixel_samplers import PortraitPixelSamplerConfig
from rad_nerfstudio.engine.commands import BIN, ns_train_command
from rad_nerfstudio.engine.manual_steps import run_callbacks
from rad_nerfstudio.model_components.losses import photometric_loss
from rad_nerfstudio.render.controls import RenderControls
from tests.conftest import TINY_RUN_ARGS
from tests.model_steps import TINY_GRID, build_model, pipeline_callbacks, sample_manager, small_rad_config, train_step

GRID = TINY_GRID


def _model(manager, **overrides):
    """A small rad-nerf model: 10 head steps, 2 lips steps, then the torso."""
    return build_model(small_rad_config(**overrides), manager)


@pytest.fixture
def parts(dataset):
    manager = sample_manager(dataset)
    torch.manual_seed(0)  # a fresh model's small effects must not depend on which tests ran before
    return manager, _model(manager)


def test_head_stage_outputs_losses_and_gradients(parts):
    manager, model = parts
    outputs, losses = train_step(manager, model, 0)
    for key, width in (("rgb", 3), ("head_rgb", 3), ("accumulation", 1), ("depth", 1), ("ambient", 1)):
        assert outputs[key].shape == (256, width), key
    assert set(losses) == {"rgb_loss", "entropy_loss", "ambient_loss"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert model.head.spatial.table.grad is not None and model.head.spatial.table.grad.abs().sum() > 0
    assert model.audio_encoder.net.head[0].weight.grad is not None, "the audio path is trained"
    assert model.torso.grid.table.grad is None, "the torso waits for its stage"


def test_head_mask_loss_pulls_the_opacity_towards_the_parsing(parts):
    manager, _ = parts
    model = _model(manager, head_mask_loss_mult=0.5)
    outputs, losses = train_step(manager, model, 0)
    assert "head_mask_loss" in losses and torch.isfinite(losses["head_mask_loss"]) and losses["head_mask_loss"] > 0
    _, batch = manager.next_train(0)
    head = batch["head_mask"]
    opacity = torch.full_like(head, 0.5, requires_grad=True)
    loss = model.get_loss_dict({**outputs, "accumulation": opacity[:, None]}, batch)["head_mask_loss"]
    (grad,) = torch.autograd.grad(loss, opacity)
    assert bool((grad[head == 1] < 0).all() and (grad[head == 0] > 0).all()), "more opaque on the head, less off it"
    outputs, losses = train_step(manager, model, 12)
    assert model.stage == "torso" and "head_mask_loss" not in losses


def test_lips_stage_alternates_lips_patches_with_lpips_and_ordinary_batches(parts):
    manager, model = parts
    outputs, losses = train_step(manager, model, 10)
    assert model.stage == "lips" and manager.lips_stage
    assert outputs["rgb"].shape == (32 * 32, 3)
    assert set(losses) == {"rgb_loss", "entropy_loss", "ambient_loss", "lips_lpips_loss"}
    assert torch.isfinite(losses["lips_lpips_loss"]) and losses["lips_lpips_loss"] > 0
    assert model.head.spatial.table.grad is not None and model.head.spatial.table.grad.abs().sum() > 0
    assert not any("lpips" in name for name in model.state_dict()), "LPIPS is neither saved nor trained"
    assert sum(len(g) for g in model.get_param_groups().values()) == len(list(model.parameters()))
    outputs, losses = train_step(manager, model, 11)
    assert outputs["rgb"].shape == (256, 3) and "lips_lpips_loss" not in losses
    train_step(manager, model, 12)
    assert model.stage == "torso" and not manager.lips_stage and manager.torso_stage


def test_the_data_manager_follows_the_model_stages_through_its_own_callbacks(parts):
    manager, model = parts
    callbacks = pipeline_callbacks(manager, model)
    before = TrainingCallbackLocation.BEFORE_TRAIN_ITERATION
    for step, lips, torso in ((0, False, False), (10, True, False), (12, False, True)):
        run_callbacks(callbacks, step, before)
        assert (model.stage, manager.lips_stage, manager.torso_stage) == (model.schedule.stage_at(step), lips, torso)
    assert manager.train_pixel_sampler.torso_stage, "the sampler draws the torso stage's rays"
    manager.next_train(12)
    with pytest.raises(ValueError, match="3 ray errors for a batch of 256 rays"):
        manager.feed_back(torch.zeros(3), 12)


def test_torso_stage_freezes_the_head_and_trains_the_torso(parts):
    manager, model = parts
    outputs, losses = train_step(manager, model, 12)
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
    model.step = 14
    state = {key: value.clone() for key, value in model.state_dict().items()}
    assert int(state["trained_steps"]) == 14
    model.step = 0
    model.load_state_dict(state)
    assert model.step == 14 and model.stage == "torso" and model.torso_trained


def test_occupancy_callback_updates_the_grid_under_a_training_condition(parts):
    _, model = parts
    callbacks = pipeline_callbacks(*parts)
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
    assert next(iter(outputs)) == "rgb", "nerfstudio's viewer opens on the first output"
    metrics, images = model.get_image_metrics_and_images(outputs, batch)
    assert set(metrics) == {"psnr", "ssim"} and images["img"].shape == (96, 192, 3)
    camera.metadata = None  # a viewer camera carries no frame: the viewer's frame is used
    assert model.get_outputs_for_camera(camera)["rgb"].shape == (96, 96, 3)


def _run(*command: str) -> str:
    """Run a command line; its output, or a failure showing it."""
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_ns_train_then_ns_eval_and_a_stage_alone_from_the_checkpoint(dataset, tmp_path):
    """On a dataset laid out exactly like the anchors' (their files only, DeepSpeech features), nerfstudio's own
    trainer writes a checkpoint that its own ns-eval (with the aligned-pose scores) and --load-dir read back."""
    shutil.rmtree(dataset / "gt")
    shutil.rmtree(dataset / "raw")
    np.save(dataset / "aud_ds.npy", np.random.default_rng(0).normal(size=(100, 16, 29)).astype(np.float32))
    common = ns_train_command("rad-nerf-small", dataset, tmp_path, "--timestamp", "t", "--steps-per-eval-image", "1000")
    common += (*TINY_RUN_ARGS, "--pipeline.datamanager.dataparser.audio-features", "auto")  # the anchors' file
    log = _run(*common, "--max-num-iterations", "4", "--steps-per-save", "4")
    assert "deepspeech [100, 16, 29]" in log.replace("\n", " ")
    run = tmp_path / dataset.name / "rad-nerf-small" / "t"
    assert list((run / "nerfstudio_models").glob("step-*.ckpt"))
    metrics = tmp_path / "metrics.json"
    _run(str(BIN / "ns-eval"), "--load-config", str(run / "config.yml"), "--output-path", str(metrics))
    results = json.loads(metrics.read_text())["results"]
    # as rad-eval: the poses as given, then after each validation frame's test-time alignment
    assert {"psnr", "ssim", "aligned_psnr", "aligned_ssim", "aligned_rotation_mean_deg"} <= set(results)
    assert "aligned_fps" not in results and np.isfinite(results["aligned_psnr"])
    _run(*common, "--load-dir", str(run / "nerfstudio_models"), "--max-num-iterations", "6")


def _render(model, camera):
    return model.get_outputs_for_camera(camera)


def _changed(image, reference):
    """Renders are deterministic (checked below), so any difference comes from the control; a fresh model's audio
    and eye effects are small."""
    return float((image - reference).abs().max()) > 1e-6


def _untrained_audio_matters(model):
    """A fresh audio grid holds near-zero features; make them large so that the audio visibly acts."""
    with torch.no_grad():
        model.head.audio.table.normal_(std=10.0, generator=torch.Generator().manual_seed(0))
    model.ema.decay = 0.0
    model.ema.update()  # renders use the EMA weights: make them the live ones


def test_render_controls_change_what_dataset_cameras_show(parts):
    manager, model = parts
    model.eval()
    _untrained_audio_matters(model)
    camera, _ = manager.next_eval_image(0)
    row = int(camera.metadata["frame_idx"][0, 0])
    base = _render(model, camera)
    assert torch.equal(base["rgb"], _render(model, camera)["rgb"]), "deterministic"
    other_audio = (row + 37) % len(model.eye)
    controls = {
        "audio": RenderControls(audio_frame=other_audio),
        "audio code": RenderControls(audio_code=model.audio_codes(torch.tensor([other_audio]))[0]),
        "eye": RenderControls(eye=1.0 - float(model.eye[row])),
        "no torso": RenderControls(torso=False),
    }
    for name, control in controls.items():
        model.render_controls = control
        assert _changed(_render(model, camera)["rgb"], base["rgb"]), name
    model.render_controls = RenderControls(audio_frame=other_audio)
    by_frame = _render(model, camera)["rgb"]
    model.render_controls = controls["audio code"]
    torch.testing.assert_close(_render(model, camera)["rgb"], by_frame)
    plates = {}
    for name, color in (("green", [0, 255, 0]), ("red", [255, 0, 0])):
        plate = torch.tensor(color, dtype=torch.uint8).expand(96, 96, 3)
        model.render_controls = RenderControls(torso=False, background=plate)
        plates[name] = _render(model, camera)
    seen = 1 - plates["green"]["accumulation"][..., 0]  # how much of the plate shows through the head
    difference = plates["green"]["rgb"] - plates["red"]["rgb"]
    assert seen.max() > 0.05
    torch.testing.assert_close(difference, torch.stack([-seen, seen, torch.zeros_like(seen)], -1), atol=1e-5, rtol=0)


def test_viewer_controls_are_installed_by_the_viewer_and_drive_viewer_cameras(parts):
    manager, model = parts
    model.eval()
    _untrained_audio_matters(model)
    found = {element.name: element for _, element in parse_object(model, ViewerElement, "Custom Elements")}
    assert set(found) >= {"Audio frame", "Audio smoothing", "Eye from the audio frame", "Eye openness", "Torso"}
    assert {"Background", "Background colour"} <= set(found)
    camera, _ = manager.next_eval_image(0)
    dataset_view, frame = _render(model, camera)["rgb"], camera.metadata
    camera.metadata = None  # what the viewer sends
    viewer = _render(model, camera)["rgb"]

    def change(name, value):
        found[name].value = value
        found[name].cb_hook(found[name])  # what the viewer calls on a GUI change
        return _render(model, camera)["rgb"]

    assert _changed(change("Audio frame", 50), viewer)
    assert model.viewer_controls.controls.audio_frame == 50
    assert _changed(change("Audio smoothing", 0.9), change("Audio smoothing", 0.0))
    change("Eye from the audio frame", False)
    assert _changed(change("Eye openness", 0.0), change("Eye openness", 1.5))
    change("Torso", False)
    change("Background", "colour")
    white = change("Background colour", (255, 255, 255))
    black = change("Background colour", (0, 0, 0))
    seen = 1 - model.get_outputs_for_camera(camera)["accumulation"]
    torch.testing.assert_close(white - black, seen.expand(-1, -1, 3), atol=1e-5, rtol=0)
    camera.metadata = frame
    torch.testing.assert_close(_render(model, camera)["rgb"], dataset_view, msg="viewer controls leaked")


def test_each_stage_uses_its_photometric_loss(parts):
    manager, model = parts
    model.config.photometric_loss, model.config.lips_photometric_loss = "l1", "smooth_l1"
    model.config.loss_beta = 0.1
    expected = {0: "l1", 10: "smooth_l1", 12: "l1"}  # head, lips, torso (unset: the head's)
    for step, kind in expected.items():
        train_step(manager, model, step)
        assert model.stage_photometric_loss == kind
        ray_bundle, batch = manager.next_train(step + 1)
        outputs = model(ray_bundle)
        expected_loss = photometric_loss(kind, outputs["rgb"], batch["image"], 0.1)
        torch.testing.assert_close(model.get_loss_dict(outputs, batch)["rgb_loss"], expected_loss)
    model.config.torso_photometric_loss = "huber"
    model.step = 12
    assert model.stage_photometric_loss == "huber"


def test_training_feeds_per_ray_errors_to_the_error_map_sampler(dataset):
    config = TalkingPortraitDataManagerConfig(data=dataset)
    config.pixel_sampler = PortraitPixelSamplerConfig(
        kind="error-map", num_rays_per_batch=256, error_map=ErrorMapSamplerConfig(map_resolution=16)
    )
    manager = config.setup(device="cpu")
    model = _model(manager)
    callbacks = pipeline_callbacks(manager, model)
    train_step(manager, model, 0)
    ray_bundle, batch = manager.next_train(0)
    outputs = model(ray_bundle)
    losses = model.get_loss_dict(outputs, batch)
    run_callbacks(callbacks, 1, TrainingCallbackLocation.AFTER_TRAIN_ITERATION)
    sampler = manager.train_pixel_sampler
    known = ~torch.isnan(sampler.error_map)
    assert 0 < int(known.sum()) <= 256
    per_ray = F.mse_loss(outputs["rgb"], batch["image"], reduction="none").mean(-1).detach()
    image, y, x = batch["indices"][0].tolist()
    cell = sampler.error_map[image, y * 16 // 96, x * 16 // 96]
    assert torch.isfinite(cell) and float(sampler.mean_error) == pytest.approx(float(per_ray.mean()), rel=1e-5)
    assert float(losses["rgb_loss"].detach()) == pytest.approx(float(per_ray.mean()), rel=1e-5)
    assert "train_pixel_sampler.error_map" in manager.state_dict(), "saved with the pipeline's checkpoints"


def test_the_study_grid_preset_widens_every_table(parts):
    manager, small = parts
    study = _model(manager, grid_preset="study")
    for name in ("head.spatial", "head.audio", "torso.grid"):
        table = study.get_submodule(name).table
        assert table.shape[-1] == 2 and table.shape[-2] == 2**16, name
    assert sum(p.numel() for p in study.parameters()) > sum(p.numel() for p in small.parameters())


def test_the_held_out_frames_torso_reads_the_training_frames_mean_latent(parts):
    _, model = parts
    assert bool(model.torso.untrained[model.val_rows].all()) and not bool(model.torso.untrained[model.train_rows].any())
