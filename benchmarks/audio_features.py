"""Which audio features carry the mouth? For each extractor, an audio encoder (AudioNet + attention, as the models
use) and a linear readout are trained on a dataset's training frames to predict each frame's landmark mouth opening,
then scored (Pearson r) on the validation frames: against their landmarks, and against the true opening where the
dataset knows it (``gt/gt.json`` or rad-sample's ``gt/params.npz``). No NeRF is trained: minutes on a CPU.

    python benchmarks/audio_features.py DATASET [DATASET ...] [--features mel phones] [--seeds 2] [--steps 1500]
        [--output benchmarks/results/audio_features.md]

Each dataset is only read, except for the feature caches the dataparser writes into it (copy a shared one first).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch


def _splits(data: Path) -> Dict[str, List[tuple]]:
    """(img_id, aud_id) of each split's frames."""
    read = {split: json.loads((data / f"transforms_{split}.json").read_text()) for split in ("train", "val")}
    return {split: [(f["img_id"], f["aud_id"]) for f in transforms["frames"]] for split, transforms in read.items()}


def score(data: Path, features: str, seed: int, steps: int) -> Dict[str, float]:
    """Train encoder + readout on the training frames; r on the validation frames (and on the training frames)."""
    from rad_nerfstudio.audio.features import resolve_audio_features
    from rad_nerfstudio.data.landmarks import mouth_shape, read_landmarks
    from rad_nerfstudio.evaluation.dataset_mouth import true_mouth_open
    from rad_nerfstudio.evaluation.mouth_shape import pearson_r
    from rad_nerfstudio.field_components.audio_encoder import AudioEncoder

    splits = _splits(data)
    frames = max(aud for split in splits.values() for _, aud in split) + 1
    table = resolve_audio_features(data, features, frames)
    opening = {
        split: np.array([mouth_shape(read_landmarks(data / "ori_imgs" / f"{i}.lms"))[0] for i, _ in rows])
        for split, rows in splits.items()
    }
    audio = {split: torch.tensor([aud for _, aud in rows]) for split, rows in splits.items()}
    target = torch.tensor(opening["train"], dtype=torch.float32)
    target = (target - target.mean()) / target.std().clamp_min(1e-6)
    torch.manual_seed(seed)
    encoder, readout = AudioEncoder(table.dim, 64, True), torch.nn.Linear(64, 1)
    optimizer = torch.optim.Adam([*encoder.parameters(), *readout.parameters()], lr=1e-3)
    for _ in range(steps):
        batch = torch.randint(len(target), (256,))
        predicted = readout(encoder.encode_track(table.windows, audio["train"][batch]))[:, 0]
        loss = ((predicted - target[batch]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = {s: readout(encoder.encode_track(table.windows, audio[s]))[:, 0].numpy() for s in audio}
    truth = true_mouth_open(data, [i for i, _ in splits["val"]])
    return {
        "train_r": pearson_r(predicted["train"], opening["train"]),
        "val_r": pearson_r(predicted["val"], opening["val"]),
        "val_r_truth": pearson_r(predicted["val"], truth) if truth is not None else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--features", nargs="+", default=["mel", "phones"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/audio_features.md"))
    args = parser.parse_args()
    lines = [
        "| dataset | features | val r (landmarks), per seed | val r (true opening) | train r |",
        "| --- | --- | --- | --- | --- |",
    ]
    for data in args.datasets:
        for features in args.features:
            runs = [score(data, features, seed, args.steps) for seed in range(args.seeds)]

            def cells(key: str, runs: List[Dict[str, float]] = runs) -> str:
                return " / ".join(f"{run[key]:.3f}" for run in runs)

            scores = " | ".join(cells(key) for key in ("val_r", "val_r_truth", "train_r"))
            lines.append(f"| {data.name} | {features} | {scores} |")
            print(lines[-1], flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
