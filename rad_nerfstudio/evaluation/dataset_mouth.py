"""What a synthetic dataset knows about each frame's mouth: the true mouth opening it was rendered with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.errors import DatasetError


def _read_truth(data: Path) -> tuple[Path, np.ndarray] | None:
    """(file, per-frame ``mouth_open``) of rad-sample's ``gt/params.npz`` or of a ``gt/gt.json`` with a ``frames``
    list of ``{"frame", "mouth_open"}`` (the held-out renderer's), or None when the dataset has neither."""
    npz, gt_json = data / "gt" / "params.npz", data / "gt" / "gt.json"
    if npz.is_file():
        with np.load(npz) as params:
            return (npz, np.asarray(params["mouth_open"], dtype=np.float64)) if "mouth_open" in params else None
    if gt_json.is_file():
        try:
            frames = json.loads(gt_json.read_text()).get("frames", [])
            values = {int(f["frame"]): float(f["mouth_open"]) for f in frames}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise DatasetError(gt_json, f"has no readable per-frame mouth_open ({err})") from err
        if not values:
            return None
        track = np.full(max(values) + 1, np.nan)
        track[list(values)] = list(values.values())
        return gt_json, track
    return None


def true_mouth_open(data: Path, img_ids: Sequence[int]) -> Float[np.ndarray, " n"] | None:
    """The ground-truth ``mouth_open`` of each frame (see ``_read_truth``), or None for datasets without one."""
    found = _read_truth(data)
    if found is None:
        return None
    path, values = found
    if max(img_ids, default=-1) >= values.size:
        raise DatasetError(path, f"has {values.size} mouth_open values but frames go up to img_id {max(img_ids)}")
    return values[list(img_ids)]
