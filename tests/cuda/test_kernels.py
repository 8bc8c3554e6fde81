"""The fused kernels against their torch references: values and gradients on random inputs and edge cases. The
CPU kernels run everywhere; the CUDA twins on a GPU with ``RAD_NERFSTUDIO_CUDA_TWINS=1`` (benchmarks/gpu_check.sh)."""

from __future__ import annotations

import math
import os
import shutil
import types
from pathlib import Path

import pytest
import torch
from rad_nerfstudio.cuda import kernels
from rad_nerfstudio.cuda.compositing import fused_composite, fused_composite_packed_
from rad_nerfstudio.cuda.hash_grid import fused_hash_grid
from rad_nerfstudio.cuda.kernels import cpu_kernels, cuda_kernels, fused

from rad_nerfstudio.field_components.hash_grid import HashGrid, HashGridConfig
from rad_nerfstudio.field_components.occupancy import MaxOccupancyGrid, OccupancyGridConfig
from rad_nerfstudio.model_components import early_stop_compositing
from rad_nerfstudio.model_components.compositing import reference_render_samples, render_samples
from rad_nerfstudio.model_components.early_stop_compositing import composite_until_opaque, reference_composite_packed_


@pytest.fixture(params=["cpu", "cuda"])
def device(request) -> torch.device:  # noqa: ANN001
    """Each comparison on the CPU kernels, and on the CUDA twins where a GPU is present and they are switched on."""
    if request.param == "cuda" and not (torch.cuda.is_available() and os.environ.get(kernels.CUDA_TWINS_SWITCH) == "1"):
        pytest.skip("the CUDA twins need a GPU and RAD_NERFSTUDIO_CUDA_TWINS=1 (benchmarks/gpu_check.sh)")
    return torch.device(request.param)


def test_the_cpu_kernels_build_on_this_machine():
    module = cpu_kernels()
    assert module is not None, "the fused CPU kernels did not build (see the line above for why)"
    assert all(hasattr(module, name) for name in ("hash_grid_forward", "march_rays", "composite_forward"))


# ------------------------------------------------------------------------------------------------- hash grids
def _grid(dim: int, width: int = 2) -> HashGrid:
    """Levels both dense (coarse) and hashed (fine), so that both row layouts are exercised."""
    config = HashGridConfig(
        num_levels=6, features_per_level=width, log2_hashmap_size=8, base_resolution=3, finest_resolution=300
    )
    grid = HashGrid(dim, config, implementation="torch")
    torch.nn.init.normal_(grid.table)
    assert 0 < grid.n_dense < config.num_levels, (dim, grid.n_dense)
    return grid


def _edge_points(dim: int, grid: HashGrid) -> torch.Tensor:
    """Random points, the corners of the unit box, points outside it (clamped) and points on cell borders."""
    generator = torch.Generator().manual_seed(dim)
    random = torch.rand(300, dim, generator=generator)
    corners = torch.tensor([[float((k >> d) & 1) for d in range(dim)] for k in range(2**dim)])
    outside = torch.rand(20, dim, generator=generator) * 3 - 1
    borders = torch.stack(
        [torch.randint(0, int(r) + 1, (dim,), generator=generator) / float(r) for r in grid.resolutions]
    )
    return torch.cat([random, corners, outside, borders])


