"""The evaluation of a trained talking portrait on its validation frames (what ``rad-eval``, the benchmarks and the
demo run): image metrics (PSNR, SSIM, lips PSNR, LPIPS), the mouth landmark distance (as placed and centred), the
mouth opening against the frames (and the truth on a generated dataset), the audio code's mouth r, how far the head
follows the mouth it is told, optionally the same after a test-time pose alignment; written as JSON with a
side-by-side video (ground truth | render | error, with the validation audio), a per-frame plot and three mouth
pictures next to it."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Literal, Tuple, TypeVar

import numpy as np
from nerfstudio.utils.rich_utils import CONSOLE

from rad_nerfstudio.model_components.compiled_fields import CompileChoice
from rad_nerfstudio.model_components.mlp_precision import MlpPrecision
from rad_nerfstudio.process.face_mesh import BackendUnavailableError
from rad_nerfstudio.render.trained_run import load_trained_run

if TYPE_CHECKING:
    from rad_nerfstudio.evaluation.landmark_distance import LandmarkDetector, MouthDistance
    from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector
    from rad_nerfstudio.evaluation.mouth_comparison import MouthComparison
    from rad_nerfstudio.evaluation.mouth_response import MouthResponse
    from rad_nerfstudio.model_components.lpips_net import Lpips
    from rad_nerfstudio.render.trained_run import TrainedRun

T = TypeVar("T")


@dataclass
class EvalArgs:
    """Evaluate a trained talking portrait on its validation split."""

    load_config: Path
    """The training run's config.yml."""
    output_path: Path = Path("eval/metrics.json")
    """Metrics JSON; next to it go <stem>_side_by_side.mp4, <stem>_per_frame.png, <stem>_mouth_strip.png (lips
    of ground truth above render, over time), <stem>_mouth_opening.png (mouth opening over time) and
    <stem>_mouth_response.png (lips of a few frames told closed to open; heads that read the mouth's shape)."""
    lpips: bool = True
    """Compute LPIPS (AlexNet; reported as unavailable, with the reason, when its weights cannot be loaded)."""
    lmd: bool = True
    """Compute the mouth landmark distance: face-alignment's 2D-FAN, or MediaPipe's face mesh when FAN's weights
    cannot be loaded (the JSON's lmd_detector says which)."""
    mouth: bool = True
    """Measure the mouth opening of each render and its ground truth (MediaPipe's face mesh): mouth_r, and on a
    rad-sample dataset (gt/params.npz) mouth_r_truth and mouth_r_truth_ceiling, the mouth response, the detector's
    repeatability (each frame read again mirrored) and the mouth r a perfect head could reach with the audio's
    prediction (mouth_r_attainable), plus the mouth pictures."""
    renders_from: Literal["model", "ground-truth"] = "model"
    """'ground-truth' scores the ground-truth frames as if they were the renders: the ceiling of each metric."""
    align_poses: bool = True
    """Also score the frames after a test-time alignment of each one's head pose (on its face, the mouth left out)
    and torso latent (outside the face) with the fields frozen: the JSON's ``aligned`` block; the top-level metrics
    are the frames as given (``evaluation.pose_alignment``, ``evaluation.torso_alignment``)."""
    align_steps: int = 100
    """Adam steps of each alignment (128 rays of every validation frame each)."""
    mouth_from: Literal["audio", "landmarks"] = "audio"
    """'landmarks': the head reads each validation frame's own landmark mouth instead of the audio's prediction
    (teacher forcing; heads that read the mouth's shape only, as ridge-mouth does): what the render can do with a
    perfect prediction, beside ``audio_mouth_r``, which says how good the prediction is."""
    compile: CompileChoice = "auto"
    """Render with the fields compiled (``rad-render --compile``; auto: at least 40 M pixels to render, counting
    each validation frame twice: as given and aligned)."""
    mlp_precision: MlpPrecision = "auto"
    """The head and torso fields' MLPs on the CPU's fused path: auto takes bfloat16 products where the processor
    multiplies bfloat16 matrices itself (AMX / AVX-512 BF16; images 70-73 dB from float32's), float32 elsewhere."""


def _optional(factory: Callable[[], T], unavailable: Dict[str, str], name: str) -> T | None:
    """Build a metric's network, or record why it is unavailable."""
    try:
        return factory()
    except (RuntimeError, BackendUnavailableError) as error:
        unavailable[name] = str(error)
        CONSOLE.print(f"[yellow]rad-eval: {name} unavailable: {error}")
        return None


