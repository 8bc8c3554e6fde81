"""Face-focused sampling: a share of the rays inside each image's face rectangle and a share inside its tight mouth
rectangle, the rest uniform (more rays where the head stages learn; the rest of the image is the torso backdrop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch
from jaxtyping import Int
from torch import Tensor

from rad_nerfstudio.data.sampler_base import UniformPixelSampler, UniformSamplerConfig


@dataclass
class FaceFocusedSamplerConfig(UniformSamplerConfig):
    """Shares of every batch inside the face and the mouth rectangles."""

    _target: Type = field(default_factory=lambda: FaceFocusedPixelSampler)
    face_fraction: float = 0.5
    """Share of rays drawn inside each image's face rectangle."""
    mouth_fraction: float = 0.0
    """Share of rays drawn inside each image's tight mouth rectangle (on top of face_fraction): the open mouth is a
    few hundred pixels of a frame, and without them almost no ray lands in it."""
    torso_stage_uniform: bool = True
    """Every ray uniform during the torso stage (the head is frozen then; with the face share the torso would get a
    quarter of the rays and come out blurred)."""


class FaceFocusedPixelSampler(UniformPixelSampler):
    """Face and mouth shares, the rest uniform; all uniform in the torso stage (``torso_stage_uniform``)."""

    config: FaceFocusedSamplerConfig

    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        if self.face_rects is None:
            raise ValueError("the face-focused sampler needs the face rectangles of the training images")
        if self.mouth_rects is None and self.config.mouth_fraction > 0:
            raise ValueError("mouth_fraction > 0 needs the mouth rectangles of the training images")
        indices = super().sample(step)
        if self.torso_stage and self.config.torso_stage_uniform:
            return indices
        n_face = int(round(self.num_rays_per_batch * self.config.face_fraction))
        n_mouth = int(round(self.num_rays_per_batch * self.config.mouth_fraction))
        if n_face + n_mouth > self.num_rays_per_batch:
            raise ValueError("face_fraction + mouth_fraction must not exceed 1")
        indices[:n_face] = self._inside(self.face_rects, n_face)
        if n_mouth:
            assert self.mouth_rects is not None
            indices[n_face : n_face + n_mouth] = self._inside(self.mouth_rects, n_mouth)
        return indices

    def _inside(self, rects: Int[Tensor, "images 4"], count: int) -> Int[Tensor, "count 3"]:
        """``count`` pixels, each uniform inside the rectangle of a uniformly chosen image."""
        images = torch.randint(self.num_images, (count,), generator=self.generator)
        rect = rects[images].double()
        u = torch.rand((count, 2), generator=self.generator, dtype=torch.float64)
        rows = (rect[:, 1] + u[:, 0] * (rect[:, 3] - rect[:, 1])).long()
        cols = (rect[:, 0] + u[:, 1] * (rect[:, 2] - rect[:, 0])).long()
        return torch.stack([images, rows, cols], dim=-1)
