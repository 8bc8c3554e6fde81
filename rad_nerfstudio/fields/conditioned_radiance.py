"""What RAD-NeRF's and ER-NeRF's head fields share: density and colour MLPs on top of a conditioned feature.

A field encodes a point with its own spatial encoding and audio / eye conditioning into one feature vector;
from there the sigma MLP gives density (truncated exponential) and geometry features, and the colour MLP reads
the geometry features, the view direction's spherical harmonics and a per-frame latent code. Optionally the
feature also carries the code planes' (``field_components.code_planes``): features that move with the mouth's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Tuple

import torch
from jaxtyping import Float, Int
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.field_components.encodings import SHEncoding
from nerfstudio.field_components.mlp import MLP
from torch import Tensor, nn

from rad_nerfstudio.config_loading import FilledOnLoad
from rad_nerfstudio.field_components.backend import encode_directions, fast_implementation
from rad_nerfstudio.field_components.code_planes import CodePlanes, CodePlanesConfig


@dataclass
class RadianceMlpConfig(FilledOnLoad):
    """Sizes of the density and colour MLPs (both anchors' code defaults) and the optional code planes."""

    renamed_fields: ClassVar[Dict[str, str]] = {"pose_colour": "pose_color"}

    sigma_layers: int = 3
    geometry_dim: int = 64
    color_layers: int = 2
    hidden_dim: int = 64
    latent_dim: int = 4
    """Per-frame latent code appended to the colour input."""
    sh_levels: int = 4
    pose_color: bool = False
    """The colour MLP also reads the camera's rotation in the head's frame: light fixed to the camera or the room
    shades the face differently as the head turns, which otherwise only the audio code could explain."""
    code_planes: bool = False
    """The sigma MLP also reads planes over each spatial axis and each number of the field's audio condition,
    multiplied (``field_components.code_planes``): features that move with the mouth's shape. On in the CPU-sized
    methods (``method_configs.SMALL_CODE_PLANES``), off in the paper-sized ones (the anchors' field)."""
    code_planes_sizes: CodePlanesConfig = field(default_factory=CodePlanesConfig)


class ConditionedRadianceField(nn.Module):
    """Base of the head fields: subclasses build their encoders, call ``build_radiance`` and define ``features``."""

    map_keys: Tuple[str, ...] = ("ambient",)
    """Per-sample outputs that the model renders as per-ray maps (their absolute values summed over channels)."""

    def build_code_planes(self, code_dim: int, config: RadianceMlpConfig) -> int:
        """The code planes over a ``code_dim`` condition when ``config`` asks for them (else None); the size of
        the feature they add."""
        self.code_planes = CodePlanes(code_dim, config.code_planes_sizes) if config.code_planes else None
        return 0 if self.code_planes is None else self.code_planes.output_dim

    def moving_features(self, positions: Float[Tensor, "n 3"], code: Float[Tensor, "n code"]) -> List[Tensor]:
        """The code planes' features of the points under their (gated) code, as a list to concatenate: empty
        without code planes."""
        return [] if self.code_planes is None else [self.code_planes(positions, code)]

    def build_radiance(self, feature_dim: int, config: RadianceMlpConfig, num_frames: int) -> None:
        """The sigma MLP on a ``feature_dim`` feature, the direction encoding, the latents and the colour MLP."""
        impl = fast_implementation()
        self.sigma = MLP(
            in_dim=feature_dim,
            num_layers=config.sigma_layers,
            layer_width=config.hidden_dim,
            out_dim=1 + config.geometry_dim,
            implementation=impl,
        )
        self.directions = SHEncoding(levels=config.sh_levels, implementation=impl)
        self.latents = nn.Embedding(num_frames, config.latent_dim)
        nn.init.zeros_(self.latents.weight)
        self.pose_dim = 9 if config.pose_color else 0
        self.color = MLP(
            in_dim=self.directions.get_out_dim() + config.geometry_dim + config.latent_dim + self.pose_dim,
            num_layers=config.color_layers,
            layer_width=config.hidden_dim,
            out_dim=3,
            out_activation=nn.Sigmoid(),
            implementation=impl,
        )

    def density_and_geometry(
        self, features: Float[Tensor, "n feature"]
    ) -> Tuple[Float[Tensor, "n 1"], Float[Tensor, "n geometry"]]:
        """Density (truncated exponential, shifted by -1 so a fresh field starts nearly empty) and geometry."""
        hidden = self.sigma(features).float()
        return trunc_exp(hidden[:, :1] - 1.0), hidden[:, 1:]

    def rgb(
        self,
        geometry: Float[Tensor, "n geometry"],
        directions: Float[Tensor, "n 3"],
        frame_idx: Int[Tensor, " n"],
        camera_rotation: Float[Tensor, "n 9"] | None = None,
    ) -> Float[Tensor, "n 3"]:
        """Colour in [0, 1] seen along unit ``directions`` in each point's frame, by a camera of that rotation
        (camera-to-head, row-major; read only with ``pose_color``)."""
        inputs = [encode_directions(self.directions, directions), geometry, self.latents(frame_idx)]
        if self.pose_dim:
            if camera_rotation is None:
                raise ValueError("this head field's colour reads the camera rotation: pass camera_rotation")
            inputs.append(camera_rotation)
        return self.color(torch.cat(inputs, dim=-1)).float()

    def features(
        self, positions: Float[Tensor, "n 3"], audio_code: Float[Tensor, "n code"], eye: Float[Tensor, "n 1"]
    ) -> Tuple[Float[Tensor, "n feature"], Dict[str, Tensor]]:
        """The sigma MLP's input for points in [0, 1]^3, and per-point extra outputs (``[n, c]`` each)."""
        raise NotImplementedError

    def forward(
        self,
        positions: Float[Tensor, "*batch 3"],
        directions: Float[Tensor, "*batch 3"],
        audio_code: Float[Tensor, "*batch code"],
        eye: Float[Tensor, "*batch 1"],
        frame_idx: Tensor,
        camera_rotation: Float[Tensor, "*batch 9"] | None = None,
    ) -> Dict[str, Tensor]:
        """``positions`` normalised to [0, 1]^3 (scene box), unit ``directions``, per-point codes, frame rows and
        camera rotations.

        Returns ``density`` ``[*, 1]``, ``rgb`` ``[*, 3]`` and the field's extra outputs ``[*, c]``.
        """
        batch = positions.shape[:-1]
        n = batch.numel()
        features, extras = self.features(positions.reshape(n, 3), audio_code.reshape(n, -1), eye.reshape(n, 1))
        density, geometry = self.density_and_geometry(features)
        rotation = None if camera_rotation is None else camera_rotation.reshape(n, 9)
        rgb = self.rgb(geometry, directions.reshape(n, 3), frame_idx.reshape(n), rotation)
        outputs = {"density": density, "rgb": rgb, **{key: value.float() for key, value in extras.items()}}
        return {key: value.reshape(*batch, value.shape[-1]) for key, value in outputs.items()}

    @torch.no_grad()
    def density(
        self, positions: Float[Tensor, "n 3"], audio_code: Float[Tensor, "n code"], eye: Float[Tensor, "n 1"]
    ) -> Float[Tensor, " n"]:
        """Density only (for occupancy-grid updates)."""
        return self.density_and_geometry(self.features(positions, audio_code, eye)[0])[0][:, 0]
