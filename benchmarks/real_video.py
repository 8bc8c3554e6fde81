"""A real recorded talking-head clip end to end: ``rad-process`` without ``--crop``, ``ns-train`` of a CPU method,
``rad-eval`` on the validation frames, ``rad-render`` with other speech, and a side-by-side video.

    python benchmarks/real_video.py CLIP.mp4 [--output-dir benchmarks/results/real_video] [--method er-nerf-small]
        [--size 512] [--novel-audio WAV --novel-reference NPZ] [--train-args ARG ...]

The clip is only read (it is not part of the repository: pass its path). Without ``--novel-audio`` a small
rad-sample is generated and its ``raw/novel_speech.wav`` drives the render; its ``gt/novel_speech_params.npz``
(the sample's own mouth opening for that speech) is the reference of the novel-speech mouth r, a proxy: the
person in the clip would not open their mouth exactly like the sample. Not in CI: minutes to hours on a CPU.
A second run keeps the steps whose outputs exist (``rad-process`` resumes by itself; its minutes are those of the
run that did the work).

Writes ``real_video.md`` (the table), ``real_video.json`` and ``side_by_side.mp4`` (the clip | the render driven by
the other speech, pasted back into the clip's frame through ``crop.json``) into the output folder; every step's
log and files stay beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

from rad_nerfstudio.engine.commands import BIN, lpips_flags, ns_train_command, run_logged
from rad_nerfstudio.evaluation.portrait_evaluation import IMAGE_METRICS

PANEL_HEIGHT = 540
"""Height of each half of the side-by-side video."""


def _minutes(command: List, log: Path) -> float:
    """Run a command (paths allowed) with its output in ``log``; its wall time in minutes."""
    return run_logged(command, log) / 60.0


def _looped(clip: Path) -> Iterator:
    from rad_nerfstudio.process.video_frames import read_frames

    while True:
        yield from read_frames(clip)


def side_by_side(clip: Path, dataset: Path, render: Path, audio: Path, output: Path) -> int:
    """The clip's frames (looped) beside the same frames with ``render``'s frames pasted back; frames written."""
    import cv2
    import numpy as np

    from rad_nerfstudio.audio.reading import load_audio
    from rad_nerfstudio.io.video import Mp4Writer
    from rad_nerfstudio.process.crop_record import CropRecord
    from rad_nerfstudio.process.video_frames import read_frames
    from rad_nerfstudio.render.paste_back import paste

    record = CropRecord.read(dataset)
    width = 2 * round(record.source_width * PANEL_HEIGHT / record.source_height / 2)
    sound = load_audio(audio, 16000).numpy()
    count = 0
    with Mp4Writer(output, 2 * width, PANEL_HEIGHT, 25, sound) as video:
        for rendered, frame in zip(read_frames(render), _looped(clip), strict=False):  # the clip loops
            if rendered.shape[:2] != (record.height, record.width):
                rendered = cv2.resize(rendered, (record.width, record.height), interpolation=cv2.INTER_AREA)
            panels = [frame, paste(record, rendered, np.ones(rendered.shape[:2], np.float32), frame)]
            row = np.concatenate(
                [cv2.resize(p, (width, PANEL_HEIGHT), interpolation=cv2.INTER_AREA) for p in panels], 1
            )
            for k, label in enumerate(("recorded clip", "render, other speech")):
                cv2.putText(row, label, (k * width + 12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
            video.write(row)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path, help="the recorded clip (any video PyAV reads, with speech)")
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results/real_video"))
    parser.add_argument("--method", default="er-nerf-small")
    parser.add_argument("--size", type=int, default=512, help="rad-process --size")
    parser.add_argument("--novel-audio", type=Path, default=None, help="other speech to render (default: rad-sample's)")
    parser.add_argument("--novel-reference", type=Path, default=None, help="its mouth-opening .npz, if any")
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="extra ns-train arguments")
    args = parser.parse_args()
    if not args.clip.is_file():
        parser.error(f"{args.clip}: does not exist")
    root = args.output_dir.resolve()
    (root / "eval").mkdir(parents=True, exist_ok=True)
    dataset, runs, render = root / "dataset", root / "runs", root / "renders" / "novel_speech.mp4"
    config = runs / "dataset" / args.method / "real" / "config.yml"
    metrics, novel_mouth, ablation = root / "eval" / "metrics.json", root / "eval" / "novel_mouth.json", None

    minutes: Dict[str, float] = {}
    novel, reference = args.novel_audio, args.novel_reference
    if novel is None:
        sample = root / "novel_sample"
        if not (sample / "raw" / "novel_speech.wav").is_file():
            command = [BIN / "rad-sample", sample, "--size", "64", "--seconds", "4", "--overwrite"]
            minutes["novel speech (rad-sample)"] = _minutes(command, root / "sample.log")
        novel, reference = sample / "raw" / "novel_speech.wav", sample / "gt" / "novel_speech_params.npz"
    steps = {
        "rad-process": [BIN / "rad-process", "--video", args.clip, "--output-dir", dataset, "--size", str(args.size)],
        "ns-train": ns_train_command(
            args.method, dataset, runs, "--timestamp", "real", *lpips_flags(), *args.train_args
        ),
        "rad-eval": [BIN / "rad-eval", "--load-config", config, "--output-path", metrics],
        # the dataset's square (its mouth is scored at 25 fps); the side-by-side pastes it back into the looped clip
        "rad-render": [BIN / "rad-render", "--load-config", config, "--audio", novel, "--output-path", render]
        + ["--paste-back", "off"],
        "audio ablation": [sys.executable, Path(__file__).parent / "audio_ablation.py", "--load-config", config]
        + ["--output", root / "eval" / "audio_ablation.json"],
    }
    if reference is not None:
        steps["novel mouth"] = [BIN / "rad-eval-mouth", "--video", render, "--reference", reference]
        steps["novel mouth"] += ["--output-path", novel_mouth]
    outputs = {
        "ns-train": config.parent / "nerfstudio_models",
        "rad-eval": metrics,
        "rad-render": render,
        "audio ablation": root / "eval" / "audio_ablation.json",
        "novel mouth": novel_mouth,
    }
    timings = root / "minutes.json"
    before = json.loads(timings.read_text()) if timings.is_file() else {}
    if not before and (root / "real_video.json").is_file():  # a finished run's table
        before = json.loads((root / "real_video.json").read_text())["minutes"]
    for name, command in steps.items():
        if name in outputs and outputs[name].exists() and name in before:
            print(f"[real_video] {name}: done before, kept", flush=True)
            minutes[name] = before[name]
            continue
        print(f"[real_video] {name} ...", flush=True)
        minutes[name] = _minutes(command, root / f"{name.replace(' ', '_')}.log")
        timings.write_text(json.dumps({**before, **minutes}, indent=2))
    records = sorted((dataset / ".rad-process" / "steps").glob("*.json"))
    minutes["rad-process"] = sum(json.loads(r.read_text())["seconds"] for r in records) / 60.0  # when it really ran
    start = time.perf_counter()
    frames = side_by_side(args.clip, dataset, render, novel, root / "side_by_side.mp4")
    minutes["side by side"] = (time.perf_counter() - start) / 60.0

    scores = json.loads(metrics.read_text())
    ablation = json.loads((root / "eval" / "audio_ablation.json").read_text())
    crop = json.loads((dataset / "crop.json").read_text())
    process = json.loads((dataset / ".rad-process" / "steps" / "poses.json").read_text())["summary"]
    result = {
        "clip": str(args.clip),
        "method": args.method,
        "train_args": args.train_args,
        "crop": crop,
        "poses": process,
        **{key: scores.get(key) for key in (*IMAGE_METRICS, "lmd", "lmd_centred", "mouth_r")},
        "lips_tight_true_audio": ablation["true"]["lips_tight_psnr"],
        "lips_tight_other_audio": ablation["other_audio"]["lips_tight_psnr"],
        "novel_mouth_r": json.loads(novel_mouth.read_text()).get("r") if novel_mouth.is_file() else None,
        "side_by_side_frames": frames,
        "minutes": minutes,
    }
    (root / "real_video.json").write_text(json.dumps(result, indent=2))

    def cell(value) -> str:  # noqa: ANN001
        return "n/a" if value is None else f"{value:.3f}" if abs(value) < 1.5 else f"{value:.2f}"

    x, y, w, h = crop["crop"]
    rows = [
        ("val PSNR (dB)", result["psnr"]),
        ("val SSIM", result["ssim"]),
        ("val lips PSNR (dB)", result["lips_psnr"]),
        ("val tight lips PSNR (dB)", result["lips_tight_psnr"]),
        ("val LMD (px)", result["lmd"]),
        ("val LMD, mouth points centred (px)", result["lmd_centred"]),
        ("val mouth-opening r (vs the recorded frames)", result["mouth_r"]),
        ("tight lips PSNR, true audio (dB)", result["lips_tight_true_audio"]),
        ("tight lips PSNR, other frames' audio (dB)", result["lips_tight_other_audio"]),
        ("novel speech mouth r (vs rad-sample's opening, a proxy)", result["novel_mouth_r"]),
        *((f"minutes: {name}", value) for name, value in minutes.items()),
    ]
    lines = [
        f"# Real clip end to end: `{args.clip.name}`, {args.method}",
        "",
        f"Crop {x},{y},{w},{h} ({crop['mode']}) of the {crop['source_width']}x{crop['source_height']} frames, "
        f"resized to {crop['width']} px; poses: {process}. ns-train extra arguments: `{' '.join(args.train_args)}`.",
        "",
        "| measure | value |",
        "| --- | --- |",
        *(f"| {name} | {cell(value)} |" for name, value in rows),
    ]
    (root / "real_video.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {root / 'real_video.md'}, real_video.json and side_by_side.mp4")


if __name__ == "__main__":
    main()
