"""Renders with the head and torso fields compiled by ``torch.compile`` (inductor's C++ on the CPU).

A field evaluates a few thousand samples per call through a dozen small layers, concatenations, activations and
the region attention; eagerly each of them is a pass over memory. Compiled, the element-wise work fuses into the
matrix products' neighbours and the field becomes a few loops (the grid encoding stays the fused kernel, a
registered operator). Only renders take it: no gradients, the model in eval mode, CPU tensors with the fused kernels
on (the torch path stays the plain reference). The first compilation of a process takes tens of seconds (inductor
caches its code on disk, so later processes take several) against about a fifth of each frame's time: a long or
large video gains, a few small frames lose. ``rad-render`` and ``rad-eval`` therefore compile with ``--compile auto``
only when they have at least ``PAYS_OFF_PIXELS`` to render (``on`` / ``off`` decide). A machine where compiling
fails (no C++ compiler) renders eagerly, after one line saying so.
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager, Dict, Literal, Sequence

import torch
from nerfstudio.utils.rich_utils import CONSOLE
from torch import nn

from rad_nerfstudio.model_components.forward_patches import forwards_replaced, fused_render

FIELDS = ("head", "torso")
"""The model's field modules that are compiled."""
CompileChoice = Literal["auto", "on", "off"]
PAYS_OFF_PIXELS = 40_000_000
"""``auto`` compiles for at least this many rendered pixels: ~25 s of compiling on 2 cores against ~0.6 us saved per
pixel (er-nerf-small, 128 px frames: 50 -> 45 ms; the same frame eager and compiled in turn); 150 frames at 512 px."""


def wants_compiling(choice: CompileChoice, pixels: int) -> bool:
    """Whether renders of ``pixels`` pixels in all should compile the fields."""
    return choice == "on" or (choice == "auto" and pixels >= PAYS_OFF_PIXELS)


_failed: Dict[str, str] = {}
"""Why compiling failed in this process (said once; every later render is eager)."""


def _compiled_forward(module: nn.Module, eager: Callable[..., Any]) -> Callable[..., Any]:
    """``module``'s forward compiled once (kept on the module), eager where it cannot serve."""
    compiled = module.__dict__.get("_rad_compiled_forward")
    if compiled is None:
        compiled = torch.compile(eager, dynamic=True)
        module.__dict__["_rad_compiled_forward"] = compiled

    def forward(*args: Any, **kwargs: Any) -> Any:
        inputs = [a for a in args if isinstance(a, torch.Tensor)]
        device = inputs[0].device if inputs else torch.device("cpu")
        if _failed or not fused_render(module, device):
            return eager(*args, **kwargs)
        try:
            return compiled(*args, **kwargs)
        except Exception as error:  # no compiler, an unsupported operation: render eagerly from now on
            text = str(error).strip()
            _failed["reason"] = text.splitlines()[0] if text else type(error).__name__
            CONSOLE.print(f"[yellow]rad-nerfstudio: compiled fields unavailable ({_failed['reason']}); eager renders")
            return eager(*args, **kwargs)

    return forward


def compiled_fields(model: nn.Module, enabled: bool = True, names: Sequence[str] = FIELDS) -> ContextManager[None]:
    """Inside the block the model's fields ``names`` render compiled (see the module docstring); ``enabled`` False
    leaves them eager."""
    modules = [getattr(model, name) for name in names if enabled and isinstance(getattr(model, name, None), nn.Module)]
    return forwards_replaced(modules, _compiled_forward)
