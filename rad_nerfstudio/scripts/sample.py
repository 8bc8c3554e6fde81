"""``rad-sample``: write a deterministic synthetic talking-portrait dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from rad_nerfstudio.sample.looks import LookName
from rad_nerfstudio.sample.speech import SpeechEngine
from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit


@dataclass
class SampleArgs:
    """Generate a synthetic talking portrait (frames, landmarks, parsing, audio, poses) in the RAD-NeRF layout."""

    output_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="OUTPUT_DIR")]
    """Dataset folder to create; it appears complete or not at all."""
    seconds: float = 15.0
    """Duration in seconds (25 frames per second)."""
    size: int = 160
    """Square frame size in pixels (even)."""
    seed: int = 0
    """Random seed: the same seed gives the same dataset."""
    look: LookName = "photo"
    """photo: a real face photograph (public-domain NASA portrait) on the head, a defocused photo behind;
    flat: flat-coloured cartoon head and a drawn room."""
    speech: SpeechEngine = "auto"
    """Speech engine: auto uses espeak-ng or festival when installed, else the built-in formant synthesizer."""
    supersample: int = 0
    """Anti-aliasing samples per pixel side (0: 2 up to 256 px, 1 above)."""
    workers: int = 0
    """Rendering processes (0: up to two)."""
    overwrite: bool = False
    """Replace an existing non-empty output folder."""
    focal: float = 1.6
    """Focal length in units of --size (1.6: a 35 degree field of view); the head keeps its size in the frame."""
    head_turn: float = 1.0
    """Scale of the head's rotations (1: yaw 7, pitch 4, roll 3 degrees)."""


def main(args: SampleArgs) -> None:
    from rad_nerfstudio.sample.generate import generate_sample

    summary = run_or_exit(
        "rad-sample",
        lambda: generate_sample(
            args.output_dir,
            args.seconds,
            args.size,
            args.seed,
            args.speech,
            args.supersample,
            args.workers,
            args.overwrite,
            args.look,
            args.focal,
            args.head_turn,
        ),
    )
    CONSOLE.print(
        f"[bold green]Wrote {summary.output_dir}[/]: {summary.num_frames} frames ({summary.seconds:.2f} s) at "
        f"{summary.size}x{summary.size}, look: {summary.look}, speech: {summary.speech_engine}, "
        f"in {summary.elapsed_s:.1f} s.\n"
        f"Look at {summary.output_dir / 'gt' / 'contact_sheet.png'}; the video with audio is "
        f"{summary.output_dir / 'raw' / 'video.mp4'}."
    )


def entrypoint() -> None:
    """Console-script entry point."""
    main(tyro.cli(SampleArgs, prog="rad-sample"))


if __name__ == "__main__":
    entrypoint()
