"""A soft box gate: 1 well inside a box, falling linearly to 0 at its faces (the audio's region of action)."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn


class BoxGate(nn.Module):
    """``gate(x) = clamp((1 - d(x)) / softness, 0, 1)`` with ``d`` the box (Chebyshev) norm of ``x`` relative to
    the box's centre and half-size: 1 where ``d <= 1 - softness``, 0 on and outside the faces.

    Without a box the gate is 1 everywhere."""

    box: Tensor

    def __init__(self, box: Float[Tensor, "2 3"] | None, softness: float = 0.3) -> None:
        super().__init__()
        if not 0.0 < softness <= 1.0:
            raise ValueError(f"gate softness must be in (0, 1], got {softness}")
        self.softness = softness
        self.enabled = box is not None
        self.register_buffer("box", torch.zeros(2, 3) if box is None else box.detach().clone().float())

    def forward(self, positions: Float[Tensor, "n 3"]) -> Float[Tensor, "n 1"]:
        if not self.enabled:
            return positions.new_ones(positions.shape[0], 1)
        centre = (self.box[0] + self.box[1]) / 2
        half = ((self.box[1] - self.box[0]) / 2).clamp(min=1e-6)
        distance = ((positions - centre).abs() / half).amax(-1, keepdim=True)
        return ((1.0 - distance) / self.softness).clamp(0.0, 1.0)
