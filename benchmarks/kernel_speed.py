"""Each fused kernel against its torch reference on the same inputs, side by side: ms per call (best of
``--repeats``) for the hash-grid encoding (forward, forward + backward to the table, and forward + backward to the
table and the points as pose refinement needs; 2D and 3D), the ray marcher, the compositor (forward, forward +
backward, and forward + backward to the samples' bounds too) and the early stop's packed compositing of one piece
(renders: up to six samples of each ray, grouped by ray), on the CPU or a GPU.

    python benchmarks/kernel_speed.py [--device cpu|cuda] [--points 65536] [--output results.json]

On a GPU the CUDA twins serve only with ``RAD_NERFSTUDIO_CUDA_TWINS=1`` (``benchmarks/gpu_check.sh`` sets it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import torch
from rad_nerfstudio.cuda.kernels import fused, kernels_for

from rad_nerfstudio.field_components.hash_grid import HashGrid, HashGridConfig
from rad_nerfstudio.field_components.occupancy import MaxOccupancyGrid, OccupancyGridConfig
from rad_nerfstudio.model_components.compositing import render_samples
from rad_nerfstudio.model_components.early_stop_compositing import composite_packed_


def _best_ms(call: Callable[[], object], repeats: int, device: torch.device) -> float:
    call()  # warm-up (and the kernels' load)
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def _cases(points: int, device: torch.device) -> dict[str, Callable[[], object]]:
    generator = torch.Generator().manual_seed(0)
    cases: dict[str, Callable[[], object]] = {}
    for dim in (2, 3):
        grid = HashGrid(dim, HashGridConfig(log2_hashmap_size=16), implementation="torch").to(device)
        x = torch.rand(points, dim, generator=generator).to(device)
        cases[f"hash grid {dim}D forward"] = lambda grid=grid, x=x: grid(x)
        cases[f"hash grid {dim}D forward+backward"] = lambda grid=grid, x=x: grid(x).square().sum().backward()
        moving = x.clone().requires_grad_()  # points that follow a refined head pose
        cases[f"hash grid {dim}D ... + points"] = lambda grid=grid, x=moving: grid(x).square().sum().backward()
    occupancy = MaxOccupancyGrid(OccupancyGridConfig(), torch.tensor([[-1.0] * 3, [1.0] * 3])).to(device)
    occupancy.density.copy_((torch.rand(occupancy.density.shape, generator=generator) * 20).to(device))
    occupancy.updates += 1
    origins = (torch.randn(points, 3, generator=generator) * 0.3 + torch.tensor([0.0, 0.0, -3.0])).to(device)
    directions = torch.nn.functional.normalize(origins.neg() + torch.randn(points, 3).to(device) * 0.2, dim=-1)
    cases["ray march"] = lambda: occupancy.march(origins, directions)
    k = 16
    density = (torch.rand(points, k, generator=generator) * 30).to(device).requires_grad_()
    rgb = torch.rand(points, k, 3, generator=generator).to(device).requires_grad_()
    t_starts = (torch.rand(points, k, generator=generator) * 0.05).cumsum(-1).to(device)
    t_ends, valid = t_starts + 0.03, (torch.rand(points, k, generator=generator) > 0.3).to(device)
    with torch.no_grad():
        cases["composite forward"] = lambda: render_samples(density.detach(), rgb.detach(), t_starts, t_ends, valid)
    cases["composite forward+backward"] = lambda: (
        render_samples(density, rgb, t_starts, t_ends, valid)["rgb"].sum().backward()
    )
    starts, ends = t_starts.clone().requires_grad_(), t_ends.clone().requires_grad_()
    cases["composite ... + bounds"] = lambda: render_samples(density, rgb, starts, ends, valid)["rgb"].sum().backward()
    cases["composite packed (renders)"] = _packed_piece(points, generator, device)
    return cases


def _packed_piece(points: int, generator: torch.Generator, device: torch.device) -> Callable[[], object]:
    """One piece of an early-stopped render: 0-6 samples of each of ``points`` rays, packed and grouped by ray, one
    map; the kernel, or its reference where the kernels are off."""
    ray = torch.repeat_interleave(torch.arange(points), torch.randint(0, 7, (points,), generator=generator))
    n = len(ray)
    t_starts = torch.rand(n, generator=generator) * 2
    samples = [ray, torch.rand(n, generator=generator) * 30, torch.rand(n, 3, generator=generator)]
    samples += [torch.rand(n, 1, generator=generator), t_starts, t_starts + 0.03]
    samples = [tensor.to(device) for tensor in samples]

    def composite() -> None:
        composite_packed_(*samples, torch.ones(points, device=device), torch.zeros(points, 6, device=device))

    return composite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--points", type=int, default=65536, help="points / rays per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/kernel_speed.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    if kernels_for(device) is None:
        raise SystemExit(f"no fused kernels serve {device} here (see the line above, or RAD_NERFSTUDIO_CUDA_TWINS)")
    from rad_nerfstudio.io.atomic import write_text_atomic

    rows = []
    for name, call in _cases(args.points, device).items():
        with fused(True):
            fused_ms = _best_ms(call, args.repeats, device)
        with fused(False):
            torch_ms = _best_ms(call, args.repeats, device)
        rows.append(
            {
                "kernel": name,
                "fused_ms": round(fused_ms, 2),
                "torch_ms": round(torch_ms, 2),
                "speedup": round(torch_ms / fused_ms, 2),
            }
        )
    result = {"device": str(device), "points": args.points, "threads": torch.get_num_threads(), "rows": rows}
    write_text_atomic(args.output, json.dumps(result, indent=2))
    print(f"{args.points} points / rays per call on {device}, {torch.get_num_threads()} threads")
    print(f"{'kernel':<32}{'fused ms':>10}{'torch ms':>10}{'x':>7}")
    for row in rows:
        print(f"{row['kernel']:<32}{row['fused_ms']:>10}{row['torch_ms']:>10}{row['speedup']:>7}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
