"""The N-D hash grid (torch reference; tinycudann shares its interface on CUDA)."""

from __future__ import annotations

import pytest
import torch

from rad_nerfstudio.field_components.hash_grid import HashGrid, HashGridConfig

SMALL = HashGridConfig(num_levels=4, features_per_level=2, log2_hashmap_size=8, base_resolution=4, finest_resolution=64)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_shapes_and_gradients(dim):
    grid = HashGrid(dim, SMALL, implementation="torch")
    x = torch.rand(5, 7, dim, requires_grad=True)
    features = grid(x)
    assert features.shape == (5, 7, SMALL.output_dim)
    features.square().sum().backward()
    assert grid.table.grad is not None and grid.table.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0, "the audio coordinate receives gradients"


def test_vertices_return_their_table_entries_on_dense_levels():
    grid = HashGrid(2, HashGridConfig(1, 3, 8, 4, 4), implementation="torch")  # one dense 5x5 level
    with torch.no_grad():
        grid.table.copy_(torch.arange(grid.table.numel(), dtype=torch.float32).reshape(grid.table.shape))
    vertex = torch.tensor([[2 / 4, 3 / 4]])  # integer vertex (2, 3) -> row-major index 2 + 3 * 5 = 17
    assert torch.equal(grid(vertex), grid.table[0, 17][None])
    midpoint = torch.tensor([[2.5 / 4, 3 / 4]])
    assert torch.allclose(grid(midpoint), (grid.table[0, 17] + grid.table[0, 18])[None] / 2)


def test_interpolation_is_continuous_and_inputs_are_clamped():
    grid = HashGrid(3, SMALL, implementation="torch")
    with torch.no_grad():
        grid.table.normal_()
    x = torch.rand(100, 3)
    assert (grid(x + 1e-5) - grid(x)).abs().max() < 1e-2
    assert torch.equal(grid(torch.tensor([[1.5, -0.2, 0.3]])), grid(torch.tensor([[1.0, 0.0, 0.3]])))


def test_fine_levels_hash_and_parameter_count_counts_dense_levels_at_size():
    grid = HashGrid(3, SMALL, implementation="torch")
    assert grid.n_dense == 1  # 5^3 = 125 <= 256 < 9^3
    assert SMALL.num_parameters(3) == (125 + 3 * 256) * 2
    assert SMALL.output_dim == 8


def test_dimension_limits():
    with pytest.raises(ValueError, match="1 to 4"):
        HashGrid(5, SMALL)
    with pytest.raises(ValueError, match="finest resolution 2 < base 32"):  # dense levels must be the coarse ones
        HashGrid(2, HashGridConfig(2, 1, 4, 32, 2))


def test_hashed_levels_look_up_the_instant_ngp_hash_of_the_vertex():
    grid = HashGrid(2, HashGridConfig(2, 1, 4, 2, 32), implementation="torch")  # level 0 dense (3^2 <= 16), 1 not
    with torch.no_grad():
        grid.table.copy_(torch.arange(grid.table.numel(), dtype=torch.float32).reshape(grid.table.shape))
    x, y, resolution = 7, 19, int(grid.resolutions[1])
    features = grid(torch.tensor([[x / resolution, y / resolution]]))[0]
    assert features[1] == grid.table[1, (x ^ (y * 2654435761)) & 15, 0]
