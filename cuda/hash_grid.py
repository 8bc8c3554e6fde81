"""The fused hash / dense grid encoding (``csrc/kernels_cpu.cpp``, ``csrc/kernels_cuda.cu``) as torch operators.

``rad_nerfstudio::grid_encode`` and its table gradient ``rad_nerfstudio::grid_encode_table_grad`` are registered
with ``torch.library`` (shapes for tracing, the gradient for autograd), so ``torch.compile`` keeps a field that calls
them in one graph (``model_components.compiled_fields``). Their reference is
``rad_nerfstudio.field_components.hash_grid.HashGrid``'s torch path: the same values, and the same gradients with
respect to the feature table and (``rad_nerfstudio::grid_encode_points_grad``) to the points, computed only for
points that need one: rad-nerf's audio coordinates, the torso's deformed pixel coordinates, and every grid's points
under pose refinement and the pose alignments. The gradients are not differentiable again.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .kernels import kernels_for


def _kernels(device: torch.device) -> Any:
    kernels = kernels_for(device)
    if kernels is None:
        raise RuntimeError(f"the fused grid encoding was called without kernels for {device}")
    return kernels


@torch.library.custom_op("rad_nerfstudio::grid_encode", mutates_args=())
def grid_encode(points: Tensor, table: Tensor, resolutions: Tensor, n_dense: int) -> Tensor:
    """Features ``[n, levels, width]`` of ``points [n, dim]`` from ``table [levels, size, width]``."""
    return _kernels(points.device).hash_grid_forward(points, table, resolutions, n_dense)


@grid_encode.register_fake
def _grid_encode_shape(points: Tensor, table: Tensor, resolutions: Tensor, n_dense: int) -> Tensor:
    return points.new_empty(points.shape[0], table.shape[0], table.shape[2])


@torch.library.custom_op("rad_nerfstudio::grid_encode_table_grad", mutates_args=())
def grid_encode_table_grad(
    points: Tensor, grad_features: Tensor, resolutions: Tensor, n_dense: int, table_size: int
) -> Tensor:
    """The gradient ``[levels, size, width]`` of the encoding's table, given the features' gradient."""
    return _kernels(points.device).hash_grid_backward(points, grad_features, resolutions, n_dense, table_size)


@grid_encode_table_grad.register_fake
def _grid_encode_table_grad_shape(
    points: Tensor, grad_features: Tensor, resolutions: Tensor, n_dense: int, table_size: int
) -> Tensor:
    return grad_features.new_empty(grad_features.shape[1], table_size, grad_features.shape[2])


@torch.library.custom_op("rad_nerfstudio::grid_encode_points_grad", mutates_args=())
def grid_encode_points_grad(
    points: Tensor, table: Tensor, grad_features: Tensor, resolutions: Tensor, n_dense: int
) -> Tensor:
    """The gradient ``[n, dim]`` of the encoding's points, given the features' gradient."""
    return _kernels(points.device).hash_grid_points_backward(points, table, grad_features, resolutions, n_dense)


@grid_encode_points_grad.register_fake
def _grid_encode_points_grad_shape(
    points: Tensor, table: Tensor, grad_features: Tensor, resolutions: Tensor, n_dense: int
) -> Tensor:
    return torch.empty_like(points)


def _keep_for_backward(ctx: Any, inputs: tuple, output: Tensor) -> None:
    points, table, resolutions, n_dense = inputs
    ctx.save_for_backward(points, table, resolutions)
    ctx.n_dense = n_dense


def _backward(ctx: Any, grad_features: Tensor) -> tuple:
    points, table, resolutions = ctx.saved_tensors
    grad_features = grad_features.contiguous()
    grad_points = grad_table = None
    if ctx.needs_input_grad[0]:
        grad_points = grid_encode_points_grad(points, table, grad_features, resolutions, ctx.n_dense)
    if ctx.needs_input_grad[1]:
        grad_table = grid_encode_table_grad(points, grad_features, resolutions, ctx.n_dense, table.shape[1])
    return grad_points, grad_table, None, None


grid_encode.register_autograd(_backward, setup_context=_keep_for_backward)


def fused_hash_grid(
    points: Float[Tensor, "n dim"],
    table: Float[Tensor, "levels size width"],
    resolutions: Int[Tensor, " levels"],
    n_dense: int,
) -> Float[Tensor, "n levels width"] | None:
    """Features of ``points`` in [0, 1]^D (clamped) from a per-level table, the first ``n_dense`` levels dense
    row-major and the rest hashed; None when the fused kernel cannot serve (off, not built, or not float32)."""
    if points.dtype != torch.float32 or table.dtype != torch.float32:
        return None
    if kernels_for(points.device) is None:
        return None
    return grid_encode(points.contiguous(), table, resolutions, n_dense)
