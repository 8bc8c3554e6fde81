"""``rad-render``: a trained portrait speaking a driving audio, as an mp4 with that audio muxed in."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from rad_nerfstudio.audio.reading import AUDIO_SUFFIXES
from rad_nerfstudio.errors import AudioInputError, InputFileError
from rad_nerfstudio.model_components.compiled_fields import CompileChoice
from rad_nerfstudio.model_components.mlp_precision import MlpPrecision
from rad_nerfstudio.render.frame_plan import check_pose_choice, parse_eye
from rad_nerfstudio.render.paste_back import PasteRegion
from rad_nerfstudio.render.trained_run import check_run_config, load_trained_run
from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit


@dataclass
class RenderArgs:
    """Render a trained talking portrait speaking an audio (like ns-render, with the audio muxed in)."""

    load_config: Path
    """The training run's config.yml."""
    audio: Path
    """Driving audio: any file with sound (wav, flac, ogg, mp3, m4a, aac, mp4, mov, mkv, webm), or a feature .npy."""
    output_path: Path = Path("renders/portrait.mp4")
    """The mp4 to write (appears complete or not at all)."""
    audio_track: Path | None = None
    """Sound to mux instead of --audio's (needed for an .npy driver to have sound)."""
    pose: str = "train"
    """Head pose: train (training poses forwards then backwards), frame (one training frame), or a camera path .json
    from the viewer's render panel."""
    pose_frame: int = 0
    """Training frame of --pose frame."""
    eye: str = "train"
    """Eye openness: train (each pose frame's own), blink (natural blinks), or a number (1 open, 0 closed)."""
    background: str = "dataset"
    """Background: dataset, white, black, green, grey, #rrggbb, r,g,b, or an image path."""
    torso: bool = True
    """Render the torso (False: the head over the background)."""
    smoothing: float = 0.0
    """Test-time audio smoothing beta (momentum of the audio code; RAD-NeRF uses 0.35)."""
    resolution_scale: float = 1.0
    """Scale of the output resolution."""
    seed: int = 0
    """Seed of the blink schedule."""
    paste_back: Literal["auto", "on", "off"] = "auto"
    """Put the portrait back into the source video's full frames, at its resolution and frame rate (each pose over
    its own source frame): needs the dataset's crop.json and the source video (rad-process output records it) and
    --pose train or frame. auto: whenever those are there."""
    source_video: Path | None = None
    """The source video of --paste-back (default: the one rad-process recorded in the dataset)."""
    paste_region: PasteRegion = "head"
    """What of the render replaces the source: head (the rendered head and torso), face (the face rectangle) or
    mouth (the lower face only: the source's eyes and head motion stay exactly)."""
    compile: CompileChoice = "auto"
    """Render with the fields compiled (torch.compile, on the CPU with the fused kernels): tens of seconds to
    compile, then about a tenth to a fifth less per frame. auto: when the video has at least 40 M pixels (e.g. 150
    frames at 512 px)."""
    mlp_precision: MlpPrecision = "auto"
    """The head and torso fields' MLPs on the CPU's fused path: auto takes bfloat16 products where the processor
    multiplies bfloat16 matrices itself (AMX / AVX-512 BF16; images 70-73 dB from float32's), float32 elsewhere."""


@dataclass(frozen=True)
class RenderSummary:
    output_path: Path
    frames: int
    """Frames in the video (more than the renders where a pasted-back source runs faster than 25 fps)."""
    renders: int
    seconds: float
    width: int
    height: int
    render_fps: float


