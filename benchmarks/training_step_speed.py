"""ms per ``ns-train`` iteration, measured with nerfstudio's own trainer on a trained-in model.

``train_render_speed.py`` times a model's first steps on uniformly sampled rays; a real run is different: the
methods' face-focused sampler puts most rays on the head, whose occupancy grid has by then shrunk to the skin, and
an iteration also runs the callbacks (occupancy updates, EMA). Here each variant (the fused path with and without
``--pipeline.model.train-until-opaque``, which only the fused path takes, and the torch path) is a
``TalkingPortraitTrainer`` set up from the method's own config, trained ``--warm`` steps, and then the variants take
``--block`` iterations in turn for ``--rounds`` rounds (a machine whose speed drifts slows all of them alike; the
first iteration of a block, on caches another variant filled, is not timed). Reported: the median iteration
(``Trainer.train_iteration`` and the callbacks around it, what ns-train's "Train Iter" shows) and the head's samples
per ray.

    python benchmarks/training_step_speed.py [--data DIR] [--methods er-nerf-small rad-nerf-small] [--warm 600]
        [--rounds 8] [--block 16] [--output benchmarks/results/training_step_speed.json]

Without ``--data`` a 160 px, 8 s ``rad-sample`` dataset is generated first.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import torch


class _Variant:
    """One trainer: a method on one kernel path, training until opaque or not."""

    def __init__(self, method: str, path: str, until_opaque: bool, data: Path, output: Path) -> None:
        from rad_nerfstudio.method_configs import er_nerf_small, rad_nerf_small
        from rad_nerfstudio.models.portrait_config import PortraitModelConfig

        spec = {"er-nerf-small": er_nerf_small, "rad-nerf-small": rad_nerf_small}[method]
        config = copy.deepcopy(spec.config)  # each trainer keeps (and its model reads) its own
        config.data = data
        config.pipeline.datamanager.data = data
        config.output_dir = output
        config.vis = "tensorboard"
        model = config.pipeline.model
        assert isinstance(model, PortraitModelConfig)
        model.lpips_pretrained = False  # the lips stage's AlexNet weights: not timed, offline here
        model.train_until_opaque = until_opaque
        config.set_timestamp()
        until = f", until opaque {'on' if until_opaque else 'off'}" if path == "fused" else ""
        self.name = f"{method}, {path}{until}"
        self.path = path
        torch.manual_seed(0)
        self.trainer = config.setup(local_rank=0, world_size=1)
        self.trainer.setup()
        self.step = 0
        self.durations: List[float] = []

    def iterate(self, count: int, timed: bool) -> None:
        from nerfstudio.engine.callbacks import TrainingCallbackLocation
        from rad_nerfstudio.cuda.kernels import fused  # pyright: ignore[reportMissingImports]

        trainer = self.trainer
        with fused(self.path == "fused"):
            for offset in range(count):
                start = time.perf_counter()
                trainer.pipeline.train()
                for callback in trainer.callbacks:
                    callback.run_callback_at_location(self.step, TrainingCallbackLocation.BEFORE_TRAIN_ITERATION)
                trainer.train_iteration(self.step)
                for callback in trainer.callbacks:
                    callback.run_callback_at_location(self.step, TrainingCallbackLocation.AFTER_TRAIN_ITERATION)
                if timed and offset > 0:
                    self.durations.append(time.perf_counter() - start)
                self.step += 1

    def samples_per_ray(self) -> float:
        """Valid head samples per training ray of one batch (marched, before the opaque cut)."""
        model = self.trainer.pipeline.model
        ray_bundle, _ = self.trainer.pipeline.datamanager.next_train(self.step)
        with torch.no_grad():
            samples = model.occupancy.march(ray_bundle.origins, ray_bundle.directions, model.config.near_plane)
        return float(samples.valid.sum()) / samples.valid.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--methods", nargs="+", default=["er-nerf-small", "rad-nerf-small"])
    parser.add_argument("--paths", nargs="+", default=["fused", "torch"], choices=["fused", "torch"])
    parser.add_argument("--warm", type=int, default=600, help="untimed iterations of each variant first")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--block", type=int, default=16, help="iterations of a variant in a row per round")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/training_step_speed.json"))
    args = parser.parse_args()
    from rad_nerfstudio.io.atomic import write_text_atomic

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from rad_nerfstudio.sample.generate import generate_sample

            data = generate_sample(Path(tmp) / "sample", seconds=8.0, size=160, speech="formant").output_dir
        variants = [
            _Variant(method, path, until, data, Path(tmp) / "runs")
            for method in args.methods
            for path in args.paths
            for until in ((True, False) if path == "fused" else (False,))
        ]
        for variant in variants:
            variant.iterate(args.warm, timed=False)
        for _ in range(args.rounds):
            for variant in variants:
                variant.iterate(args.block, timed=True)
        rows: List[Dict[str, Any]] = [
            {
                "variant": v.name,
                "ms_per_iteration": round(1000 * statistics.median(v.durations), 2),
                "samples_per_ray": round(v.samples_per_ray(), 2),
            }
            for v in variants
        ]
    print(f"median ms per ns-train iteration after {args.warm} steps, {torch.get_num_threads()} threads")
    baseline = {row["variant"]: row["ms_per_iteration"] for row in rows}
    for row in rows:
        method = row["variant"].split(",")[0]
        torch_path = baseline[f"{method}, torch"] if "torch" in args.paths else row["ms_per_iteration"]
        row["speedup_over_torch_path"] = round(torch_path / row["ms_per_iteration"], 2)
        print(
            f"{row['variant']:<48}{row['ms_per_iteration']:>9} ms{row['speedup_over_torch_path']:>7}x"
            f"{row['samples_per_ray']:>7} samples / ray"
        )
    write_text_atomic(args.output, json.dumps({"warm": args.warm, "rows": rows}, indent=2))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
