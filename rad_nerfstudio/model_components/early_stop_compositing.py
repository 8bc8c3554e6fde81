"""Early ray termination (RAD-NeRF's and Instant-NGP's): the field is evaluated a few samples per ray at a time,
front to back, and a ray leaves once its transmittance falls below a threshold, since nothing behind can show.

``composite_until_opaque`` renders that way (inference; the fused compositor carries each ray's transmittance from one
piece to the next, each piece's samples packed). ``samples_until_opaque`` finds, without gradients, which samples of
training rays lie in front of that point, so that a training step evaluates (and backpropagates through) only those:
after the first thousand steps about 70 % of a face ray's samples lie behind the opaque skin (``er-nerf-small`` on
the bundled sample)."""

from __future__ import annotations

from typing import Callable, Dict, Iterator, Sequence, Tuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from rad_nerfstudio.cuda.compositing import fused_composite_packed_  # pyright: ignore[reportMissingImports]
from rad_nerfstudio.cuda.kernels import kernels_for  # pyright: ignore[reportMissingImports]
from rad_nerfstudio.model_components.compositing import reference_render_samples

SampleFields = Callable[[Int[Tensor, " n"], Int[Tensor, " n"]], Tuple[Tensor, Tensor, Dict[str, Tensor]]]
"""(ray ids, sample ids) -> density [n], rgb [n, 3] and per-sample maps [n] of those samples."""
SampleDensity = Callable[[Int[Tensor, " n"], Int[Tensor, " n"]], Tensor]
"""(ray ids, sample ids) -> density [n] of those samples."""

PIECE = 4
"""Samples per ray whose densities training's pass evaluates at a time."""
RENDER_PIECE = 6
"""Samples per ray that renders evaluate at a time: fewer field calls against a few more samples behind opaque points
(trained runs' 128 px frames, the same images to 108 dB: 4 -> 6 took 29.7 -> 28.5 ms on a real-clip run, 24.2 ->
22.7 on the photo sample's `rad-nerf-small` run, 20.0 -> 19.4 on the demo's; 8 was faster on the first two only)."""
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
    piece: int = RENDER_PIECE,
    opaque: float = OPAQUE,
    tail: int = TAIL,
    valid_first: bool = False,
) -> Dict[str, Tensor] | None:
    """``render_samples``' rgb, accumulation and depth (and each map's weighted sum) of rays whose valid samples
    come first in their rows (the fused marcher's layout: checked unless ``valid_first`` says the caller knows);
    None when the fused kernels cannot serve. Each piece's samples stay packed (``composite_packed_``: no padded
    rows; outputs and transmittances updated in place)."""
    n_rays = valid.shape[0]
    device = valid.device
    if kernels_for(device) is None:
        return None
    if not valid_first and bool((valid[:, 1:] & ~valid[:, :-1]).any()):  # not that layout
        return None
    out = torch.zeros(n_rays, 5 + len(map_keys), device=device)  # r, g, b, accumulation, depth, each map
    transmittance = torch.ones(n_rays, device=device)
    for rays, span in _open_pieces(valid, transmittance, valid, piece, opaque, tail):
        ray_id, offset = valid[rays, span].nonzero(as_tuple=True)  # grouped by ray, front to back: row-major
        ray, sample = rays[ray_id], offset + span.start
        density, rgb, maps = fields(ray, sample)
        stacked = (
            torch.stack([maps[key].float() for key in map_keys], dim=-1) if map_keys else rgb.new_zeros(len(ray), 0)
        )
        composite_packed_(
            ray, density.float(), rgb.float(), stacked, t_starts[ray, sample], t_ends[ray, sample], transmittance, out
        )
    rendered = {"rgb": out[:, :3], "accumulation": out[:, 3:4], "depth": out[:, 4:5]}
    return {**rendered, **{key: out[:, 5 + i : 6 + i] for i, key in enumerate(map_keys)}}


def composite_packed_(
    ray: Int[Tensor, " n"],
    density: Float[Tensor, " n"],
    rgb: Float[Tensor, "n 3"],
    maps: Float[Tensor, "n c"],
    t_starts: Float[Tensor, " n"],
    t_ends: Float[Tensor, " n"],
    transmittance: Float[Tensor, " rays"],
    out: Float[Tensor, "rays 5+c"],
) -> None:
    """One piece of an early-stopped render from packed samples grouped by ray, added to ``out`` and leaving
    ``transmittance`` behind them, in place (``fused_composite_packed_``): the fused kernel where it serves, else
    ``reference_composite_packed_``."""
    if not fused_composite_packed_(ray, density, rgb, maps, t_starts, t_ends, transmittance, out):
        reference_composite_packed_(ray, density, rgb, maps, t_starts, t_ends, transmittance, out)


