"""Does a trained run fit its own training frames, and does its mouth move with them? No held-out audio is needed:
every Nth training frame is rendered with the run's poses (refined where it refines them) and scored against the
frame: PSNR over the image, the face rectangle, the eye band (upper 45 % of the face) and the tight mouth
rectangle, and MediaPipe's mouth opening of render vs frame (Pearson r, and the ratio of their standard
deviations: about 0.5 is a mean, closed mouth; about 1 is the full range; each frame's pair under ``per_frame``).

    python benchmarks/training_frames.py --load-config outputs/.../config.yml [--every 20] [--output FILE.json]

Writes the numbers as JSON and a PNG of the first four scored frames' faces (frame | render) next to it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def _face_pair(render: torch.Tensor, truth: torch.Tensor, rect: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = rect
    pair = torch.cat([truth[y0:y1, x0:x1], render[y0:y1, x0:x1]], dim=1)
    return (pair.numpy() * 255).round().astype(np.uint8)


@torch.no_grad()
def score_training_frames(load_config: Path, every: int, output: Path) -> dict:
    from rad_nerfstudio.evaluation.image_metrics import psnr, rect_psnr
    from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector
    from rad_nerfstudio.evaluation.mouth_comparison import finite_or_none
    from rad_nerfstudio.evaluation.mouth_shape import measure_frame, pearson_r
    from rad_nerfstudio.io.atomic import write_text_atomic
    from rad_nerfstudio.io.layout import write_image
    from rad_nerfstudio.render.trained_run import load_trained_run

    run = load_trained_run(load_config)
    model, manager = run.model, run.datamanager
    dataset, rows, rects = manager.train_dataset, manager.tables.splits["train"], manager.tables.rects
    detector = FaceMeshDetector()
    scores: dict[str, list[float]] = {"psnr": [], "face_psnr": [], "eyes_psnr": [], "mouth_psnr": []}
    openings: list[tuple[float, float]] = []
    img_ids: list[int] = []
    pictures = []
    for k in range(0, len(dataset), every):
        render = model.get_outputs_for_camera(dataset.cameras[k : k + 1].to(model.device))["rgb"].clamp(0, 1).cpu()
        truth = torch.from_numpy(dataset.get_numpy_image(k)[..., :3]).float() / 255
        face = tuple(int(v) for v in rects["face"][int(rows[k])])
        x0, y0, x1, y1 = face
        scores["psnr"].append(psnr(render, truth))
        scores["face_psnr"].append(rect_psnr(render, truth, (x0, y0, x1, y1)))
        scores["eyes_psnr"].append(rect_psnr(render, truth, (x0, y0, x1, y0 + int(0.45 * (y1 - y0)))))
        mx0, my0, mx1, my1 = (int(v) for v in rects["mouth"][int(rows[k])])
        scores["mouth_psnr"].append(rect_psnr(render, truth, (mx0, my0, mx1, my1)))
        as_bytes = [(image.numpy() * 255).round().astype(np.uint8) for image in (render, truth)]
        openings.append((measure_frame(detector, as_bytes[0])[0], measure_frame(detector, as_bytes[1])[0]))
        img_ids.append(int(manager.tables.img_ids[int(rows[k])]))
        if len(pictures) < 4:
            pictures.append(_face_pair(render, truth, (x0, y0, x1, y1)))
    rendered, real = np.array(openings).T
    found = np.isfinite(rendered) & np.isfinite(real)
    result = {
        "load_config": str(load_config),
        "step": run.step,
        "frames": len(openings),
        **{name: float(np.mean(values)) for name, values in scores.items()},
        "mouth_r": pearson_r(rendered[found], real[found]),
        "opening_std_ratio": float(rendered[found].std() / real[found].std()) if found.sum() > 1 else None,
        "per_frame": {
            "img_id": img_ids,
            "opening_render": [finite_or_none(value) for value in rendered],
            "opening_frame": [finite_or_none(value) for value in real],
        },
    }
    write_text_atomic(output, json.dumps(result, indent=2))
    height = min(p.shape[0] for p in pictures)
    width = min(p.shape[1] for p in pictures)
    write_image(output.with_suffix(".png"), np.concatenate([p[:height, :width] for p in pictures], axis=0))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-config", type=Path, required=True)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/training_frames.json"))
    args = parser.parse_args()
    result = score_training_frames(args.load_config, args.every, args.output)
    print(json.dumps(result, indent=2))
    print(f"written to {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
