"""The error-map pixel sampler: follows a planted map, keeps its uniform floor, learns from per-ray errors in
the right cells, survives a save / load, and gets fed by the model during training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from rad_nerfstudio.data.error_map_sampler import ErrorMapPixelSampler, ErrorMapSamplerConfig
from rad_nerfstudio.data.pixel_samplers import PortraitPixelSamplerConfig

IMAGES, SIZE, CELLS = 3, 40, 8  # 40 px over 8 cells: 5 px per cell


def _sampler(uniform_fraction=0.2, seed=0, momentum=0.9) -> ErrorMapPixelSampler:
    config = PortraitPixelSamplerConfig(
        kind="error-map",
        num_rays_per_batch=2048,
        seed=seed,
        error_map=ErrorMapSamplerConfig(
            map_resolution=CELLS, uniform_fraction=uniform_fraction, error_momentum=momentum
        ),
    )
    sampler = config.setup(num_images=IMAGES, height=SIZE, width=SIZE)
    assert isinstance(sampler, ErrorMapPixelSampler)
    return sampler


def _plant(sampler: ErrorMapPixelSampler, errors: torch.Tensor) -> None:
    """Feed one ray per cell carrying that cell's error (the first feedback sets a cell exactly)."""
    image, cy, cx = torch.meshgrid(*(torch.arange(n) for n in errors.shape), indexing="ij")
    pixels = torch.stack([image, cy * 5 + 2, cx * 5 + 2], dim=-1).reshape(-1, 3)
    sampler.update(pixels, errors.reshape(-1))


def _cell_counts(sampler: ErrorMapPixelSampler, batches: int) -> np.ndarray:
    counts = torch.zeros(IMAGES * CELLS * CELLS)
    for step in range(batches):
        idx = sampler.sample(step)
        assert idx.shape == (2048, 3) and idx.dtype == torch.long
        assert (idx[:, 1] < SIZE).all() and (idx[:, 2] < SIZE).all() and (idx >= 0).all()
        flat = (idx[:, 0] * CELLS + idx[:, 1] // 5) * CELLS + idx[:, 2] // 5
        counts += torch.bincount(flat, minlength=counts.numel())
    return counts.numpy()


def test_draws_follow_a_planted_error_map_plus_the_uniform_floor():
    sampler = _sampler(uniform_fraction=0.2)
    planted = torch.rand(IMAGES, CELLS, CELLS, generator=torch.Generator().manual_seed(1)) ** 3
    _plant(sampler, planted)
    counts = _cell_counts(sampler, 100)
    expected_p = 0.2 / counts.size + 0.8 * (planted / planted.sum()).reshape(-1).numpy()
    expected = expected_p * counts.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    assert statistic < chi2.ppf(0.999, counts.size - 1), statistic


def test_cells_without_error_keep_the_uniform_floor():
    sampler = _sampler(uniform_fraction=0.25)
    planted = torch.zeros(IMAGES, CELLS, CELLS)
    planted[1, 3, 4] = 1.0  # all the error in one cell
    _plant(sampler, planted)
    counts = _cell_counts(sampler, 60)
    floor = 0.25 / counts.size * counts.sum()
    others = np.delete(counts, (1 * CELLS + 3) * CELLS + 4)
    assert others.min() > 0.6 * floor and abs(others.mean() / floor - 1) < 0.05
    assert counts.max() / counts.sum() == pytest.approx(0.75 + 0.25 / counts.size, abs=0.01)


def test_updates_land_in_the_cells_of_their_pixels_in_any_image():
    sampler = _sampler(momentum=0.5)
    pixels = torch.tensor([[0, 0, 0], [2, 39, 39], [1, 12, 27], [1, 14, 25]])  # the last two share cell (2, 5)
    sampler.update(pixels, torch.tensor([0.1, 0.4, 0.2, 0.6]))
    known = ~torch.isnan(sampler.error_map)
    assert int(known.sum()) == 3
    assert sampler.error_map[0, 0, 0] == pytest.approx(0.1)
    assert sampler.error_map[2, 7, 7] == pytest.approx(0.4)
    assert sampler.error_map[1, 2, 5] == pytest.approx(0.4), "the mean of the rays in the cell"
    sampler.update(torch.tensor([[1, 10, 29]]), torch.tensor([0.0]))
    assert sampler.error_map[1, 2, 5] == pytest.approx(0.2), "moving average with momentum 0.5"
    assert float(sampler.mean_error) == pytest.approx(0.5 * 0.325 + 0.5 * 0.0)


def test_the_map_survives_a_save_and_load():
    sampler = _sampler(seed=5)
    _plant(sampler, torch.rand(IMAGES, CELLS, CELLS, generator=torch.Generator().manual_seed(2)))
    state = {k: v.clone() for k, v in sampler.state_dict().items()}
    assert set(state) == {"error_map", "mean_error"}
    restored = _sampler(seed=5)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.error_map, sampler.error_map, equal_nan=True)
    torch.testing.assert_close(restored.cell_probabilities(), sampler.cell_probabilities())
    assert torch.equal(restored.sample(0), sampler.sample(0)), "the same draws from the same map and seed"


def test_sparse_updates_sample_as_a_map_rebuilt_from_scratch():
    """Each update refreshes only the cell rows it touched; the draws must equal those of the same map whose row
    sums are rebuilt in full (as a load does)."""
    sampler = _sampler(seed=7)
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        pixels = torch.stack(
            [torch.randint(IMAGES, (20,), generator=generator), *torch.randint(SIZE, (2, 20), generator=generator)],
            dim=-1,
        )
        sampler.update(pixels, torch.rand(20, generator=generator))
    assert 0 < int((~torch.isnan(sampler.error_map)).sum()) < sampler.error_map.numel(), "some cells still unknown"
    rebuilt = _sampler(seed=7)
    rebuilt.load_state_dict({k: v.clone() for k, v in sampler.state_dict().items()})
    for step in range(3):
        assert torch.equal(rebuilt.sample(step), sampler.sample(step))