@pytest.mark.parametrize("width", [1, 2, 3])  # the kernels' compile-time widths and a run-time one
@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_the_fused_grid_encoding_matches_its_reference(dim, width, device):
    grid = _grid(dim, width).to(device)
    points = _edge_points(dim, grid).to(device)
    fused_out = fused_hash_grid(points, grid.table, grid.resolutions, grid.n_dense)
    assert fused_out is not None
    reference = grid.reference_forward(points)
    torch.testing.assert_close(fused_out.reshape(reference.shape), reference, rtol=1e-6, atol=1e-6)
    upstream = torch.randn_like(reference)
    (fused_table,) = torch.autograd.grad((grid(points) * upstream).sum(), grid.table)
    (reference_table,) = torch.autograd.grad((reference * upstream).sum(), grid.table)
    torch.testing.assert_close(fused_table, reference_table, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("width", [1, 2, 3])
@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_the_fused_grid_encodings_gradient_by_position_matches_its_reference(dim, width, device):
    """Points that follow a refined head pose: the features' derivative by position, random points, points outside
    the box (the clamp holds them: no gradient) and on cell borders (the cell floor picks). Points on the far face
    (a coordinate exactly 1) are left out: there the reference reads a row past the level's last vertex."""
    grid = _grid(dim, width).to(device)
    points = _edge_points(dim, grid).to(device)
    points = points[(points < 1.0).all(-1) | (points > 1.0).any(-1)]
    upstream = torch.randn(points.shape[0], grid.output_dim, device=device)
    grads = []
    for encode in (grid, grid.reference_forward):
        leaf = points.clone().requires_grad_()
        grads.append(torch.autograd.grad((encode(leaf) * upstream).sum(), (leaf, grid.table)))
    (fused_points, fused_table), (reference_points, reference_table) = grads
    scale = float(reference_points.abs().max())
    torch.testing.assert_close(fused_points, reference_points, rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(fused_table, reference_table, rtol=1e-5, atol=1e-5)
    clamped = (points < 0) | (points > 1)  # coordinates the clamp holds: no gradient along them
    assert bool(clamped.any()) and bool((fused_points[clamped] == 0).all())


def test_turning_the_kernels_off_uses_every_reference():
    grid = _grid(2)
    points = torch.rand(10, 2)
    with fused(False):
        assert fused_hash_grid(points, grid.table, grid.resolutions, grid.n_dense) is None
        assert (
            fused_composite(
                torch.ones(2, 3),
                torch.ones(2, 3, 3),
                torch.zeros(2, 3),
                torch.ones(2, 3),
                torch.ones(2, 3, dtype=torch.bool),
            )
            is None
        )
    assert fused_hash_grid(points, grid.table, grid.resolutions, grid.n_dense) is not None


def test_a_failed_build_falls_back_with_one_line(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler here")

    monkeypatch.setattr(kernels, "_loaded", {})
    monkeypatch.setattr(kernels, "_build", broken)
    assert cpu_kernels() is None and cpu_kernels() is None
    said = capsys.readouterr().out
    assert said.count("unavailable") == 1 and "no C++ compiler here" in said
    grid = _grid(3)
    points = torch.rand(20, 3)
    torch.testing.assert_close(grid(points), grid.reference_forward(points))


def test_a_compiler_without_native_instructions_gets_the_portable_build(monkeypatch, capsys):
    built = []

    def load(name, sources, verbose, **options):
        if "-march=native" in options["extra_cflags"]:
            raise RuntimeError("unrecognized command-line option '-march=native'")
        built.append(options["extra_cflags"])
        return types.ModuleType(name)

    monkeypatch.setattr(kernels, "_load", load)
    module = kernels._build(kernels.CPU_MODULE, kernels.CPU_SOURCES, False, cuda=False)
    assert module.__name__ == kernels.CPU_MODULE and len(built) == 1 and "-fopenmp" in built[0]
    assert capsys.readouterr().out.count("portable build") == 1


def test_the_cpu_build_is_keyed_to_this_processor():
    digest = kernels.host_digest()
    assert len(digest) == 16 and digest == kernels.host_digest()


# ---------------------------------------------------------------------------------------------- ray marching
def _occupancy(state: str) -> MaxOccupancyGrid:
    grid = MaxOccupancyGrid(
        OccupancyGridConfig(resolution=16, candidates=64, max_samples=12),
        torch.tensor([[-1.0, -0.8, -1.2], [1.0, 0.9, 1.1]]),
    )
    if state == "random":
        grid.density.copy_(torch.rand(grid.density.shape, generator=torch.Generator().manual_seed(0)) * 20)
        grid.updates += 1
    elif state == "empty":
        grid.updates += 1  # evaluated, all zero: nothing is occupied
    elif state == "sparse":  # a small block off centre and single cells on the box's faces and corners
        density = grid.density.view(16, 16, 16)
        density[6:11, 5:10, 6:8] = 30.0
        density[0, 0, 0] = density[15, 15, 15] = density[0, 7, 15] = density[15, 3, 0] = 30.0
        grid.updates += 1
    return grid


def _rays(count: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    origins = torch.randn(count, 3, generator=generator) * 0.4 + torch.tensor([0.0, 0.0, -3.0])
    directions = torch.randn(count, 3, generator=generator) * 0.3 + torch.tensor([0.0, 0.0, 1.0])
    directions[:10] = torch.tensor([0.0, 1.0, 0.0])  # parallel to the box's faces, most outside it: miss
    directions[10:20] = torch.tensor([0.0, 0.0, 1.0])  # along an axis (zero components)
    origins[20:30] = torch.rand(10, 3, generator=generator) * 0.5  # starting inside the box
    return origins, torch.nn.functional.normalize(directions, dim=-1)


def _kept(samples) -> list[list[tuple[float, float]]]:  # noqa: ANN001
    starts, ends, valid = samples.t_starts[..., 0], samples.t_ends[..., 0], samples.valid
    return [list(zip(starts[r][valid[r]].tolist(), ends[r][valid[r]].tolist(), strict=True)) for r in range(len(valid))]


@pytest.mark.parametrize("state", ["random", "never updated", "empty", "sparse"])
@pytest.mark.parametrize("near", [0.0, 2.8])
def test_the_fused_marcher_keeps_the_reference_samples(state, near, device):
    grid = _occupancy(state).to(device)
    origins, directions = (tensor.to(device) for tensor in _rays())
    fused_samples = grid.march(origins, directions, near)
    reference = grid.reference_march(origins, directions, near)
    fused_kept, reference_kept = _kept(fused_samples), _kept(reference)
    for ray, (got, want) in enumerate(zip(fused_kept, reference_kept, strict=True)):
        assert len(got) == len(want), (ray, got, want)
        for (s0, e0), (s1, e1) in zip(got, want, strict=True):
            assert math.isclose(s0, s1, abs_tol=1e-6) and math.isclose(e0, e1, abs_tol=1e-6), (ray, got, want)
    counts = fused_samples.valid.sum(-1)
    prefix = torch.arange(fused_samples.valid.shape[1], device=device) < counts[:, None]
    assert torch.equal(fused_samples.valid, prefix), "each ray's samples come first in its row"
    if state == "empty":
        assert int(counts.sum()) == 0
    if state == "sparse":
        assert int((counts > 0).sum()) >= 10, "enough rays meet the sparse cells to compare"
    assert int(counts[:10].sum()) == 0, "rays parallel to the box's faces, outside it, get no samples"


# ----------------------------------------------------------------------------------------------- compositing
def _samples(rays: int = 300, k: int = 12):
    generator = torch.Generator().manual_seed(2)
    density = torch.rand(rays, k, generator=generator) * 40
    density[:5] = 1e4  # opaque at once
    rgb = torch.rand(rays, k, 3, generator=generator)
    t_starts = (torch.rand(rays, k, generator=generator) * 0.1 + 0.02).cumsum(-1)
    t_ends = t_starts + 0.02
    valid = torch.rand(rays, k, generator=generator) > 0.3
    valid[5:10] = False  # rays without samples
    return density, rgb, t_starts, t_ends, valid


@pytest.mark.parametrize("bounds_follow_rays", [False, True])
def test_the_fused_compositing_matches_its_reference_in_values_and_gradients(bounds_follow_rays, device):
    """Gradients by density and colour; with rays that follow a refined head pose, by the samples' bounds too."""
    density, rgb, t_starts, t_ends, valid = (tensor.to(device) for tensor in _samples())
    upstream = {
        "weights": torch.randn(300, 12),
        "rgb": torch.randn(300, 3),
        "accumulation": torch.randn(300, 1),
        "depth": torch.randn(300, 1),
    }
    upstream = {key: value.to(device) for key, value in upstream.items()}
    results = []
    for composite in (render_samples, reference_render_samples):
        leaves = [density.clone().requires_grad_(), rgb.clone().requires_grad_(), t_starts.clone(), t_ends.clone()]
        if bounds_follow_rays:
            leaves[2:] = [bound.requires_grad_() for bound in leaves[2:]]
        out = composite(*leaves, valid)
        loss = sum((out[key] * upstream[key]).sum() for key in upstream)
        wanted = [leaf for leaf in leaves if leaf.requires_grad]
        results.append(({key: out[key].detach() for key in upstream}, torch.autograd.grad(loss, wanted)))
    (fused_out, fused_grads), (reference_out, reference_grads) = results
    for key in upstream:
        torch.testing.assert_close(fused_out[key], reference_out[key], rtol=1e-5, atol=1e-6)
    assert len(fused_grads) == (4 if bounds_follow_rays else 2)
    for k, (got, want) in enumerate(zip(fused_grads, reference_grads, strict=True)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 if k < 2 else 1e-4)  # density, rgb; bounds


def test_compositing_in_pieces_carries_the_transmittance(device):
    density, rgb, t_starts, t_ends, valid = (tensor.to(device) for tensor in _samples())
    whole = fused_composite(density, rgb, t_starts, t_ends, valid)
    front = fused_composite(density[:, :5], rgb[:, :5], t_starts[:, :5], t_ends[:, :5], valid[:, :5])
    assert whole is not None and front is not None
    back = fused_composite(
        density[:, 5:], rgb[:, 5:], t_starts[:, 5:], t_ends[:, 5:], valid[:, 5:], front["transmittance"]
    )
    assert back is not None
    torch.testing.assert_close(front["rgb"] + back["rgb"], whole["rgb"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(back["transmittance"], whole["transmittance"])


def test_stopping_opaque_rays_early_changes_no_pixel_visibly(device):
    density, rgb, t_starts, t_ends, valid = (tensor.to(device) for tensor in _samples())
    order = (~valid).float().argsort(dim=-1, stable=True)  # the fused marcher's layout: samples first
    density, rgb = density.gather(1, order), rgb.gather(1, order[..., None].expand(-1, -1, 3))
    t_starts, t_ends, valid = t_starts.gather(1, order), t_ends.gather(1, order), valid.gather(1, order)
    evaluated = []

    def fields(ray_id, sample_id):  # noqa: ANN001, ANN202
        evaluated.append(ray_id.numel())
        return density[ray_id, sample_id], rgb[ray_id, sample_id], {"ambient": density[ray_id, sample_id] * 0 + 1}

    early = composite_until_opaque(valid, t_starts, t_ends, fields, ["ambient"], piece=3, tail=0)
    assert early is not None
    reference = reference_render_samples(density, rgb, t_starts, t_ends, valid)
    assert float((early["rgb"] - reference["rgb"]).abs().max()) < 1e-3
    torch.testing.assert_close(early["ambient"], reference["accumulation"], rtol=1e-3, atol=1e-3)
    assert sum(evaluated) < int(valid.sum()), "opaque rays stopped before their last samples"
    scattered = valid.flip(-1)  # samples after padding: not the layout it reads, so it declines
    assert composite_until_opaque(scattered, t_starts, t_ends, fields, ["ambient"]) is None
    calls = len(evaluated)
    assert calls > 2, "piece by piece"
    in_one = composite_until_opaque(valid, t_starts, t_ends, fields, ["ambient"], piece=3, tail=int(valid.sum()))
    assert in_one is not None and len(evaluated) == calls + 1, "samples within the tail go in one last piece"
    torch.testing.assert_close(in_one["rgb"], reference["rgb"], rtol=1e-5, atol=1e-5)


def _packed_piece(device: torch.device) -> tuple[torch.Tensor, ...]:
    """One piece of an early-stopped render: 200 rays' packed samples (runs of 0-6 per ray, grouped, front to back),
    two maps per sample, and the rays' transmittance in front of the piece and their outputs so far (r, g, b,
    accumulation, depth, two maps)."""
    generator = torch.Generator().manual_seed(5)
    counts = torch.randint(0, 7, (200,), generator=generator)
    counts[:4] = torch.tensor([0, 1, 6, 0])
    ray = torch.repeat_interleave(torch.arange(200), counts)
    n = len(ray)
    density = torch.rand(n, generator=generator) * 40
    density[1:7] = 1e4  # the third ray's run (six samples): opaque at once
    rgb, maps = torch.rand(n, 3, generator=generator), torch.randn(n, 2, generator=generator)
    t_starts = torch.sort(torch.rand(n, generator=generator) * 2).values
    t_ends = t_starts + 0.05
    transmittance, out = torch.rand(200, generator=generator), torch.rand(200, 7, generator=generator)
    return tuple(t.to(device) for t in (ray, density, rgb, maps, t_starts, t_ends, transmittance, out))


def test_the_fused_packed_compositing_matches_its_reference(device):
    *samples, transmittance, out = _packed_piece(device)
    fused_state, reference_state = (transmittance.clone(), out.clone()), (transmittance.clone(), out.clone())
    assert fused_composite_packed_(*samples, *fused_state)
    reference_composite_packed_(*samples, *reference_state)
    for got, want in zip(fused_state, reference_state, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    untouched = torch.ones(200, dtype=torch.bool, device=device)
    untouched[samples[0]] = False
    assert bool(untouched[0]) and bool(untouched[3]), "rays without samples in the piece"
    assert torch.equal(fused_state[0][untouched], transmittance[untouched])
    assert torch.equal(fused_state[1][untouched], out[untouched])
    assert float(fused_state[0][2]) < 1e-10, "an opaque run leaves nothing behind it"


def test_the_packed_compositing_refuses_rays_out_of_order():
    ray, *rest = _packed_piece(torch.device("cpu"))
    with pytest.raises(RuntimeError, match="grouped"):
        fused_composite_packed_(ray.flip(0), *rest)
    *samples, transmittance, out = _packed_piece(torch.device("cpu"))
    with pytest.raises(RuntimeError, match=r"\[R, 5 \+ C\]"):
        fused_composite_packed_(*samples, transmittance, out[:, :6])


def test_early_stopping_on_the_packed_reference_renders_what_the_kernel_does(monkeypatch):
    density, rgb, t_starts, t_ends, valid = _samples()
    order = (~valid).float().argsort(dim=-1, stable=True)  # the fused marcher's layout: samples first
    density, rgb = density.gather(1, order), rgb.gather(1, order[..., None].expand(-1, -1, 3))
    t_starts, t_ends, valid = t_starts.gather(1, order), t_ends.gather(1, order), valid.gather(1, order)

    def fields(ray_id, sample_id):  # noqa: ANN001, ANN202
        return density[ray_id, sample_id], rgb[ray_id, sample_id], {"ambient": rgb[ray_id, sample_id, 0]}

    fused_render = composite_until_opaque(valid, t_starts, t_ends, fields, ["ambient"], piece=3, tail=0)
    monkeypatch.setattr(early_stop_compositing, "fused_composite_packed_", lambda *args: False)
    reference = composite_until_opaque(valid, t_starts, t_ends, fields, ["ambient"], piece=3, tail=0)
    assert fused_render is not None and reference is not None
    for key in ("rgb", "accumulation", "depth", "ambient"):
        torch.testing.assert_close(fused_render[key], reference[key], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_cuda_twins_compile_where_nvcc_is():
    """The CUDA twins compile (sm_80 / sm_90 without a GPU) wherever nvcc is installed; they run in gpu_check.sh."""
    if shutil.which("nvcc") is None and not Path("/usr/local/cuda/bin/nvcc").exists():
        pytest.skip("no nvcc on this machine: the CUDA twins cannot be compiled here")
    assert cuda_kernels(compile_only=True) is not None, "the CUDA twins did not compile (see the line above)"


def test_the_fused_marchers_bounds_follow_the_rays_like_the_references():
    """Rays that need a gradient (pose refinement, test-time alignment) get the reference's derivatives."""
    grid = _occupancy("random")
    origins, directions = _rays()
    grads = []
    for march in (grid.march, grid.reference_march):
        leaves = origins.clone().requires_grad_(), directions.clone().requires_grad_()
        samples = march(*leaves, 0.0)
        weights = torch.linspace(0.5, 1.5, samples.valid.shape[1])  # any function of the sorted valid samples
        kept = [samples.t_starts[r, samples.valid[r], 0] for r in range(len(samples.valid))]
        total = sum((t * weights[: len(t)]).sum() for t in kept)
        grads.append(torch.autograd.grad(total, leaves))  # pyright: ignore[reportArgumentType]
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
