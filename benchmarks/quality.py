"""What a user sees, measured: the CPU-sized methods trained with their default schedules on our own samples and
on data we did not make, then scored on the validation frames and on words they never heard.

    python benchmarks/quality.py [--output-dir benchmarks/results/quality] [--datasets photo flat real obama astronaut]
        [--methods rad-nerf-small er-nerf-small] [--repeats 2] [--label NAME] [--jobs 2] [--train-args ARG ...]

Datasets (``OUTPUT_DIR/data``, made once): ``photo`` and ``flat``, rad-sample's looks; ``real``, the recorded clip
in ``../shared/real/`` through ``rad-process --size 256`` without ``--crop`` (scored against its real held-out
frames); ``obama`` and ``astronaut``, the held-out renderer's heads in ``../shared/looks/`` (copied: the dataparser
caches features in a dataset), whose ``gt/gt.json`` holds the true mouth opening of the frames.

For every dataset x method x repeat: ``ns-train`` (timed), ``rad-eval`` (PSNR, SSIM, tight lips PSNR, LMD, the audio
code's mouth r, the render's mouth-opening r against the ground-truth frames and, where known, against the true
opening), the tight lips PSNR with the true audio versus each frame's audio taken from half a track away, and on
rad-sample's looks ``rad-render`` driven by ``raw/novel_speech.wav`` and ``rad-eval-mouth`` against its true opening.
Writes ``quality.md`` (the table: the mean of the repeats with their range), ``quality.json`` (every run) and
``quality.png`` (bars) into the output folder; every run's files stay beside them. A ``--label`` other than
``default`` is added to every file name (``quality_LABEL.md``, ``eval/photo-er-nerf-small_LABEL.json``; repeats add
``-run2``, ... and train with seeds 42, 1, 2, ...), so runs with other settings can share the output folder and its
datasets.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import numpy as np

from rad_nerfstudio.engine.commands import BIN, lpips_flags, ns_train_command, run_logged

SAMPLES = {"photo": ("256", "20"), "flat": ("160", "15")}
"""Sample size (px) and length (s) of each rad-sample look."""
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""The team's shared folder beside the checkout: data no project code made."""
REAL_CLIP = SHARED / "real" / "obama_weekly_address_34s.mp4"
LOOKS = {"obama": SHARED / "looks" / "obama_2p5d", "astronaut": SHARED / "looks" / "astronaut_2p5d"}
DATASETS = (*SAMPLES, "real", *LOOKS)
ENV = dict(os.environ)
"""Environment of the commands (``--jobs`` > 1 gives each one thread)."""
COLUMNS = {
    "psnr": "val PSNR",
    "ssim": "SSIM",
    "lips_tight_psnr": "tight lips PSNR",
    "lmd": "LMD px",
    "lmd_centred": "LMD centred px",
    "audio_mouth_r": "audio code mouth r (val)",
    "mouth_r": "mouth r (val, vs GT frames)",
    "mouth_r_attainable": "attainable mouth r (val)",
    "mouth_r_truth": "mouth r (val, vs truth)",
    "novel_mouth_r": "mouth r (novel speech)",
    "lips_tight_true": "tight lips true audio",
    "lips_tight_shuffled": "tight lips shuffled audio",
    "train_minutes": "train min",
}


