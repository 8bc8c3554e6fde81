"""``rad-eval``: metrics of a trained talking portrait on its validation frames, plus a side-by-side video
(ground truth | render | error, with the validation audio) and a per-frame plot next to the JSON."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Tuple, TypeVar

import numpy as np
import tyro

from rad_nerfstudio.render.trained_run import load_trained_run
from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit

if TYPE_CHECKING:
    from rad_nerfstudio.evaluation.landmark_distance import LandmarkDetector
    from rad_nerfstudio.model_components.lpips_net import Lpips

T = TypeVar("T")


@dataclass
class EvalArgs:
    """Evaluate a trained talking portrait on its validation split."""

    load_config: Path
    """The training run's config.yml."""
    output_path: Path = Path("eval/metrics.json")
    """Metrics JSON; the video (<stem>_side_by_side.mp4) and the plot (<stem>_per_frame.png) go next to it."""
    lpips: bool = True
    """Compute LPIPS (AlexNet; reported as unavailable, with the reason, when its weights cannot be loaded)."""
    lmd: bool = True
    """Compute the mouth landmark distance with face-alignment (unavailable without its weights)."""


def _optional(factory: Callable[[], T], unavailable: Dict[str, str], name: str) -> T | None:
    """Build a metric's network, or record why it is unavailable."""
    try:
        return factory()
    except RuntimeError as error:
        unavailable[name] = str(error)
        CONSOLE.print(f"[yellow]rad-eval: {name} unavailable: {error}")
        return None


def _rect(values) -> Tuple[int, int, int, int]:  # noqa: ANN001
    x0, y0, x1, y1 = (int(v) for v in values)
    return x0, y0, x1, y1


def _validation_audio(datamanager, rows) -> np.ndarray | None:  # noqa: ANN001
    """The dataset's speech during the validation frames (they are contiguous in the anchors' split)."""
    from rad_nerfstudio.audio.reading import load_audio
    from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE

    wav = datamanager.get_datapath() / "aud.wav"
    index = datamanager.tables.audio_index[rows]
    if not wav.is_file() or not bool((index.diff() == 1).all()):
        return None
    fps = datamanager.tables.fps
    start = int(round(int(index[0]) / fps * AUDIO_SAMPLE_RATE))
    return load_audio(wav).numpy()[start : start + int(round(len(rows) / fps * AUDIO_SAMPLE_RATE))]


def evaluate_portrait(
    args: EvalArgs,
    lpips_factory: Callable[[], Lpips] | None = None,
    detector_factory: Callable[[], LandmarkDetector] | None = None,
) -> dict:
    """Render every validation frame, measure it, write the JSON, the video and the plot; returns the JSON."""
    import torch
    from rich.progress import track

    from rad_nerfstudio.evaluation.image_metrics import psnr, rect_psnr, ssim
    from rad_nerfstudio.evaluation.landmark_distance import FaceAlignmentDetector, mouth_distance
    from rad_nerfstudio.evaluation.report_files import side_by_side, write_per_frame_plot
    from rad_nerfstudio.io.atomic import write_text_atomic
    from rad_nerfstudio.io.video import Mp4Writer
    from rad_nerfstudio.model_components import lpips_net
    from rad_nerfstudio.model_components.model_size import parameter_megabytes

    run = load_trained_run(args.load_config)
    model, datamanager, checkpoint, step = run.model, run.datamanager, run.checkpoint, run.step
    tables, dataset = datamanager.tables, datamanager.eval_dataset
    rows = tables.splits["val"]
    unavailable: Dict[str, str] = {}
    if not args.lpips:
        unavailable["lpips"] = "disabled with --no-lpips"
    if not args.lmd:
        unavailable["lmd"] = "disabled with --no-lmd"
    lpips = _optional(lpips_factory or lpips_net.Lpips, unavailable, "lpips") if args.lpips else None
    default_detector: Callable[[], LandmarkDetector] = lambda: FaceAlignmentDetector(str(model.device))  # noqa: E731
    detector = _optional(detector_factory or default_detector, unavailable, "lmd") if args.lmd else None

    per_frame: Dict[str, List[float]] = {"psnr": [], "ssim": [], "lips_psnr": [], "lpips": [], "lmd": []}
    render_seconds = 0.0
    stem = args.output_path.with_suffix("")
    video_path = stem.parent / f"{stem.name}_side_by_side.mp4"
    first = dataset.get_numpy_image(0)
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    audio = _validation_audio(datamanager, rows)
    with Mp4Writer(video_path, 3 * width, height, int(round(tables.fps)), audio) as writer:
        for k in track(range(len(rows)), description="Evaluating validation frames", console=CONSOLE):
            camera = dataset.cameras[k : k + 1].to(model.device)
            start = time.perf_counter()
            rgb = model.get_outputs_for_camera(camera)["rgb"].clamp(0, 1)
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            render_seconds += time.perf_counter() - start
            truth_u8 = dataset.get_numpy_image(k)[..., :3]
            render_u8 = (rgb * 255).round().to(torch.uint8).cpu().numpy()
            truth, render = torch.from_numpy(truth_u8).float() / 255, torch.from_numpy(render_u8).float() / 255
            row = int(rows[k])
            lips = _rect(tables.rects["lips"][row])
            per_frame["psnr"].append(psnr(render, truth))
            per_frame["ssim"].append(ssim(render, truth))
            per_frame["lips_psnr"].append(rect_psnr(render, truth, lips))
            if lpips is not None:
                per_frame["lpips"].append(float(lpips(render[None].to(model.device), truth[None].to(model.device))))
            if detector is not None:
                distance = mouth_distance(detector, render_u8, truth_u8, _rect(tables.rects["face"][row]))
                if distance is not None:
                    per_frame["lmd"].append(distance)
            writer.write(np.ascontiguousarray(side_by_side(truth_u8, render_u8)[:height, : 3 * width]))

    if detector is not None and not per_frame["lmd"]:
        unavailable["lmd"] = "face-alignment found no landmarks in any validation frame"
    means = {name: (float(np.mean(values)) if values else None) for name, values in per_frame.items()}
    img_ids = [int(tables.img_ids[int(r)]) for r in rows]
    plot_path = stem.parent / f"{stem.name}_per_frame.png"
    write_per_frame_plot(
        plot_path,
        img_ids,
        {"PSNR": per_frame["psnr"], "lips PSNR": per_frame["lips_psnr"]},
        f"{args.load_config.parent.name}: validation frames, step {step}",
    )
    report = {
        "config": str(args.load_config),
        "checkpoint": str(checkpoint),
        "step": step,
        "frames": len(rows),
        **means,
        "render_fps": len(rows) / render_seconds,
        "model_mb": parameter_megabytes(model),
        "unavailable": unavailable,
        "files": {"side_by_side_video": str(video_path), "per_frame_plot": str(plot_path)},
        "per_frame": {"img_id": img_ids, **{name: values for name, values in per_frame.items() if values}},
    }
    write_text_atomic(args.output_path, json.dumps(report, indent=2))
    return report


def main(args: EvalArgs) -> None:
    report = run_or_exit("rad-eval", lambda: evaluate_portrait(args))
    shown = {k: report[k] for k in ("psnr", "ssim", "lips_psnr", "lpips", "lmd", "render_fps")}
    CONSOLE.print(json.dumps(shown, indent=2))
    CONSOLE.print(
        f"[bold green]Wrote {args.output_path}[/], {report['files']['side_by_side_video']} and "
        f"{report['files']['per_frame_plot']}"
    )


def entrypoint() -> None:
    main(tyro.cli(EvalArgs))


if __name__ == "__main__":
    entrypoint()
