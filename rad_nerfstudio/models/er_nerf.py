"""ER-NeRF as a nerfstudio model: RAD-NeRF's model with a tri-plane, region-attention head and a torso that
reads the head pose through adaptive pose encoding.

Everything else (data, audio encoder, occupancy grid, stages, samplers, losses, render controls, viewer,
evaluation) is the rad-nerf model's. ER-NeRF's own regulariser joins the ambient loss: inside the face, the
eye's attention is kept away from where the audio acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Type

from rad_nerfstudio.field_components.grid_presets import preset_grid
from rad_nerfstudio.field_components.pose_anchors import AdaptivePoseEncoding
from rad_nerfstudio.fields.er_nerf_head_field import ErNerfHeadField, ErNerfHeadFieldConfig
from rad_nerfstudio.fields.torso_field import PoseEncoder
from rad_nerfstudio.model_components.losses import masked_mean
from rad_nerfstudio.models.rad_nerf import RadNerfModel, RadNerfModelConfig


@dataclass
class ErNerfModelConfig(RadNerfModelConfig):
    """ER-NeRF: tri-plane hash head with region attention, torso conditioned by adaptive pose encoding."""

    _target: Type = field(default_factory=lambda: ErNerfModel)
    head: ErNerfHeadFieldConfig = field(default_factory=ErNerfHeadFieldConfig)  # pyright: ignore[reportIncompatibleVariableOverride]
    """Head field sizes (tri-plane grids, attention MLPs, density and colour MLPs)."""
    audio_code_dim: int = 32
    """Audio code from AudioNet (ER-NeRF uses 32)."""
    pose_frequencies: int = 3
    """Frequencies of the encoding of the anchors' 2D projections."""
    ambient_loss_mult: float = 0.1
    """Mean audio attention outside the face rectangle (head stages)."""
    attention_overlap_loss_mult: float = 0.1
    """Eye attention times the (detached) audio attention inside the face rectangle (head stages)."""


class ErNerfModel(RadNerfModel):
    """ER-NeRF head + torso."""

    config: ErNerfModelConfig  # pyright: ignore[reportIncompatibleVariableOverride]

    def make_head_field(self, num_frames: int) -> ErNerfHeadField:
        config = replace(self.config.head, planes=preset_grid(self.config.grid_preset, self.config.head.planes))
        return ErNerfHeadField(config, self.field_code_dim, num_frames)

    def make_pose_encoder(self) -> PoseEncoder:
        return AdaptivePoseEncoding(num_frequencies=self.config.pose_frequencies)

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> Dict:
        losses = super().get_loss_dict(outputs, batch, metrics_dict)
        if self.stage != "torso":
            overlap = outputs["eye_attention"][:, 0] * outputs["ambient"][:, 0].detach()
            weight = self.config.attention_overlap_loss_mult * self.ambient_ramp
            losses["attention_overlap_loss"] = weight * masked_mean(overlap, self.in_face_rect(batch))
        return losses
