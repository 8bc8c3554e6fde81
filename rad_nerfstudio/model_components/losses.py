"""Photometric losses (selectable), the accumulation entropy and the masked ambient (audio-coordinate) L1."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor

PhotometricLoss = Literal["mse", "l1", "smooth_l1", "huber"]


def photometric_errors(
    kind: PhotometricLoss, prediction: Float[Tensor, "*b 3"], target: Float[Tensor, "*b 3"], beta: float = 1.0
) -> Float[Tensor, "*b"]:
    """Per-ray photometric error (mean over colour channels). ``beta`` is SmoothL1's beta / Huber's delta (on
    [0, 1] colours SmoothL1 with ``beta = 1`` is half the MSE)."""
    if kind == "mse":
        error = F.mse_loss(prediction, target, reduction="none")
    elif kind == "l1":
        error = F.l1_loss(prediction, target, reduction="none")
    elif kind == "smooth_l1":
        error = F.smooth_l1_loss(prediction, target, reduction="none", beta=beta)
    elif kind == "huber":
        error = F.huber_loss(prediction, target, reduction="none", delta=beta)
    else:
        raise ValueError(f"unknown photometric loss {kind!r}")
    return error.mean(-1)


def photometric_loss(
    kind: PhotometricLoss, prediction: Float[Tensor, "*b 3"], target: Float[Tensor, "*b 3"], beta: float = 1.0
) -> Tensor:
    """Mean photometric error over rays (see :func:`photometric_errors`)."""
    return photometric_errors(kind, prediction, target, beta).mean()


def entropy_loss(accumulation: Float[Tensor, "*b 1"]) -> Tensor:
    """Binary entropy of the accumulated opacity: pushes the head to be fully opaque or fully empty."""
    a = accumulation.clamp(1e-5, 1 - 1e-5)
    return -(a * torch.log(a) + (1 - a) * torch.log(1 - a)).mean()


def masked_mean(values: Float[Tensor, " n"], mask: Bool[Tensor, " n"]) -> Tensor:
    """Mean over the masked entries (0 when none)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def marched_distortion_loss(
    weights: Float[Tensor, "rays k"], t_starts: Float[Tensor, "rays k"], t_ends: Float[Tensor, "rays k"]
) -> Tensor:
    """mip-NeRF 360's distortion loss on marched samples: small when each ray's weight sits in one thin interval,
    large for a fog of low densities spread along the ray (which paints each view's colour at another depth and
    blurs the head across views). The occupancy marcher leaves gaps between samples; they enter nerfstudio's
    ``lossfun_distortion`` as intervals of zero weight, so each sample is one of its bins as it is."""
    from nerfstudio.model_components.losses import lossfun_distortion

    edges = torch.stack([t_starts, t_ends], dim=-1).flatten(-2)  # [rays, 2k]: start, end of each sample in turn
    gapped = torch.stack([weights, torch.zeros_like(weights)], dim=-1).flatten(-2)[..., :-1]  # [rays, 2k - 1]
    return lossfun_distortion(edges, gapped).mean()
