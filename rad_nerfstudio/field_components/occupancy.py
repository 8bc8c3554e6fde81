"""RAD-NeRF's maximum occupancy grid and a pure-torch ray marcher over it.

One static grid prunes samples for every audio condition: each update evaluates the density under a random
training audio / eye condition and keeps ``max(old * decay, new)``. The marcher takes evenly spaced candidates
inside the scene box and keeps, front to back, at most ``max_samples`` of those in occupied cells. It uses
only batched ``[rays, samples]`` tensors, so it runs on CPU (where nerfacc's packed kernels cannot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from rad_nerfstudio.cuda.marching import fused_march  # pyright: ignore[reportMissingImports]


@dataclass
class OccupancyGridConfig:
    """Occupancy grid and marcher settings (RAD-NeRF: 128^3, every 16 steps, decay 0.95, 16 samples)."""

    resolution: int = 128
    """Cells per side."""
    update_every: int = 16
    """Training steps between updates."""
    decay: float = 0.95
    """Old densities are multiplied by this before taking the max with the new ones."""
    density_threshold: float = 10.0
    """A cell is occupied when its density exceeds min(this, the grid's mean density)."""
    update_fraction: float = 1.0
    """Fraction of cells re-evaluated per update after the first (all cells the first time)."""
    max_samples: int = 16
    """Most samples per ray."""
    candidates: int = 128
    """Evenly spaced candidate positions per ray inside the scene box."""


@dataclass
class MarchedSamples:
    """Up to ``K`` samples per ray, padded; ``valid`` marks the real ones."""

    t_starts: Float[Tensor, "rays k 1"]
    t_ends: Float[Tensor, "rays k 1"]
    valid: Bool[Tensor, "rays k"]
    valid_first: bool = False
    """Each ray's valid samples come first in its row (the fused marcher's layout), so no one needs to check."""


class MaxOccupancyGrid(nn.Module):
    """A density grid over the scene box kept as the running max over random conditions."""

    density: Tensor
    aabb: Tensor
    updates: Tensor

    def __init__(self, config: OccupancyGridConfig, aabb: Float[Tensor, "2 3"]) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("aabb", aabb.clone().float())
        cells = config.resolution**3
        self.register_buffer("density", torch.zeros(cells))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._occupied_of: Tensor | None = None  # the densities that ``_occupied`` was worked out from
        self._occupied_key: tuple = ()
        self._occupied = torch.ones(cells, dtype=torch.bool)

    def cell_centres(self, cells: Int[Tensor, " n"], jitter: torch.Generator | None = None) -> Float[Tensor, "n 3"]:
        """World positions of cells (uniformly jittered inside the cell when a generator is given)."""
        r = self.config.resolution
        ijk = torch.stack([cells // (r * r), (cells // r) % r, cells % r], dim=-1).float()
        offset = 0.5 if jitter is None else torch.rand(ijk.shape, generator=jitter).to(ijk.device)
        unit = (ijk + offset) / r
        return self.aabb[0] + unit * (self.aabb[1] - self.aabb[0])

    def cell_of(self, points: Float[Tensor, "*batch 3"]) -> tuple[Int[Tensor, "*batch"], Bool[Tensor, "*batch"]]:
        """Cell index of points and whether they are inside the box."""
        r = self.config.resolution
        unit = (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0])
        inside = ((unit >= 0) & (unit < 1)).all(dim=-1)
        ijk = (unit.clamp(0, 1 - 1e-6) * r).long()
        return ijk[..., 0] * r * r + ijk[..., 1] * r + ijk[..., 2], inside

    @torch.no_grad()
    def update(self, density_fn: Callable[[Tensor], Tensor], generator: torch.Generator | None = None) -> None:
        """Evaluate ``density_fn`` (world points ``[n, 3]`` -> densities ``[n]``) and keep the decayed max."""
        first = int(self.updates) == 0
        total = self.density.numel()
        if first or self.config.update_fraction >= 1.0:
            cells = torch.arange(total, device=self.density.device)
        else:
            count = max(1, int(total * self.config.update_fraction))
            cells = torch.randperm(total, generator=generator)[:count].to(self.density.device)
        new = torch.cat([density_fn(chunk) for chunk in self.cell_centres(cells, generator).split(2**18)])
        self.density.mul_(self.config.decay)
        self.density[cells] = torch.maximum(self.density[cells], new.float())
        self.updates += 1

    @property
    def occupied(self) -> Bool[Tensor, " cells"]:
        """Which cells are occupied: worked out again only when the densities or the update count have changed
        (every march reads it; the grid changes every few training steps)."""
        key = (self.density._version, self.updates._version, int(self.updates))
        if self._occupied_of is not self.density or self._occupied_key != key:
            if int(self.updates) == 0:  # never evaluated yet: everything may be occupied
                self._occupied = torch.ones_like(self.density, dtype=torch.bool)
            else:
                self._occupied = self.density > min(self.config.density_threshold, float(self.density.mean()))
            self._occupied_of, self._occupied_key = self.density, key
        return self._occupied

    def occupancy_ratio(self) -> float:
        return float(self.occupied.float().mean())

    def march(
        self, origins: Float[Tensor, "rays 3"], directions: Float[Tensor, "rays 3"], near: float = 0.0
    ) -> MarchedSamples:
        """At most ``max_samples`` samples per ray in occupied cells, nearest first (the fused kernel when it
        builds: each ray's samples first in its row; the torch path pads in candidate order). The bounds are
        differentiable in the rays either way (pose refinement and test-time alignment follow them)."""
        c = self.config
        occupied, aabb = self.occupied, self.aabb
        fused = fused_march(origins, directions, occupied, aabb, c.resolution, c.candidates, c.max_samples, near)
        if fused is None:
            return self.reference_march(origins, directions, near)
        t_starts, t_ends, valid, candidate = fused
        if origins.requires_grad or directions.requires_grad:
            t_near, t_far = self._box_span(origins, directions, near)
            t_starts, t_ends = self._candidate_bounds(t_near, t_far, candidate)
        return MarchedSamples(t_starts[..., None], t_ends[..., None], valid, valid_first=True)

    def _box_span(
        self, origins: Float[Tensor, "rays 3"], directions: Float[Tensor, "rays 3"], near: float
    ) -> tuple[Float[Tensor, " rays"], Float[Tensor, " rays"]]:
        """Where each ray enters (not before ``near``) and leaves the scene box."""
        lo, hi = self.aabb[0], self.aabb[1]
        safe = torch.where(directions.abs() < 1e-9, torch.full_like(directions, 1e-9), directions)
        t0, t1 = (lo - origins) / safe, (hi - origins) / safe
        return torch.minimum(t0, t1).amax(-1).clamp(min=near), torch.maximum(t0, t1).amin(-1)

    def _candidate_centres(
        self, t_near: Float[Tensor, " rays"], t_far: Float[Tensor, " rays"], candidate: Int[Tensor, "rays k"]
    ) -> Float[Tensor, "rays k"]:
        """Centres of the given candidates of each ray: evenly spaced cells of its span inside the box."""
        span = (t_far - t_near).clamp(min=0)[:, None]
        return t_near[:, None] + ((candidate + 0.5) / self.config.candidates) * span

    def _candidate_bounds(
        self, t_near: Float[Tensor, " rays"], t_far: Float[Tensor, " rays"], candidate: Int[Tensor, "rays k"]
    ) -> tuple[Float[Tensor, "rays k"], Float[Tensor, "rays k"]]:
        """(start, end) of the given candidates of each ray."""
        t_mid = self._candidate_centres(t_near, t_far, candidate)
        step = (t_far - t_near).clamp(min=0)[:, None] / self.config.candidates
        return t_mid - step / 2, t_mid + step / 2

    def reference_march(
        self, origins: Float[Tensor, "rays 3"], directions: Float[Tensor, "rays 3"], near: float = 0.0
    ) -> MarchedSamples:
        """The torch marcher (the fused kernel's reference)."""
        t_near, t_far = self._box_span(origins, directions, near)
        hits_box = t_far > t_near
        every = torch.arange(self.config.candidates, device=origins.device).expand(origins.shape[0], -1)
        t_mid = self._candidate_centres(t_near, t_far, every)  # [R, C]
        cells, inside = self.cell_of(origins[:, None] + t_mid[..., None] * directions[:, None])
        occupied = self.occupied[cells] & inside & hits_box[:, None]
        kept = occupied & (occupied.cumsum(-1) <= self.config.max_samples)
        order = torch.where(kept, 0, 1) * self.config.candidates + torch.arange(
            self.config.candidates, device=kept.device
        )
        first = torch.topk(order, self.config.max_samples, dim=-1, largest=False).indices.sort(-1).values  # [R, K]
        valid = torch.gather(kept, 1, first)
        t_starts, t_ends = self._candidate_bounds(t_near, t_far, first)
        return MarchedSamples(t_starts[..., None], t_ends[..., None], valid)
