"""Multiresolution hash encoding of points in [0, 1]^D for any small D (1-4).

nerfstudio's torch ``HashEncoding`` is 3D-only; RAD-NeRF's audio-coordinate grid is 1-3D and ER-NeRF's
tri-planes are 2D. tinycudann is used on CUDA when installed; on the CPU the fused C++ kernel
(``rad_nerfstudio.cuda.hash_grid``) when it builds, else this module's torch implementation, its reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Literal

import torch
from jaxtyping import Float
from torch import Tensor, nn

from rad_nerfstudio.cuda.hash_grid import fused_hash_grid  # pyright: ignore[reportMissingImports]

PRIMES = (1, 2654435761, 805459861, 3674653429)
"""Per-dimension hashing primes (Instant-NGP's)."""


@dataclass
class HashGridConfig:
    """Sizes of a multiresolution hash grid."""

    num_levels: int = 16
    """Number of resolution levels."""
    features_per_level: int = 2
    """Features stored per grid vertex and level."""
    log2_hashmap_size: int = 16
    """Entries per level (as a power of two)."""
    base_resolution: int = 16
    """Resolution of the coarsest level."""
    finest_resolution: int = 2048
    """Resolution of the finest level."""

    @property
    def output_dim(self) -> int:
        return self.num_levels * self.features_per_level

    @property
    def growth(self) -> float:
        if self.num_levels == 1:
            return 1.0
        return math.exp((math.log(self.finest_resolution) - math.log(self.base_resolution)) / (self.num_levels - 1))

    def num_parameters(self, dim: int) -> int:
        """Trainable values, counting dense coarse levels at their real size."""
        total = 0
        for level in range(self.num_levels):
            resolution = math.floor(self.base_resolution * self.growth**level)
            total += min((resolution + 1) ** dim, 2**self.log2_hashmap_size) * self.features_per_level
        return total


class HashGrid(nn.Module):
    """Trilinear (in general D-linear) interpolation of hashed per-level feature tables."""

    resolutions: Tensor

    def __init__(
        self, dim: int, config: HashGridConfig, implementation: Literal["auto", "torch", "tcnn"] = "auto"
    ) -> None:
        super().__init__()
        if not 1 <= dim <= len(PRIMES):
            raise ValueError(f"hash grids support 1 to {len(PRIMES)} input dimensions, got {dim}")
        self.dim = dim
        self.config = config
        self.tcnn_encoding = self._make_tcnn(implementation)
        resolutions = [math.floor(config.base_resolution * config.growth**level) for level in range(config.num_levels)]
        self.register_buffer("resolutions", torch.tensor(resolutions, dtype=torch.int64), persistent=False)
        self.table_size = 2**config.log2_hashmap_size
        if config.finest_resolution < config.base_resolution:
            raise ValueError(f"hash grid: finest resolution {config.finest_resolution} < base {config.base_resolution}")
        self.n_dense = sum((r + 1) ** dim <= self.table_size for r in resolutions)
        """The coarse levels stored densely (row-major, no hashing); the finer ones are hashed."""
        if self.tcnn_encoding is None:
            init = torch.empty(config.num_levels, self.table_size, config.features_per_level).uniform_(-1e-4, 1e-4)
            self.table = nn.Parameter(init)

    def _make_tcnn(self, implementation: str):
        if implementation == "torch" or (implementation == "auto" and not torch.cuda.is_available()):
            return None
        try:
            import tinycudann as tcnn  # pyright: ignore[reportMissingImports]
        except ImportError:
            if implementation == "tcnn":
                raise
            return None
        return tcnn.Encoding(
            n_input_dims=self.dim,
            encoding_config={
                "otype": "HashGrid",
                "n_levels": self.config.num_levels,
                "n_features_per_level": self.config.features_per_level,
                "log2_hashmap_size": self.config.log2_hashmap_size,
                "base_resolution": self.config.base_resolution,
                "per_level_scale": self.config.growth,
            },
        )

    @property
    def output_dim(self) -> int:
        return self.config.output_dim

    def _corner_indices(self, base: Tensor) -> List[Tensor]:
        """Table rows ``[N * L]`` (into the flattened table) of the ``2^D`` corners of the cells ``base [N, L, D]``:
        dense row-major on the coarse levels that fit (a prefix, as resolutions grow), hashed on the others. Each
        dimension's two terms (vertex ``base`` and ``base + 1``) are computed once and combined per corner: a sum
        on the dense levels, an XOR on the hashed ones."""
        n_dense = self.n_dense
        strides = (self.resolutions[:n_dense, None] + 1) ** torch.arange(self.dim, device=base.device)  # [Ld, D]
        coarse, fine = base[:, :n_dense], base[:, n_dense:]
        # every level's rows start at level * table_size; added to the first dimension's terms once
        start = torch.arange(self.config.num_levels, device=base.device) * self.table_size
        dense_terms = [[(coarse[..., d] + o) * strides[:, d] for o in (0, 1)] for d in range(self.dim)]
        hash_terms = [[(fine[..., d] + o) * PRIMES[d] for o in (0, 1)] for d in range(self.dim)]
        dense_terms[0] = [term + start[:n_dense] for term in dense_terms[0]]
        indices = []
        for corner_bits in range(2**self.dim):
            bits = [(corner_bits >> d) & 1 for d in range(self.dim)]
            dense, hashed = dense_terms[0][bits[0]], hash_terms[0][bits[0]]
            for d in range(1, self.dim):
                dense, hashed = dense + dense_terms[d][bits[d]], hashed ^ hash_terms[d][bits[d]]
            # the table size is a power of two: the mask keeps a hash's low bits
            index = torch.cat([dense, (hashed & (self.table_size - 1)) + start[n_dense:]], 1)
            indices.append(index.reshape(-1))
        return indices

    def forward(self, x: Float[Tensor, "*batch dim"]) -> Float[Tensor, "*batch features"]:
        """Features of points in [0, 1]^D (clamped)."""
        if self.tcnn_encoding is not None:
            flat = x.reshape(-1, self.dim).clamp(0.0, 1.0)
            return self.tcnn_encoding(flat).float().reshape(*x.shape[:-1], self.output_dim)
        batch = x.shape[:-1]
        fused = fused_hash_grid(x.reshape(-1, self.dim), self.table, self.resolutions, self.n_dense)
        if fused is not None:
            return fused.reshape(*batch, self.output_dim)
        return self.reference_forward(x)

    def reference_forward(self, x: Float[Tensor, "*batch dim"]) -> Float[Tensor, "*batch features"]:
        """The torch path (the fused kernel's reference)."""
        batch = x.shape[:-1]
        points = x.reshape(-1, 1, self.dim).clamp(0.0, 1.0) * self.resolutions[:, None].to(x.dtype)  # [N, L, D]
        base = torch.floor(points).long()
        frac = points - base
        weights = [(1.0 - frac[..., d], frac[..., d]) for d in range(self.dim)]  # per dimension: [N, L] each
        levels, width = self.config.num_levels, self.config.features_per_level
        # one flat table and index_select: its backward (index_add) is about twice as fast on the CPU as that of
        # indexing table[level, index] for 3D grids
        flat_table = self.table.view(levels * self.table_size, width)
        features = torch.zeros(points.shape[0], levels, width, device=x.device)
        for corner_bits, index in enumerate(self._corner_indices(base)):
            weight = weights[0][corner_bits & 1]
            for d in range(1, self.dim):
                weight = weight * weights[d][(corner_bits >> d) & 1]
            features = features + weight[..., None] * flat_table.index_select(0, index).view(-1, levels, width)
        return features.reshape(*batch, self.output_dim)
