"""Load time and resident memory of the talking-portrait data manager for N frames, next to the uint8 lower bound.

    python benchmarks/dataset_memory.py --frames 500 --size 512 [--data DIR] [--output results.json]

Without ``--data`` a ``rad-sample`` dataset of N frames is generated first (not timed); with it, all of that
dataset's frames are loaded. The lower bound is the raw bytes of every image as uint8 (N x H x W x 3); the data
manager also keeps each frame's torso backdrop (torso layer over the background, what the head stage renders
over) as uint8, so it needs twice that. The anchors preload float32 images and float32 RGBA torso images.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import psutil


def measure(data: Path) -> dict:
    import torch  # imported before the baseline so that library memory is not counted

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig

    process = psutil.Process()
    config = TalkingPortraitDataManagerConfig(data=data)
    config.dataparser.audio_features = "mel"
    rss_before = process.memory_info().rss
    start = time.perf_counter()
    manager = config.setup(device="cpu")
    seconds = time.perf_counter() - start
    rss_after = process.memory_info().rss
    images = [manager.train_images, manager.eval_images]
    height, width = images[0].shape[1:3]
    lower_bound = sum(int(t.shape[0]) for t in images) * height * width * 3
    del torch
    return {
        "frames": sum(int(t.shape[0]) for t in images),
        "size": f"{width}x{height}",
        "load_s": round(seconds, 2),
        "frames_per_s": round(sum(int(t.shape[0]) for t in images) / seconds, 1),
        "rss_increase_mib": round((rss_after - rss_before) / 2**20, 1),
        "uint8_images_mib": round(lower_bound / 2**20, 1),
        "uint8_images_and_backdrops_mib": round(2 * lower_bound / 2**20, 1),
        "anchors_float32_preload_mib": round((4 + 16 / 3) * lower_bound / 2**20, 1),
        "ratio_to_uint8_images": round((rss_after - rss_before) / lower_bound, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--data", type=Path, default=None, help="measure this dataset (all its frames) instead")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/dataset_memory.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from rad_nerfstudio.sample.generate import generate_sample

            data = generate_sample(Path(tmp) / "sample", seconds=args.frames / 25, size=args.size, speech="formant")
            data = data.output_dir
        result = measure(data)
    from rad_nerfstudio.io.atomic import write_text_atomic

    write_text_atomic(args.output, json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
