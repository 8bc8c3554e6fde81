"""ER-NeRF's head field: a tri-plane hash encoding whose feature decides, per point, how much of each audio
channel and of the eye value reaches the density MLP (region attention).

There is no audio coordinate grid: the audio code, weighted channel by channel, is concatenated with the
spatial feature. The attention maps are outputs, so the viewer shows where the audio and the eye act.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Tuple

import torch
from torch import Tensor

from rad_nerfstudio.field_components.hash_grid import HashGridConfig
from rad_nerfstudio.field_components.region_attention import RegionAttention
from rad_nerfstudio.field_components.triplane import ER_NERF_PLANE_GRID, TriPlaneHashGrid
from rad_nerfstudio.fields.conditioned_radiance import ConditionedRadianceField, RadianceMlpConfig


@dataclass
class ErNerfHeadFieldConfig(RadianceMlpConfig):
    """Sizes of the tri-plane head field (ER-NeRF's code defaults)."""

    planes: HashGridConfig = field(default_factory=lambda: replace(ER_NERF_PLANE_GRID))
    """Each plane's 2D hash grid: 12 levels x 1 feature, base 64, finest 512, 2^14 entries."""
    audio_attention_hidden_dim: int = 64
    eye_attention_hidden_dim: int = 16
    attention_layers: int = 2


class ErNerfHeadField(ConditionedRadianceField):
    """Density and colour of head points; audio and eye conditioning gated by region attention."""

    map_keys = ("ambient", "eye_attention")

    def __init__(self, config: ErNerfHeadFieldConfig, audio_code_dim: int, num_frames: int) -> None:
        super().__init__()
        self.config = config
        self.spatial = TriPlaneHashGrid(config.planes)
        self.attention = RegionAttention(
            self.spatial.output_dim,
            audio_code_dim,
            config.audio_attention_hidden_dim,
            config.eye_attention_hidden_dim,
            config.attention_layers,
        )
        planes_dim = self.build_code_planes(audio_code_dim, config)
        self.build_radiance(self.spatial.output_dim + planes_dim + audio_code_dim + 1, config, num_frames)

    def features(self, positions: Tensor, audio_code: Tensor, eye: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Spatial features (and the code planes' under the code), the attended audio code and eye. Extras:
        ``ambient`` ``[n, 1]`` (the mean audio attention: how much audio acts here, in [0, 1]), ``eye_attention``
        ``[n, 1]``, ``audio_attention`` ``[n, code]``."""
        spatial = self.spatial(positions)
        attended = self.attention(spatial, audio_code, eye)
        extras = {
            "ambient": attended["audio_attention"].mean(-1, keepdim=True),
            "eye_attention": attended["eye_attention"],
            "audio_attention": attended["audio_attention"],
        }
        moving = self.moving_features(positions, audio_code)
        return torch.cat([spatial, *moving, attended["audio"], attended["eye"]], dim=-1), extras
