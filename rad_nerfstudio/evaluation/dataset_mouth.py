"""What a rad-sample dataset knows about each frame's mouth: the true mouth opening it was rendered with."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.errors import DatasetError


def true_mouth_open(data: Path, img_ids: Sequence[int]) -> Float[np.ndarray, " n"] | None:
    """rad-sample's ground-truth ``mouth_open`` of each frame (``gt/params.npz``), or None for other datasets."""
    path = data / "gt" / "params.npz"
    if not path.is_file():
        return None
    with np.load(path) as params:
        if "mouth_open" not in params:
            return None
        values = np.asarray(params["mouth_open"], dtype=np.float64)
    if max(img_ids, default=-1) >= values.size:
        raise DatasetError(path, f"has {values.size} mouth_open values but frames go up to img_id {max(img_ids)}")
    return values[list(img_ids)]
