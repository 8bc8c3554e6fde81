"""Where the audio may act: triangulated mouth region, the soft box gate, and the models that use them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.data.face_focused_sampler import FaceFocusedSamplerConfig
from rad_nerfstudio.data.mouth_region import mouth_region, triangulate_landmarks
from rad_nerfstudio.data.pixel_samplers import PortraitPixelSamplerConfig
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.field_components.region_gate import BoxGate
from rad_nerfstudio.fields.er_nerf_head_field import ErNerfHeadFieldConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.models.er_nerf import ErNerfModelConfig
from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig
from tests.model_steps import TINY_GRID, build_model

SCENE_SCALE = 4.0


@pytest.fixture(scope="module")
def manager(sample_dir, tmp_path_factory):
    data = shutil.copytree(sample_dir, tmp_path_factory.mktemp("region") / "portrait")  # the parser adds a cache
    config = TalkingPortraitDataManagerConfig(data=data)
    config.pixel_sampler.num_rays_per_batch = 256
    return config.setup(device="cpu")


def _truth(sample_dir):
    params = np.load(sample_dir / "gt" / "params.npz")
    return params["landmarks_3d"] * SCENE_SCALE  # head frame = world frame, in scene units


def test_landmarks_triangulate_to_their_true_head_frame_positions(manager, sample_dir):
    cameras = manager.train_dataset.cameras
    params = np.load(sample_dir / "gt" / "params.npz")
    rows = manager.tables.splits["train"].numpy()
    ids = manager.tables.img_ids.numpy()[rows]
    intrinsics = np.array([float(cameras.fx[0]), float(cameras.fy[0]), float(cameras.cx[0]), float(cameras.cy[0])])
    points, spread = triangulate_landmarks(
        params["landmarks_2d"][ids], cameras.camera_to_worlds.numpy().astype(np.float64), intrinsics
    )
    truth = _truth(sample_dir)[ids].mean(0)
    face_width = np.linalg.norm(truth[0] - truth[16])
    rigid = list(range(17, 48))  # brows, nose, eyes: points that do not move with the mouth
    assert np.abs(points[rigid] - truth[rigid]).max() < 0.05 * face_width
    assert np.median(spread[rigid]) < 0.02 * face_width


def test_the_mouth_region_holds_the_lips_and_chin_and_not_the_eyes(manager, sample_dir):
    region = manager.tables.mouth_region
    assert region is not None
    lo, hi = region.numpy()
    lips = _truth(sample_dir)[:, 48:68].reshape(-1, 3)
    eyes = _truth(sample_dir)[:, 36:48].reshape(-1, 3)
    assert bool(((lips > lo) & (lips < hi)).all())
    assert not bool(((eyes > lo) & (eyes < hi)).all(axis=1).any())


def test_degenerate_cameras_give_no_region():
    landmarks = np.random.default_rng(0).uniform(0, 100, size=(5, 68, 2))
    one_camera = np.tile(np.eye(4)[:3], (5, 1, 1))  # every frame the same view: rays never meet
    assert mouth_region(landmarks, one_camera, np.array([100.0, 100.0, 50.0, 50.0])) is None


def test_box_gate_is_one_inside_zero_outside_and_soft_between():
    gate = BoxGate(torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 4.0]]), softness=0.5)
    points = torch.tensor([[0.5, 1.0, 2.0], [0.5, 1.0, 3.5], [0.5, 1.0, 3.0], [1.2, 1.0, 2.0], [0.5, -0.1, 2.0]])
    assert gate(points)[:, 0].tolist() == pytest.approx([1.0, 0.5, 1.0, 0.0, 0.0])
    assert bool((BoxGate(None)(points) == 1).all())


def test_mouth_rays_land_in_the_mouth_rect():
    face = torch.tensor([[10, 20, 60, 80]])
    mouth = torch.tensor([[30, 60, 40, 66]])
    sampler = PortraitPixelSamplerConfig(
        kind="face-focused",
        num_rays_per_batch=1000,
        face_focused=FaceFocusedSamplerConfig(face_fraction=0.5, mouth_fraction=0.2),
    ).setup(num_images=1, height=100, width=100, face_rects=face, mouth_rects=mouth)
    draws = sampler.sample(0)
    in_mouth = (draws[:, 2] >= 30) & (draws[:, 2] < 40) & (draws[:, 1] >= 60) & (draws[:, 1] < 66)
    assert bool(in_mouth[500:700].all())
    assert 0.2 <= float(in_mouth.float().mean()) < 0.25
    with pytest.raises(ValueError, match="must not exceed 1"):
        PortraitPixelSamplerConfig(
            kind="face-focused", face_focused=FaceFocusedSamplerConfig(face_fraction=0.9, mouth_fraction=0.2)
        ).setup(num_images=1, height=100, width=100, face_rects=face, mouth_rects=mouth).sample(0)


def _config(kind: str, **overrides):
    common = dict(
        torso=TorsoFieldConfig(grid=TINY_GRID, hidden_dim=32),
        occupancy=OccupancyGridConfig(resolution=16, candidates=48),
        head_steps=10,
        lpips_pretrained=False,
        audio_in_mouth_region=True,
        **overrides,
    )
    if kind == "rad-nerf":
        return RadNerfModelConfig(
            head=RadHeadFieldConfig(spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32, pose_color=True),
            **common,
        )
    return ErNerfModelConfig(head=ErNerfHeadFieldConfig(hidden_dim=32, pose_color=True), **common)


@pytest.mark.parametrize("kind", ["rad-nerf", "er-nerf"])
def test_audio_changes_the_head_only_inside_the_mouth_region(manager, kind):
    model = build_model(_config(kind), manager)
    for parameter in model.parameters():  # a non-trivial field everywhere
        torch.nn.init.normal_(parameter, std=0.1) if parameter.dim() > 1 else None
    region = model.audio_gate.box
    centre = (region[0] + region[1]) / 2
    inside = centre + (torch.rand(64, 3, generator=torch.Generator().manual_seed(0)) - 0.5) * 0.5 * (
        region[1] - region[0]
    )
    outside = torch.rand(256, 3, generator=torch.Generator().manual_seed(1))
    outside = outside[model.audio_gate(outside)[:, 0] == 0]
    assert len(outside) > 100

    def density(points, row):
        scene = model.scene_box.aabb
        world = scene[0] + points * (scene[1] - scene[0])
        model.train_rows.fill_(row)  # the occupancy density function draws its condition from the training rows
        return model._density_under_random_condition(world)

    rows = model.train_rows.clone()
    model.eye.fill_(1.0)  # the same eye for both frames: only the audio differs
    windows = model.audio_windows[model.audio_index[rows]]
    other = int(rows[(windows - windows[0]).abs().flatten(1).sum(1).argmax()])  # the frame whose sound differs most
    try:
        a_in, b_in = density(inside, int(rows[0])), density(inside, other)
        a_out, b_out = density(outside, int(rows[0])), density(outside, other)
    finally:
        model.train_rows.copy_(rows)
    assert torch.equal(a_out, b_out)
    assert not torch.allclose(a_in, b_in)


def test_pose_colored_heads_see_the_camera_rotation(manager):
    model = build_model(_config("rad-nerf"), manager)
    for parameter in model.head.color.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    geometry = torch.randn(8, model.head.config.geometry_dim)
    directions = torch.nn.functional.normalize(torch.randn(8, 3), dim=-1)
    rows = torch.zeros(8, dtype=torch.long)
    identity = torch.eye(3).reshape(1, 9).expand(8, 9)
    turned = torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]).reshape(1, 9).expand(8, 9)
    assert not torch.allclose(
        model.head.rgb(geometry, directions, rows, identity), model.head.rgb(geometry, directions, rows, turned)
    )
    with pytest.raises(ValueError, match="camera_rotation"):
        model.head.rgb(geometry, directions, rows)


def test_the_cpu_methods_confine_the_audio_and_the_paper_methods_keep_the_anchors_defaults():
    from rad_nerfstudio.method_configs import er_nerf, er_nerf_small, rad_nerf, rad_nerf_small

    for spec in (rad_nerf_small, er_nerf_small):
        model, sampler = spec.config.pipeline.model, spec.config.pipeline.datamanager.pixel_sampler
        assert model.audio_in_mouth_region and model.head_mask_loss_mult > 0
        assert sampler.kind == "face-focused" and sampler.face_focused.mouth_fraction > 0
        assert model.head.latent_dim == 0  # no per-frame colour code that could paint each frame's mouth
    assert rad_nerf_small.config.pipeline.model.head.code_to_density
    assert rad_nerf_small.config.pipeline.model.head.audio_grid.finest_resolution <= 32
    for spec in (rad_nerf, er_nerf):
        model = spec.config.pipeline.model
        assert not model.audio_in_mouth_region and model.head_mask_loss_mult == 0
        assert model.head.latent_dim == 4
        assert spec.config.pipeline.datamanager.pixel_sampler.face_focused.mouth_fraction == 0
    rates = {name: group["optimizer"].lr for name, group in rad_nerf.config.optimizers.items()}
    assert rates == {"grids": 5e-3, "mlps": 5e-4, "torso_grids": 5e-3, "torso_mlps": 5e-4, "camera_opt": 5e-4}
    for spec in (rad_nerf, rad_nerf_small, er_nerf, er_nerf_small):  # each group decays from its rate to a tenth
        for name, group in spec.config.optimizers.items():
            scheduler = group["scheduler"]
            assert group["optimizer"].lr == pytest.approx(10 * scheduler.lr_final)
            # the poses' corrections start from zero after a warm-up; every other group at its rate
            assert scheduler.lr_pre_warmup == (1e-8 if name == "camera_opt" else group["optimizer"].lr)
