"""What a user sees, measured: the CPU-sized methods trained with their default schedules on a photo-real and on
the flat-shaded rad-sample, then scored on the validation frames and on words they never heard.

    python benchmarks/quality.py [--output-dir benchmarks/results/quality] [--looks photo flat]
        [--methods rad-nerf-small er-nerf-small] [--label NAME] [--jobs 2] [--train-args ARG ...]

For every look x method: ``rad-sample`` (cached under ``OUTPUT_DIR/data``), ``ns-train`` (timed), ``rad-eval``
(PSNR, SSIM, tight lips PSNR, mouth-opening r against the ground-truth frames and against the true opening),
``rad-render`` driven by ``raw/novel_speech.wav`` and ``rad-eval-mouth`` against its true opening, and the tight
lips PSNR with the true audio versus each frame's audio taken from half a track away. Writes ``quality.md`` (the
table), ``quality.json`` and ``quality.png`` (bars) into the output folder; every run's files stay beside them. A
``--label`` other than ``default`` is added to every file name (``quality_LABEL.md``,
``eval/photo-er-nerf-small_LABEL.json``), so runs with other settings can share the output folder and its samples.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

BIN = Path(sys.executable).parent
SAMPLES = {"photo": ("256", "20"), "flat": ("160", "15")}
"""Sample size (px) and length (s) of each look."""
ENV = dict(os.environ)
"""Environment of the commands (``--jobs`` > 1 gives each one thread)."""
COLUMNS = {
    "psnr": "val PSNR",
    "ssim": "SSIM",
    "lips_tight_psnr": "tight lips PSNR",
    "mouth_r": "mouth r (val, vs GT frames)",
    "mouth_r_truth": "mouth r (val, vs truth)",
    "novel_mouth_r": "mouth r (novel speech)",
    "lips_tight_true": "tight lips true audio",
    "lips_tight_shuffled": "tight lips shuffled audio",
    "train_minutes": "train min",
}


def run_logged(command: List[str], log: Path) -> float:
    """Run a command with its output in ``log``; its wall time in seconds (a failure raises, naming the log)."""
    start = time.perf_counter()
    with open(log, "w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=ENV)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... failed; see {log}")
    return time.perf_counter() - start


def make_sample(look: str, root: Path) -> Path:
    data = root / "data" / look
    if not (data / "gt" / "meta.json").is_file():
        size, seconds = SAMPLES[look]
        data.parent.mkdir(parents=True, exist_ok=True)
        command = [str(BIN / "rad-sample"), str(data), "--look", look, "--size", size, "--seconds", seconds]
        run_logged([*command, "--overwrite"], root / f"sample_{look}.log")
    return data


@functools.cache
def lpips_flags() -> List[str]:
    """LPIPS on a random trunk where its ImageNet weights cannot be downloaded (as the demo does)."""
    from rad_nerfstudio.model_components.lpips_net import Lpips

    try:
        Lpips()
    except RuntimeError:
        return ["--pipeline.model.lpips-pretrained", "False"]
    return []


def _suffix(label: str) -> str:
    """What a label adds to every file name, so that runs with other labels beside them are kept."""
    return "" if label == "default" else f"_{label}"


def score(look: str, method: str, data: Path, root: Path, label: str, train_args: List[str]) -> Dict:
    """Train, evaluate, render novel speech and score it; the row of the table."""
    name = f"{look}-{method}{_suffix(label)}"
    runs, evals = root / "runs", root / "eval"
    config = runs / look / method / label / "config.yml"
    metrics_path, novel_path = evals / f"{name}.json", evals / f"{name}_novel_mouth.json"
    ablation_path, video = evals / f"{name}_audio_ablation.json", root / "renders" / f"{name}_novel_speech.mp4"
    ablation = [sys.executable, str(Path(__file__).parent / "audio_ablation.py")]
    steps = {
        "train": [str(BIN / "ns-train"), method, "--data", data, "--vis", "tensorboard", "--output-dir", runs]
        + ["--timestamp", label, *lpips_flags(), *train_args],
        "eval": [str(BIN / "rad-eval"), "--load-config", config, "--output-path", metrics_path],
        "render": [str(BIN / "rad-render"), "--load-config", config, "--audio", data / "raw" / "novel_speech.wav"]
        + ["--output-path", video],
        "novel_mouth": [str(BIN / "rad-eval-mouth"), "--video", video, "--reference"]
        + [data / "gt" / "novel_speech_params.npz", "--output-path", novel_path],
        "audio_ablation": [*ablation, "--load-config", config, "--output", ablation_path],
    }
    seconds = {
        step: run_logged([str(part) for part in command], root / f"{name}_{step}.log")
        for step, command in steps.items()
    }
    metrics, novel = json.loads(metrics_path.read_text()), json.loads(novel_path.read_text())
    shuffle = json.loads(ablation_path.read_text())
    return {
        "look": look,
        "method": method,
        **{key: metrics.get(key) for key in ("psnr", "ssim", "lips_tight_psnr", "mouth_r", "mouth_r_truth")},
        "novel_mouth_r": novel.get("r"),
        "lips_tight_true": shuffle["true"]["lips_tight_psnr"],
        "lips_tight_shuffled": shuffle["other_audio"]["lips_tight_psnr"],
        "train_minutes": seconds["train"] / 60.0,
        "files": {"metrics": str(metrics_path), "novel_speech_video": str(video), "novel_mouth": str(novel_path)},
    }


def _cell(value) -> str:  # noqa: ANN001
    return "n/a" if value is None else f"{value:.3f}" if abs(value) < 1.5 else f"{value:.2f}"


def write_table(rows: List[Dict], path: Path, label: str) -> None:
    lines = [
        f"# Quality benchmark: {label}",
        "",
        "| look | method | " + " | ".join(COLUMNS.values()) + " |",
        "| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for row in rows:
        lines.append(f"| {row['look']} | {row['method']} | " + " | ".join(_cell(row[k]) for k in COLUMNS) + " |")
    path.write_text("\n".join(lines) + "\n")


def write_plot(rows: List[Dict], path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [f"{row['look']}\n{row['method']}" for row in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    x = np.arange(len(rows))
    for k, key in enumerate(("mouth_r", "mouth_r_truth", "novel_mouth_r")):
        left.bar(x + (k - 1) * 0.27, [row[key] or 0.0 for row in rows], 0.27, label=COLUMNS[key])
    left.axhline(0.8, color="grey", linestyle="--", linewidth=0.8)
    left.set_ylim(-1, 1)
    left.set_title("mouth-opening correlation")
    for k, key in enumerate(("psnr", "lips_tight_true", "lips_tight_shuffled")):
        right.bar(x + (k - 1) * 0.27, [row[key] or 0.0 for row in rows], 0.27, label=COLUMNS[key])
    right.set_ylim(15, None)
    right.set_title("PSNR (dB)")
    for axis in (left, right):
        axis.set_xticks(x, names, fontsize=8)
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3, axis="y")
    figure.suptitle(label)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results/quality"))
    parser.add_argument("--looks", nargs="+", default=["photo", "flat"], choices=sorted(SAMPLES))
    parser.add_argument("--methods", nargs="+", default=["rad-nerf-small", "er-nerf-small"])
    parser.add_argument("--label", default="default", help="names the runs and the table")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (each on one thread when > 1)")
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="extra ns-train arguments")
    args = parser.parse_args()
    root = args.output_dir
    (root / "eval").mkdir(parents=True, exist_ok=True)
    if args.jobs > 1:
        ENV.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    tasks = [(look, method, make_sample(look, root)) for look in args.looks for method in args.methods]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(score, look, m, data, root, args.label, args.train_args) for look, m, data in tasks]
        rows = [future.result() for future in futures]
    for row in rows:
        print(json.dumps(row, indent=1), flush=True)
    stem = f"quality{_suffix(args.label)}"
    (root / f"{stem}.json").write_text(json.dumps(rows, indent=2))
    write_table(rows, root / f"{stem}.md", args.label)
    write_plot(rows, root / f"{stem}.png", args.label)
    print((root / f"{stem}.md").read_text())
    print(f"written to {root / stem}.md, .json and .png")


if __name__ == "__main__":
    main()
