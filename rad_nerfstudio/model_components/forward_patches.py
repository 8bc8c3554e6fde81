"""Modules whose forward is replaced inside a block and restored after it (compiled fields, bfloat16 MLPs), and the
condition under which those replacements act: a render on the fused path."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from rad_nerfstudio.cuda.kernels import kernels_for  # pyright: ignore[reportMissingImports]

ForwardWrapper = Callable[[nn.Module, Callable[..., Any]], Callable[..., Any]]
"""(module, its own forward) -> the forward to use inside the block."""


def fused_render(module: nn.Module, device: torch.device) -> bool:
    """Whether ``module`` is rendering on the fused path: eval mode, no gradients, the fused kernels on ``device``
    (training, pose refinement, test-time alignment and the torch path are not)."""
    return not module.training and not torch.is_grad_enabled() and kernels_for(device) is not None


@contextmanager
def forwards_replaced(modules: Sequence[nn.Module], wrapper: ForwardWrapper) -> Iterator[None]:
    """Inside the block each module's forward is ``wrapper(module, its class's forward)``; after it, its own again."""
    for module in modules:
        module.forward = wrapper(module, type(module).forward.__get__(module))  # type: ignore[method-assign]
    try:
        yield
    finally:
        for module in modules:
            module.__dict__.pop("forward", None)