def _landmark_detector(
    factory: Callable[[], LandmarkDetector],
    mesh: FaceMeshDetector | None,
    unavailable: Dict[str, str],
    notes: Dict[str, str],
) -> LandmarkDetector | None:
    """face-alignment (or the given factory's detector); offline, MediaPipe's face mesh instead."""
    try:
        return factory()
    except RuntimeError as error:
        if mesh is None:
            unavailable["lmd"] = f"{error}; MediaPipe's face mesh is unavailable too"
            return None
        notes["lmd"] = f"{error}; measured with MediaPipe's face mesh (its 68 points) instead"
        CONSOLE.print(f"[yellow]rad-eval: {notes['lmd']}")
        return mesh


def _detector_name(detector: object) -> str:
    return str(getattr(detector, "name", getattr(detector, "__name__", type(detector).__name__)))


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


def _render(model, dataset, k: int) -> Tuple[np.ndarray, float]:  # noqa: ANN001
    """Validation frame ``k`` rendered as RGB uint8, and the seconds it took."""
    import torch

    camera = dataset.cameras[k : k + 1].to(model.device)
    start = time.perf_counter()
    rgb = model.get_outputs_for_camera(camera)["rgb"].clamp(0, 1)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return (rgb * 255).round().to(torch.uint8).cpu().numpy(), seconds


IMAGE_METRICS = ("psnr", "ssim", "lips_psnr", "lips_tight_psnr", "lpips")
"""The per-frame image metrics of rad-eval (the poses as given, and after the alignment)."""
RENDER_PASSES = 2
"""Renders of each validation frame: as given and after the pose alignment (the audio effect's few besides)."""


def add_image_scores(scores: Dict[str, List], render, truth, rects, row: int, lpips, device) -> None:  # noqa: ANN001
    """Append one frame's image metrics (colours in [0, 1]; ``rects``: the tables' rectangles) to ``scores``."""
    from rad_nerfstudio.evaluation.image_metrics import psnr, rect_psnr, ssim

    scores["psnr"].append(psnr(render, truth))
    scores["ssim"].append(ssim(render, truth))
    scores["lips_psnr"].append(rect_psnr(render, truth, _rect(rects["lips"][row])))
    scores["lips_tight_psnr"].append(rect_psnr(render, truth, _rect(rects["mouth"][row])))
    if lpips is not None:
        scores["lpips"].append(float(lpips(render[None].to(device), truth[None].to(device))))


def _aligned_scores(model, dataset, rows, tables, steps: int, tools: _MetricTools) -> dict:  # noqa: ANN001
    """Image metrics of the validation frames after the test-time alignment of their poses and torso latents (kept in
    the model only while they are rendered; the LMD too where a detector is at hand), the alignment's mean rotation and
    translation and the torso latents' mean offset (null before the torso stage)."""
    import torch
    from rich.progress import track

    from rad_nerfstudio.evaluation.held_out_alignment import aligned_held_out_frames
    from rad_nerfstudio.evaluation.landmark_distance import mouth_distance
    from rad_nerfstudio.evaluation.pose_alignment import mean_rotation_degrees

    images = torch.stack([torch.from_numpy(dataset.get_numpy_image(k)[..., :3]) for k in range(len(rows))])
    scores: Dict[str, List] = {name: [] for name in IMAGE_METRICS}
    lmd: Dict[str, List[float | None]] = {"lmd": [], "lmd_centred": []}
    with aligned_held_out_frames(model, dataset.cameras, rows, images, steps) as (tangents, latents):
        for k in track(range(len(rows)), description="Scoring aligned validation frames", console=CONSOLE):
            render_u8 = _render(model, dataset, k)[0]
            render, truth = torch.from_numpy(render_u8).float() / 255, images[k].float() / 255
            add_image_scores(scores, render, truth, tables.rects, int(rows[k]), tools.lpips, model.device)
            if tools.detector is not None:
                face = _rect(tables.rects["face"][int(rows[k])])
                add_mouth_distance(lmd, mouth_distance(tools.detector, render_u8, images[k].numpy(), face))
    return {
        "steps": steps,
        **{name: _mean(values) for name, values in scores.items()},
        **{name: _mean(values) for name, values in lmd.items()},
        "rotation_mean_deg": mean_rotation_degrees(tangents),
        "translation_mean": float(tangents[:, :3].norm(dim=-1).mean()),
        "torso_latent_offset": None if latents is None else float(latents.norm(dim=-1).mean()),
        "per_frame_psnr": scores["psnr"],
    }


