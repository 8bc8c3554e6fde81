"""Which implementation of nerfstudio's field components to build: tinycudann on CUDA when installed."""

from __future__ import annotations

import importlib.util
from typing import Literal

import torch
from jaxtyping import Float
from nerfstudio.field_components.encodings import SHEncoding
from torch import Tensor


def fast_implementation() -> Literal["tcnn", "torch"]:
    """``tcnn`` when a GPU and tinycudann are present, else nerfstudio's torch fallback (no warnings)."""
    return "tcnn" if torch.cuda.is_available() and importlib.util.find_spec("tinycudann") else "torch"


def encode_directions(encoding: SHEncoding, directions: Float[Tensor, "*batch 3"]) -> Float[Tensor, "*batch sh"]:
    """Spherical harmonics of unit directions (tinycudann wants them mapped to [0, 1]; the torch path does not)."""
    if encoding.tcnn_encoding is not None:
        return encoding((directions + 1.0) / 2.0).float()
    return encoding(directions)
