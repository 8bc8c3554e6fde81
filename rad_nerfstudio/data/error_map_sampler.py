"""Error-map ray sampling: pixels drawn in proportion to where the model is still wrong.

Each training image has a coarse map (``map_resolution`` cells a side) of the photometric error of the rays that
fell in each cell, kept as an exponential moving average and fed back after every training step. A batch takes
``uniform_fraction`` of its rays uniformly (so no region starves) and the rest cell by cell in proportion to the
map, uniformly inside the chosen cell. Cells never hit yet count as the running mean error.

The map is a buffer of the sampler, itself a module of the data manager, so checkpoints carry it. Sampling is
exact and costs ``O(rays x resolution)``: images by their total weight, a row of cells by its row sum, then a
cell of that row, with the row sums kept up to date as the map changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch
from jaxtyping import Float, Int
from torch import Tensor

from rad_nerfstudio.data.sampler_base import UniformPixelSampler, UniformSamplerConfig


@dataclass
class ErrorMapSamplerConfig(UniformSamplerConfig):
    """The error map's resolution and memory, the uniform share, and how often the map is logged."""

    _target: Type = field(default_factory=lambda: ErrorMapPixelSampler)
    map_resolution: int = 128
    """Cells per side of each image's map (at most the image size; images x res^2 x 4 bytes)."""
    uniform_fraction: float = 0.25
    """Share of every batch drawn uniformly over all pixels (so that no region starves)."""
    error_momentum: float = 0.9
    """A cell's error becomes momentum * old + (1 - momentum) * new."""
    log_every: int = 500
    """Steps between map images written to nerfstudio's logger (tensorboard / wandb); 0: never."""
    log_images: int = 8
    """How many training images' maps the logged mosaic shows."""


