"""Side-by-side CPU speed: ms per training step and ms per rendered frame of rad-nerf and er-nerf (small and
paper sizes), and of the CPU methods with head-pose refinement, against nerfacto with nerfstudio's torch
implementation, at the same rays per batch and resolution, in one run: the models take their training steps in
turn (the median step of each is reported), so a machine whose speed drifts during the run slows all of them alike.

    python benchmarks/train_render_speed.py [--data DIR] [--rays 1024] [--steps 20] [--output results.json]

Without ``--data`` a 160 px, 4 s ``rad-sample`` dataset is generated first. All models read the same batches from
the talking-portrait data manager. nerfacto builds torchmetrics' LPIPS (an AlexNet download) when it is created,
and the portrait models build LPIPS for their lips stage; LPIPS takes no part in the timed steps or renders, so an
inert stand-in / the random trunk replace it here to run offline.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch


class _InertLpips(torch.nn.Module):
    """Stands in for torchmetrics' LPIPS in nerfacto (only used by its image metrics, not timed here)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()


def _model_configs() -> dict:
    import torchmetrics.image.lpip
    from nerfstudio.cameras.camera_optimizers import CameraOptimizerConfig
    from nerfstudio.models.nerfacto import NerfactoModelConfig

    from rad_nerfstudio.method_configs import er_nerf, er_nerf_small, rad_nerf, rad_nerf_small

    torchmetrics.image.lpip.LearnedPerceptualImagePatchSimilarity = _InertLpips  # type: ignore[misc]
    portraits = {
        "rad-nerf-small": rad_nerf_small,
        "rad-nerf (paper sizes)": rad_nerf,
        "er-nerf-small": er_nerf_small,
        "er-nerf (paper sizes)": er_nerf,
    }
    # The lips stage's LPIPS (an AlexNet download) takes no part in the timed head-stage steps either.
    models = {name: replace(spec.config.pipeline.model, lpips_pretrained=False) for name, spec in portraits.items()}
    # Head-pose refinement (one SO3xR3 correction per training frame, its regulariser and smoothness) costs this much.
    refining = CameraOptimizerConfig(mode="SO3xR3")
    for name in ("rad-nerf-small", "er-nerf-small"):
        models[f"{name} + pose refinement"] = replace(models[name], camera_optimizer=refining)
    return {"nerfacto (torch)": NerfactoModelConfig(implementation="torch"), **models}


class _Contender:
    """One model with its optimizer, timed a step at a time."""

    def __init__(self, name, config, manager) -> None:  # noqa: ANN001
        from nerfstudio.engine.callbacks import TrainingCallbackAttributes

        from rad_nerfstudio.engine.manual_steps import build_model

        torch.manual_seed(0)
        self.name, self.manager = name, manager
        self.model = build_model(config, manager)
        self.model.train()
        for callback in self.model.get_training_callbacks(TrainingCallbackAttributes(None, None, None, None)):
            callback.run_callback_at_location(0, callback.where_to_run[0])  # e.g. rad-nerf's first occupancy update
        parameters = [p for group in self.model.get_param_groups().values() for p in group]
        self.optimizer = torch.optim.Adam(parameters, lr=1e-3)
        self.durations: list[float] = []

    def step(self, step: int, timed: bool) -> None:
        from rad_nerfstudio.engine.manual_steps import backpropagate, step_losses

        start = time.perf_counter()
        _, _, losses = step_losses(self.manager, self.model, step)
        backpropagate(self.model, losses, self.optimizer)
        if timed:
            self.durations.append(time.perf_counter() - start)

    def render_seconds(self) -> float:
        self.model.eval()
        camera = self.manager.eval_dataset.cameras[0:1]
        renders = []
        for _ in range(2):
            start = time.perf_counter()
            self.model.get_outputs_for_camera(camera)
            renders.append(time.perf_counter() - start)
        return min(renders)


def _time_models(configs: dict, manager, steps: int, warmup: int) -> list[dict]:  # noqa: ANN001
    """Every model's training steps taken in turn (step k of each before step k + 1 of any), so that a machine
    that slows down or speeds up during the run affects all of them alike; then each one's frame render."""
    from rad_nerfstudio.model_components.model_size import parameter_megabytes

    contenders = [_Contender(name, config, manager) for name, config in configs.items()]
    for step in range(warmup + steps):
        for contender in contenders:
            contender.step(step, timed=step >= warmup)
    return [
        {
            "model": c.name,
            "ms_per_step": 1000 * float(torch.tensor(c.durations).median()),
            "ms_per_frame": 1000 * c.render_seconds(),
            "parameters_mib": round(parameter_megabytes(c.model), 1),
        }
        for c in contenders
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rays", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/train_render_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
    from rad_nerfstudio.io.atomic import write_text_atomic

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from rad_nerfstudio.sample.generate import generate_sample

            data = generate_sample(Path(tmp) / "sample", seconds=4.0, size=160, speech="formant").output_dir
        config = TalkingPortraitDataManagerConfig(data=data)
        config.pixel_sampler.num_rays_per_batch = args.rays
        manager = config.setup(device="cpu")
        height, width = manager.train_images.shape[1:3]
        rows = _time_models(_model_configs(), manager, args.steps, args.warmup)
    peer = rows[0]
    for row in rows:
        row["step_ratio_to_nerfacto"] = round(row["ms_per_step"] / peer["ms_per_step"], 3)
        row["frame_ratio_to_nerfacto"] = round(row["ms_per_frame"] / peer["ms_per_frame"], 3)
        row["ms_per_step"], row["ms_per_frame"] = round(row["ms_per_step"], 1), round(row["ms_per_frame"], 1)
    result = {
        "rays_per_batch": args.rays,
        "resolution": f"{width}x{height}",
        "threads": torch.get_num_threads(),
        "rows": rows,
    }
    write_text_atomic(args.output, json.dumps(result, indent=2))
    print(f"{args.rays} rays per step, frames of {width}x{height}, {torch.get_num_threads()} threads")
    print(f"{'model':<34}{'ms/step':>10}{'x nerfacto':>12}{'ms/frame':>10}{'x nerfacto':>12}{'MiB':>8}")
    for row in rows:
        print(
            f"{row['model']:<34}{row['ms_per_step']:>10}{row['step_ratio_to_nerfacto']:>12}"
            f"{row['ms_per_frame']:>10}{row['frame_ratio_to_nerfacto']:>12}{row['parameters_mib']:>8}"
        )
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
