"""Audio encoder of RAD-NeRF / ER-NeRF: AudioNet per window, attention over neighbouring windows, smoothing.

AudioNet reduces one ``[16, C]`` window to a code with four stride-2 1D convolutions (16 -> 1 steps) and two
linear layers. AudioAttNet looks at the codes of the 8 windows around a frame, scores them with 1D
convolutions along the neighbour axis and a linear layer, and returns their softmax-weighted sum.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from rad_nerfstudio.audio.windows import neighbour_indices

WINDOW = 16
NEIGHBOURS = 8


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.02, inplace=True)


class AudioNet(nn.Module):
    """``[*, 16, C]`` window of audio features -> ``[*, code_dim]`` audio code."""

    def __init__(self, in_dim: int, code_dim: int = 64) -> None:
        super().__init__()
        channels = (in_dim, 32, 32, 64, 64)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.Conv1d(c_in, c_out, kernel_size=3, stride=2, padding=1), _leaky()]
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(64, 64), _leaky(), nn.Linear(64, code_dim))

    def forward(self, windows: Float[Tensor, "*batch 16 channels"]) -> Float[Tensor, "*batch code"]:
        batch = windows.shape[:-2]
        x = windows.reshape(-1, WINDOW, windows.shape[-1]).transpose(1, 2)  # [B, C, 16]
        x = self.convs(x).squeeze(-1)  # [B, 64]
        return self.head(x).reshape(*batch, -1)


class AudioAttention(nn.Module):
    """Softmax attention over the codes of the neighbouring windows of each frame."""

    def __init__(self, code_dim: int, neighbours: int = NEIGHBOURS) -> None:
        super().__init__()
        channels = (code_dim, 16, 8, 4, 2, 1)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.Conv1d(c_in, c_out, kernel_size=3, stride=1, padding=1), _leaky()]
        self.scores = nn.Sequential(*layers)
        self.mix = nn.Linear(neighbours, neighbours)

    def weights(self, codes: Float[Tensor, "batch neighbours code"]) -> Float[Tensor, "batch neighbours"]:
        scores = self.scores(codes.transpose(1, 2)).squeeze(1)  # [B, neighbours]
        return torch.softmax(self.mix(scores), dim=-1)

    def forward(self, codes: Float[Tensor, "batch neighbours code"]) -> Float[Tensor, "batch code"]:
        return (self.weights(codes)[..., None] * codes).sum(dim=1)


class AudioEncoder(nn.Module):
    """Neighbouring windows ``[B, 8, 16, C]`` -> one audio code per frame ``[B, code_dim]``."""

    def __init__(self, in_dim: int, code_dim: int = 64, use_attention: bool = True) -> None:
        super().__init__()
        self.code_dim = code_dim
        self.net = AudioNet(in_dim, code_dim)
        self.attention = AudioAttention(code_dim) if use_attention else None

    def forward(self, context: Float[Tensor, "batch neighbours 16 channels"]) -> Float[Tensor, "batch code"]:
        if self.attention is None:
            return self.net(context[:, context.shape[1] // 2])
        return self.attention(self.net(context))  # codes [B, 8, D] -> [B, D]

    def encode_track(
        self, windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " batch"]
    ) -> Float[Tensor, "batch code"]:
        """The same codes as ``forward`` on the neighbours of ``centres`` in a window track, with each distinct
        window through AudioNet once (neighbouring frames share 7 of their 8 windows)."""
        index = neighbour_indices(centres, windows.shape[0], NEIGHBOURS)
        if self.attention is None:
            index = index[:, NEIGHBOURS // 2]
        needed, inverse = index.unique(return_inverse=True)
        codes = self.net(windows[needed])[inverse]
        return codes if self.attention is None else self.attention(codes)


def smooth_codes(codes: Float[Tensor, "time code"], beta: float) -> Float[Tensor, "time code"]:
    """Test-time momentum over a sequence of audio codes: ``s_t = beta s_{t-1} + (1 - beta) a_t``, ``s_0 = a_0``.

    RAD-NeRF's code uses ``beta = 0.35``; ``beta = 0`` leaves the codes unchanged.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"smoothing beta must be in [0, 1), got {beta}")
    smoothed = codes.clone()
    for t in range(1, codes.shape[0]):
        smoothed[t] = beta * smoothed[t - 1] + (1.0 - beta) * codes[t]
    return smoothed
