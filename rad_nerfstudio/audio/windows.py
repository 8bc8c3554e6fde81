"""Per-video-frame audio windows, as the anchors build them from 50 Hz features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

FEATURE_RATE = 50
"""Audio feature frames per second (20 ms hop)."""
WINDOW = 16
"""Feature frames per video-frame window (320 ms)."""


def frame_windows(
    features: Float[Tensor, "time channels"], num_frames: int, fps: float = 25.0
) -> Float[Tensor, "frames 16 channels"]:
    """One ``[16, C]`` window per video frame, centred on the frame's time, zero-padded at both ends.

    Frame ``i`` (time ``i / fps``) sees feature rows ``[r - 8, r + 8)`` with ``r = round(i * 50 / fps)``
    (``2 i`` at 25 fps), the anchors' DeepSpeech/wav2vec windowing.
    """
    half = WINDOW // 2
    centres = torch.round(torch.arange(num_frames, dtype=torch.float64) * FEATURE_RATE / fps).long()
    needed = int(centres.max().item()) + half if num_frames else 0
    padded = F.pad(features, (0, 0, half, max(0, needed - features.shape[0])))
    index = centres[:, None] + torch.arange(WINDOW)[None, :]
    return padded[index]


def neighbour_indices(centres: Int[Tensor, " n"], track: int, neighbours: int = 8) -> Int[Tensor, "n neighbours"]:
    """Indices of the windows ``[c - n/2, c + n/2)`` around each centre; ``track`` (one past the end) where the
    neighbour lies beyond the track."""
    offsets = torch.arange(neighbours, device=centres.device) - neighbours // 2
    index = centres[:, None] + offsets[None]
    return torch.where((index >= 0) & (index < track), index, track)


def neighbour_windows(
    windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " n"], neighbours: int = 8
) -> Float[Tensor, "n neighbours 16 channels"]:
    """The ``neighbours`` windows ``[c - n/2, c + n/2)`` around each centre index, zeros beyond the track."""
    return windows_at(windows, neighbour_indices(centres, windows.shape[0], neighbours))


def windows_at(
    windows: Float[Tensor, "track 16 channels"], index: Int[Tensor, "*shape"]
) -> Float[Tensor, "*shape 16 channels"]:
    """The windows at ``index``; an all-zero window where the index is ``track`` (beyond either end)."""
    inside = (index < windows.shape[0]).to(windows.dtype)
    return windows[index.clamp(max=windows.shape[0] - 1)] * inside[..., None, None]