def _audio_effect(run: TrainedRun, rows, img_ids: List[int], notes: Dict[str, str]) -> dict | None:  # noqa: ANN001
    """``evaluation.audio_effect`` on the validation frames; a note (and a warning) when the head ignores the audio."""
    from rad_nerfstudio.evaluation.audio_effect import audio_effect

    model, dataset, rects = run.model, run.datamanager.eval_dataset, run.datamanager.tables.rects
    boxes = [_rect(rects["mouth"][int(row)]) for row in rows]
    effect = audio_effect(model, lambda k: _render(model, dataset, k)[0] / 255.0, boxes, img_ids)
    if effect is not None and effect["ignored"]:
        notes["audio_effect"] = (
            f"the head ignores the audio: renders with the widest-open and the most-closed training frame's audio "
            f"differ by {effect['mouth_difference']:.4f} in the mouth box (colours 0-1); retrain with another "
            "--machine.seed or a larger --pipeline.datamanager.pixel-sampler.face-focused.mouth-fraction"
        )
        CONSOLE.print(f"[yellow]{notes['audio_effect']}")
    return effect


def _mouth_response(run: TrainedRun, rows, img_ids: List[int], mesh: FaceMeshDetector) -> MouthResponse | None:  # noqa: ANN001
    """``evaluation.mouth_response`` on the validation frames (heads told the mouth's shape only)."""
    from rad_nerfstudio.evaluation.mouth_response import measure_mouth_response
    from rad_nerfstudio.evaluation.mouth_shape import measure_frame

    model, dataset, rects = run.model, run.datamanager.eval_dataset, run.datamanager.tables.rects
    boxes = {name: [_rect(rects[name][int(row)]) for row in rows] for name in ("face", "mouth")}
    return measure_mouth_response(
        model,
        lambda k: _render(model, dataset, k)[0],
        lambda k: dataset.get_numpy_image(k)[..., :3],
        lambda image, face: measure_frame(mesh, image, face)[0],
        [int(row) for row in rows],
        boxes,
        img_ids,
    )


def _response_report(response: MouthResponse, comparison: MouthComparison, model, rows) -> dict:  # noqa: ANN001
    """``response_report`` against the validation frames' measured openings and standardised landmark openings."""
    from rad_nerfstudio.evaluation.mouth_response import response_report

    standardised = model.ridge_targets[rows, 0].double().cpu().numpy()
    return response_report(response, np.array(comparison.opening["truth"], dtype=np.float64), standardised)


def add_mouth_distance(scores: Dict[str, List], distance: MouthDistance | None) -> None:
    """Append one frame's LMD as placed (``lmd``) and centred (``lmd_centred``; None for both where a detection
    failed)."""
    scores["lmd"].append(None if distance is None else distance.placed)
    scores["lmd_centred"].append(None if distance is None else distance.centred)


def _mean(values: List[float | None]) -> float | None:
    kept = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(kept)) if kept else None


@dataclass
class _MetricTools:
    """The networks that score renders (each None where unavailable or not asked for) and what was said of them."""

    lpips: Lpips | None
    mesh: FaceMeshDetector | None
    detector: LandmarkDetector | None
    comparison: MouthComparison | None
    unavailable: Dict[str, str]
    notes: Dict[str, str]


