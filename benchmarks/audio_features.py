"""Which audio features carry the mouth? For each extractor and encoder, a predictor of each frame's landmark mouth
opening (and width) is fitted on a dataset's training frames and scored (Pearson r) on the validation frames:
against their landmarks, and against the true opening where the dataset knows it (``gt/gt.json`` or rad-sample's
``gt/params.npz``). Encoders: ``audio-net`` (AudioNet + attention with a linear readout, trained as the models
train it) and ``ridge-mouth`` (the closed-form ridge regression of ``--pipeline.model.audio-encoder ridge-mouth``).
``--folds K`` also scores blocked K-fold cross-validation over all frames (each block predicted by a fit on the
others, a gap of a few frames between): a validation tail of a few seconds is a noisy judge. No NeRF is trained.

    python benchmarks/audio_features.py DATASET [DATASET ...] [--features mel phones] [--encoders audio-net
        ridge-mouth] [--seeds 2] [--steps 1500] [--folds 5] [--output benchmarks/results/audio_features.md]

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


def _fit_predict(
    encoder_kind: str, table, targets: torch.Tensor, fit: torch.Tensor, predict: torch.Tensor, seed: int, steps: int
) -> np.ndarray:
    """Predicted opening at audio frames ``predict`` of an encoder fitted on frames ``fit`` (standardised targets)."""
    from rad_nerfstudio.field_components.audio_encoder import AudioEncoder
    from rad_nerfstudio.field_components.ridge_mouth_encoder import RidgeMouthEncoder

    if encoder_kind == "ridge-mouth":
        order = fit.argsort()
        ridge = RidgeMouthEncoder(table.dim, targets.shape[1]).fit(table.windows, fit[order], targets[order])
        return ridge.encode_track(table.windows, predict)[:, 0].numpy()
    torch.manual_seed(seed)
    encoder, readout = AudioEncoder(table.dim, 64, True), torch.nn.Linear(64, targets.shape[1])
    optimizer = torch.optim.Adam([*encoder.parameters(), *readout.parameters()], lr=1e-3)
    for _ in range(steps):
        batch = torch.randint(len(targets), (256,))
        predicted = readout(encoder.encode_track(table.windows, fit[batch]))
        loss = ((predicted - targets[batch]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return readout(encoder.encode_track(table.windows, predict))[:, 0].numpy()


def score(data: Path, features: str, encoder_kind: str, seed: int, steps: int, folds: int) -> Dict[str, float]:
    """r on the validation frames (and the training frames) of a predictor fitted on the training frames; with
    ``folds``, also the mean r over blocked cross-validation folds of all frames."""
    from rad_nerfstudio.audio.features import resolve_audio_features
    from rad_nerfstudio.data.landmarks import mouth_shape, read_landmarks
    from rad_nerfstudio.evaluation.dataset_mouth import true_mouth_open
    from rad_nerfstudio.evaluation.mouth_shape import pearson_r

    splits = _splits(data)
    frames = max(aud for split in splits.values() for _, aud in split) + 1
    table = resolve_audio_features(data, features, frames)
    shape = {
        split: torch.tensor(np.array([mouth_shape(read_landmarks(data / "ori_imgs" / f"{i}.lms")) for i, _ in rows]))
        for split, rows in splits.items()
    }
    audio = {split: torch.tensor([aud for _, aud in rows]) for split, rows in splits.items()}

    def standardised(values: torch.Tensor) -> torch.Tensor:
        return ((values - values.mean(0)) / values.std(0).clamp_min(1e-6)).float()

    targets = standardised(shape["train"])
    both = torch.cat([audio["train"], audio["val"]])
    predicted = _fit_predict(encoder_kind, table, targets, audio["train"], both, seed, steps)
    train, val = predicted[: len(audio["train"])], predicted[len(audio["train"]) :]
    truth = true_mouth_open(data, [i for i, _ in splits["val"]])
    result = {
        "train_r": pearson_r(train, shape["train"][:, 0].numpy()),
        "val_r": pearson_r(val, shape["val"][:, 0].numpy()),
        "val_r_truth": pearson_r(val, truth) if truth is not None else float("nan"),
        "cv_r": float("nan"),
    }
    if folds > 1:
        order = both.argsort()
        frames_in_time, opening = both[order], torch.cat([shape["train"], shape["val"]])[order]
        edges = np.linspace(0, len(order), folds + 1).astype(int)
        scores = []
        for start, end in zip(edges[:-1], edges[1:], strict=True):
            keep = torch.ones(len(order), dtype=torch.bool)
            keep[max(0, start - 8) : end + 8] = False  # no window shared with the held-out block
            block = _fit_predict(
                encoder_kind, table, standardised(opening[keep]), frames_in_time[keep], frames_in_time[start:end],
                seed, steps,
            )  # fmt: skip
            scores.append(pearson_r(block, opening[start:end, 0].numpy()))
        result["cv_r"] = float(np.mean(scores))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--features", nargs="+", default=["mel", "phones"])
    parser.add_argument(
        "--encoders", nargs="+", default=["audio-net", "ridge-mouth"], choices=["audio-net", "ridge-mouth"]
    )
    parser.add_argument("--folds", type=int, default=0, help="blocked cross-validation folds over all frames (0: none)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/audio_features.md"))
    args = parser.parse_args()
    lines = [
        "| dataset | features | encoder | val r (landmarks), per seed | val r (true opening) | train r | CV r |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for data in args.datasets:
        for features, encoder in ((f, e) for f in args.features for e in args.encoders):
            seeds = 1 if encoder == "ridge-mouth" else args.seeds  # a closed-form fit: every seed gives the same
            runs = [score(data, features, encoder, seed, args.steps, args.folds) for seed in range(seeds)]

            def cells(key: str, runs: List[Dict[str, float]] = runs) -> str:
                return " / ".join(f"{run[key]:.3f}" for run in runs)

            scores = " | ".join(cells(key) for key in ("val_r", "val_r_truth", "train_r", "cv_r"))
            lines.append(f"| {data.name} | {features} | {encoder} | {scores} |")
            print(lines[-1], flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
