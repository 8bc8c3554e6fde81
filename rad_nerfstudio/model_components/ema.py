"""Exponential moving average of a module's parameters, kept as buffers so checkpoints carry it."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


class ParameterEMA(nn.Module):
    """Shadow copies ``s <- decay * s + (1 - decay) * p`` of every trainable parameter of ``module`` (but those whose
    names start with one of ``exclude``).

    ``averaged()`` swaps the shadows in for rendering and puts the live weights back afterwards; nested blocks
    swap nothing more (a video entered once renders its frames without copying the weights per frame).
    """

    def __init__(self, module: nn.Module, decay: float, exclude: tuple[str, ...] = ()) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self._module = [module]  # a list: not a submodule, so its parameters are not registered twice
        self._names = [
            name for name, p in module.named_parameters() if p.requires_grad and not name.startswith(exclude)
        ]
        for k, name in enumerate(self._names):
            self.register_buffer(f"shadow_{k}", dict(module.named_parameters())[name].detach().clone())
        self._swapped = False

    def _pairs(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        parameters = dict(self._module[0].named_parameters())
        for k, name in enumerate(self._names):
            yield getattr(self, f"shadow_{k}"), parameters[name]

    @torch.no_grad()
    def update(self) -> None:
        for shadow, parameter in self._pairs():
            shadow.lerp_(parameter.detach(), 1.0 - self.decay)

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Use the averaged weights inside the block."""
        if self._swapped:
            yield
            return
        pairs = list(self._pairs())
        live = [parameter.detach().clone() for _, parameter in pairs]
        with torch.no_grad():
            for shadow, parameter in pairs:
                parameter.copy_(shadow)
        self._swapped = True
        try:
            yield
        finally:
            self._swapped = False
            with torch.no_grad():
                for (_, parameter), value in zip(pairs, live, strict=True):
                    parameter.copy_(value)
