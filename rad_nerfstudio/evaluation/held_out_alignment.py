"""Both test-time alignments of the validation frames, as ``rad-eval`` and ``ns-eval`` score them: each frame's head
pose (``evaluation.pose_alignment``), then its torso code (``evaluation.torso_alignment``), kept in the model for the
renders of one block and dropped after it."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, Tuple

from jaxtyping import Float, Int, UInt8
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from rad_nerfstudio.evaluation.pose_alignment import AlignmentSettings, align_held_out_poses
from rad_nerfstudio.evaluation.torso_alignment import TORSO_SETTINGS, align_held_out_torso
from rad_nerfstudio.models.portrait_model import PortraitModel


@contextmanager
def aligned_held_out_frames(
    model: PortraitModel,
    cameras: Cameras,
    rows: Int[Tensor, " n"],
    images: UInt8[Tensor, "n height width 3"],
    steps: int,
) -> Iterator[Tuple[Float[Tensor, "n 6"], Float[Tensor, "n latent"] | None]]:
    """Inside the block the model renders the frames of ``rows`` aligned (``steps`` Adam steps each fit); yields the
    pose tangents and the torso offsets (None before the torso stage)."""
    try:
        tangents = align_held_out_poses(model, cameras, rows, images, AlignmentSettings(steps=steps))
        latents = align_held_out_torso(model, cameras, rows, images, replace(TORSO_SETTINGS, steps=steps))
        yield tangents, latents
    finally:
        model.pose_correction.held_out = None
        model.torso.held_out = None
