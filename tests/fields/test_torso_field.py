"""The pseudo-3D torso field."""

from __future__ import annotations

import torch

from rad_nerfstudio.field_components.hash_grid import HashGridConfig
from rad_nerfstudio.fields.torso_field import TorsoField, TorsoFieldConfig

GRID = HashGridConfig(num_levels=4, features_per_level=2, log2_hashmap_size=10, base_resolution=4, finest_resolution=64)


def test_outputs_ranges_and_gradients():
    field = TorsoField(TorsoFieldConfig(grid=GRID, hidden_dim=32), num_frames=5)
    pixels = torch.rand(50, 2) * 2 - 1
    pose = torch.randn(50, 12)
    out = field(pixels, pose, torch.arange(50) % 5)
    assert out["rgb"].shape == (50, 3) and out["alpha"].shape == (50, 1)
    assert torch.all((out["alpha"] >= 0) & (out["alpha"] <= 1))
    assert torch.all(out["offset"] == 0), "the deformation starts at zero"
    (out["rgb"].sum() + out["alpha"].sum()).backward()
    assert field.grid.table.grad is not None and field.grid.table.grad.abs().sum() > 0
    last = [m for m in field.deform.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0, "the pose can learn to deform"


def _trained_looking_field(num_frames: int) -> TorsoField:
    """A torso field with random weights, biases, table and latents (a fresh one deforms nothing)."""
    field = TorsoField(TorsoFieldConfig(grid=GRID, hidden_dim=32), num_frames=num_frames)
    with torch.no_grad():
        for module in field.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0, 0.3)
                module.bias.normal_(0, 0.1)
        field.grid.table.normal_()
        field.latents.weight.normal_()
    return field


def test_the_pose_moves_the_torso_once_deformation_is_learned():
    field = _trained_looking_field(num_frames=2)
    pixels = torch.rand(20, 2) * 2 - 1
    a = field(pixels, torch.zeros(20, 12), torch.zeros(20).long())
    b = field(pixels, torch.ones(20, 12), torch.zeros(20).long())
    assert not torch.allclose(a["offset"], b["offset"]) and not torch.allclose(a["rgb"], b["rgb"])


def test_one_pose_row_for_a_whole_frame_gives_the_per_pixel_result():
    """A whole frame's render passes its pose and frame once: the same output as the pose on every pixel.

    The two evaluate the first layer in a different order, so the offsets differ by float32 rounding (up to 3e-6 over
    300 seeds, at offsets of several units from these random weights) and the rough random table turns that into up to
    5e-5 in colour and alpha (the draw is seeded for every test in ``tests/conftest.py``).
    """
    field = _trained_looking_field(num_frames=3)
    pixels = torch.rand(40, 2) * 2 - 1
    pose = torch.randn(1, 12)
    once = field(pixels, pose, torch.tensor([2]))
    per_pixel = field(pixels, pose.expand(40, 12), torch.full((40,), 2))
    assert once["offset"].abs().max() > 1e-3, "the deformation is not trivially zero"
    assert torch.allclose(once["offset"], per_pixel["offset"], atol=1e-5)
    for key in ("rgb", "alpha"):
        assert torch.allclose(once[key], per_pixel[key], atol=2e-4), key


def test_frames_marked_untrained_read_the_trained_frames_mean_latent():
    """A held-out frame's own latent never leaves zero; it reads the mean of the frames that training reaches."""
    field = _trained_looking_field(num_frames=4).eval()
    pixels = torch.rand(30, 2) * 2 - 1
    pose = torch.randn(1, 12)
    before = {row: field(pixels, pose, torch.tensor([row])) for row in range(4)}
    field.mark_trained(torch.tensor([0, 1, 2]))
    weight = field.latents.weight
    field.train()  # training batches hold trained frames only: each frame reads its own latent, no mean
    assert torch.equal(field.frame_latents(torch.tensor([0, 3])), weight[[0, 3]])
    field.eval()
    assert torch.equal(field.frame_latents(torch.tensor([0, 3])), torch.stack([weight[0], weight[:3].mean(0)]))
    for row in (0, 1, 2):  # trained frames are untouched
        assert torch.equal(field(pixels, pose, torch.tensor([row]))["rgb"], before[row]["rgb"])
    held_out = field(pixels, pose, torch.tensor([3]))["rgb"]
    assert not torch.allclose(held_out, before[3]["rgb"])
    with torch.no_grad():
        weight[3] = weight[:3].mean(0)  # what the untrained frame now reads
    field.mark_trained(torch.arange(4))
    assert torch.allclose(field(pixels, pose, torch.tensor([3]))["rgb"], held_out, atol=1e-6)
    (field(pixels, pose.expand(30, 12), torch.full((30,), 1))["rgb"].sum()).backward()
    assert weight.grad is not None and weight.grad[1].abs().sum() > 0, "a trained frame's latent learns"


def test_a_fresh_field_treats_every_frame_as_trained():
    field = _trained_looking_field(num_frames=3)
    rows = torch.tensor([0, 2, 1])
    assert torch.equal(field.frame_latents(rows), field.latents.weight[rows])
