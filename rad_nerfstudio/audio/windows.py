"""Per-video-frame audio windows, as the anchors build them from 50 Hz features.

Beyond either end of the audio the features continue as their first or last row (windows as their first or last
window). The anchors pad with zeros, but after per-utterance standardisation a zero row is average speech, so the
last frames of a clip, which usually end in a pause, read as speech: on the held-out looks' validation tails the
ridge regression of the mouth predicted their closing mouth half open (with the edges continued, the audio code's r on
the obama look's validation frames went from 0.809 to 0.828; the issue notes have the probe).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

FEATURE_RATE = 50
"""Audio feature frames per second (20 ms hop)."""
WINDOW = 16
"""Feature frames per video-frame window (320 ms)."""


def frame_windows(
    features: Float[Tensor, "time channels"], num_frames: int, fps: float = 25.0
) -> Float[Tensor, "frames 16 channels"]:
    """One ``[16, C]`` window per video frame, centred on the frame's time, the edge rows repeated beyond the ends.

    Frame ``i`` (time ``i / fps``) sees feature rows ``[r - 8, r + 8)`` with ``r = round(i * 50 / fps)``
    (``2 i`` at 25 fps), the anchors' DeepSpeech/wav2vec windowing.
    """
    centres = torch.round(torch.arange(num_frames, dtype=torch.float64) * FEATURE_RATE / fps).long()
    index = centres[:, None] + torch.arange(WINDOW)[None, :] - WINDOW // 2
    return features[index.clamp(0, features.shape[0] - 1)]


def neighbour_indices(centres: Int[Tensor, " n"], track: int, neighbours: int = 8) -> Int[Tensor, "n neighbours"]:
    """Indices of the windows ``[c - n/2, c + n/2)`` around each centre, the track's first or last window where the
    neighbour lies beyond it."""
    offsets = torch.arange(neighbours, device=centres.device) - neighbours // 2
    return (centres[:, None] + offsets[None]).clamp(0, track - 1)


def neighbour_windows(
    windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " n"], neighbours: int = 8
) -> Float[Tensor, "n neighbours 16 channels"]:
    """The ``neighbours`` windows ``[c - n/2, c + n/2)`` around each centre index (the edge windows beyond the
    track)."""
    return windows[neighbour_indices(centres, windows.shape[0], neighbours)]
