"""Side-by-side CPU speed: ms per training step and ms per rendered frame of rad-nerf and er-nerf (small and
paper sizes), and of the CPU methods with head-pose refinement, against nerfacto with nerfstudio's torch
implementation, at the same rays per batch and resolution, in one run: the models take their training steps in
turn (the median step of each is reported), so a machine whose speed drifts during the run slows all of them alike.
Every portrait model runs twice, on the fused kernels (``cuda/``) and on their torch references ("torch path").

    python benchmarks/train_render_speed.py [--data DIR] [--rays 1024] [--steps 20] [--output results.json]
        [--trained RUN/config.yml ...] [--render-size 128]

``--trained``: also render trained runs (their first validation frame, ``--render-size`` px wide) on both paths in
turn: ms per frame (best of ``--repeats``), frames per second, the speed-up (best against best, and the median of
each round's ratio: a round renders on both paths back to back, so a drifting machine speed cancels), head-field
samples per ray, and the PSNR between the two paths' images. The fused path renders as ``rad-render`` does: with
compiled fields and, where the processor multiplies bfloat16 matrices itself, bfloat16 MLPs (``--mlp-precision``).

Without ``--data`` a 160 px, 4 s ``rad-sample`` dataset is generated first. The steps timed here are a new model's
first, on the data manager's default rays; ``training_step_speed.py`` times ``ns-train``'s own iterations of a
trained-in model (the methods' face-focused rays, an occupancy grid shrunk to the head, the callbacks). All models
read the same batches from the talking-portrait data manager. nerfacto builds torchmetrics' LPIPS (an AlexNet
download) when it is created, and the portrait models build LPIPS for their lips stage; LPIPS takes no part in the
timed steps or renders, so an inert stand-in / the random trunk replace it here to run offline.
"""

from __future__ import annotations

import argparse
import json
import math
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

    def __init__(self, name, config, manager, path: str = "torch") -> None:  # noqa: ANN001
        from nerfstudio.engine.callbacks import TrainingCallbackAttributes

        from rad_nerfstudio.engine.manual_steps import build_model

        torch.manual_seed(0)
        self.name, self.manager, self.path = name, manager, path
        self.model = build_model(config, manager)
        self.model.train()
        for callback in self.model.get_training_callbacks(TrainingCallbackAttributes(None, None, None, None)):
            callback.run_callback_at_location(0, callback.where_to_run[0])  # e.g. rad-nerf's first occupancy update
        parameters = [p for group in self.model.get_param_groups().values() for p in group]
        # the methods' optimizers are torch's fused Adam / AdamW (method_configs); the torch path keeps the default
        self.optimizer = torch.optim.Adam(parameters, lr=1e-3, fused=path == "fused" or None)
        self.durations: list[float] = []

    def step(self, step: int, timed: bool) -> None:
        from rad_nerfstudio.cuda.kernels import fused

        from rad_nerfstudio.engine.manual_steps import backpropagate, step_losses

        with fused(self.path == "fused"):
            start = time.perf_counter()
            _, _, losses = step_losses(self.manager, self.model, step)
            backpropagate(self.model, losses, self.optimizer)
            if timed:
                self.durations.append(time.perf_counter() - start)

    def render_seconds(self) -> float:
        from rad_nerfstudio.cuda.kernels import fused

        self.model.eval()
        camera = self.manager.eval_dataset.cameras[0:1]
        renders = []
        with fused(self.path == "fused"):
            for _ in range(2):
                start = time.perf_counter()
                self.model.get_outputs_for_camera(camera)
                renders.append(time.perf_counter() - start)
        return min(renders)


def _time_models(configs: dict, manager, steps: int, warmup: int) -> list[dict]:  # noqa: ANN001
    """Every model's training steps taken in turn (step k of each before step k + 1 of any), so that a machine
    that slows down or speeds up during the run affects all of them alike; then each one's frame render."""
    from rad_nerfstudio.model_components.model_size import parameter_megabytes

    contenders = []
    for name, config in configs.items():
        paths = ("torch",) if name.startswith("nerfacto") else ("fused", "torch")
        contenders += [_Contender(name, config, manager, path) for path in paths]
    for step in range(warmup + steps):
        for contender in contenders:
            contender.step(step, timed=step >= warmup)
    return [
        {
            "model": c.name,
            "path": c.path,
            "ms_per_step": 1000 * float(torch.tensor(c.durations).median()),
            "ms_per_frame": 1000 * c.render_seconds(),
            "parameters_mib": round(parameter_megabytes(c.model), 1),
        }
        for c in contenders
    ]


