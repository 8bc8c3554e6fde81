"""Per-frame image metrics: PSNR (whole frame and inside a rectangle) and SSIM."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure


def psnr(prediction: Float[Tensor, "h w 3"], target: Float[Tensor, "h w 3"]) -> float:
    """Peak signal-to-noise ratio of colours in [0, 1] (capped at 100 dB for identical images)."""
    mse = torch.mean((prediction - target) ** 2)
    return float(-10 * torch.log10(mse.clamp(min=1e-10)))


def rect_psnr(
    prediction: Float[Tensor, "h w 3"], target: Float[Tensor, "h w 3"], rect: tuple[int, int, int, int]
) -> float:
    """PSNR inside the half-open pixel rectangle ``(x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = rect
    return psnr(prediction[y0:y1, x0:x1], target[y0:y1, x0:x1])


def ssim(prediction: Float[Tensor, "h w 3"], target: Float[Tensor, "h w 3"]) -> float:
    """Structural similarity (torchmetrics, Gaussian 11x11 window)."""
    value = structural_similarity_index_measure(
        prediction.permute(2, 0, 1)[None], target.permute(2, 0, 1)[None], data_range=1.0
    )
    return float(value)  # type: ignore[arg-type]
