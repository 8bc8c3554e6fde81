"""RAD-NeRF as a nerfstudio model: a decomposed audio-spatial head field (``fields.rad_head_field``) on the
portrait base (``models.portrait_model``), with a torso that reads the raw head pose."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Type

from rad_nerfstudio.field_components.grid_presets import preset_grid
from rad_nerfstudio.fields.rad_head_field import RadHeadField, RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import PoseEncoder
from rad_nerfstudio.models.portrait_config import PortraitModelConfig
from rad_nerfstudio.models.portrait_model import PortraitModel


@dataclass
class RadNerfModelConfig(PortraitModelConfig):
    """RAD-NeRF: decomposed audio-spatial head, pseudo-3D torso, max occupancy grid."""

    _target: Type = field(default_factory=lambda: RadNerfModel)
    head: RadHeadFieldConfig = field(default_factory=RadHeadFieldConfig)
    """Head field sizes."""


class RadNerfModel(PortraitModel):
    """RAD-NeRF head + torso."""

    config: RadNerfModelConfig

    def make_head_field(self, num_frames: int) -> RadHeadField:
        """RAD-NeRF's decomposed audio-spatial head field, its grids under the grid preset."""
        preset, head = self.config.grid_preset, self.config.head
        config = replace(
            head, spatial_grid=preset_grid(preset, head.spatial_grid), audio_grid=preset_grid(preset, head.audio_grid)
        )
        return RadHeadField(config, self.field_code_dim, num_frames)

    def make_pose_encoder(self) -> PoseEncoder | None:
        """RAD-NeRF's torso deformation reads the raw 3x4 pose."""
        return None
