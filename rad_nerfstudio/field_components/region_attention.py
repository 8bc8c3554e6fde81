"""ER-NeRF's region attention: where in space the audio and the eye act, as channel weights from the spatial
feature (instead of RAD-NeRF's audio coordinate grid)."""

from __future__ import annotations

from typing import Dict

import torch
from jaxtyping import Float
from nerfstudio.field_components.mlp import MLP
from torch import Tensor, nn


class RegionAttention(nn.Module):
    """Sigmoid channel weights for the audio code and one weight for the eye value, per point."""

    def __init__(
        self,
        spatial_dim: int,
        audio_dim: int,
        audio_hidden_dim: int = 64,
        eye_hidden_dim: int = 16,
        num_layers: int = 2,
    ) -> None:
        """ER-NeRF's sizes by default: two layers, 64 hidden units for the audio weights, 16 for the eye's."""
        super().__init__()
        self.audio = MLP(spatial_dim, num_layers, audio_hidden_dim, audio_dim, implementation="torch")
        self.eye = MLP(spatial_dim, num_layers, eye_hidden_dim, 1, implementation="torch")

    def forward(
        self,
        spatial: Float[Tensor, "n spatial"],
        audio_code: Float[Tensor, "n audio"],
        eye: Float[Tensor, "n 1"],
    ) -> Dict[str, Tensor]:
        """The weighted audio code and eye value, and the attention itself (in [0, 1]) for the viewer."""
        audio_attention = torch.sigmoid(self.audio(spatial))
        eye_attention = torch.sigmoid(self.eye(spatial))
        return {
            "audio": audio_code * audio_attention,
            "eye": eye * eye_attention,
            "audio_attention": audio_attention,
            "eye_attention": eye_attention,
        }
