"""ER-NeRF's building blocks: tri-plane hash encoding, region attention, adaptive pose encoding."""

from __future__ import annotations

import math

import pytest
import torch

from rad_nerfstudio.field_components.hash_grid import HashGridConfig
from rad_nerfstudio.field_components.pose_anchors import INITIAL_ANCHORS, AdaptivePoseEncoding
from rad_nerfstudio.field_components.region_attention import RegionAttention
from rad_nerfstudio.field_components.triplane import ER_NERF_PLANE_GRID, TriPlaneHashGrid


def test_triplane_concatenates_one_lookup_per_plane():
    grid = TriPlaneHashGrid(ER_NERF_PLANE_GRID, implementation="torch")
    with torch.no_grad():
        for plane in grid.planes:
            plane.table.normal_(generator=torch.Generator().manual_seed(0))
    assert grid.output_dim == 3 * 12 * 1
    x = torch.rand(64, 3, generator=torch.Generator().manual_seed(1))
    features = grid(x)
    assert features.shape == (64, 36)
    moved = x.clone()
    moved[:, 2] = torch.rand(64, generator=torch.Generator().manual_seed(2))  # change z only
    xy, yz, xz = grid(moved).split(12, dim=-1)
    torch.testing.assert_close(xy, features[:, :12])
    assert not torch.allclose(yz, features[:, 12:24]) and not torch.allclose(xz, features[:, 24:])
    torch.testing.assert_close(features[:, 12:24], grid.planes[1](x[:, [1, 2]]))


def test_triplane_gradients_reach_every_plane_and_the_study_preset_is_wider():
    grid = TriPlaneHashGrid(ER_NERF_PLANE_GRID, implementation="torch")
    grid(torch.rand(128, 3)).square().sum().backward()
    assert all(plane.table.grad is not None and plane.table.grad.abs().sum() > 0 for plane in grid.planes)
    study = TriPlaneHashGrid(HashGridConfig(12, 2, 16, 64, 512), implementation="torch")
    assert study.output_dim == 72


def test_region_attention_weights_lie_in_0_1_and_scale_the_codes():
    attention = RegionAttention(spatial_dim=36, audio_dim=64)
    spatial, code, eye = torch.randn(50, 36), torch.randn(50, 64), torch.rand(50, 1)
    out = attention(spatial, code, eye)
    assert out["audio"].shape == (50, 64) and out["eye"].shape == (50, 1)
    for key in ("audio_attention", "eye_attention"):
        assert ((out[key] >= 0) & (out[key] <= 1)).all(), key
    torch.testing.assert_close(out["audio"], code * out["audio_attention"])
    torch.testing.assert_close(out["eye"], eye * out["eye_attention"])
    (out["audio"].sum() + out["eye"].sum()).backward()
    assert all(p.grad is not None for p in attention.parameters())


def _pose(yaw_degrees: float, translation) -> torch.Tensor:
    a = math.radians(yaw_degrees)
    rotation = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    return torch.cat([rotation, torch.tensor(translation)[:, None]], dim=1).reshape(12)


def test_pose_anchors_project_like_a_camera_and_follow_the_pose():
    encoding = AdaptivePoseEncoding(num_frequencies=4)
    anchors = torch.tensor(INITIAL_ANCHORS)
    front = encoding.project(_pose(0.0, [0.0, 0.0, 1.0])[None])[0]  # camera at z = 1 looking down -z at the head
    torch.testing.assert_close(front, anchors[:, :2] / 1.0)
    shifted = encoding.project(_pose(0.0, [0.2, 0.0, 1.0])[None])[0]
    torch.testing.assert_close(shifted[:, 0], front[:, 0] - 0.2), "the camera moves right: the head moves left"
    pose = _pose(30.0, [0.3, -0.1, 0.8])
    c2w = pose.reshape(3, 4)
    in_camera = (anchors - c2w[:, 3]) @ c2w[:, :3]  # R^T (a - t), row vectors
    expected = in_camera[:, :2] / -in_camera[:, 2:]
    torch.testing.assert_close(encoding.project(pose[None])[0], expected)


def test_pose_encoding_shape_and_learnable_anchors():
    encoding = AdaptivePoseEncoding(num_frequencies=4)
    poses = torch.stack([_pose(y, [0.0, 0.0, 1.0]) for y in (-10.0, 0.0, 10.0)])
    features = encoding(poses)
    assert features.shape == (3, encoding.output_dim) and encoding.output_dim == 6 * (1 + 2 * 4)
    assert not torch.allclose(features[0], features[2]), "different poses, different codes"
    features.square().sum().backward()
    assert encoding.anchors.grad is not None and encoding.anchors.grad.abs().sum() > 0


@pytest.mark.parametrize("count", [1, 7])
def test_pose_encoding_batches(count):
    poses = _pose(5.0, [0.0, 0.0, 1.0]).expand(count, 12)
    assert AdaptivePoseEncoding()(poses).shape[0] == count
