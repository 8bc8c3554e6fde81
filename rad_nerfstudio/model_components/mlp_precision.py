"""Renders with the head and torso fields' MLPs in bfloat16 where the CPU multiplies bfloat16 matrices itself.

A rendered frame spends a fifth to a quarter of its time in the fields' small matrix products (thousands of samples
through 64-wide layers), which float32 runs at the vector units' peak. Processors with AMX tiles or AVX-512 BF16
(Intel since Sapphire Rapids / Cooper Lake) multiply bfloat16 matrices with float32 sums two to three times faster:
oneDNN's ``brg_matmul:avx10_1_512_amx`` on this VM, 12 000 x 64 x 64 in 0.34 against 0.92 ms on one thread. Inside
``bfloat16_mlps`` each MLP of the fields runs under ``torch.autocast`` (the products in bfloat16, everything around
them as before) and hands float32 back. The images change by far less than a video encoder does: 70-73 dB PSNR
against the float32 render (``tests/model_components/test_mlp_precision.py`` asserts >= 45 dB).

Only renders take it: no gradients (training, pose refinement and test-time alignment stay float32), the model in
eval mode, CPU tensors with the fused kernels on (the torch path stays the plain float32 reference). ``auto`` takes
it where the processor has the bfloat16 units; elsewhere bfloat16 is emulated and slower, so ``auto`` keeps float32.
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager, Literal, Sequence

import torch
from nerfstudio.field_components.mlp import MLP
from torch import nn

from rad_nerfstudio.model_components.forward_patches import forwards_replaced, fused_render

MlpPrecision = Literal["auto", "float32", "bfloat16"]
FIELDS = ("head", "torso")
"""The model's field modules whose MLPs are affected."""


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles or AVX-512 BF16)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without the probes: assume not
        return False


def wants_bfloat16(choice: MlpPrecision) -> bool:
    """Whether renders asked to run at ``choice`` take bfloat16 MLPs on this machine."""
    return choice == "bfloat16" or (choice == "auto" and native_bfloat16())


def _bfloat16_forward(module: nn.Module, eager: Callable[..., Any]) -> Callable[..., Any]:
    """``module``'s forward with its products in bfloat16 where renders take it (see the module docstring)."""

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        if inputs.device.type != "cpu" or not fused_render(module, inputs.device):
            return eager(inputs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return eager(inputs).float()

    return forward


def bfloat16_mlps(model: nn.Module, enabled: bool = True, names: Sequence[str] = FIELDS) -> ContextManager[None]:
    """Inside the block the MLPs of the model's fields ``names`` render with bfloat16 products (see the module
    docstring); ``enabled`` False leaves them float32."""
    fields = [getattr(model, name, None) for name in names] if enabled else []
    mlps = [m for field in fields if isinstance(field, nn.Module) for m in field.modules() if isinstance(m, MLP)]
    return forwards_replaced(mlps, _bfloat16_forward)
