"""Which pixel sampler trains, and the settings all kinds share: the kind, rays per batch and seed. Each kind's own
settings are in its own config (``uniform``: none; ``face_focused``; ``error_map``), whose ``_target`` is the
sampler; only the chosen kind's are used.

    --pipeline.datamanager.pixel-sampler.kind error-map --pipeline.datamanager.pixel-sampler.error-map.map-resolution 64
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Literal

from rad_nerfstudio.config_loading import FilledOnLoad
from rad_nerfstudio.data.error_map_sampler import ErrorMapSamplerConfig
from rad_nerfstudio.data.face_focused_sampler import FaceFocusedSamplerConfig
from rad_nerfstudio.data.sampler_base import PortraitPixelSampler, UniformPixelSampler, UniformSamplerConfig

__all__ = ["PortraitPixelSamplerConfig", "SamplerKind", "UniformPixelSampler"]
"""``UniformPixelSampler`` stays importable here: older config.yml files name it as this config's ``_target``."""

SamplerKind = Literal["uniform", "face-focused", "error-map"]

_FLAT_FIELDS = {
    "face_focused": ("face_fraction", "mouth_fraction", "torso_stage_uniform"),
    "error_map": ("map_resolution", "uniform_fraction", "error_momentum", "log_every", "log_images"),
}
"""Where a config.yml written before the kinds had their own configs kept each kind's settings (flat)."""


@dataclass
class PortraitPixelSamplerConfig(FilledOnLoad):
    """How training pixels are chosen: uniformly, more inside the face, or where the error is."""

    kind: SamplerKind = "uniform"
    """uniform: every pixel alike; face-focused: shares inside the face and mouth rectangles; error-map: by error."""
    num_rays_per_batch: int = 4096
    """Rays per training batch."""
    seed: int = 0
    """Seed of the sampler's own random generator."""
    uniform: UniformSamplerConfig = field(default_factory=UniformSamplerConfig)
    """Settings of uniform sampling (none)."""
    face_focused: FaceFocusedSamplerConfig = field(default_factory=FaceFocusedSamplerConfig)
    """Settings of face-focused sampling."""
    error_map: ErrorMapSamplerConfig = field(default_factory=ErrorMapSamplerConfig)
    """Settings of error-map sampling."""

    @property
    def chosen(self) -> UniformSamplerConfig:
        """The config of the chosen kind."""
        return {"uniform": self.uniform, "face-focused": self.face_focused, "error-map": self.error_map}[self.kind]

    def setup(self, **kwargs) -> PortraitPixelSampler:
        """The chosen kind's sampler (``kwargs``: the image stack's size and rectangles)."""
        return self.chosen.setup(num_rays_per_batch=self.num_rays_per_batch, seed=self.seed, **kwargs)

    def __setstate__(self, state: Dict[str, Any]) -> None:
        flat = {name: state.pop(name) for names in _FLAT_FIELDS.values() for name in names if name in state}
        state.pop("_target", None)  # older files: the kinds were chosen by ``kind``, the target was unused
        super().__setstate__(state)
        for kind, names in _FLAT_FIELDS.items():
            for name in names:
                if name in flat:
                    setattr(getattr(self, kind), name, flat[name])
