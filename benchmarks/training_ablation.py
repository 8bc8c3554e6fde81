"""The follow-up study's three training changes, measured: ray sampling (face-focused / uniform / error map),
photometric loss (mse / l1 / l1 then smooth_l1 in the lips stage) and hash-grid size (as configured / the study's
2 features x 2^16); and the er-nerf head against rad-nerf's. Every variant trains rad-nerf-small (or
er-nerf-small) on the same dataset with the same step budget on this machine, then rad-eval measures it on the
validation frames.

    python benchmarks/training_ablation.py --data demo/sample [--head-steps 1500] [--lips-steps 300]
        [--output-dir benchmarks/results/ablation] [--variants baseline error-map ...]

Writes ``ablation.md`` (a table), ``ablation.json`` and ``ablation.png`` (a bar plot) into the output folder.
The torso stage is skipped (every variant would train the same torso); renders use each frame's torso image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Dict, List, NamedTuple

from rad_nerfstudio.engine.commands import ns_train_command


class Variant(NamedTuple):
    method: str
    arguments: List[str]


L1_THEN_SMOOTH_L1 = ["--pipeline.model.photometric-loss", "l1", "--pipeline.model.lips-photometric-loss", "smooth_l1"]

VARIANTS: Dict[str, Variant] = {
    "baseline": Variant("rad-nerf-small", []),  # face-focused sampling, mse, its own grids
    "uniform": Variant("rad-nerf-small", ["--pipeline.datamanager.pixel-sampler.kind", "uniform"]),
    "error-map": Variant("rad-nerf-small", ["--pipeline.datamanager.pixel-sampler.kind", "error-map"]),
    "l1": Variant("rad-nerf-small", ["--pipeline.model.photometric-loss", "l1"]),
    "l1+smooth_l1": Variant("rad-nerf-small", [*L1_THEN_SMOOTH_L1, "--pipeline.model.loss-beta", "0.1"]),
    "study-grid": Variant("rad-nerf-small", ["--pipeline.model.grid-preset", "study"]),
    "er-nerf": Variant("er-nerf-small", []),  # tri-plane head with region attention; ER-NeRF's AdamW
}
"""Each variant changes one thing relative to the baseline."""


def train(name: str, data: Path, output: Path, head_steps: int, lips_steps: int, lpips_pretrained: bool) -> float:
    """Train one variant; returns the wall time in seconds."""
    command = ns_train_command(VARIANTS[name].method, data, output, "--timestamp", name)
    command += ["--steps-per-eval-image", "1000000"]
    command += ["--pipeline.model.head-steps", str(head_steps), "--pipeline.model.lips-steps", str(lips_steps)]
    command += ["--pipeline.model.train-torso", "False", "--max-num-iterations", str(head_steps + lips_steps)]
    command += ["--pipeline.model.lpips-pretrained", str(lpips_pretrained)]
    command += VARIANTS[name].arguments
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"training {name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results/ablation"))
    parser.add_argument("--head-steps", type=int, default=1500)
    parser.add_argument("--lips-steps", type=int, default=300)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--lpips-pretrained", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    from rad_nerfstudio.evaluation.portrait_evaluation import EvalArgs, evaluate_portrait
    from rad_nerfstudio.io.atomic import write_text_atomic

    runs = args.output_dir / "runs"
    rows = []
    for name in args.variants:
        print(f"[ablation] training {name}", flush=True)
        seconds = train(name, args.data, runs, args.head_steps, args.lips_steps, args.lpips_pretrained)
        config = runs / args.data.name / VARIANTS[name].method / name / "config.yml"
        report = evaluate_portrait(EvalArgs(config, args.output_dir / f"{name}.json", lmd=False))
        rows.append(
            {
                "variant": name,
                "psnr": report["psnr"],
                "lips_psnr": report["lips_psnr"],
                "lpips": report["lpips"],
                "train_s": seconds,
                "render_ms": 1000.0 / report["render_fps"],
                "model_mb": report["model_mb"],
            }
        )
        print(f"[ablation] {rows[-1]}", flush=True)
    write_text_atomic(args.output_dir / "ablation.json", json.dumps(rows, indent=2))
    write_text_atomic(args.output_dir / "ablation.md", _markdown(rows, args))
    _plot(rows, args.output_dir / "ablation.png")
    print(_markdown(rows, args))


def _markdown(rows: list, args: argparse.Namespace) -> str:
    lines = [
        f"rad-nerf-small (er-nerf: er-nerf-small) on `{args.data}`: {args.head_steps} head + {args.lips_steps} lips"
        " steps, no torso stage. train s: wall time of ns-train; render ms: per validation frame (rad-eval).",
        "",
        "| variant | PSNR | lips PSNR | LPIPS | train s | render ms | model MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lpips = "n/a" if r["lpips"] is None else f"{r['lpips']:.4f}"
        size = f"{r['model_mb']:.1f}"
        lines.append(
            f"| {r['variant']} | {r['psnr']:.2f} | {r['lips_psnr']:.2f} | {lpips} | {r['train_s']:.0f} "
            f"| {r['render_ms']:.0f} | {size} |"
        )
    return "\n".join(lines) + "\n"


def _plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rad_nerfstudio.io.atomic import atomic_path

    names = [r["variant"] for r in rows]
    figure, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110)
    for axis, key, label in zip(
        axes, ("psnr", "lips_psnr", "train_s"), ("PSNR dB", "lips PSNR dB", "train s"), strict=True
    ):
        values = [r[key] for r in rows]
        axis.bar(names, values, color="tab:blue")
        axis.set_title(label)
        axis.set_ylim(min(values) * 0.97, max(values) * 1.02)
        axis.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)


if __name__ == "__main__":
    main()
