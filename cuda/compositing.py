"""Fused front-to-back compositing (``csrc/composite_cpu.cpp``) as an autograd function.

Its reference is ``rad_nerfstudio.model_components.compositing.render_samples``: the same weights, colour,
accumulation and depth, and the same gradients with respect to density, colour and the samples' bounds (rays that
follow a refined head pose). It also takes each ray's transmittance before its first sample and returns the one
after its last, so that a renderer can composite a ray in pieces and stop a ray once nothing behind can show
(``model_components.early_stop_compositing``)."""

from __future__ import annotations

from typing import Any, Dict

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from .kernels import kernels_for


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        density: Tensor,
        rgb: Tensor,
        t_starts: Tensor,
        t_ends: Tensor,
        valid: Tensor,
        start: Tensor,
        kernels: Any,
    ) -> Any:
        weights, colour, accumulation, depth, remaining = kernels.composite_forward(
            density, rgb, t_starts, t_ends, valid, start
        )
        ctx.save_for_backward(density, rgb, t_starts, t_ends, valid, start)
        ctx.kernels = kernels
        ctx.mark_non_differentiable(remaining)
        return weights, colour, accumulation, depth, remaining

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Any:
        grad_weights, grad_rgb, grad_accumulation, grad_depth, _ = grads
        density, rgb, t_starts, t_ends, valid, start = ctx.saved_tensors
        grad_outputs = torch.cat([grad_rgb, grad_accumulation, grad_depth], dim=-1)  # [R, 5]
        bounds = ctx.needs_input_grad[2] or ctx.needs_input_grad[3]
        grads = ctx.kernels.composite_backward(
            grad_weights, grad_outputs, density, rgb, t_starts, t_ends, valid, start, bounds
        )
        grad_starts, grad_ends = grads[2:] if bounds else (None, None)
        return grads[0], grads[1], grad_starts, grad_ends, None, None, None


def fused_composite(
    density: Float[Tensor, "rays k"],
    rgb: Float[Tensor, "rays k 3"],
    t_starts: Float[Tensor, "rays k"],
    t_ends: Float[Tensor, "rays k"],
    valid: Bool[Tensor, "rays k"],
    start: Float[Tensor, " rays"] | None = None,
) -> Dict[str, Tensor] | None:
    """``render_samples``' outputs plus ``transmittance`` (after each ray's last sample), from rays whose
    transmittance before their first sample is ``start`` (1 when None, not differentiated); None when the kernel
    cannot serve (off, not built, or not float32)."""
    if any(t.dtype != torch.float32 for t in (density, rgb, t_starts, t_ends)):
        return None
    kernels = kernels_for(density.device)
    if kernels is None:
        return None
    if start is None:
        start = torch.ones(density.shape[0], device=density.device)
    weights, colour, accumulation, depth, remaining = _Composite.apply(
        density, rgb, t_starts, t_ends, valid, start.detach(), kernels
    )  # pyright: ignore[reportGeneralTypeIssues]
    return {"weights": weights, "rgb": colour, "accumulation": accumulation, "depth": depth, "transmittance": remaining}


def fused_composite_packed_(
    ray: Int[Tensor, " n"],
    density: Float[Tensor, " n"],
    rgb: Float[Tensor, "n 3"],
    maps: Float[Tensor, "n c"],
    t_starts: Float[Tensor, " n"],
    t_ends: Float[Tensor, " n"],
    transmittance: Float[Tensor, " rays"],
    out: Float[Tensor, "rays 5+c"],
) -> bool:
    """One piece of an early-stopped render (no gradients) from packed samples grouped by ``ray`` (non-decreasing;
    front to back within a ray): each ray composites its samples from ``transmittance``, adds its colour,
    accumulation, depth and the weighted sum of each map to its row of ``out`` (r, g, b, accumulation, depth, maps)
    and leaves its transmittance behind them in ``transmittance``, both in place. False when the kernel cannot serve
    (off, not built, or not float32); its reference is ``early_stop_compositing.reference_composite_packed_``."""
    if any(t.dtype != torch.float32 for t in (density, rgb, maps, t_starts, t_ends, transmittance, out)):
        return False
    kernels = kernels_for(density.device)
    if kernels is None:
        return False
    kernels.composite_packed(ray, density, rgb, maps, t_starts, t_ends, transmittance, out)
    return True
