"""Head masks from the dataset's parsing images (``parsing/{img_id}.png``): where the head field should be opaque."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from jaxtyping import Int, UInt8
from nerfstudio.utils.rich_utils import CONSOLE
from rich.progress import track
from torch import Tensor

from rad_nerfstudio.constants import PARSING_CLASSES
from rad_nerfstudio.errors import DatasetError
from rad_nerfstudio.io.layout import read_parsing_labels

HEAD_LABEL = PARSING_CLASSES.index("head")


def cache_head_masks(
    root: Path, img_ids: Int[Tensor, " n"], height: int, width: int
) -> UInt8[Tensor, "n height width"] | None:
    """1 where a frame's parsing says head (hair included), else 0, at the training image size; None (with a
    message) when the dataset has no parsing images."""
    paths = [Path(root) / "parsing" / f"{int(i)}.png" for i in img_ids]
    missing = [p for p in paths if not p.is_file()]
    if len(missing) == len(paths):
        CONSOLE.print(f"[yellow]{Path(root) / 'parsing'}: no parsing images, so the head's opacity is not supervised")
        return None
    if missing:
        raise DatasetError(missing[0], f"does not exist (parsing of a training frame; {len(missing)} missing)")
    masks = torch.empty((len(paths), height, width), dtype=torch.uint8)
    for k in track(range(len(paths)), description="Caching head masks", transient=True):
        labels = read_parsing_labels(paths[k])
        if labels.shape != (height, width):
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        masks[k] = torch.from_numpy((labels == HEAD_LABEL).astype(np.uint8))
    return masks
