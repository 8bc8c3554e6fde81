"""RAD-NeRF's head field: a decomposed audio-spatial encoding.

A 3D hash grid encodes the position x. An ambient MLP maps (spatial features, audio code) to a
spatially dependent audio coordinate ``x_a`` in [-1, 1]^D (tanh), which a D-dimensional hash grid encodes.
Density comes from (spatial, audio features, eye) through a truncated exponential; colour from the
geometry features, the view direction's spherical harmonics and a per-frame latent code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

import torch
from nerfstudio.field_components.mlp import MLP
from torch import Tensor, nn

from rad_nerfstudio.field_components.hash_grid import HashGrid, HashGridConfig
from rad_nerfstudio.fields.conditioned_radiance import ConditionedRadianceField, RadianceMlpConfig


@dataclass
class RadHeadFieldConfig(RadianceMlpConfig):
    """Sizes of the head field (RAD-NeRF's code defaults)."""

    spatial_grid: HashGridConfig = field(default_factory=HashGridConfig)
    """3D hash grid of positions: 16 levels x 2 features, base 16, finest 2048, 2^16 entries."""
    audio_grid: HashGridConfig = field(default_factory=HashGridConfig)
    """Hash grid of the audio coordinate (same sizes)."""
    ambient_dim: int = 2
    """Dimension D of the audio coordinate x_a (1, 2 or 3)."""
    ambient_layers: int = 3
    code_to_density: bool = False
    """Also feed the audio code itself to the density MLP, beside the audio grid's features: a direct path from the
    photometric loss to the audio encoder (through the grid alone the gradient is weak until the grid varies along
    the audio coordinate, which a short run never reaches). False: the grid only (RAD-NeRF)."""


class RadHeadField(ConditionedRadianceField):
    """Density and colour of head points under an audio code and an eye value."""

    def __init__(self, config: RadHeadFieldConfig, audio_code_dim: int, num_frames: int) -> None:
        super().__init__()
        if not 1 <= config.ambient_dim <= 3:
            raise ValueError(f"ambient_dim must be 1, 2 or 3, got {config.ambient_dim}")
        self.config = config
        self.spatial = HashGrid(3, config.spatial_grid)
        self.ambient = MLP(
            in_dim=self.spatial.output_dim + audio_code_dim,
            num_layers=config.ambient_layers,
            layer_width=config.hidden_dim,
            out_dim=config.ambient_dim,
            out_activation=nn.Tanh(),
            implementation="torch",  # tanh output is not a tinycudann activation
        )
        self.audio = HashGrid(config.ambient_dim, config.audio_grid)
        code_dim = audio_code_dim if config.code_to_density else 0
        planes_dim = self.build_code_planes(audio_code_dim, config)
        feature_dim = self.spatial.output_dim + planes_dim + self.audio.output_dim + 1 + code_dim
        self.build_radiance(feature_dim, config, num_frames)

    def features(self, positions: Tensor, audio_code: Tensor, eye: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Spatial features (and the code planes'), the audio grid at the audio coordinate, the eye (and the code);
        ``ambient`` is the audio coordinate x_a ``[n, D]`` in [-1, 1]."""
        spatial = self.spatial(positions)
        ambient = self.ambient(torch.cat([spatial, audio_code], dim=-1))
        direct = [audio_code] if self.config.code_to_density else []
        moving = self.moving_features(positions, audio_code)
        audio = self.audio((ambient + 1.0) / 2.0)
        return torch.cat([spatial, *moving, audio, eye, *direct], dim=-1), {"ambient": ambient}
