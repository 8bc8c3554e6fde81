"""Planes over one spatial axis and one number of the mouth's shape: a point's features that move with the mouth.

A head field that reads the mouth's shape only through its MLPs must make the lips' edge, a few pixels that move
as the mouth opens, out of a static spatial feature and two numbers; the heads fit their own training mouths at
r 0.72-0.92 only (the issue notes). Here each number ``c`` of the code gets three dense 2D grids, over ``(x, c)``,
``(y, c)`` and ``(z, c)``, at a few spatial resolutions; their bilinear lookups are multiplied channel by channel
(K-Planes' way of factorising a field over space and time, with the mouth's number as time), so a feature can be
"lower lip at this height for this opening". The code axis is coarse (3 cells over +-3 standard deviations by
default: each plane is piecewise linear in the number, with one bend at the training frames' mean), so a frame's own
number cannot become a lookup of that frame. Measured (README, "Planes over the mouth's numbers" and "Three cells
along the number"): with 8 cells the synthetic looks' mouths follow their truth closer but the real clip's held-out
speech less; with 3 both gain, and the CPU-sized methods read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn


@dataclass
class CodePlanesConfig:
    """Sizes of the planes over (spatial axis, code number)."""

    spatial_resolutions: Tuple[int, ...] = (32, 64, 128)
    """Cells along the spatial axis, one set of planes per resolution."""
    code_resolution: int = 3
    """Cells along the code axis (the same at every spatial resolution). Finer axes fit the training mouths closer
    and generalise worse on real speech (the real clip's held-out mouth r over seeds 42 / 1: 8 cells 0.697 / 0.742,
    4 cells 0.726 / 0.766, 3 cells 0.805 / 0.762, none 0.783 / 0.740)."""
    features: int = 4
    """Channels of each plane (one product per channel)."""
    code_range: float = 3.0
    """The code axis spans +- this (the mouth's numbers are standardised over the training frames); beyond it the
    edge cell is read."""


class CodePlanes(nn.Module):
    """Features of points in [0, 1]^3 under a code: per resolution and code number, the product of the three
    planes' bilinear lookups."""

    def __init__(self, code_dim: int, config: CodePlanesConfig | None = None) -> None:
        super().__init__()
        config = CodePlanesConfig() if config is None else config
        if code_dim < 1 or config.code_resolution < 2 or min(config.spatial_resolutions, default=0) < 2:
            raise ValueError(f"code planes need a code and at least 2 cells per axis, got {code_dim}, {config}")
        if config.code_range <= 0:
            raise ValueError(f"code planes' code_range must be positive, got {config.code_range}")
        self.config = config
        self.code_dim = code_dim
        # one tensor per resolution: [code_dim * 3 planes, features, code cells, spatial cells], near 1 so that a
        # fresh product is a mild, well-scaled feature whose every plane gets gradients
        self.planes = nn.ParameterList(
            nn.Parameter(1.0 + 0.1 * torch.randn(code_dim * 3, config.features, config.code_resolution, resolution))
            for resolution in config.spatial_resolutions
        )
        self.output_dim = len(config.spatial_resolutions) * code_dim * config.features

    def forward(self, positions: Float[Tensor, "n 3"], code: Float[Tensor, "n code"]) -> Float[Tensor, "n features"]:
        """What the code changes: the planes' features under the code less those under a zero code, ordered
        resolution, code number, channel; exactly zero where the code is zero, as outside the mouth's region (eager,
        only the points with a code are looked up; compiled, all of them, without a data-dependent shape)."""
        code = code.float()
        if torch.compiler.is_compiling():
            return self._change(positions.float(), code)
        out = positions.new_zeros(positions.shape[0], self.output_dim, dtype=torch.float32)
        acting = (code != 0).any(dim=-1).nonzero()[:, 0]
        if acting.numel() == 0:
            return out
        return out.index_copy(0, acting, self._change(positions[acting].float(), code[acting]))

    def _change(self, positions: Float[Tensor, "n 3"], code: Float[Tensor, "n code"]) -> Float[Tensor, "n features"]:
        """Features under the code less under a zero code, both read in one lookup per resolution."""
        n = positions.shape[0]
        both = self._features(torch.cat([positions, positions]), torch.cat([code, torch.zeros_like(code)]))
        return both[:n] - both[n:]

    def _features(self, positions: Float[Tensor, "n 3"], code: Float[Tensor, "n code"]) -> Float[Tensor, "n features"]:
        n = positions.shape[0]
        spatial = positions.clamp(0.0, 1.0) * 2.0 - 1.0  # [n, 3]
        along_code = (code / self.config.code_range).clamp(-1.0, 1.0)  # [n, code]
        # every (code number, axis) plane's lookup points: x = the spatial axis, y = the code number
        grid = torch.stack(
            [spatial[None, :, :].expand(self.code_dim, n, 3), along_code.T[:, :, None].expand(self.code_dim, n, 3)],
            dim=-1,
        )  # [code, n, 3 axes, 2]
        grid = grid.permute(0, 2, 1, 3).reshape(self.code_dim * 3, 1, n, 2)
        features = []
        for planes in self.planes:
            looked_up = F.grid_sample(planes, grid.to(planes.dtype), mode="bilinear", align_corners=True)
            looked_up = looked_up.reshape(self.code_dim, 3, self.config.features, n)  # [code, axis, feature, n]
            features.append(looked_up.prod(dim=1).permute(2, 0, 1).reshape(n, -1))
        return torch.cat(features, dim=-1)
