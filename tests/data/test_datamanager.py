"""The single-process data manager: uint8 cache, frame index on every ray, sampler from config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.data.face_focused_sampler import FaceFocusedSamplerConfig
from rad_nerfstudio.data.lips_patches import lips_patch_indices
from rad_nerfstudio.data.pixel_samplers import PortraitPixelSamplerConfig
from rad_nerfstudio.data.portrait_tables import LIPS_PATCH_KEY, PORTRAIT_METADATA_KEY
from rad_nerfstudio.data.sampler_base import UniformPixelSampler
from tests.helpers import read_rgb


@pytest.fixture
def manager(dataset):
    return TalkingPortraitDataManagerConfig(data=dataset).setup(device="cpu")


def test_images_are_cached_as_uint8_at_their_byte_size(manager):
    assert manager.train_images.dtype == torch.uint8
    assert manager.train_images.shape == (90, 96, 96, 3)
    assert manager.train_images.numel() * manager.train_images.element_size() == 90 * 96 * 96 * 3
    assert manager.eval_images.shape == (10, 96, 96, 3)


def test_training_rays_carry_their_frame_index_and_their_pixel_color(manager, dataset):
    ray_bundle, batch = manager.next_train(0)
    indices = batch["indices"]
    tables = manager.train_dataset.metadata[PORTRAIT_METADATA_KEY]
    frame_rows = ray_bundle.metadata["frame_idx"][:, 0]
    assert torch.equal(frame_rows, tables.splits["train"][indices[:, 0]])
    for k in range(5):
        image_idx, row, col = indices[k].tolist()
        img_id = int(tables.img_ids[frame_rows[k]])
        expected = read_rgb(dataset / "gt_imgs" / f"{img_id}.jpg")[row, col] / 255.0
        np.testing.assert_allclose(batch["image"][k].numpy(), expected, atol=1e-6)
    assert batch["image"].dtype == torch.float32


def test_eval_rays_and_images_index_the_validation_rows(manager):
    tables = manager.eval_dataset.metadata[PORTRAIT_METADATA_KEY]
    ray_bundle, _ = manager.next_eval(0)
    assert set(ray_bundle.metadata["frame_idx"][:, 0].tolist()) <= set(tables.splits["val"].tolist())
    camera, batch = manager.next_eval_image(0)
    assert int(camera.metadata["frame_idx"][0, 0]) in tables.splits["val"].tolist()
    assert batch["image"].shape == (96, 96, 3)
    camera, batch = next(iter(manager.fixed_indices_eval_dataloader))  # what ns-eval iterates
    assert batch["image"].shape == (96, 96, 3) and camera.metadata["frame_idx"].shape == (1, 1)


def test_the_pixel_sampler_comes_from_config(dataset):
    config = TalkingPortraitDataManagerConfig(data=dataset)
    config.pixel_sampler = PortraitPixelSamplerConfig(num_rays_per_batch=512, seed=7)
    manager = config.setup(device="cpu")
    assert isinstance(manager.train_pixel_sampler, UniformPixelSampler)
    assert manager.get_train_rays_per_batch() == 512
    assert manager.next_train(0)[1]["indices"].shape == (512, 3)


def test_uniform_sampling_is_uniform_and_seeded():
    sampler = PortraitPixelSamplerConfig(num_rays_per_batch=20000, seed=3).setup(num_images=4, height=6, width=5)
    draws = torch.cat([sampler.sample(step) for step in range(10)])
    assert draws[:, 0].max() == 3 and draws[:, 1].max() == 5 and draws[:, 2].max() == 4 and draws.min() == 0
    flat = (draws[:, 0] * 30 + draws[:, 1] * 5 + draws[:, 2]).numpy()
    counts = np.bincount(flat, minlength=120)
    expected = len(flat) / 120
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < 180  # 119 degrees of freedom: p < 0.0005 above this
    again = PortraitPixelSamplerConfig(num_rays_per_batch=20000, seed=3).setup(num_images=4, height=6, width=5)
    assert torch.equal(again.sample(0), draws[:20000])


def test_downscaled_images_match_their_cameras(dataset):
    config = TalkingPortraitDataManagerConfig(data=dataset)
    config.dataparser.downscale_factor = 2
    manager = config.setup(device="cpu")
    assert manager.train_images.shape == (90, 48, 48, 3)
    assert int(manager.train_dataset.cameras.width[0]) == 48


def test_more_than_one_process_is_refused(dataset):
    with pytest.raises(ValueError, match="single process"):
        TalkingPortraitDataManagerConfig(data=dataset).setup(device="cpu", world_size=2)


def test_face_focused_sampling_puts_its_share_of_rays_in_the_face_rect():

    rects = torch.tensor([[10, 20, 30, 40], [0, 0, 5, 5]])
    sampler = PortraitPixelSamplerConfig(
        kind="face-focused", num_rays_per_batch=1000, face_focused=FaceFocusedSamplerConfig(face_fraction=0.6)
    ).setup(num_images=2, height=100, width=100, face_rects=rects)
    draws = sampler.sample(0)
    rect = rects[draws[:, 0]]
    inside = (
        (draws[:, 2] >= rect[:, 0])
        & (draws[:, 2] < rect[:, 2])
        & (draws[:, 1] >= rect[:, 1])
        & (draws[:, 1] < rect[:, 3])
    )
    assert bool(inside[:600].all())
    assert 0.6 <= float(inside.float().mean()) < 0.65  # plus the few uniform rays that land in a face
    sampler.torso_stage = True  # the head is frozen: the torso gets every ray, uniformly
    draws = sampler.sample(1)
    rect = rects[draws[:, 0]]
    inside = (draws[:, 2] >= rect[:, 0]) & (draws[:, 2] < rect[:, 2]) & (draws[:, 1] >= rect[:, 1])
    assert float((inside & (draws[:, 1] < rect[:, 3])).float().mean()) < 0.1


def test_the_model_switches_the_torso_stage_on_in_the_data_manager(manager):
    manager.torso_stage = True
    manager.next_train(0)
    assert manager.train_pixel_sampler.torso_stage


def test_backdrops_show_the_torso_layer_over_the_plate(manager, dataset):
    tables = manager.train_dataset.metadata[PORTRAIT_METADATA_KEY]
    k = 7
    img_id = int(tables.img_ids[manager.train_rows[k]])
    torso = read_rgb(dataset / "torso_imgs" / f"{img_id}.png")  # RGBA as stored, channels BGRA -> read as-is
    import cv2

    rgba = cv2.cvtColor(torso, cv2.COLOR_BGRA2RGBA)
    backdrop = manager.train_backdrops[k].numpy()
    plate = tables.background.numpy()
    opaque, clear = rgba[..., 3] == 255, rgba[..., 3] == 0
    assert opaque.any() and clear.any()
    assert np.array_equal(backdrop[opaque], rgba[..., :3][opaque])
    assert np.array_equal(backdrop[clear], plate[clear])


def test_a_torso_image_without_alpha_is_refused(dataset):
    import cv2

    from rad_nerfstudio.data.backdrops import torso_backdrop
    from rad_nerfstudio.errors import DatasetError

    path = dataset / "torso_imgs" / "4.png"
    cv2.imwrite(str(path), np.zeros((96, 96, 3), np.uint8))
    with pytest.raises(DatasetError, match="RGBA"):
        torso_backdrop(path, np.zeros((96, 96, 3), np.uint8))


def test_lips_patches_span_the_lips_rect_row_major():
    generator = torch.Generator().manual_seed(0)
    rect = torch.tensor([10, 20, 74, 84])  # 64 px square, patches of 32: every other pixel
    indices = lips_patch_indices(5, rect, 32, generator).reshape(32, 32, 3)
    assert (indices[..., 0] == 5).all()
    rows, cols = indices[:, 0, 1], indices[0, :, 2]
    assert (indices[..., 1] == rows[:, None]).all() and (indices[..., 2] == cols[None]).all()
    assert rows.min() >= 20 and rows.max() <= 83 and cols.min() >= 10 and cols.max() <= 73
    assert set(torch.diff(rows).tolist()) <= {1, 2, 3} and rows[-1] - rows[0] >= 61, "spread over the rect"
    exact = lips_patch_indices(0, torch.tensor([3, 4, 35, 36]), 32, generator).reshape(32, 32, 3)
    assert torch.equal(exact[:, 0, 1], torch.arange(4, 36)) and torch.equal(exact[0, :, 2], torch.arange(3, 35))


def test_the_lips_stage_serves_a_lips_patch_every_other_batch(manager):
    tables = manager.train_dataset.metadata[PORTRAIT_METADATA_KEY]
    _, batch = manager.next_train(0)
    assert LIPS_PATCH_KEY not in batch, "no patches outside the lips stage"
    manager.lips_stage = True
    ray_bundle, batch = manager.next_train(2)
    assert int(batch[LIPS_PATCH_KEY]) == 32 and batch["image"].shape == (32 * 32, 3)
    rows = ray_bundle.metadata["frame_idx"][:, 0]
    assert (rows == rows[0]).all(), "one frame per patch"
    x0, y0, x1, y1 = tables.rects["lips"][rows[0]].tolist()
    y, x = batch["indices"][:, 1], batch["indices"][:, 2]
    assert ((y >= y0) & (y < y1) & (x >= x0) & (x < x1)).all()
    _, batch = manager.next_train(3)
    assert LIPS_PATCH_KEY not in batch and batch["image"].shape[0] == manager.get_train_rays_per_batch()


def test_training_rays_carry_the_head_parsing_of_their_pixel(manager, dataset):
    from rad_nerfstudio.data.portrait_tables import HEAD_MASK_KEY
    from rad_nerfstudio.io.layout import read_parsing_labels

    _, batch = manager.next_train(0)
    tables = manager.train_dataset.metadata[PORTRAIT_METADATA_KEY]
    mask = batch[HEAD_MASK_KEY]
    assert mask.shape == (batch["indices"].shape[0],) and 0 < float(mask.mean()) < 1
    for k in range(20):
        image_idx, row, col = batch["indices"][k].tolist()
        img_id = int(tables.img_ids[tables.splits["train"][image_idx]])
        labels = read_parsing_labels(dataset / "parsing" / f"{img_id}.png")
        assert float(mask[k]) == float(labels[row, col] == 1)


def test_without_parsing_images_the_head_mask_is_left_out_and_half_a_set_is_refused(dataset):
    from rad_nerfstudio.data.portrait_tables import HEAD_MASK_KEY
    from rad_nerfstudio.errors import DatasetError

    parsing = sorted((dataset / "parsing").glob("*.png"))
    parsing[3].unlink()
    with pytest.raises(DatasetError, match="parsing of a training frame"):
        TalkingPortraitDataManagerConfig(data=dataset).setup(device="cpu")
    for path in parsing[:3] + parsing[4:]:
        path.unlink()
    _, batch = TalkingPortraitDataManagerConfig(data=dataset).setup(device="cpu").next_train(0)
    assert HEAD_MASK_KEY not in batch
