"""The fused hash / dense grid encoding (``csrc/hash_grid_cpu.cpp``) as an autograd function.

Its reference is ``rad_nerfstudio.field_components.hash_grid.HashGrid``'s torch path: the same values, and the
same gradient with respect to the feature table. Gradients with respect to the points are not computed (no
field here differentiates its features by position), so callers whose points require a gradient take the torch
path.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .kernels import kernels_for


class _HashGridEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, points: Tensor, table: Tensor, resolutions: Tensor, n_dense: int, kernels: Any) -> Tensor:
        ctx.save_for_backward(points, resolutions)
        ctx.n_dense, ctx.table_size, ctx.kernels = n_dense, table.shape[1], kernels
        return kernels.hash_grid_forward(points, table, resolutions, n_dense)

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> Any:
        points, resolutions = ctx.saved_tensors
        grad_table = None
        if ctx.needs_input_grad[1]:
            grad_table = ctx.kernels.hash_grid_backward(
                points, grad_outputs[0], resolutions, ctx.n_dense, ctx.table_size
            )
        return None, grad_table, None, None, None


def fused_hash_grid(
    points: Float[Tensor, "n dim"],
    table: Float[Tensor, "levels size width"],
    resolutions: Int[Tensor, " levels"],
    n_dense: int,
) -> Float[Tensor, "n levels width"] | None:
    """Features of ``points`` in [0, 1]^D (clamped) from a per-level table, the first ``n_dense`` levels dense
    row-major and the rest hashed; None when the fused kernel cannot serve (off, not built, not float32, or
    points that need a gradient)."""
    if points.dtype != torch.float32 or table.dtype != torch.float32 or points.requires_grad:
        return None
    kernels = kernels_for(points.device)
    if kernels is None:
        return None
    return _HashGridEncode.apply(points.contiguous(), table, resolutions, n_dense, kernels)  # pyright: ignore
