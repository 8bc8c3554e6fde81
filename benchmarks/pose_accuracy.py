"""Head poses of processed or refined datasets against a clip's true poses: median / p90 error and, per axis, how far
each estimate turns against the truth (its slope) and its RMS error, with a plot of every frame's turns.

    python benchmarks/pose_accuracy.py CLIP TRANSFORMS_DIR [TRANSFORMS_DIR ...] [--output-dir DIR]

``CLIP`` holds the truth (a ``rad-sample`` clip's ``gt/params.npz`` or a held-out look's ``gt/gt.json``);
each ``TRANSFORMS_DIR`` holds ``transforms_train.json`` / ``transforms_val.json`` of the same frames, e.g. the
output of ``rad-process --video CLIP/raw/video.mp4`` (landmark poses) and of ``rad-export-poses`` on a run trained
on it (refined poses). Writes ``pose_accuracy.json`` and ``pose_accuracy.png`` (the training frames' yaw, pitch and
roll, truth and estimates) into the output folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _plot(path: Path, ids: list[int], truth, estimates: dict) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rad_nerfstudio.evaluation.pose_accuracy import AXES
    from rad_nerfstudio.io.atomic import atomic_path

    figure, axes = plt.subplots(len(AXES), 1, figsize=(10, 7), dpi=110, sharex=True)
    for axis, name in enumerate(AXES):
        axes[axis].plot(ids, truth[:, axis], color="black", linewidth=1.4, label="truth")
        for label, turns in estimates.items():
            axes[axis].plot(ids, turns[:, axis], linewidth=0.9, label=label)
        axes[axis].set_ylabel(f"{name} (deg)")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("frame (img_id), training frames")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)


def _label(root: Path, roots: list[Path]) -> str:
    """The shortest end of ``root``'s path that tells it from the others (rad-process's passes all end in poses/)."""
    for depth in range(1, len(root.parts) + 1):
        tail = Path(*root.parts[-depth:])
        if sum(Path(*r.parts[-depth:]) == tail for r in roots) == 1:
            return str(tail)
    return str(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("transforms", type=Path, nargs="+")
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results/pose_accuracy"))
    args = parser.parse_args()

    import numpy as np

    from rad_nerfstudio.evaluation.pose_accuracy import AXES, head_turns_deg, rotation_errors, true_head_rotations
    from rad_nerfstudio.evaluation.process_scores import head_to_camera_rotations, split_frames
    from rad_nerfstudio.io.atomic import write_text_atomic

    reports, turns = {}, {}
    truth_turns, ids = None, []
    for root in args.transforms:
        reports[str(root)] = rotation_errors(root, args.clip)
        frames = sorted(split_frames(root, "train"), key=lambda f: int(f["img_id"]))
        ids = [int(f["img_id"]) for f in frames]
        truth = true_head_rotations(args.clip, ids)
        truth_turns, turns[_label(root, args.transforms)] = head_turns_deg(truth, head_to_camera_rotations(frames))
    print(f"{'poses':40s} {'split':5s} {'median':>7s} {'p90':>6s}  " + "  ".join(f"{a} slope / rms" for a in AXES))
    for name, report in reports.items():
        for split, row in report.items():
            axes = "  ".join(f"{row['axes'][a]['slope']:11.2f} / {row['axes'][a]['error_rms_deg']:.2f}" for a in AXES)
            print(f"{name[-40:]:40s} {split:5s} {row['median_deg']:7.2f} {row['p90_deg']:6.2f}  {axes}")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output_dir / "pose_accuracy.json", json.dumps({"clip": str(args.clip), **reports}, indent=2))
    assert truth_turns is not None
    _plot(args.output_dir / "pose_accuracy.png", ids, np.asarray(truth_turns), turns)
    print(f"written to {args.output_dir}")


if __name__ == "__main__":
    main()
