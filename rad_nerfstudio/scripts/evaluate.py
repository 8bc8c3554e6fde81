"""``rad-eval``: metrics of a trained talking portrait on its validation frames, plus a side-by-side video
(ground truth | render | error, with the validation audio), a per-frame plot and the mouth pictures next to the
JSON."""

from __future__ import annotations

import json

import tyro

from rad_nerfstudio.evaluation.portrait_evaluation import EvalArgs, evaluate_portrait
from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit


def main(args: EvalArgs) -> None:
    from rad_nerfstudio.engine.stop_signals import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()  # a killed evaluation removes its partial files
    report = run_or_exit("rad-eval", lambda: evaluate_portrait(args))
    names = (
        "psnr",
        "ssim",
        "lips_psnr",
        "lips_tight_psnr",
        "lpips",
        "lmd",
        "lmd_centred",
        "lmd_detector",
        "mouth_r",
        "audio_mouth_r",
        "mouth_r_audio_prediction",
        "mouth_r_attainable",
        "render_fps",
    )
    shown = {k: report.get(k) for k in (*names, "mouth_r_truth", "mouth_r_truth_ceiling") if k in report}
    if report.get("mouth_response") is not None:
        shown["mouth_response"] = report["mouth_response"]["mouth_response"]
    if report["aligned"] is not None:
        shown["aligned"] = {k: v for k, v in report["aligned"].items() if k != "per_frame_psnr"}
    CONSOLE.print(json.dumps(shown, indent=2))
    CONSOLE.print(f"[bold green]Wrote {args.output_path}[/] and {', '.join(report['files'].values())}")


def entrypoint() -> None:
    main(tyro.cli(EvalArgs))


if __name__ == "__main__":
    entrypoint()
