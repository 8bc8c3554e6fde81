"""Pixel samplers over a cached image stack: they choose (image, row, column) triplets and may learn from
per-ray feedback (the error-map sampler does). Uniform and face-focused sampling live here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Type

import torch
from jaxtyping import Float, Int
from nerfstudio.configs.base_config import InstantiateConfig
from torch import Tensor, nn

from rad_nerfstudio.config_loading import FilledOnLoad

SamplerKind = Literal["uniform", "face-focused", "error-map"]


@dataclass
class PortraitPixelSamplerConfig(FilledOnLoad, InstantiateConfig):
    """How training pixels are chosen: uniformly, more inside the face, or where the error is."""

    _target: Type = field(default_factory=lambda: UniformPixelSampler)
    """Unused: ``setup`` picks the sampler class from ``kind``."""
    kind: SamplerKind = "uniform"
    """uniform: every pixel alike; face-focused: a share inside the face rectangle; error-map: by error."""
    num_rays_per_batch: int = 4096
    """Rays per training batch."""
    seed: int = 0
    """Seed of the sampler's own random generator."""
    face_fraction: float = 0.5
    """face-focused: share of rays drawn inside each image's face rectangle."""
    mouth_fraction: float = 0.0
    """face-focused: share of rays drawn inside each image's tight mouth rectangle (on top of face_fraction): the
    open mouth is a few hundred pixels of a frame, and without them almost no ray lands in it."""
    torso_stage_uniform: bool = True
    """face-focused: every ray uniform during the torso stage (the head is frozen then; with the face share the
    torso would get a quarter of the rays and come out blurred)."""
    map_resolution: int = 128
    """error-map: cells per side of each image's map (at most the image size; images x res^2 x 4 bytes)."""
    uniform_fraction: float = 0.25
    """error-map: share of every batch drawn uniformly over all pixels (so that no region starves)."""
    error_momentum: float = 0.9
    """error-map: a cell's error becomes momentum * old + (1 - momentum) * new."""
    log_every: int = 500
    """error-map: steps between map images written to nerfstudio's logger (tensorboard / wandb); 0: never."""
    log_images: int = 8
    """error-map: how many training images' maps the logged mosaic shows."""

    def setup(self, **kwargs) -> "PortraitPixelSampler":
        from rad_nerfstudio.data.error_map_sampler import ErrorMapPixelSampler

        samplers = {
            "uniform": UniformPixelSampler,
            "face-focused": FaceFocusedPixelSampler,
            "error-map": ErrorMapPixelSampler,
        }
        return samplers[self.kind](self, **kwargs)


class PortraitPixelSampler(nn.Module):
    """Base class: ``sample`` returns ``[rays, 3]`` long indices (image, row, column).

    A module, so that a sampler's state (the error map) is saved with the pipeline and restored on load."""

    def __init__(
        self,
        config: PortraitPixelSamplerConfig,
        num_images: int,
        height: int,
        width: int,
        face_rects: Int[Tensor, "images 4"] | None = None,
        mouth_rects: Int[Tensor, "images 4"] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.num_images, self.height, self.width = num_images, height, width
        self.face_rects = face_rects
        self.mouth_rects = mouth_rects
        self.generator = torch.Generator().manual_seed(config.seed)
        self.torso_stage = False
        """Set by the data manager while the model trains its torso stage."""

    @property
    def num_rays_per_batch(self) -> int:
        return self.config.num_rays_per_batch

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


class FaceFocusedPixelSampler(UniformPixelSampler):
    """A share of the rays inside each image's face rectangle and a share inside its mouth rectangle, the rest
    uniform: more rays where the head stages learn (the rest of the image is given by the torso backdrop)."""

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
