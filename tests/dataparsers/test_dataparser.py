"""The talking-portrait dataparser: conventions, splits, tables and options."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rad_nerfstudio.dataparsers.talking_portrait_dataparser import TalkingPortraitDataParserConfig

from rad_nerfstudio.data.portrait_tables import FRAME_INDEX_KEY, PORTRAIT_METADATA_KEY
from tests.helpers import read_transforms


def _parse(dataset, **options):
    parser = TalkingPortraitDataParserConfig(data=dataset, **options).setup()
    return parser.get_dataparser_outputs("train"), parser.get_dataparser_outputs("val")


@pytest.mark.parametrize("downscale", [1, 2])
def test_rays_through_the_lms_pixels_hit_the_gt_3d_landmarks(dataset, downscale):
    """nerfstudio's own ray generation through each landmark's pixel passes within 1 px of the 3D landmark."""
    params = np.load(dataset / "gt" / "params.npz")
    scale = 4.0
    for outputs in _parse(dataset, downscale_factor=downscale, scene_scale=scale):
        tables = outputs.metadata[PORTRAIT_METADATA_KEY]
        cameras = outputs.cameras
        for k in (0, len(cameras) // 2, len(cameras) - 1):
            row = int(cameras.metadata[FRAME_INDEX_KEY][k, 0])
            img_id = int(tables.img_ids[row])
            lms = np.loadtxt(dataset / "ori_imgs" / f"{img_id}.lms")
            lms = (lms + 0.5) / downscale - 0.5  # pixel-index coordinates at the output size
            coords = torch.from_numpy(lms[:, ::-1] + 0.5).float()  # nerfstudio (row, col) of the pixel centre
            rays = cameras.generate_rays(camera_indices=k, coords=coords)
            points = torch.from_numpy(params["landmarks_3d"][img_id] * scale).float()
            to_point = points - rays.origins
            along = (to_point * rays.directions).sum(-1, keepdim=True)
            miss = (to_point - along * rays.directions).norm(dim=-1)
            pixels = miss / along[:, 0] * cameras.fx[k, 0]
            assert pixels.max() < 1.0, f"frame {img_id}: {pixels.max():.2f} px"
            assert torch.all(points.abs() < outputs.scene_box.aabb[1]), "the head is inside the scene box"


def test_splits_and_frame_indices_follow_the_json_files(dataset):
    train, val = _parse(dataset)
    tables = train.metadata[PORTRAIT_METADATA_KEY]
    assert tables is val.metadata[PORTRAIT_METADATA_KEY] or torch.equal(
        tables.img_ids, val.metadata["portrait"].img_ids
    )
    for outputs, split in ((train, "train"), (val, "val")):
        ids = [f["img_id"] for f in read_transforms(dataset, split)["frames"]]
        rows = outputs.cameras.metadata[FRAME_INDEX_KEY][:, 0]
        assert outputs.cameras.metadata[FRAME_INDEX_KEY].shape == (len(ids), 1)
        assert tables.img_ids[rows].tolist() == ids
        assert [p.name for p in outputs.image_filenames] == [f"{i}.jpg" for i in ids]
        assert all(p.parent.name == "gt_imgs" for p in outputs.image_filenames)
    assert tables.num_frames == 100 and tables.audio_index.tolist() == tables.img_ids.tolist()
    assert tables.head_poses.shape == (100, 3, 4)
    assert len(tables.torso_paths) == 100 and all(p.exists() for p in tables.torso_paths)


def test_intrinsics_use_nerfstudio_pixel_centres_and_scale_with_downscale(dataset):
    content = read_transforms(dataset, "train")
    train, _ = _parse(dataset)
    assert float(train.cameras.fx[0]) == pytest.approx(content["focal_len"])
    assert float(train.cameras.cx[0]) == pytest.approx(content["cx"] + 0.5)
    small, _ = _parse(dataset, downscale_factor=2)
    assert int(small.cameras.width[0]) == 48 and int(small.cameras.height[0]) == 48
    assert float(small.cameras.fx[0]) == pytest.approx(content["focal_len"] / 2)
    assert float(small.cameras.cx[0]) == pytest.approx((content["cx"] + 0.5) / 2)
    tables = small.metadata[PORTRAIT_METADATA_KEY]
    assert tables.background.shape == (48, 48, 3)


def test_frame_range_keeps_only_those_frames(dataset):
    train, val = _parse(dataset, frame_range=(40, 95))
    tables = train.metadata[PORTRAIT_METADATA_KEY]
    assert tables.img_ids.tolist() == list(range(40, 95))
    assert len(train.image_filenames) == 50 and len(val.image_filenames) == 5


def test_poses_from_another_folder_replace_the_datasets_and_nothing_else(dataset, tmp_path):
    """``poses``: the transforms of another folder (rad-export-poses's, rad-process's landmark_poses/), the images
    and tables of the dataset; a folder without them is refused naming the file."""
    from rad_nerfstudio.errors import DatasetError

    folder = tmp_path / "poses"
    folder.mkdir()
    turned_ids = []
    for split in ("train", "val"):
        content = read_transforms(dataset, split)
        for frame in content["frames"][:3]:
            frame["transform_matrix"][0][3] += 0.01  # one centimetre to the side
            turned_ids.append(frame["img_id"])
        (folder / f"transforms_{split}.json").write_text(json.dumps(content))
    given, _ = _parse(dataset)
    moved, _ = _parse(dataset, poses=folder)
    tables, moved_tables = given.metadata[PORTRAIT_METADATA_KEY], moved.metadata[PORTRAIT_METADATA_KEY]
    assert moved_tables.img_ids.tolist() == tables.img_ids.tolist()
    shift = (moved_tables.head_poses - tables.head_poses)[..., 3].norm(dim=-1)
    changed = tables.img_ids[shift > 0].tolist()
    assert sorted(changed) == sorted(turned_ids)
    assert torch.allclose(shift[shift > 0], torch.tensor(0.04), atol=1e-5)  # metres x scene scale 4
    assert [p.parent.parent for p in moved.image_filenames] == [dataset] * len(moved.image_filenames)
    (folder / "transforms_val.json").unlink()
    with pytest.raises(DatasetError, match="transforms_val.json"):
        _parse(dataset, poses=folder)


def test_eye_openness_from_landmarks_follows_the_blinks(dataset):
    params = np.load(dataset / "gt" / "params.npz")
    tables = _parse(dataset)[0].metadata[PORTRAIT_METADATA_KEY]
    eye = tables.eye.numpy()
    assert np.corrcoef(eye, params["eye_open"][tables.img_ids.numpy()])[0, 1] > 0.95
    assert np.median(eye) == pytest.approx(1.0) and eye.min() < 0.3
    smoothed = _parse(dataset, eye_smoothing=5)[0].metadata[PORTRAIT_METADATA_KEY].eye.numpy()
    assert smoothed.min() > eye.min() and np.abs(np.diff(smoothed)).max() < np.abs(np.diff(eye)).max()


def test_eye_openness_from_openface_au45(dataset):
    au = np.zeros(100)
    au[30:33] = [1.0, 2.0, 3.5]  # a blink; AU45 intensity is clipped to [0, 2]
    lines = ["frame, timestamp, confidence, AU45_r"] + [f"{i + 1}, {i * 0.04:.2f}, 0.98, {v}" for i, v in enumerate(au)]
    (dataset / "au.csv").write_text("\n".join(lines).replace(", AU45_r", ", AU45_r").replace("AU45_r", " AU45_r"))
    tables = _parse(dataset, eye_feature="au45")[0].metadata[PORTRAIT_METADATA_KEY]
    eye = dict(zip(tables.img_ids.tolist(), tables.eye.tolist(), strict=True))
    assert eye[0] == 1.0 and eye[30] == 0.5 and eye[31] == 0.0 and eye[32] == 0.0
    assert tables.eye_source == "au45"


def test_rects_come_from_the_landmarks_and_the_lips_rect_is_square(dataset):
    tables = _parse(dataset)[0].metadata[PORTRAIT_METADATA_KEY]
    for row in (0, 50, 99):
        lms = np.loadtxt(dataset / "ori_imgs" / f"{int(tables.img_ids[row])}.lms")
        face = tables.rects["face"][row].numpy()
        assert face[0] <= lms[:, 0].min() and lms[:, 0].max() < face[2]
        assert face[1] <= lms[:, 1].min() and lms[:, 1].max() < face[3]
        lips = tables.rects["lips"][row].numpy()
        assert lips[2] - lips[0] == lips[3] - lips[1] >= 32
        assert lips[0] <= lms[48:68, 0].min() and lms[48:68, 0].max() < lips[2]
        lower = tables.rects["lower_face"][row].numpy()
        assert lower[1] >= face[1] and lower[1] <= lms[31:36, 1].min() + 1 and lower[3] == face[3]
        eyes = tables.rects["eyes"][row].numpy()
        assert eyes[1] <= lms[36:48, 1].min() and lms[36:48, 1].max() < eyes[3]


@pytest.mark.parametrize("choice, value", [("white", 255), ("black", 0)])
def test_background_can_be_a_color(dataset, choice, value):
    tables = _parse(dataset, background=choice)[0].metadata[PORTRAIT_METADATA_KEY]
    assert tables.background.dtype == torch.uint8 and bool(torch.all(tables.background == value))


def test_background_can_be_an_image_of_another_size(dataset, tmp_path):
    import cv2

    path = tmp_path / "office.png"
    cv2.imwrite(str(path), np.full((200, 300, 3), (10, 20, 30), np.uint8))
    tables = _parse(dataset, background=str(path))[0].metadata[PORTRAIT_METADATA_KEY]
    assert tables.background.shape == (96, 96, 3) and tables.background[0, 0].tolist() == [30, 20, 10]


def test_audio_context_gathers_eight_neighbouring_windows_with_the_edge_windows_beyond_the_track(dataset):
    tables = _parse(dataset)[0].metadata[PORTRAIT_METADATA_KEY]
    from rad_nerfstudio.audio.windows import neighbour_windows

    track = tables.audio_windows
    context = neighbour_windows(track, tables.audio_index[torch.tensor([0, 50, 99])])
    assert context.shape == (3, 8, 16, tables.audio_dim)
    assert torch.equal(context[0, :5], track[0].expand(5, -1, -1))  # frames -4..-1 are the first window again
    assert torch.equal(context[1], track[46:54])
    assert torch.equal(context[2, 5:], track[-1].expand(3, -1, -1))  # frames 100..102 are past the end


def test_the_dataparser_is_registered_with_nerfstudio():
    from nerfstudio.plugins.registry_dataparser import discover_dataparsers

    configs, descriptions = discover_dataparsers()
    assert isinstance(configs["talking-portrait-data"], TalkingPortraitDataParserConfig)
    assert "RAD-NeRF" in descriptions["talking-portrait-data"]


def test_the_dataset_json_is_not_modified(dataset):
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    _parse(dataset)
    after = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    assert set(after) - set(before) == {dataset / "aud_mel.npy", dataset / "aud_mel.npy.json"}, (
        "only the cache is added"
    )
    assert all(after[p] == content for p, content in before.items())
    assert json.loads((dataset / "transforms_train.json").read_text())["frames"]
