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
    from nerfstudio.utils.eval_utils import eval_setup

    from rad_nerfstudio.data.portrait_tables import PORTRAIT_METADATA_KEY
    from rad_nerfstudio.evaluation.image_metrics import psnr, rect_psnr
    from rad_nerfstudio.io.layout import write_image

    _, pipeline, _, step = eval_setup(load_config, test_mode="val")
    model, manager = pipeline.model, pipeline.datamanager
    tables = manager.eval_dataset.metadata[PORTRAIT_METADATA_KEY]
    rows = tables.splits["val"]
    true_index = model.audio_index.clone()
    track = model.audio_windows.shape[0]
    shifted = (true_index + track // 2) % track  # audio from half a track away
    results: dict = {"step": step, "frames": len(rows), "true": {}, "other_audio": {}}
    crops = []
    for name, index in (("true", true_index), ("other_audio", shifted)):
        model.audio_index.copy_(index)
        full, lips, tight = [], [], []
        for k in range(len(rows)):
            camera = manager.eval_dataset.cameras[k : k + 1].to(model.device)
            rgb = model.get_outputs_for_camera(camera)["rgb"].cpu()
            gt = manager.eval_images[k].float() / 255.0
            x0, y0, x1, y1 = tables.rects["lips"][int(rows[k])].tolist()
            full.append(psnr(rgb, gt))
            lips.append(rect_psnr(rgb, gt, (x0, y0, x1, y1)))
            mx0, my0, mx1, my1 = tables.rects["mouth"][int(rows[k])].tolist()
            tight.append(rect_psnr(rgb, gt, (mx0, my0, mx1, my1)))
            if k < 6:
                if name == "true":
                    crops.append([gt[y0:y1, x0:x1], rgb[y0:y1, x0:x1]])
                else:
                    crops[k].append(rgb[y0:y1, x0:x1])
        results[name] = {
            "psnr": float(np.mean(full)),
            "lips_psnr": float(np.mean(lips)),
            "lips_tight_psnr": float(np.mean(tight)),
        }
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
