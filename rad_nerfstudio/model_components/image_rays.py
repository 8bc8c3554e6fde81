"""The rays of one whole image of an undistorted perspective camera, as nerfstudio's ``Cameras.generate_rays``
(``camera_indices=0, keep_shape=True``) gives them, in a fraction of its time.

nerfstudio's generator serves every camera model at once: it builds per-ray camera indices, selects every
intrinsic per ray, and masks three direction stacks by camera type; at 128 px that is a tenth of a compiled frame.
For the one camera model renders use (pinhole, no distortion) the same directions are an image grid, one rotation
and a normalisation. Other cameras (distortion, fisheye, times, a crop box) take nerfstudio's generator.
"""

from __future__ import annotations

import torch
from nerfstudio.cameras.camera_utils import normalize_with_norm
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.cameras.rays import RayBundle


def image_rays(camera: Cameras) -> RayBundle:
    """Rays of ``camera``'s whole image (a single camera), shaped ``[height, width]`` with its metadata."""
    if not _plain_pinhole(camera):
        return camera.generate_rays(camera_indices=0, keep_shape=True)
    height, width = int(camera.height[0, 0]), int(camera.width[0, 0])
    device = camera.device
    fx, fy, cx, cy = (value[0, 0] for value in (camera.fx, camera.fy, camera.cx, camera.cy))
    x = (torch.arange(width, device=device) + 0.5).expand(height, width)  # pixel centres (nerfstudio's offset)
    y = (torch.arange(height, device=device) + 0.5)[:, None].expand(height, width)
    right, down = (x - cx) / fx, (y - cy) / fy
    minus_one = torch.full_like(right, -1.0)
    # the ray and its neighbours one pixel right and one down (OpenGL axes: y up, looking down -z)
    camera_space = torch.stack(
        [
            torch.stack([right, -down, minus_one], -1),
            torch.stack([(x - cx + 1) / fx, -down, minus_one], -1),
            torch.stack([right, -((y - cy + 1) / fy), minus_one], -1),
        ]
    )  # [3, h, w, 3]
    c2w = camera.camera_to_worlds[0]
    directions, norm = normalize_with_norm(camera_space @ c2w[:, :3].T, -1)
    dx = torch.linalg.vector_norm(directions[0] - directions[1], dim=-1)
    dy = torch.linalg.vector_norm(directions[0] - directions[2], dim=-1)
    metadata = {key: value[0].expand(height, width, -1).clone() for key, value in (camera.metadata or {}).items()}
    metadata["directions_norm"] = norm[0]
    return RayBundle(
        origins=c2w[:, 3].expand(height, width, 3).clone(),
        directions=directions[0],
        pixel_area=(dx * dy)[..., None],
        camera_indices=torch.zeros(height, width, 1, dtype=torch.long, device=device),
        metadata=metadata,
    )


def _plain_pinhole(camera: Cameras) -> bool:
    """One perspective camera without distortion or time."""
    if camera.shape != (1,) or int(camera.camera_type[0, 0]) != CameraType.PERSPECTIVE.value:
        return False
    if camera.times is not None:
        return False
    return camera.distortion_params is None or not bool((camera.distortion_params != 0).any())
