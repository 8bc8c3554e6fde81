"""ER-NeRF's adaptive pose encoding for the torso: learnable 3D anchor points, moved by the head pose and
projected into the camera, stand for the pose (instead of the raw 3x4 matrix)."""

from __future__ import annotations

import torch
from jaxtyping import Float
from nerfstudio.field_components.encodings import NeRFEncoding
from torch import Tensor, nn

INITIAL_ANCHORS = ((0.0, -0.1, 0.0), (-0.1, 0.05, 0.0), (0.1, 0.05, 0.0))
"""Three points around the head's centre (head frame, scene units): chin-ish, left and right."""


class AdaptivePoseEncoding(nn.Module):
    """Frequency-encoded 2D projections of learnable head-frame anchors under each camera pose."""

    def __init__(self, num_frequencies: int = 4, scale: float = 1.0) -> None:
        super().__init__()
        self.anchors = nn.Parameter(torch.tensor(INITIAL_ANCHORS) * scale)
        self.encoding = NeRFEncoding(
            in_dim=2 * len(INITIAL_ANCHORS),
            num_frequencies=num_frequencies,
            min_freq_exp=0.0,
            max_freq_exp=num_frequencies - 1,
            include_input=True,
        )

    @property
    def output_dim(self) -> int:
        return self.encoding.get_out_dim()

    def project(self, camera_to_head: Float[Tensor, "n 12"]) -> Float[Tensor, "n anchors 2"]:
        """Normalised image coordinates ``(x / -z, y / -z)`` of the anchors seen by each (OpenGL) camera whose
        camera-to-head-frame matrix is given flattened."""
        c2w = camera_to_head.reshape(-1, 3, 4)
        rotation, origin = c2w[:, :, :3], c2w[:, :, 3]
        in_camera = torch.einsum("nji,nkj->nki", rotation, self.anchors[None] - origin[:, None])  # R^T (a - t)
        depth = (-in_camera[..., 2:]).clamp(min=1e-6)
        return in_camera[..., :2] / depth

    def forward(self, camera_to_head: Float[Tensor, "n 12"]) -> Float[Tensor, "n features"]:
        return self.encoding(self.project(camera_to_head).flatten(1))
