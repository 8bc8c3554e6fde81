"""Modules whose forward is replaced inside a block and restored after it (compiled fields, bfloat16 MLPs)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from torch import nn

ForwardWrapper = Callable[[nn.Module, Callable[..., Any]], Callable[..., Any]]
"""(module, its own forward) -> the forward to use inside the block."""


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
