"""ER-NeRF as a nerfstudio model: a tri-plane, region-attention head field (``fields.er_nerf_head_field``) on the
portrait base (``models.portrait_model``), with a torso that reads the head pose through adaptive pose encoding
(or, ``torso_pose_encoding`` 'raw', the pose itself as RAD-NeRF's does).

Everything else (audio encoder, occupancy grid, stages, losses, render controls, viewer, evaluation) is the base's,
as for RAD-NeRF. ER-NeRF's own regulariser joins the ambient loss: inside the face, the eye's attention is kept
away from where the audio acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Literal, Type

from torch import Tensor

from rad_nerfstudio.field_components.grid_presets import preset_grid
from rad_nerfstudio.field_components.pose_anchors import AdaptivePoseEncoding
from rad_nerfstudio.fields.er_nerf_head_field import ErNerfHeadField, ErNerfHeadFieldConfig
from rad_nerfstudio.fields.torso_field import PoseEncoder
from rad_nerfstudio.model_components.losses import masked_mean
from rad_nerfstudio.models.portrait_config import PortraitModelConfig
from rad_nerfstudio.models.portrait_model import PortraitModel


@dataclass
class ErNerfModelConfig(PortraitModelConfig):
    """ER-NeRF: tri-plane hash head with region attention, torso conditioned by adaptive pose encoding."""

    _target: Type = field(default_factory=lambda: ErNerfModel)
    head: ErNerfHeadFieldConfig = field(default_factory=ErNerfHeadFieldConfig)
    """Head field sizes (tri-plane grids, attention MLPs, density and colour MLPs)."""
    audio_code_dim: int = 32
    """Audio code from AudioNet (ER-NeRF uses 32)."""
    torso_pose_encoding: Literal["adaptive", "raw"] = "adaptive"
    """What the torso's deformation reads of the head pose: 'adaptive', ER-NeRF's adaptive pose encoding (learnable
    head-frame anchors projected to 2D, frequency-encoded); 'raw', the flattened 3x4 pose as RAD-NeRF reads it.
    er-nerf-small uses 'raw' (the real clip's held-out PSNR as given: ``method_configs.SMALL_ER_TORSO_POSE``)."""
    pose_frequencies: int = 3
    """Frequencies of the encoding of the anchors' 2D projections (``torso_pose_encoding`` 'adaptive')."""
    ambient_loss_mult: float = 1e-4
    """Mean audio attention outside the face rectangle (head stages). ER-NeRF's weight: at RAD-NeRF's 0.1 the
    attention's sigmoid saturates shut on some seeds and the head ignores the audio for good (the issue notes)."""
    attention_overlap_loss_mult: float = 1e-4
    """Eye attention times the (detached) audio attention inside the face rectangle (head stages); ER-NeRF's weight."""


class ErNerfModel(PortraitModel):
    """ER-NeRF head + torso."""

    config: ErNerfModelConfig

    def make_head_field(self, num_frames: int) -> ErNerfHeadField:
        config = replace(self.config.head, planes=preset_grid(self.config.grid_preset, self.config.head.planes))
        return ErNerfHeadField(config, self.field_code_dim, num_frames)

    def make_pose_encoder(self) -> PoseEncoder | None:
        if self.config.torso_pose_encoding == "raw":
            return None
        return AdaptivePoseEncoding(num_frequencies=self.config.pose_frequencies)

    def head_losses(self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Inside the face, the eye's attention where the audio acts (the audio's detached)."""
        overlap = outputs["eye_attention"][:, 0] * outputs["ambient"][:, 0].detach()
        weight = self.config.attention_overlap_loss_mult * self.ambient_ramp
        return {"attention_overlap_loss": weight * masked_mean(overlap, self.in_face_rect(batch))}
