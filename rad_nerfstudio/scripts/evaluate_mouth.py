"""``rad-eval-mouth``: how well the mouth of a video (a ``rad-render`` output driven by any audio) follows a
reference opening track: rad-sample's ``gt/novel_speech_params.npz`` / ``gt/params.npz``, or a reference video."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import tyro

from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit


@dataclass
class EvalMouthArgs:
    """Score a video's mouth opening (MediaPipe's face mesh, each frame on its own) against a reference."""

    video: Path
    """The video to score, e.g. renders/novel.mp4 from rad-render (read at 25 fps)."""
    reference: Path
    """An .npz with mouth_open (and frame_time) such as rad-sample's gt/novel_speech_params.npz, or a video whose
    measured mouth opening is the reference."""
    output_path: Path = Path("eval/mouth.json")
    """The JSON (r, best-lag r, detection rate, per-frame openings); <stem>_mouth_opening.png goes next to it."""


def main(args: EvalMouthArgs) -> None:
    from rad_nerfstudio.evaluation.mouth_reference import score_mouth_video

    report = run_or_exit("rad-eval-mouth", lambda: score_mouth_video(args.video, args.reference, args.output_path))
    shown = {k: report[k] for k in ("r", "r_best_lag", "best_lag_frames", "detection_rate", "frames", "length_note")}
    CONSOLE.print(json.dumps(shown, indent=2))
    CONSOLE.print(f"[bold green]Wrote {args.output_path}[/] and {report['files']['mouth_opening_plot']}")


def entrypoint() -> None:
    main(tyro.cli(EvalMouthArgs))


if __name__ == "__main__":
    entrypoint()
