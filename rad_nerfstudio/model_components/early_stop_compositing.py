"""Rendering that stops each ray once nothing behind can show: the field is evaluated a few samples per ray at a
time, front to back, and a ray leaves once its transmittance falls below a threshold (RAD-NeRF's and Instant-NGP's
early ray termination). Inference only: it needs the fused compositor (CPU or CUDA), which carries each ray's
transmittance from one piece to the next."""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from rad_nerfstudio.cuda.compositing import fused_composite  # pyright: ignore[reportMissingImports]
from rad_nerfstudio.cuda.kernels import kernels_for  # pyright: ignore[reportMissingImports]

SampleFields = Callable[[Int[Tensor, " n"], Int[Tensor, " n"]], Tuple[Tensor, Tensor, Dict[str, Tensor]]]
"""(ray ids, sample ids) -> density [n], rgb [n, 3] and per-sample maps [n] of those samples."""

PIECE = 4
"""Samples per ray evaluated at a time."""
OPAQUE = 1e-4
"""A ray stops when its transmittance falls below this: the rest can change its colour by less than 1e-4."""
TAIL = 1024
"""When the rays still open have at most this many samples left in all, they are evaluated in one last piece: a
field call costs about as much as 900 samples on 2 cores, so the last few samples of a few rays are not worth one."""


@torch.no_grad()
def composite_until_opaque(
    valid: Bool[Tensor, "rays k"],
    t_starts: Float[Tensor, "rays k"],
    t_ends: Float[Tensor, "rays k"],
    fields: SampleFields,
    map_keys: Sequence[str],
    piece: int = PIECE,
    opaque: float = OPAQUE,
    tail: int = TAIL,
) -> Dict[str, Tensor] | None:
    """``render_samples``' rgb, accumulation and depth (and each map's weighted sum) of rays whose valid samples
    come first in their rows (the fused marcher's layout); None when the fused kernels cannot serve."""
    n_rays, k = valid.shape
    device = valid.device
    if kernels_for(device) is None or bool((valid[:, 1:] & ~valid[:, :-1]).any()):  # no kernels, or not that layout
        return None
    out = {
        "rgb": torch.zeros(n_rays, 3, device=device),
        "accumulation": torch.zeros(n_rays, 1, device=device),
        "depth": torch.zeros(n_rays, 1, device=device),
        **{key: torch.zeros(n_rays, 1, device=device) for key in map_keys},
    }
    transmittance = torch.ones(n_rays, device=device)
    first = 0
    while first < k:
        rays = ((transmittance > opaque) & valid[:, first]).nonzero()[:, 0]
        if rays.numel() == 0:
            break
        last = min(first + piece, k)
        if rays.numel() * (k - first) <= tail or int(valid[rays, first:].sum()) <= tail:
            last = k
        span = slice(first, last)
        here = valid[rays, span]
        ray_id, offset = here.nonzero(as_tuple=True)
        density, rgb, maps = fields(rays[ray_id], offset + first)
        size = here.shape[1]
        dense_density = torch.zeros(rays.numel(), size, device=device).index_put((ray_id, offset), density)
        dense_rgb = torch.zeros(rays.numel(), size, 3, device=device).index_put((ray_id, offset), rgb)
        composited = fused_composite(
            dense_density, dense_rgb, t_starts[rays, span], t_ends[rays, span], here, transmittance[rays]
        )
        assert composited is not None
        weights = composited["weights"]
        for key in ("rgb", "accumulation", "depth"):
            out[key].index_add_(0, rays, composited[key])
        for key in map_keys:
            dense_map = torch.zeros(rays.numel(), size, device=device).index_put((ray_id, offset), maps[key])
            out[key].index_add_(0, rays, (weights * dense_map).sum(-1, keepdim=True))
        transmittance[rays] = composited["transmittance"]
        first = last
    return out
