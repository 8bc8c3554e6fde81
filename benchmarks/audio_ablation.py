"""Does the audio drive the mouth? Validation PSNR (full frame, lips rectangle and tight mouth box) of a trained
rad-nerf model with the true audio, and with each frame's audio windows taken from other frames of the track.

    python benchmarks/audio_ablation.py --load-config outputs/.../config.yml [--output results/audio_ablation.json]

Writes the numbers as JSON and a PNG of lips crops (ground truth | true audio | other audio) next to it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


@torch.no_grad()
def evaluate(load_config: Path, output: Path) -> dict:
    from rad_nerfstudio.evaluation.portrait_evaluation import add_image_scores
    from rad_nerfstudio.io.layout import write_image
    from rad_nerfstudio.render.trained_run import load_trained_run

    run = load_trained_run(load_config)
    model, dataset, tables = run.model, run.datamanager.eval_dataset, run.datamanager.tables
    rows = tables.splits["val"]
    true_index = model.audio_index.clone()
    track = model.audio_windows.shape[0]
    shifted = (true_index + track // 2) % track  # audio from half a track away
    results: dict = {"step": run.step, "frames": len(rows), "true": {}, "other_audio": {}}
    crops = []
    for name, index in (("true", true_index), ("other_audio", shifted)):
        model.audio_index.copy_(index)
        scores: dict = {"psnr": [], "ssim": [], "lips_psnr": [], "lips_tight_psnr": []}
        for k in range(len(rows)):
            rgb = model.get_outputs_for_camera(dataset.cameras[k : k + 1].to(model.device))["rgb"].clamp(0, 1).cpu()
            gt = torch.from_numpy(dataset.get_numpy_image(k)[..., :3]).float() / 255.0
            add_image_scores(scores, rgb, gt, tables.rects, int(rows[k]), None, model.device)
            if k < 6:
                x0, y0, x1, y1 = tables.rects["lips"][int(rows[k])].tolist()
                if name == "true":
                    crops.append([gt[y0:y1, x0:x1], rgb[y0:y1, x0:x1]])
                else:
                    crops[k].append(rgb[y0:y1, x0:x1])
        results[name] = {metric: float(np.mean(values)) for metric, values in scores.items()}
    model.audio_index.copy_(true_index)
    results["lips_psnr_gain_db"] = results["true"]["lips_psnr"] - results["other_audio"]["lips_psnr"]
    results["lips_tight_psnr_gain_db"] = results["true"]["lips_tight_psnr"] - results["other_audio"]["lips_tight_psnr"]
    strip = torch.cat([torch.cat(row, dim=1) for row in crops], dim=0).clamp(0, 1)
    write_image(output.with_suffix(".png"), (strip.numpy() * 255).round().astype(np.uint8))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-config", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/audio_ablation.json"))
    args = parser.parse_args()
    from rad_nerfstudio.io.atomic import write_text_atomic

    results = evaluate(args.load_config, args.output)
    write_text_atomic(args.output, json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