class ErrorMapPixelSampler(UniformPixelSampler):
    """Draws pixels in proportion to a per-image coarse error map updated from per-ray errors."""

    config: ErrorMapSamplerConfig
    error_map: Tensor
    mean_error: Tensor

    def __init__(self, config: ErrorMapSamplerConfig, *args, **kwargs) -> None:
        super().__init__(config, *args, **kwargs)
        height, width, num_images = self.height, self.width, self.num_images
        if not 0.0 <= config.uniform_fraction <= 1.0:
            raise ValueError(f"uniform_fraction must be in [0, 1], got {config.uniform_fraction}")
        self.cells_y, self.cells_x = min(config.map_resolution, height), min(config.map_resolution, width)
        self.register_buffer("error_map", torch.full((num_images, self.cells_y, self.cells_x), float("nan")))
        self.register_buffer("mean_error", torch.tensor(float("nan")))
        self._refresh_row_sums()
        self.register_load_state_dict_post_hook(lambda module, keys: module._refresh_row_sums())

    # --------------------------------------------------------------------------------------------- geometry
    def cell_of(self, rows: Int[Tensor, " n"], cols: Int[Tensor, " n"]) -> tuple[Tensor, Tensor]:
        """Map cell (row, column) of pixels."""
        return rows * self.cells_y // self.height, cols * self.cells_x // self.width

    def _pixels_in(self, cells: Tensor, size: int, count: int, u: Tensor) -> Tensor:
        """A uniform pixel index inside each cell along one axis (cells split ``size`` pixels in ``count``)."""
        lo = (cells * size + count - 1) // count
        hi = ((cells + 1) * size + count - 1) // count
        return lo + (u * (hi - lo)).long().clamp(max=(hi - lo - 1).clamp(min=0))

    # --------------------------------------------------------------------------------------------- weights
    def _refresh_row_sums(self, rows: Int[Tensor, " n"] | None = None) -> None:
        """Per (image, cell row): the sum of known errors and the number of cells not seen yet. ``rows`` are flat
        ``image * cells_y + cell_row`` indices to recompute (all of them when None)."""
        by_row = self.error_map.view(-1, self.cells_x)
        if rows is None:
            self._known_sum = torch.nan_to_num(by_row, nan=0.0).sum(-1).view(self.num_images, self.cells_y)
            self._unknown = torch.isnan(by_row).sum(-1).float().view(self.num_images, self.cells_y)
            return
        block = by_row[rows]
        self._known_sum.view(-1)[rows] = torch.nan_to_num(block, nan=0.0).sum(-1)
        self._unknown.view(-1)[rows] = torch.isnan(block).sum(-1).float()

    @property
    def _fill(self) -> float:
        """Weight of a cell never hit: the running mean error (1 before any feedback)."""
        return 1.0 if torch.isnan(self.mean_error) else max(float(self.mean_error), 1e-12)

    def cell_probabilities(self) -> Float[Tensor, "images cells_y cells_x"]:
        """The probability of each cell under the error-proportional part (for inspection and tests)."""
        weights = torch.nan_to_num(self.error_map, nan=self._fill)
        return weights / weights.sum()

    # --------------------------------------------------------------------------------------------- sampling
    def sample(self, step: int) -> Int[Tensor, "rays 3"]:
        indices = super().sample(step)
        n_error = self.num_rays_per_batch - int(round(self.num_rays_per_batch * self.config.uniform_fraction))
        if n_error <= 0:
            return indices
        g = self.generator
        row_weights = self._known_sum + self._unknown * self._fill  # [I, cells_y]
        images = torch.multinomial(row_weights.sum(-1), n_error, replacement=True, generator=g)
        cell_rows = torch.multinomial(row_weights[images], 1, generator=g)[:, 0]
        cell_weights = torch.nan_to_num(self.error_map[images, cell_rows], nan=self._fill)  # [n, cells_x]
        cell_cols = torch.multinomial(cell_weights, 1, generator=g)[:, 0]
        u = torch.rand((n_error, 2), generator=g, dtype=torch.float64)
        rows = self._pixels_in(cell_rows, self.height, self.cells_y, u[:, 0])
        cols = self._pixels_in(cell_cols, self.width, self.cells_x, u[:, 1])
        indices[:n_error] = torch.stack([images, rows, cols], dim=-1)
        return indices

    @torch.no_grad()
    def update(self, indices: Int[Tensor, "rays 3"], errors: Float[Tensor, " rays"]) -> None:
        """Fold the per-ray errors of a step into the cells the rays fell in (their mean per cell)."""
        indices, errors = indices.cpu().long(), errors.detach().cpu().float()
        cell_y, cell_x = self.cell_of(indices[:, 1], indices[:, 2])
        flat = (indices[:, 0] * self.cells_y + cell_y) * self.cells_x + cell_x
        cells, inverse = flat.unique(return_inverse=True)
        sums = torch.zeros(len(cells)).index_add_(0, inverse, errors)
        new = sums / torch.bincount(inverse, minlength=len(cells)).float()
        values = self.error_map.view(-1)
        old = values[cells]
        m = self.config.error_momentum
        values[cells] = torch.where(torch.isnan(old), new, m * old + (1 - m) * new)
        batch_mean = errors.mean()
        self.mean_error.copy_(
            batch_mean if torch.isnan(self.mean_error) else m * self.mean_error + (1 - m) * batch_mean
        )
        self._refresh_row_sums(torch.unique(cells // self.cells_x))  # only the rows of cells this step touched

    def log_images(self, step: int) -> None:
        if self.config.log_every <= 0 or step % self.config.log_every:
            return
        from nerfstudio.utils import colormaps, writer

        shown = self.error_map[: self.config.log_images]
        scale = float(torch.nan_to_num(shown, nan=0.0).amax().clamp(min=1e-12))
        mosaic = torch.cat(list(torch.nan_to_num(shown, nan=0.0) / scale), dim=1)  # images side by side
        writer.put_image(name="error_map", image=colormaps.apply_colormap(mosaic[..., None]), step=step)
