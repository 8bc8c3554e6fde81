"""Pixel samplers over a cached image stack: they choose (image, row, column) triplets and may learn from
per-ray feedback (the error-map sampler does). Uniform sampling lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch
from jaxtyping import Float, Int
from nerfstudio.configs.base_config import InstantiateConfig
from torch import Tensor


@dataclass
class PortraitPixelSamplerConfig(InstantiateConfig):
    """Uniform sampling of training pixels over all images."""

    _target: Type = field(default_factory=lambda: UniformPixelSampler)
    num_rays_per_batch: int = 4096
    """Rays per training batch."""
    seed: int = 0
    """Seed of the sampler's own random generator."""


class PortraitPixelSampler:
    """Base class: ``sample`` returns ``[rays, 3]`` long indices (image, row, column)."""

    def __init__(
        self,
        config: PortraitPixelSamplerConfig,
        num_images: int,
        height: int,
        width: int,
        face_rects: Int[Tensor, "images 4"] | None = None,
    ) -> None:
        self.config = config
        self.num_images, self.height, self.width = num_images, height, width
        self.face_rects = face_rects
        self.generator = torch.Generator().manual_seed(config.seed)

    @property
    def num_rays_per_batch(self) -> int:
        return self.config.num_rays_per_batch

    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        raise NotImplementedError

    def update(self, indices: Int[Tensor, "rays 3"], errors: Float[Tensor, " rays"]) -> None:
        """Feedback after a training step (per-ray photometric error); uniform sampling ignores it."""


class UniformPixelSampler(PortraitPixelSampler):
    """Every pixel of every training image equally likely."""

    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        n = self.num_rays_per_batch
        bounds = torch.tensor([self.num_images, self.height, self.width], dtype=torch.float64)
        return (torch.rand((n, 3), generator=self.generator, dtype=torch.float64) * bounds).long()


@dataclass
class FaceFocusedPixelSamplerConfig(PortraitPixelSamplerConfig):
    """A fraction of the rays inside each image's face rectangle, the rest uniform over the image."""

    _target: Type = field(default_factory=lambda: FaceFocusedPixelSampler)
    face_fraction: float = 0.5
    """Share of rays drawn inside the face rectangle."""


class FaceFocusedPixelSampler(UniformPixelSampler):
    """Spends more rays on the face, where the head stages learn (the rest is given by the torso backdrop)."""

    config: FaceFocusedPixelSamplerConfig

    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        if self.face_rects is None:
            raise ValueError("the face-focused sampler needs the face rectangles of the training images")
        uniform = super().sample(step)
        n_face = int(round(self.num_rays_per_batch * self.config.face_fraction))
        images = torch.randint(self.num_images, (n_face,), generator=self.generator)
        rect = self.face_rects[images].double()
        u = torch.rand((n_face, 2), generator=self.generator, dtype=torch.float64)
        rows = (rect[:, 1] + u[:, 0] * (rect[:, 3] - rect[:, 1])).long()
        cols = (rect[:, 0] + u[:, 1] * (rect[:, 2] - rect[:, 0])).long()
        uniform[:n_face] = torch.stack([images, rows, cols], dim=-1)
        return uniform