def _metric_tools(
    args: EvalArgs,
    device: str,
    frames: int,
    lpips_factory: Callable[[], Lpips] | None,
    detector_factory: Callable[[], LandmarkDetector] | None,
) -> _MetricTools:
    """LPIPS, MediaPipe's face mesh, the landmark detector and the mouth comparison, as the settings ask."""
    from rad_nerfstudio.evaluation.landmark_distance import FaceAlignmentDetector
    from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector
    from rad_nerfstudio.evaluation.mouth_comparison import MouthComparison
    from rad_nerfstudio.evaluation.mouth_pictures import STRIP_FRAMES
    from rad_nerfstudio.model_components import lpips_net

    unavailable: Dict[str, str] = {}
    notes: Dict[str, str] = {}
    for wanted, name, flag in (
        (args.lpips, "lpips", "lpips"),
        (args.lmd, "lmd", "lmd"),
        (args.mouth, "mouth_r", "mouth"),
    ):
        if not wanted:
            unavailable[name] = f"disabled with --no-{flag}"
    lpips = _optional(lpips_factory or lpips_net.Lpips, unavailable, "lpips") if args.lpips else None
    mesh = (
        _optional(FaceMeshDetector, unavailable, "mouth_r" if args.mouth else "lmd") if args.mouth or args.lmd else None
    )
    default_detector: Callable[[], LandmarkDetector] = lambda: FaceAlignmentDetector(device)  # noqa: E731
    detector = _landmark_detector(detector_factory or default_detector, mesh, unavailable, notes) if args.lmd else None
    comparison = MouthComparison(mesh, -(-frames // STRIP_FRAMES)) if args.mouth and mesh else None
    return _MetricTools(lpips, mesh, detector, comparison, unavailable, notes)


def _score_frames(
    args: EvalArgs, run: TrainedRun, tools: _MetricTools, video_path: Path
) -> Tuple[Dict[str, List], float]:
    """Every validation frame rendered, scored (``per_frame`` lists) and written to the side-by-side video; the
    seconds spent rendering."""
    import torch
    from rich.progress import track

    from rad_nerfstudio.evaluation.landmark_distance import mouth_distance, mouth_points_distance
    from rad_nerfstudio.evaluation.report_files import side_by_side
    from rad_nerfstudio.io.video import Mp4Writer

    model, datamanager = run.model, run.datamanager
    tables, dataset = datamanager.tables, datamanager.eval_dataset
    rows = tables.splits["val"]
    per_frame: Dict[str, List] = {**{name: [] for name in IMAGE_METRICS}, "lmd": [], "lmd_centred": []}
    render_seconds = 0.0
    first = dataset.get_numpy_image(0)
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    audio = _validation_audio(datamanager, rows)
    # the averaged weights swapped in once for all frames, not per render
    with Mp4Writer(video_path, 3 * width, height, int(round(tables.fps)), audio) as writer, model.render_weights():
        for k in track(range(len(rows)), description="Evaluating validation frames", console=CONSOLE):
            truth_u8 = dataset.get_numpy_image(k)[..., :3]
            render_u8 = truth_u8
            if args.renders_from == "model":
                render_u8, seconds = _render(model, dataset, k)
                render_seconds += seconds
            truth, render = torch.from_numpy(truth_u8).float() / 255, torch.from_numpy(render_u8).float() / 255
            row = int(rows[k])
            face, mouth_box = _rect(tables.rects["face"][row]), _rect(tables.rects["mouth"][row])
            add_image_scores(per_frame, render, truth, tables.rects, row, tools.lpips, model.device)
            img_id = int(tables.img_ids[row])
            points = tools.comparison.add(img_id, truth_u8, render_u8, face, mouth_box) if tools.comparison else None
            if tools.detector is not None and tools.detector is tools.mesh and points is not None:
                add_mouth_distance(per_frame, mouth_points_distance(points[1], points[0]))
            elif tools.detector is not None:
                add_mouth_distance(per_frame, mouth_distance(tools.detector, render_u8, truth_u8, face))
            writer.write(np.ascontiguousarray(side_by_side(truth_u8, render_u8)[:height, : 3 * width]))
    return per_frame, render_seconds


def evaluate_portrait(
    args: EvalArgs,
    lpips_factory: Callable[[], Lpips] | None = None,
    detector_factory: Callable[[], LandmarkDetector] | None = None,
) -> dict:
    """Render every validation frame, measure it, write the JSON, the video and the plots; returns the JSON."""
    from rad_nerfstudio.evaluation.dataset_mouth import true_mouth_open
    from rad_nerfstudio.evaluation.mouth_pictures import write_mouth_strip
    from rad_nerfstudio.evaluation.mouth_response import response_picture
    from rad_nerfstudio.evaluation.report_files import write_per_frame_plot
    from rad_nerfstudio.io.atomic import write_text_atomic
    from rad_nerfstudio.model_components.compiled_fields import compiled_fields, wants_compiling
    from rad_nerfstudio.model_components.mlp_precision import bfloat16_mlps, wants_bfloat16
    from rad_nerfstudio.model_components.model_size import parameter_megabytes

    run = load_trained_run(args.load_config)
    model, datamanager, step = run.model, run.datamanager, run.step
    tables = datamanager.tables
    rows = tables.splits["val"]
    with model.render_weights():  # what the audio code carries of the mouth, before any render
        audio_prediction = model.audio_mouth_prediction()
        audio_mouth_r = model.audio_mouth_r(audio_prediction)
    img_ids = [int(tables.img_ids[int(r)]) for r in rows]
    tools = _metric_tools(args, str(model.device), len(rows), lpips_factory, detector_factory)
    unavailable, notes, detector = tools.unavailable, tools.notes, tools.detector
    stem = args.output_path.with_suffix("")
    video_path = stem.parent / f"{stem.name}_side_by_side.mp4"
    rendering = args.renders_from == "model"
    height, width = datamanager.eval_dataset.get_numpy_image(0).shape[:2]
    pixels = RENDER_PASSES * len(rows) * height * width
    told = model.landmark_mouth() if args.mouth_from == "landmarks" else nullcontext()
    precision = bfloat16_mlps(model, wants_bfloat16(args.mlp_precision))
    with compiled_fields(model, wants_compiling(args.compile, pixels)), precision, told:  # once for the renders below
        per_frame, render_seconds = _score_frames(args, run, tools, video_path)
        effect = _audio_effect(run, rows, img_ids, notes) if rendering else None
        # only where the mouth is measured (--no-mouth keeps the face mesh for the LMD alone)
        comparison = tools.comparison if rendering else None
        response = _mouth_response(run, rows, img_ids, comparison.detector) if comparison else None
        aligned = None
        if args.align_poses and rendering:
            aligned = _aligned_scores(model, datamanager.eval_dataset, rows, tables, args.align_steps, tools)
            notes["aligned"] = (
                "the 'aligned' metrics: each frame's head pose (on its face outside the mouth) and torso latent"
                " (outside its face) fitted first with the fields frozen"
            )

    if detector is not None and _mean(per_frame["lmd"]) is None:
        unavailable["lmd"] = f"{_detector_name(detector)} found no landmarks in any validation frame pair"
    title = f"{args.load_config.parent.name}: validation frames, step {step}"
    files = {"side_by_side_video": str(video_path), "per_frame_plot": str(stem.parent / f"{stem.name}_per_frame.png")}
    plotted = {"PSNR": "psnr", "lips PSNR": "lips_psnr", "tight lips PSNR": "lips_tight_psnr"}
    write_per_frame_plot(Path(files["per_frame_plot"]), img_ids, {k: per_frame[v] for k, v in plotted.items()}, title)
    mouth: Dict[str, object] = {}
    mouth_per_frame: Dict[str, List[float | None]] = {}
    if tools.comparison is not None:
        true_open = true_mouth_open(datamanager.get_datapath(), img_ids)
        predicted = None if audio_prediction is None else audio_prediction.cpu().numpy()
        mouth, mouth_per_frame = tools.comparison.report(true_open, notes, predicted)
        files.update(tools.comparison.write_pictures(stem, img_ids, true_open, title))
    if response is not None and tools.comparison is not None:
        mouth["mouth_response"] = _response_report(response, tools.comparison, model, rows)
        files["mouth_response_picture"] = str(stem.parent / f"{stem.name}_mouth_response.png")
        write_mouth_strip(Path(files["mouth_response_picture"]), response_picture(response))
    report = {
        "config": str(args.load_config),
        "checkpoint": str(run.checkpoint),
        "step": step,
        "renders_from": args.renders_from,
        "mouth_from": args.mouth_from,
        "frames": len(rows),
        **{name: _mean(values) for name, values in per_frame.items()},
        "lmd_detector": _detector_name(detector) if detector is not None else None,
        **mouth,
        "audio_mouth_r": audio_mouth_r,
        "audio_effect": effect,
        "aligned": aligned,
        "render_fps": len(rows) / render_seconds if render_seconds > 0 else None,
        "model_mb": parameter_megabytes(model),
        "unavailable": unavailable,
        "notes": notes,
        "files": files,
        "per_frame": {
            "img_id": img_ids,
            **{name: values for name, values in per_frame.items() if values},
            **mouth_per_frame,
        },
    }
    if tools.mesh is not None:
        tools.mesh.close()
    write_text_atomic(args.output_path, json.dumps(report, indent=2))
    return report
