"""rad-process on a rad-sample clip: CPU seconds per frame of each step, and how close it got to the ground truth.

    python benchmarks/process_timing.py [--sample DIR] [--size 512] [--seconds 10] [--output-dir DIR]

Without ``--sample`` a ``--size`` px, ``--seconds`` s sample is generated first. Writes ``process_timing.json``
and ``process_timing.md`` into the output folder (the processed dataset goes to ``OUTPUT/dataset``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=None)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results/process_timing"))
    args = parser.parse_args()

    from rad_nerfstudio.evaluation.process_scores import score_processed
    from rad_nerfstudio.io.atomic import write_text_atomic
    from rad_nerfstudio.sample.generate import generate_sample
    from rad_nerfstudio.scripts.process import ProcessArgs, process_video

    sample = args.sample
    if sample is None:
        sample = args.output_dir / "sample"
        generate_sample(sample, seconds=args.seconds, size=args.size, overwrite=True)
    dataset = args.output_dir / "dataset"
    shutil.rmtree(dataset, ignore_errors=True)
    process_video(ProcessArgs(sample / "raw" / "video.mp4", dataset))
    steps = {}
    for record in sorted((dataset / ".rad-process" / "steps").glob("*.json")):
        steps[record.stem] = json.loads(record.read_text())["seconds"]
    scores = score_processed(dataset, sample)
    frames = scores["frames"]
    result = {
        "sample": str(sample),
        "frames": frames,
        "seconds": steps,
        "ms_per_frame": {name: 1000 * s / frames for name, s in steps.items()},
        "scores": scores,
    }
    write_text_atomic(args.output_dir / "process_timing.json", json.dumps(result, indent=2))
    order = ("frames", "audio-features", "landmarks", "poses", "parsing", "background")
    lines = [
        f"rad-process on `{sample}` ({frames} frames):",
        "",
        "| step | s | ms per frame |",
        "| --- | --- | --- |",
        *(f"| {n} | {steps[n]:.1f} | {1000 * steps[n] / frames:.1f} |" for n in order),
        f"| total | {sum(steps.values()):.1f} | {1000 * sum(steps.values()) / frames:.1f} |",
        "",
        "```",
        json.dumps(scores, indent=1),
        "```",
    ]
    write_text_atomic(args.output_dir / "process_timing.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