def check_args(args: RenderArgs) -> None:
    """Everything that can be refused without loading the model."""
    suffix = args.audio.suffix.lower()
    if suffix != ".npy" and suffix not in AUDIO_SUFFIXES:
        raise AudioInputError(args.audio, f"unknown extension '{suffix}': give {', '.join(AUDIO_SUFFIXES)} or .npy")
    if not args.audio.is_file():
        raise AudioInputError(args.audio, "does not exist")
    check_run_config(args.load_config)
    check_pose_choice(args.pose)
    parse_eye(args.eye)
    if not 0.0 <= args.smoothing < 1.0:
        raise ValueError(f"--smoothing {args.smoothing}: must be in [0, 1)")
    if args.resolution_scale <= 0:
        raise ValueError(f"--resolution-scale {args.resolution_scale}: must be positive")
    if args.paste_back == "on" and args.pose not in ("train", "frame"):
        raise ValueError("--paste-back on needs --pose train or frame (a camera path has no source frames)")
    if args.source_video is not None and not args.source_video.is_file():
        raise InputFileError(args.source_video, "does not exist (--source-video)")


def paste_back_plan(args: RenderArgs, dataset: Path):  # noqa: ANN201 - (CropRecord, Path) | None
    """The crop record and source video of ``--paste-back``, or None when the render stays the dataset's square;
    ``--paste-back on`` without what it needs is refused, naming the missing file."""
    from rad_nerfstudio.process.crop_record import CROP_FILE, CropRecord
    from rad_nerfstudio.process.video_frames import probe_video
    from rad_nerfstudio.render.paste_back import recorded_source_video

    if args.paste_back == "off":
        return None
    wanted = args.paste_back == "on"
    if args.pose not in ("train", "frame"):
        return None
    if not (dataset / CROP_FILE).is_file():
        if wanted:
            raise InputFileError(dataset / CROP_FILE, "does not exist: --paste-back needs rad-process output")
        return None
    source = args.source_video or recorded_source_video(dataset)
    if source is None or not source.is_file():
        if wanted or args.source_video is not None:
            raise InputFileError(source or dataset, "no source video found for --paste-back: give --source-video")
        return None
    record = CropRecord.read(dataset)
    width, height, _, _ = probe_video(source)
    if (width, height) != (record.source_width, record.source_height):
        raise InputFileError(
            source,
            f"is {width}x{height}; {dataset / CROP_FILE} was made from a {record.source_width}x"
            f"{record.source_height} video",
        )
    return record, source


