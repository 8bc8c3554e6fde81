"""Volume rendering of padded ``[rays, samples]`` batches and layer compositing."""

from __future__ import annotations

from typing import Dict

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from rad_nerfstudio.cuda.compositing import fused_composite  # pyright: ignore[reportMissingImports]


def render_samples(
    density: Float[Tensor, "rays k"],
    rgb: Float[Tensor, "rays k 3"],
    t_starts: Float[Tensor, "rays k"],
    t_ends: Float[Tensor, "rays k"],
    valid: Bool[Tensor, "rays k"],
) -> Dict[str, Tensor]:
    """Front-to-back alpha compositing; invalid (padding) samples contribute nothing. The fused kernel when it
    builds (``rad_nerfstudio.cuda.compositing``), else ``reference_render_samples``."""
    fused = fused_composite(density, rgb, t_starts, t_ends, valid)
    if fused is not None:
        fused.pop("transmittance")
        return fused
    return reference_render_samples(density, rgb, t_starts, t_ends, valid)


def reference_render_samples(
    density: Float[Tensor, "rays k"],
    rgb: Float[Tensor, "rays k 3"],
    t_starts: Float[Tensor, "rays k"],
    t_ends: Float[Tensor, "rays k"],
    valid: Bool[Tensor, "rays k"],
) -> Dict[str, Tensor]:
    """The torch compositing (the fused kernel's reference)."""
    alpha = (1.0 - torch.exp(-density * (t_ends - t_starts))) * valid
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], dim=-1), dim=-1)
    weights = alpha * transmittance[:, :-1]
    t_mid = (t_starts + t_ends) / 2
    return {
        "weights": weights,
        "rgb": (weights[..., None] * rgb).sum(dim=1),
        "accumulation": weights.sum(dim=1, keepdim=True),
        "depth": (weights * t_mid).sum(dim=1, keepdim=True),
    }


def over(front_rgb: Tensor, front_alpha: Tensor, back_rgb: Tensor) -> Tensor:
    """``front`` (premultiplied colour, alpha) over ``back``: head over torso over background."""
    return front_rgb + (1.0 - front_alpha) * back_rgb
