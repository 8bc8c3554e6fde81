"""rad-process: turn a talking-head video into a training dataset (RAD-NeRF / ER-NeRF layout), without BFM,
OpenFace or a face-parsing checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Literal

import tyro

from rad_nerfstudio.process.pose_passes import DEFAULT_POSE_PASSES
from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit


@dataclass
class ProcessArgs:
    """Process a video of one speaking person into a dataset that ns-train rad-nerf / er-nerf reads."""

    video: Path
    """The input video (any container PyAV reads: mp4, mov, mkv, webm, ...). It is only read."""
    output_dir: Path
    """The dataset folder to write. Finished steps are skipped on a second run."""
    audio: Path | None = None
    """Speech to use instead of the video's own audio track."""
    crop: str = "auto"
    """auto: one square crop around head and shoulders for the whole clip (the face about 40 % of its width), found
    by face detection; a video framed that way already is kept whole. x,y,w,h: that crop (upright source pixels).
    none: the whole frame. The crop is recorded in OUTPUT/crop.json (to paste renders back)."""
    size: int = 512
    """Shrink the crop to size x size pixels (a smaller crop keeps its size: frames are never enlarged; 0: keep)."""
    audio_features: str = "mel"
    """Audio features cached with the dataset: mel, phones, whisper, mel-whisper, wav2vec2, hubert (the dataparser's
    --audio-features; the CPU methods read mel-whisper and compute it at their start when it is not cached)."""
    focal_length: float | None = None
    """Focal length in pixels of the output frames, when known; otherwise it is estimated from the landmarks when
    they determine it, else 1.5 x the width is used (a typical talking-head field of view), with a warning."""
    smooth_poses: float = 1.0
    """Weight of the head poses' steadiness in time in their fit (frame-to-frame acceleration, where 0.01 rad or
    2 mm costs as much as one squared pixel of landmark error): 0 fits each frame on its own, larger values give
    steadier heads that follow the landmarks less closely."""
    refine_poses: int = DEFAULT_POSE_PASSES
    """Short head trainings (1000 steps and an alignment round each; about 5 minutes each for a 34 s clip on two CPU
    cores) that refine the training frames' head poses against the pixels, each starting a fresh head from the last
    one's poses, and each fits the validation frames' poses to its head; the refined poses go into transforms_*.json,
    the landmark fit's stay in OUTPUT/landmark_poses/. One pass (the default) improved both synthetic clips measured
    (1.9 -> 1.1 and 0.86 -> 0.68 degrees median) and the real clip's held-out LMD (1.2 -> 0.8 px); three took one
    synthetic clip to 0.5 and let the other drift to 0.9 (README). 0: the landmark fit's poses."""
    landmarks: Literal["mediapipe", "face-alignment"] = "mediapipe"
    """Landmark backend: mediapipe (offline, bundled model) or face-alignment (3D-FAN; weights download once)."""
    parsing_weights: Path | None = None
    """Weights of the face-parsing BiSeNet (79999_iter.pth, CelebAMask-HQ) to parse with; without them the person
    segmentation is cut by the landmarks (no weights needed)."""
    force: List[str] = field(default_factory=list)
    """Steps to redo (and the ones after them): frames, audio-features, landmarks, poses, parsing, background,
    refine-poses."""


def process_video(args: ProcessArgs) -> None:
    from rad_nerfstudio.errors import InputFileError
    from rad_nerfstudio.process.pipeline import PortraitProcess, ProcessSettings
    from rad_nerfstudio.process.steps import StepRunner
    from rad_nerfstudio.process.video_frames import FrameGeometry, parse_crop

    if args.size < 0:
        raise ValueError(f"--size must be >= 0, got {args.size}")
    if args.smooth_poses < 0:
        raise ValueError(f"--smooth-poses must be >= 0, got {args.smooth_poses}")
    if args.refine_poses < 0:
        raise ValueError(f"--refine-poses must be >= 0, got {args.refine_poses}")
    if args.parsing_weights is not None and not args.parsing_weights.is_file():
        raise InputFileError(args.parsing_weights, "does not exist (--parsing-weights)")
    geometry = FrameGeometry(parse_crop(args.crop), args.size)
    settings = ProcessSettings(
        args.video,
        args.output_dir,
        args.audio,
        geometry,
        args.audio_features,
        args.focal_length,
        args.landmarks,
        args.parsing_weights,
        args.smooth_poses,
        args.refine_poses,
    )
    process = PortraitProcess(settings, CONSOLE)
    runner = StepRunner(process.state / "steps", process.steps(), args.force, CONSOLE)
    runner.run()
    CONSOLE.print(runner.summary_table())
    CONSOLE.print(f"Dataset written to {args.output_dir}; train it with: ns-train rad-nerf --data {args.output_dir}")


def entrypoint() -> None:
    args = tyro.cli(ProcessArgs)
    run_or_exit("rad-process", lambda: process_video(args))


if __name__ == "__main__":
    entrypoint()
