"""A trained run's refined head poses in the dataset's own ``transforms_*.json`` layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import torch

from rad_nerfstudio.io.atomic import write_text_atomic
from rad_nerfstudio.model_components.head_pose_correction import compose
from rad_nerfstudio.models.portrait_model import PortraitModel


@torch.no_grad()
def refined_transforms(
    model: PortraitModel, given: Path, scene_scale: float, img_ids: list[int], held_out_aligned: bool = False
) -> Dict[str, dict]:
    """The ``transforms_train.json`` and ``transforms_val.json`` contents the run was trained on (in folder ``given``:
    the dataset's, or its ``poses`` folder) with every training frame's ``transform_matrix`` replaced by its refined
    pose, in the dataset's metres; every other field kept as it is, and the validation frames (never trained on) too
    unless ``held_out_aligned``: then theirs are replaced by the poses the model's test-time alignment holds
    (``model.pose_correction.held_out``)."""
    if held_out_aligned and model.pose_correction.held_out is None:
        raise ValueError("held_out_aligned asks for the validation frames' aligned poses, but none were fitted")
    row_of = {img_id: row for row, img_id in enumerate(img_ids)}
    with model.render_weights():
        rows = torch.arange(len(img_ids), device=model.device)
        refined = compose(model.pose_correction(rows), model.head_poses.reshape(-1, 3, 4)).cpu().double()
    refined[:, :, 3] /= scene_scale
    contents = {}
    for split in ("train", "val"):
        name = f"transforms_{split}.json"
        content = json.loads((given / name).read_text())
        replaced = content["frames"] if split == "train" or held_out_aligned else []
        for frame in (f for f in replaced if int(f["img_id"]) in row_of):
            matrix = torch.eye(4, dtype=torch.float64)
            matrix[:3] = refined[row_of[int(frame["img_id"])]]
            frame["transform_matrix"] = matrix.tolist()
        contents[name] = content
    return contents


def write_transforms_files(contents: Dict[str, dict], folder: Path) -> None:
    """``refined_transforms``'s contents as files in ``folder`` (created), each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        write_text_atomic(folder / name, json.dumps(content, indent=2))
