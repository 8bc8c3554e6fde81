"""Test-time alignment of held-out frames' torso latents with the trained fields frozen.

The torso's per-frame latent carries how the body sits in that frame (breathing, shoulders), which neither the head
pose nor the audio predicts: a held-out frame reads the trained frames' mean. On the real clip's held-out tail that
is most of the error (er-nerf-small: 69 % of the squared error in the frame's lower third; validation PSNR 29.6 dB
with the mean latent, 31.8 with one fitted to the whole frame, and a ridge from the head pose to the trained latents
explains none of them: cross-validated R^2 0.01). Scoring the head as a model that predicts its body's free motion
would hide the head's quality behind it, so the aligned scores also fit each held-out frame's latent, as NeRF-W fits
its appearance embeddings: on the pixels outside the face's rectangle only, so the face's scores come from pixels the
fit never saw.
"""

from __future__ import annotations

from typing import Tuple

import torch
from jaxtyping import Float, Int, UInt8
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from rad_nerfstudio.evaluation.pose_alignment import AlignmentSettings, fit_held_out_frames, inside_rectangles
from rad_nerfstudio.models.portrait_model import PortraitModel

TORSO_SETTINGS = AlignmentSettings(steps=100, rays_per_frame=128, learning_rate=2e-2)
"""Ten times the pose fit's rate: latents move further than pose tangents (the real clip's trained latents: norm 0.11,
spread 0.02-0.04 per dimension, fitted offsets norm 0.20). On that clip's tail (er-nerf-small, session 28's seed-1 run)
the aligned PSNR went 29.68 dB (poses) -> 31.59 (poses and torsos; 31.82 with each latent fitted to the whole frame),
the lips' scores unchanged."""


def _pixels_outside(
    face: Int[Tensor, "n 4"], height: int, width: int, count: int, generator: torch.Generator
) -> Tuple[Int[Tensor, "n k 2"], Float[Tensor, "n k"]]:
    """``count`` random (row, column) pixels of each frame, weighted 0 inside its face rectangle (x0, y0, x1, y1)."""
    n = face.shape[0]
    y = torch.randint(0, height, (n, count), generator=generator)
    x = torch.randint(0, width, (n, count), generator=generator)
    return torch.stack([y, x], dim=-1), (~inside_rectangles(x, y, face)).float()


def align_held_out_torso(
    model: PortraitModel,
    cameras: Cameras,
    rows: Int[Tensor, " n"],
    images: UInt8[Tensor, "n height width 3"],
    settings: AlignmentSettings = TORSO_SETTINGS,
) -> Float[Tensor, "n latent"] | None:
    """Fit each held-out frame's torso latent (an offset from the trained mean, ``model.torso.held_out``, kept for the
    renders that follow) to its pixels outside the face; None (nothing fitted) before the torso is trained."""
    if not model.torso_trained:
        return None
    face = model.face_rects[rows].cpu()
    height, width = images.shape[1:3]

    def install(offsets: Tensor) -> None:
        model.torso.held_out = offsets

    def pick(count: int, random: torch.Generator) -> Tuple[Tensor, Tensor]:
        return _pixels_outside(face, height, width, count, random)

    size, description = model.torso.config.latent_dim, "Aligning held-out torsos"
    return fit_held_out_frames(model, cameras, rows, images, settings, install, size, pick, description)
