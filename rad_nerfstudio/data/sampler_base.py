"""The base of the pixel samplers over a cached image stack, and uniform sampling.

A sampler chooses (image, row, column) triplets and may learn from per-ray feedback (the error-map sampler does).
Each kind has its own config (settings of that kind only) whose ``_target`` is its sampler class;
``data.pixel_samplers`` chooses the kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch
from jaxtyping import Float, Int
from nerfstudio.configs.base_config import InstantiateConfig
from torch import Tensor, nn

from rad_nerfstudio.config_loading import FilledOnLoad


@dataclass
class UniformSamplerConfig(FilledOnLoad, InstantiateConfig):
    """Uniform sampling: every pixel of every training image alike (no settings of its own)."""

    _target: Type = field(default_factory=lambda: UniformPixelSampler)


class PortraitPixelSampler(nn.Module):
    """Base class: ``sample`` returns ``[rays, 3]`` long indices (image, row, column).

    A module, so that a sampler's state (the error map) is saved with the pipeline and restored on load."""

    def __init__(
        self,
        config: UniformSamplerConfig,
        num_rays_per_batch: int,
        seed: int,
        num_images: int,
        height: int,
        width: int,
        face_rects: Int[Tensor, "images 4"] | None = None,
        mouth_rects: Int[Tensor, "images 4"] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.num_rays_per_batch = num_rays_per_batch
        self.num_images, self.height, self.width = num_images, height, width
        self.face_rects = face_rects
        self.mouth_rects = mouth_rects
        self.generator = torch.Generator().manual_seed(seed)
        self.torso_stage = False
        """Set by the data manager while the model trains its torso stage."""

    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        raise NotImplementedError

    def update(self, indices: Int[Tensor, "rays 3"], errors: Float[Tensor, " rays"]) -> None:
        """Feedback after a training step (per-ray photometric error); uniform sampling ignores it."""

    def log_images(self, step: int) -> None:
        """Write what the sampler learned as images to nerfstudio's writer (nothing to show by default)."""


class UniformPixelSampler(PortraitPixelSampler):
    """Every pixel of every training image equally likely."""

    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        n = self.num_rays_per_batch
        bounds = torch.tensor([self.num_images, self.height, self.width], dtype=torch.float64)
        return (torch.rand((n, 3), generator=self.generator, dtype=torch.float64) * bounds).long()
