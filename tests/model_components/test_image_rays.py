"""Whole-image rays of a pinhole camera: the same bundle as nerfstudio's generator, other cameras handed to it."""

from __future__ import annotations

import math

import pytest
import torch
from nerfstudio.cameras.cameras import Cameras, CameraType

from rad_nerfstudio.model_components.image_rays import image_rays


def _camera(**overrides) -> Cameras:
    angle = 0.3
    rotation = torch.tensor(
        [[math.cos(angle), 0.0, math.sin(angle)], [0.0, 1.0, 0.0], [-math.sin(angle), 0.0, math.cos(angle)]]
    )
    c2w = torch.cat([rotation, torch.tensor([[0.1], [-0.2], [2.5]])], 1)[None]
    settings = dict(
        camera_to_worlds=c2w,
        fx=210.0,
        fy=190.0,
        cx=33.5,
        cy=40.0,
        width=70,
        height=90,
        camera_type=CameraType.PERSPECTIVE,
        metadata={"frame_idx": torch.tensor([[7]])},
    )
    settings.update(overrides)
    return Cameras(**settings)  # pyright: ignore[reportArgumentType]


def _assert_same_bundle(ours, theirs) -> None:  # noqa: ANN001
    assert ours.shape == theirs.shape
    for name in ("origins", "directions", "pixel_area", "camera_indices"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), msg=name)
    assert ours.metadata.keys() == theirs.metadata.keys()
    for key, value in theirs.metadata.items():
        torch.testing.assert_close(ours.metadata[key], value, msg=key)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_a_pinhole_cameras_rays_are_nerfstudios(scale):
    camera = _camera()
    camera.rescale_output_resolution(scale)
    _assert_same_bundle(image_rays(camera), camera.generate_rays(camera_indices=0, keep_shape=True))


def test_other_cameras_take_nerfstudios_generator(monkeypatch):
    distorted = _camera(distortion_params=torch.tensor([0.1, 0.0, 0.0, 0.0, 0.0, 0.0]))
    fisheye = _camera(camera_type=CameraType.FISHEYE)
    called = []
    original = Cameras.generate_rays

    def spy(self, *args, **kwargs):
        called.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Cameras, "generate_rays", spy)
    for camera in (distorted, fisheye):
        rays = image_rays(camera)
        assert called[-1] is camera and rays.shape == (90, 70)
    image_rays(_camera(distortion_params=torch.zeros(6)))  # zero distortion is a plain pinhole
    assert len(called) == 2