def _time_trained_render(config_path: Path, size: int, repeats: int, compile_fields: bool, precision: str) -> dict:
    """A trained run's first validation frame rendered ``size`` px wide on each path in turn (the best of
    ``repeats`` each): ms per frame, head-field samples per ray, and the PSNR between the two paths' images. The
    fused path renders with compiled fields (as ``rad-render`` does) unless ``compile_fields`` is False, and its MLPs
    at ``precision`` (``rad-render --mlp-precision``; the torch path is float32 whatever it says)."""
    from rad_nerfstudio.cuda.kernels import fused

    from rad_nerfstudio.model_components.compiled_fields import compiled_fields
    from rad_nerfstudio.model_components.mlp_precision import bfloat16_mlps, wants_bfloat16
    from rad_nerfstudio.render.trained_run import load_trained_run

    run = load_trained_run(config_path)
    model = run.model
    model.eval()
    camera = run.datamanager.eval_dataset.cameras[0:1]
    camera.rescale_output_resolution(size / int(camera.width[0]))
    samples = []
    hook = model.head.register_forward_pre_hook(lambda module, inputs: samples.append(inputs[0].shape[0]))
    seconds: dict[str, list[float]] = {"fused": [], "torch": []}
    images: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    bfloat16 = wants_bfloat16(precision)  # type: ignore[arg-type]
    with (
        torch.no_grad(),
        model.render_weights(),
        compiled_fields(model, compile_fields),
        bfloat16_mlps(model, bfloat16),
    ):
        for repeat in range(repeats + 1):  # the first round builds the kernels, compiles and warms the caches
            for path in ("fused", "torch"):
                samples.clear()
                with fused(path == "fused"):
                    start = time.perf_counter()
                    images[path] = model.get_outputs_for_camera(camera)["rgb"].clamp(0, 1)
                    if repeat > 0:
                        seconds[path].append(time.perf_counter() - start)
                counts[path] = sum(samples)
    hook.remove()
    rays = int(camera.width[0]) * int(camera.height[0])
    mse = float(((images["fused"] - images["torch"]) ** 2).mean())
    fused_ms, torch_ms = 1000 * min(seconds["fused"]), 1000 * min(seconds["torch"])
    # each round renders the frame on both paths back to back: their ratio does not see the machine's drift
    ratios = sorted(t / f for f, t in zip(seconds["fused"], seconds["torch"], strict=True))
    return {
        "run": str(config_path),
        "resolution": f"{int(camera.width[0])}x{int(camera.height[0])}",
        "fused_mlps": "bfloat16" if bfloat16 else "float32",
        "ms_per_frame_fused": round(fused_ms, 1),
        "ms_per_frame_torch": round(torch_ms, 1),
        "fps_fused": round(1000 / fused_ms, 2),
        "render_speedup": round(torch_ms / fused_ms, 2),
        "render_speedup_per_round_median": round(ratios[len(ratios) // 2], 2),
        "samples_per_ray_fused": round(counts["fused"] / rays, 3),
        "samples_per_ray_torch": round(counts["torch"] / rays, 3),
        "psnr_between_paths": round(-10 * math.log10(mse), 1) if mse > 0 else float("inf"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rays", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/train_render_speed.json"))
    parser.add_argument("--trained", type=Path, nargs="*", default=[], help="config.yml of trained runs to render")
    parser.add_argument("--render-size", type=int, default=128, help="width of the trained runs' renders")
    parser.add_argument("--repeats", type=int, default=9, help="renders per path of each trained run")
    parser.add_argument("--skip-training", action="store_true", help="only the trained runs' renders")
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false", help="the fused path's renders with eager fields"
    )
    parser.add_argument(
        "--mlp-precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="the fused path's MLPs in renders (rad-render's option; auto: bfloat16 where the CPU has the units)",
    )
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    from rad_nerfstudio.io.atomic import write_text_atomic

    result: dict = {"threads": torch.get_num_threads()}
    if not args.skip_training:
        result.update(_training_table(args))
    if args.trained:
        renders = [
            _time_trained_render(path, args.render_size, args.repeats, args.compile, args.mlp_precision)
            for path in args.trained
        ]
        result["trained_renders"] = renders
        print(f"trained runs rendered {args.render_size} px wide, fused kernels vs torch path (best of {args.repeats})")
        print(f"{'run':<60}{'fused ms':>10}{'torch ms':>10}{'x':>7}{'x/round':>8}{'fps':>7}{'spr':>7}{'PSNR':>7}")
        for row in result["trained_renders"]:
            print(
                f"{row['run'][-60:]:<60}{row['ms_per_frame_fused']:>10}{row['ms_per_frame_torch']:>10}"
                f"{row['render_speedup']:>7}{row['render_speedup_per_round_median']:>8}{row['fps_fused']:>7}"
                f"{row['samples_per_ray_fused']:>7}{row['psnr_between_paths']:>7}"
            )
    write_text_atomic(args.output, json.dumps(result, indent=2))
    print(f"written to {args.output}")


def _training_table(args: argparse.Namespace) -> dict:
    """Every model's training steps and (untrained) frame render on both paths, side by side; printed."""
    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig

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
    torch_step = {row["model"]: row["ms_per_step"] for row in rows if row["path"] == "torch"}
    torch_frame = {row["model"]: row["ms_per_frame"] for row in rows if row["path"] == "torch"}
    for row in rows:
        row["step_ratio_to_nerfacto"] = round(row["ms_per_step"] / peer["ms_per_step"], 3)
        row["frame_ratio_to_nerfacto"] = round(row["ms_per_frame"] / peer["ms_per_frame"], 3)
        row["step_speedup_over_torch_path"] = round(torch_step[row["model"]] / row["ms_per_step"], 2)
        row["frame_speedup_over_torch_path"] = round(torch_frame[row["model"]] / row["ms_per_frame"], 2)
        row["ms_per_step"], row["ms_per_frame"] = round(row["ms_per_step"], 1), round(row["ms_per_frame"], 1)
    print(f"{args.rays} rays per step, frames of {width}x{height}, {torch.get_num_threads()} threads")
    header = f"{'model':<34}{'path':>7}{'ms/step':>10}{'x nerfacto':>12}{'x torch':>9}"
    print(header + f"{'ms/frame':>10}{'x nerfacto':>12}{'MiB':>8}")
    for row in rows:
        print(
            f"{row['model']:<34}{row['path']:>7}{row['ms_per_step']:>10}{row['step_ratio_to_nerfacto']:>12}"
            f"{row['step_speedup_over_torch_path']:>9}{row['ms_per_frame']:>10}{row['frame_ratio_to_nerfacto']:>12}"
            f"{row['parameters_mib']:>8}"
        )
    return {"rays_per_batch": args.rays, "resolution": f"{width}x{height}", "rows": rows}


if __name__ == "__main__":
    main()
