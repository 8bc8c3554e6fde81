"""How much a model weighs."""

from __future__ import annotations

from torch import nn


def parameter_megabytes(module: nn.Module) -> float:
    """Size of a module's parameters in MiB (the trained weights, without buffers)."""
    return sum(p.numel() * p.element_size() for p in module.parameters()) / 2**20