def render_portrait(args: RenderArgs) -> RenderSummary:
    """Load the run, make the driving audio's codes, render every frame and write the mp4."""
    import numpy as np
    import torch
    from nerfstudio.utils.rich_utils import ItersPerSecColumn
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from rad_nerfstudio.data.backgrounds import load_background
    from rad_nerfstudio.data.portrait_tables import FRAME_INDEX_KEY
    from rad_nerfstudio.io.video import Mp4Writer
    from rad_nerfstudio.model_components.compiled_fields import compiled_fields, wants_compiling
    from rad_nerfstudio.model_components.mlp_precision import bfloat16_mlps, wants_bfloat16
    from rad_nerfstudio.render.controls import RenderControls
    from rad_nerfstudio.render.driving_audio import load_driving_audio
    from rad_nerfstudio.render.frame_plan import plan_cameras, plan_eye
    from rad_nerfstudio.render.paste_back import PastedVideo
    from rad_nerfstudio.render.source_frames import SourceFrames

    check_args(args)
    run = load_trained_run(args.load_config)
    model, datamanager = run.model, run.datamanager
    tables = datamanager.tables
    driving = load_driving_audio(args.audio, tables.audio_extractor, tables.audio_dim, tables.fps, args.audio_track)
    length = driving.num_frames
    codes = model.encode_audio(driving.windows, args.smoothing)
    cameras, camera_index = plan_cameras(
        args.pose, args.pose_frame, datamanager.train_dataset.cameras, model.viewer_frame, length
    )
    train_eyes = tables.eye[tables.splits["train"]]
    eyes = plan_eye(args.eye, length, tables.fps, float(train_eyes.median()), args.seed)
    plate_height, plate_width = tables.background.shape[:2]
    background = None
    if args.background != "dataset":
        background = load_background(args.background, datamanager.get_datapath(), plate_width, plate_height)

    first = cameras[0:1]
    first.rescale_output_resolution(args.resolution_scale)
    height, width = int(first.height) // 2 * 2, int(first.width) // 2 * 2  # H.264 needs even sizes
    fps = int(round(tables.fps))
    plan = paste_back_plan(args, datamanager.get_datapath())
    scale = int(first.width) / plate_width  # dataset pixels to render pixels
    progress = Progress(
        TextColumn(":movie_camera: Rendering :movie_camera:"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        ItersPerSecColumn(suffix="fps"),
        TimeRemainingColumn(elapsed_when_finished=True, compact=False),
        console=CONSOLE,
    )
    start = time.perf_counter()
    pasted: PastedVideo | None = None
    writer: Mp4Writer | None = None
    with contextlib.ExitStack() as stack:
        if plan is not None:
            source = stack.enter_context(SourceFrames(plan[1]))
            pasted = PastedVideo(
                args.output_path, plan[0], source, args.paste_region, tables.fps, length, driving.waveform
            )
            stack.enter_context(pasted)
            width, height = pasted.width, pasted.height
            CONSOLE.print(f"Pasting the {args.paste_region} back into {plan[1]} ({width}x{height}, {source.fps} fps)")
        else:
            writer = stack.enter_context(Mp4Writer(args.output_path, width, height, fps, driving.waveform))
        stack.callback(lambda: setattr(model, "render_controls", RenderControls()))
        stack.enter_context(progress)
        stack.enter_context(model.render_weights())  # once for the whole video, not per frame
        stack.enter_context(compiled_fields(model, wants_compiling(args.compile, length * width * height)))
        stack.enter_context(bfloat16_mlps(model, wants_bfloat16(args.mlp_precision)))
        for i in progress.track(range(length), total=length):
            model.render_controls = RenderControls(
                audio_code=codes[i],
                eye=None if eyes is None else float(eyes[i]),
                torso=args.torso,
                background=background,
                refined_pose=args.pose in ("train", "frame"),  # a camera path is drawn as given
            )
            camera = cameras[int(camera_index[i]) : int(camera_index[i]) + 1]
            camera.rescale_output_resolution(args.resolution_scale)
            outputs = model.get_outputs_for_camera(camera.to(model.device))
            image = (outputs["rgb"].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            if writer is not None:
                writer.write(np.ascontiguousarray(image[:height, :width]))
            elif pasted is not None:
                row = int(camera.metadata[FRAME_INDEX_KEY][0, 0])  # pyright: ignore[reportOptionalSubscript]
                opacity = outputs["accumulation"][..., 0]
                if "torso_alpha" in outputs:
                    opacity = torch.maximum(opacity, outputs["torso_alpha"][..., 0])
                pasted.add(
                    i,
                    image,
                    opacity.cpu().numpy(),
                    (tables.rects["face"][row].numpy() * scale).round().astype(int),
                    (tables.rects["lower_face"][row].numpy() * scale).round().astype(int),
                    int(tables.img_ids[row]) / tables.fps,
                )
    elapsed = time.perf_counter() - start
    frames = length if pasted is None else pasted.total
    return RenderSummary(args.output_path, frames, length, length / tables.fps, width, height, length / elapsed)


def main(args: RenderArgs) -> None:
    from rad_nerfstudio.engine.stop_signals import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()  # a killed render removes its partial mp4
    summary = run_or_exit("rad-render", lambda: render_portrait(args))
    CONSOLE.print(
        f"[bold green]Wrote {summary.output_path}[/]: {summary.frames} frames ({summary.seconds:.2f} s) at "
        f"{summary.width}x{summary.height} with the driving audio; {summary.renders} renders at "
        f"{summary.render_fps:.2f} fps."
    )


def entrypoint() -> None:
    main(tyro.cli(RenderArgs))


if __name__ == "__main__":
    entrypoint()