def reference_composite_packed_(
    ray: Int[Tensor, " n"],
    density: Float[Tensor, " n"],
    rgb: Float[Tensor, "n 3"],
    maps: Float[Tensor, "n c"],
    t_starts: Float[Tensor, " n"],
    t_ends: Float[Tensor, " n"],
    transmittance: Float[Tensor, " rays"],
    out: Float[Tensor, "rays 5+c"],
) -> None:
    """The torch form of ``fused_composite_packed_`` (its reference): each ray's run of samples laid out in a padded
    row, composited by ``reference_render_samples`` and scaled by the ray's transmittance in front of them."""
    if ray.numel() == 0:
        return
    rays, counts = torch.unique_consecutive(ray, return_counts=True)
    row = torch.repeat_interleave(torch.arange(len(rays), device=ray.device), counts)
    column = torch.arange(len(ray), device=ray.device) - (torch.cumsum(counts, 0) - counts)[row]
    shape = (len(rays), int(counts.max()))

    def padded(values: Tensor) -> Tensor:
        return values.new_zeros(*shape, *values.shape[1:]).index_put((row, column), values)

    valid, bounds = padded(torch.ones_like(ray, dtype=torch.bool)), (padded(t_starts), padded(t_ends))
    sigma = padded(density)
    rendered = reference_render_samples(sigma, padded(rgb), *bounds, valid)
    front = transmittance[rays, None]
    weights = rendered["weights"] * front
    added = [rendered["rgb"] * front, rendered["accumulation"] * front, rendered["depth"] * front]
    out.index_add_(0, rays, torch.cat([*added, (weights[..., None] * padded(maps)).sum(1)], dim=-1))
    alpha = (1.0 - torch.exp(-sigma * (bounds[1] - bounds[0]))) * valid
    transmittance[rays] = front[:, 0] * torch.prod(1.0 - alpha + 1e-10, dim=-1)


@torch.no_grad()
def samples_until_opaque(
    valid: Bool[Tensor, "rays k"],
    t_starts: Float[Tensor, "rays k"],
    t_ends: Float[Tensor, "rays k"],
    density: SampleDensity,
    piece: int = PIECE,
    opaque: float = OPAQUE,
    tail: int = TAIL,
) -> Bool[Tensor, "rays k"]:
    """The valid samples in front of the point where each ray's transmittance falls below ``opaque`` (that sample
    included): the rest can change a ray's colour and opacity by less than ``opaque`` in all, and take as little
    part in their gradients. Samples in front-to-back column order, valid or not anywhere in a row (either marcher's
    layout); densities evaluated a piece at a time, only for rays still open; torch arithmetic (any device)."""
    n_rays = valid.shape[0]
    keep = torch.zeros_like(valid)
    transmittance = torch.ones(n_rays, device=valid.device)
    any_left = valid.flip(-1).cumsum(-1).flip(-1) > 0  # [rays, k]: a valid sample at this column or after
    for rays, span in _open_pieces(valid, transmittance, any_left, piece, opaque, tail):
        here = valid[rays, span]
        ray_id, offset = here.nonzero(as_tuple=True)
        optical = torch.zeros(here.shape, device=valid.device)
        if ray_id.numel():
            steps = (t_ends[rays, span] - t_starts[rays, span])[ray_id, offset]
            optical = optical.index_put((ray_id, offset), density(rays[ray_id], offset + span.start).float() * steps)
        depth = optical.cumsum(-1)
        before = transmittance[rays, None] * torch.exp(-(depth - optical))  # transmittance in front of each sample
        keep[rays, span] = here & (before > opaque)
        transmittance[rays] = transmittance[rays] * torch.exp(-depth[:, -1])
    return keep


def _open_pieces(
    valid: Bool[Tensor, "rays k"],
    transmittance: Float[Tensor, " rays"],
    left: Bool[Tensor, "rays k"],
    piece: int,
    opaque: float,
    tail: int,
) -> Iterator[Tuple[Int[Tensor, " open"], slice]]:
    """The rays still open (transmittance above ``opaque``, ``left`` true at the piece's first column) and the columns
    of each next piece, front to back; the caller updates ``transmittance`` in place between pieces. When the open
    rays have at most ``tail`` samples left, the last piece takes them all."""
    k = valid.shape[1]
    first = 0
    while first < k:
        rays = ((transmittance > opaque) & left[:, first]).nonzero()[:, 0]
        if rays.numel() == 0:
            return
        last = min(first + piece, k)
        if rays.numel() * (k - first) <= tail or int(valid[rays, first:].sum()) <= tail:
            last = k
        yield rays, slice(first, last)
        first = last
