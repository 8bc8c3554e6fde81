"""Readers used by several tests (plain numpy/OpenCV, independent of the code under test)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def read_transforms(root: Path, split: str) -> dict:
    return json.loads((root / f"transforms_{split}.json").read_text())


def all_frames(root: Path) -> list[dict]:
    return read_transforms(root, "train")["frames"] + read_transforms(root, "val")["frames"]


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"cannot read {path}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 and image.shape[2] == 3 else image