def make_dataset(name: str, root: Path) -> Path:
    """The dataset ``name`` under ``root/data``, made on first use (a sample, a processed clip or a copy)."""
    data = root / "data" / name
    data.parent.mkdir(parents=True, exist_ok=True)
    if name in SAMPLES and not (data / "gt" / "meta.json").is_file():
        size, seconds = SAMPLES[name]
        command = [str(BIN / "rad-sample"), str(data), "--look", name, "--size", size, "--seconds", seconds]
        run_logged([*command, "--overwrite"], root / f"sample_{name}.log", ENV)
    elif name == "real" and not (data / "transforms_val.json").is_file():
        if not REAL_CLIP.is_file():
            raise FileNotFoundError(f"{REAL_CLIP}: the real clip is not there (the shared folder holds it)")
        command = [str(BIN / "rad-process"), "--video", str(REAL_CLIP), "--output-dir", str(data), "--size", "256"]
        run_logged(command, root / "process_real.log", ENV)  # resumable: a second call finishes what is missing
    elif name in LOOKS and not (data / "transforms_val.json").is_file():
        if not LOOKS[name].is_dir():
            raise FileNotFoundError(f"{LOOKS[name]}: the held-out look is not there (the shared folder holds it)")
        partial = data.with_name(data.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(LOOKS[name], partial)
        for path in [partial, *partial.rglob("*")]:  # the shared folder is read-only; the copy must take a cache
            path.chmod(path.stat().st_mode | 0o200)
        partial.rename(data)
    return data


@functools.cache
def _suffix(label: str) -> str:
    """What a label adds to every file name, so that runs with other labels beside them are kept."""
    return "" if label == "default" else f"_{label}"


def repeat_seed(repeat: int) -> int:
    """The seed of a configuration's ``repeat``-th run (from 0): nerfstudio's default 42, then 1, 2, ... (the notes'
    "seed 42 / seed 1"), so that the runs' spread covers the seed, not only the machine's float order."""
    return 42 if repeat == 0 else repeat


def score(look: str, method: str, data: Path, root: Path, label: str, seed: int, train_args: List[str]) -> Dict:
    """Train, evaluate, render novel speech and score it; the row of the table."""
    name = f"{look}-{method}{_suffix(label)}"
    runs, evals = root / "runs", root / "eval"
    config = runs / look / method / label / "config.yml"
    metrics_path, novel_path = evals / f"{name}.json", evals / f"{name}_novel_mouth.json"
    ablation_path, video = evals / f"{name}_audio_ablation.json", root / "renders" / f"{name}_novel_speech.mp4"
    ablation = [sys.executable, str(Path(__file__).parent / "audio_ablation.py")]
    steps = {
        "train": ns_train_command(
            method, data, runs, "--timestamp", label, "--machine.seed", str(seed), *lpips_flags(), *train_args
        ),
        "eval": [str(BIN / "rad-eval"), "--load-config", config, "--output-path", metrics_path],
        "audio_ablation": [*ablation, "--load-config", config, "--output", ablation_path],
    }
    novel_speech = (data / "raw" / "novel_speech.wav", data / "gt" / "novel_speech_params.npz")
    if all(path.is_file() for path in novel_speech):  # rad-sample's looks: words the model never heard, with truth
        steps["render"] = [str(BIN / "rad-render"), "--load-config", config, "--audio", novel_speech[0]]
        steps["render"] += ["--output-path", video]
        steps["novel_mouth"] = [str(BIN / "rad-eval-mouth"), "--video", video, "--reference", novel_speech[1]]
        steps["novel_mouth"] += ["--output-path", novel_path]
    seconds = {step: run_logged(command, root / f"{name}_{step}.log", ENV) for step, command in steps.items()}
    metrics, shuffle = json.loads(metrics_path.read_text()), json.loads(ablation_path.read_text())
    novel = json.loads(novel_path.read_text()) if "novel_mouth" in steps else {}
    keys = (
        "psnr",
        "ssim",
        "lips_tight_psnr",
        "lmd",
        "lmd_centred",
        "audio_mouth_r",
        "mouth_r",
        "mouth_r_attainable",
        "mouth_r_truth",
    )
    return {
        "look": look,
        "method": method,
        "label": label,
        "seed": seed,
        **{key: metrics.get(key) for key in keys},
        "novel_mouth_r": novel.get("r"),
        "lips_tight_true": shuffle["true"]["lips_tight_psnr"],
        "lips_tight_shuffled": shuffle["other_audio"]["lips_tight_psnr"],
        "train_minutes": seconds["train"] / 60.0,
        "files": {"metrics": str(metrics_path), "novel_speech_video": str(video), "novel_mouth": str(novel_path)},
    }


def _number(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1.5 else f"{value:.2f}"


def _cell(values: List) -> str:
    """The mean of the runs' values, with their range when there are several."""
    kept = [v for v in values if v is not None and np.isfinite(v)]
    if not kept:
        return "n/a"
    if len(kept) == 1:
        return _number(kept[0])
    return f"{_number(float(np.mean(kept)))} ({_number(min(kept))} to {_number(max(kept))})"


def group_runs(rows: List[Dict]) -> Dict[tuple, List[Dict]]:
    """The runs of each (dataset, method), in order."""
    groups: Dict[tuple, List[Dict]] = {}
    for row in rows:
        groups.setdefault((row["look"], row["method"]), []).append(row)
    return groups


def write_table(rows: List[Dict], path: Path, label: str) -> None:
    lines = [
        f"# Quality benchmark: {label}",
        "",
        "Each cell: the mean of the runs, with their range in brackets when there are several.",
        "",
        "| dataset | method | runs | " + " | ".join(COLUMNS.values()) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for (look, method), runs in group_runs(rows).items():
        cells = " | ".join(_cell([run[k] for run in runs]) for k in COLUMNS)
        lines.append(f"| {look} | {method} | {len(runs)} | {cells} |")
    path.write_text("\n".join(lines) + "\n")


def write_plot(rows: List[Dict], path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [f"{row['look']}\n{row['method']}\n{row['label']}" for row in rows]
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
    parser.add_argument("--datasets", "--looks", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--methods", nargs="+", default=["rad-nerf-small", "er-nerf-small"])
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each configuration, seeds 42, 1, 2, ... (their spread is shown)"
    )
    parser.add_argument("--label", default="default", help="names the runs and the table")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (each on one thread when > 1)")
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="extra ns-train arguments")
    args = parser.parse_args()
    root = args.output_dir
    (root / "eval").mkdir(parents=True, exist_ok=True)
    if args.jobs > 1:
        ENV.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    labels = [args.label if k == 0 else f"{args.label}-run{k + 1}" for k in range(max(1, args.repeats))]
    data = {name: make_dataset(name, root) for name in args.datasets}
    tasks = [(name, method, k) for name in args.datasets for method in args.methods for k in range(len(labels))]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(score, name, m, data[name], root, labels[k], repeat_seed(k), args.train_args)
            for name, m, k in tasks
        ]
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
