"""Max occupancy grid semantics and the torch marcher."""

from __future__ import annotations

import torch

from rad_nerfstudio.field_components.occupancy import MaxOccupancyGrid, OccupancyGridConfig

AABB = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])


def _sphere(radius: float, value: float = 100.0):
    return lambda points: torch.where(points.norm(dim=-1) < radius, value, 0.0)


def test_everything_is_occupied_before_the_first_update_and_the_first_update_replaces():
    grid = MaxOccupancyGrid(OccupancyGridConfig(resolution=16), AABB)
    assert grid.occupancy_ratio() == 1.0
    grid.update(_sphere(0.5))
    ratio = grid.occupancy_ratio()
    assert 0.03 < ratio < 0.1  # about the sphere's volume share (pi/48 = 0.065)


def test_updates_keep_the_decayed_maximum_over_conditions():
    config = OccupancyGridConfig(resolution=8, decay=0.5, density_threshold=1.0)
    grid = MaxOccupancyGrid(config, AABB)
    left = lambda p: torch.where(p[:, 0] < 0, 40.0, 0.0)  # noqa: E731  an "audio condition" opening one half
    right = lambda p: torch.where(p[:, 0] >= 0, 40.0, 0.0)  # noqa: E731
    grid.update(left)
    grid.update(right)
    centres = grid.cell_centres(torch.arange(8**3))
    assert torch.all(grid.density[centres[:, 0] < 0] == 20.0)  # 40 * 0.5 remembered
    assert torch.all(grid.density[centres[:, 0] >= 0] == 40.0)
    assert grid.occupancy_ratio() == 1.0, "the union over conditions stays occupied"
    for _ in range(6):
        grid.update(right)
    assert grid.density[centres[:, 0] < 0].max() < 1.0, "unused regions fade out"


def test_partial_updates_touch_only_some_cells():
    grid = MaxOccupancyGrid(OccupancyGridConfig(resolution=8, update_fraction=0.25, decay=1.0), AABB)
    grid.update(lambda p: torch.zeros(p.shape[0]))
    grid.update(lambda p: torch.ones(p.shape[0]), generator=torch.Generator().manual_seed(0))
    assert int((grid.density == 1.0).sum()) == 128


def test_march_keeps_at_most_k_samples_in_occupied_cells_front_to_back():
    config = OccupancyGridConfig(resolution=32, max_samples=6, candidates=64)
    grid = MaxOccupancyGrid(config, AABB)
    grid.update(_sphere(0.5))
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.9, 3.0], [5.0, 5.0, 5.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    samples = grid.march(origins, directions)
    assert samples.t_starts.shape == (3, 6, 1) and samples.valid.shape == (3, 6)
    assert samples.valid[0].all() and not samples.valid[1].any() and not samples.valid[2].any()
    t = (samples.t_starts[0, :, 0] + samples.t_ends[0, :, 0]) / 2
    assert torch.all(t[1:] > t[:-1]), "sorted front to back"
    assert 2.45 < float(t[0]) < 2.6, "the first sample is at the sphere's front (t = 2.5)"
    widths = (samples.t_ends - samples.t_starts)[0, :, 0]
    assert torch.allclose(widths, torch.full((6,), 2 / 64)), "each sample spans one candidate step"


def test_the_occupied_cells_follow_every_change_of_the_densities():
    """``occupied`` is worked out once per state of the grid: updates, in-place edits, a loaded or moved grid."""
    grid = MaxOccupancyGrid(OccupancyGridConfig(resolution=8), AABB)
    assert bool(grid.occupied.all())
    grid.update(_sphere(0.5))
    first = grid.occupied
    assert first is grid.occupied, "the same state: the same mask"
    assert 0 < int(first.sum()) < first.numel()
    grid.density.view(8, 8, 8)[0, 0, 0] = 1e3  # an edit through a view
    assert bool(grid.occupied[0]) and not bool(first[0])
    state = grid.state_dict()
    other = MaxOccupancyGrid(OccupancyGridConfig(resolution=8), AABB)
    assert bool(other.occupied.all())
    other.load_state_dict(state)
    assert torch.equal(other.occupied, grid.density > min(grid.config.density_threshold, float(grid.density.mean())))
    grid.density = grid.density.clone() * 0  # a new tensor (as .to() makes): nothing occupied
    grid.density[0] = 1.0
    assert int(grid.occupied.sum()) == 1
