"""RAD-NeRF's head field: a decomposed audio-spatial encoding.

A 3D hash grid encodes the position x. An ambient MLP maps (spatial features, audio code) to a
spatially dependent audio coordinate ``x_a`` in [-1, 1]^D (tanh), which a D-dimensional hash grid encodes.
Density comes from (spatial, audio features, eye) through a truncated exponential; colour from the
geometry features, the view direction's spherical harmonics and a per-frame latent code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

import torch
from jaxtyping import Float
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.field_components.encodings import SHEncoding
from nerfstudio.field_components.mlp import MLP
from torch import Tensor, nn

from rad_nerfstudio.field_components.backend import encode_directions, fast_implementation
from rad_nerfstudio.field_components.hash_grid import HashGrid, HashGridConfig


@dataclass
class RadHeadFieldConfig:
    """Sizes of the head field (RAD-NeRF's code defaults)."""

    spatial_grid: HashGridConfig = field(default_factory=HashGridConfig)
    """3D hash grid of positions: 16 levels x 2 features, base 16, finest 2048, 2^16 entries."""
    audio_grid: HashGridConfig = field(default_factory=HashGridConfig)
    """Hash grid of the audio coordinate (same sizes)."""
    ambient_dim: int = 2
    """Dimension D of the audio coordinate x_a (1, 2 or 3)."""
    ambient_layers: int = 3
    sigma_layers: int = 3
    geometry_dim: int = 64
    color_layers: int = 2
    hidden_dim: int = 64
    latent_dim: int = 4
    """Per-frame latent code appended to the colour input."""
    sh_levels: int = 4


class RadHeadField(nn.Module):
    """Density and colour of head points under an audio code and an eye value."""

    def __init__(self, config: RadHeadFieldConfig, audio_code_dim: int, num_frames: int) -> None:
        super().__init__()
        if not 1 <= config.ambient_dim <= 3:
            raise ValueError(f"ambient_dim must be 1, 2 or 3, got {config.ambient_dim}")
        self.config = config
        impl = fast_implementation()
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
        self.sigma = MLP(
            in_dim=self.spatial.output_dim + self.audio.output_dim + 1,
            num_layers=config.sigma_layers,
            layer_width=config.hidden_dim,
            out_dim=1 + config.geometry_dim,
            implementation=impl,
        )
        self.directions = SHEncoding(levels=config.sh_levels, implementation=impl)
        self.latents = nn.Embedding(num_frames, config.latent_dim)
        nn.init.zeros_(self.latents.weight)
        self.color = MLP(
            in_dim=self.directions.get_out_dim() + config.geometry_dim + config.latent_dim,
            num_layers=config.color_layers,
            layer_width=config.hidden_dim,
            out_dim=3,
            out_activation=nn.Sigmoid(),
            implementation=impl,
        )

    def forward(
        self,
        positions: Float[Tensor, "*batch 3"],
        directions: Float[Tensor, "*batch 3"],
        audio_code: Float[Tensor, "*batch code"],
        eye: Float[Tensor, "*batch 1"],
        frame_idx: Tensor,
    ) -> Dict[str, Tensor]:
        """``positions`` normalised to [0, 1]^3 (scene box), unit ``directions``, per-point codes and frame rows.

        Returns ``density`` ``[*, 1]``, ``rgb`` ``[*, 3]`` and ``ambient`` (the audio coordinate) ``[*, D]``.
        """
        batch = positions.shape[:-1]
        flat = positions.reshape(-1, 3)
        spatial = self.spatial(flat)
        ambient = self.ambient(torch.cat([spatial, audio_code.reshape(flat.shape[0], -1)], dim=-1))
        audio = self.audio((ambient + 1.0) / 2.0)
        hidden = self.sigma(torch.cat([spatial, audio, eye.reshape(-1, 1)], dim=-1)).float()
        density = trunc_exp(hidden[:, :1] - 1.0)
        latent = self.latents(frame_idx.reshape(-1))
        sh = encode_directions(self.directions, directions.reshape(-1, 3))
        rgb = self.color(torch.cat([sh, hidden[:, 1:], latent], dim=-1)).float()
        return {
            "density": density.reshape(*batch, 1),
            "rgb": rgb.reshape(*batch, 3),
            "ambient": ambient.float().reshape(*batch, self.config.ambient_dim),
        }

    @torch.no_grad()
    def density(
        self, positions: Float[Tensor, "n 3"], audio_code: Float[Tensor, "n code"], eye: Float[Tensor, "n 1"]
    ) -> Float[Tensor, " n"]:
        """Density only (for occupancy-grid updates)."""
        spatial = self.spatial(positions)
        ambient = self.ambient(torch.cat([spatial, audio_code], dim=-1))
        hidden = self.sigma(torch.cat([spatial, self.audio((ambient + 1.0) / 2.0), eye], dim=-1)).float()
        return trunc_exp(hidden[:, 0] - 1.0)
