"""Test-time alignment of held-out frames' torso latents: the offsets' hook in the torso field and the fit."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.evaluation.pose_alignment import AlignmentSettings
from rad_nerfstudio.evaluation.torso_alignment import _pixels_outside, align_held_out_torso
from tests.model_steps import build_model, sample_manager, small_rad_config


@pytest.fixture
def torso_model(dataset):
    """A tiny model in its torso stage whose torso reads its latent (random MLP weights, no EMA)."""
    manager = sample_manager(dataset)
    torch.manual_seed(0)
    model = build_model(small_rad_config(lips_steps=0), manager)
    grid = {id(p) for p in model.torso.grid.parameters()}
    with torch.no_grad():  # the table keeps its tiny start: random fine levels would make the fit's landscape rough
        for p in model.torso.parameters():
            if id(p) not in grid:
                p.normal_(0.0, 1.0)
    model.ema = None  # renders read the live weights
    model.step = model.schedule.torso_start
    model.eval()
    return manager, model


def _frame_error(model, cameras, images, k: int) -> float:
    render = model.get_outputs_for_camera(cameras[k : k + 1])["rgb"]
    return float((render - images[k].float() / 255).square().mean())


def test_held_out_offsets_move_untrained_frames_only(torso_model):
    manager, model = torso_model
    val, train = manager.tables.splits["val"][:1], manager.tables.splits["train"][:1]
    rows = torch.cat([val, train])
    before = model.torso.frame_latents(rows).clone()
    offsets = torch.zeros_like(model.torso.latents.weight)
    offsets[rows] = 0.5
    model.torso.held_out = offsets
    after = model.torso.frame_latents(rows)
    assert torch.allclose(after[0], before[0] + 0.5), "a held-out frame reads the mean plus its offset"
    assert torch.equal(after[1], before[1]), "a trained frame reads its own latent"


def test_pixels_outside_the_face_carry_the_weight():
    face = torch.tensor([[2, 3, 6, 8]])  # x0, y0, x1, y1
    pixels, weights = _pixels_outside(face, 10, 10, 500, torch.Generator().manual_seed(0))
    y, x = pixels[0, :, 0], pixels[0, :, 1]
    inside = (x >= 2) & (x < 6) & (y >= 3) & (y < 8)
    assert inside.any() and (~inside).any()
    assert torch.equal(weights[0], (~inside).float())


def test_alignment_finds_a_held_out_frames_torso(torso_model):
    """Two held-out frames rendered by the model itself, the first with its torso latent moved: the fit takes the
    first one's error down, leaves the second near the mean, and leaves the model as it found it."""
    manager, model = torso_model
    rows = manager.tables.splits["val"][:2]
    cameras = manager.eval_dataset.cameras[0:2]
    moved = torch.zeros_like(model.torso.latents.weight)
    moved[rows[0]] = 0.25
    model.torso.held_out = moved
    with torch.no_grad():
        images = torch.stack(
            [(model.get_outputs_for_camera(cameras[k : k + 1])["rgb"] * 255).round().byte() for k in range(2)]
        )
    model.torso.held_out = None
    start = _frame_error(model, cameras, images, 0)
    model.train()
    latents = align_held_out_torso(model, cameras, rows, images, AlignmentSettings(steps=60, rays_per_frame=512))
    assert latents is not None and latents.shape == (2, model.torso.config.latent_dim)
    assert model.training and all(p.requires_grad for p in model.parameters()), "mode and weights given back"
    assert model.torso.held_out is not None, "the fitted offsets stay for the renders that follow"
    model.eval()
    assert _frame_error(model, cameras, images, 0) < 0.3 * start, "the moved torso is found"
    assert latents[1].norm() < 0.5 * latents[0].norm(), "the frame that was not moved stays near the mean"


def test_nothing_is_fitted_before_the_torso_stage(torso_model):
    manager, model = torso_model
    model.step = 0
    rows = manager.tables.splits["val"][:1]
    images = torch.zeros(1, 8, 8, 3, dtype=torch.uint8)
    assert align_held_out_torso(model, manager.eval_dataset.cameras[0:1], rows, images) is None
    assert model.torso.held_out is None
