"""Photometric losses (selectable), the accumulation entropy and the masked ambient (audio-coordinate) L1."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor

PhotometricLoss = Literal["mse", "l1", "smooth_l1", "huber"]


def photometric_loss(
    kind: PhotometricLoss, prediction: Float[Tensor, "*b 3"], target: Float[Tensor, "*b 3"], beta: float = 1.0
) -> Tensor:
    """Mean photometric error. ``beta`` is SmoothL1's beta / Huber's delta (on [0, 1] colours SmoothL1 with
    ``beta = 1`` is half the MSE)."""
    if kind == "mse":
        return F.mse_loss(prediction, target)
    if kind == "l1":
        return F.l1_loss(prediction, target)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(prediction, target, beta=beta)
    if kind == "huber":
        return F.huber_loss(prediction, target, delta=beta)
    raise ValueError(f"unknown photometric loss {kind!r}")


def entropy_loss(accumulation: Float[Tensor, "*b 1"]) -> Tensor:
    """Binary entropy of the accumulated opacity: pushes the head to be fully opaque or fully empty."""
    a = accumulation.clamp(1e-5, 1 - 1e-5)
    return -(a * torch.log(a) + (1 - a) * torch.log(1 - a)).mean()


def masked_mean(values: Float[Tensor, " n"], mask: Bool[Tensor, " n"]) -> Tensor:
    """Mean over the masked entries (0 when none)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)
