"""Writers for the RAD-NeRF / ER-NeRF processed dataset layout (DESIGN section 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.constants import PARSING_BGR, PARSING_CLASSES
from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.io.atomic import atomic_path, write_text_atomic

_PALETTE_BGR = np.array([PARSING_BGR[name] for name in PARSING_CLASSES], dtype=np.uint8)


def train_val_split(num_frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """The anchors' split: the first ``int(n * 10 / 11)`` frames train, the rest validate."""
    cut = int(num_frames * 10 / 11)
    return np.arange(cut), np.arange(cut, num_frames)


def camera_to_world(rotation: Float[np.ndarray, "3 3"], translation: Float[np.ndarray, "3"]) -> np.ndarray:
    """The anchors' ``transform_matrix`` for a head pose ``p_cam = R p_head + t``: ``[R^T | -R^T t]``."""
    c2w = np.eye(4)
    c2w[:3, :3] = rotation.T
    c2w[:3, 3] = -rotation.T @ translation
    return c2w


def write_transforms(
    directory: Path,
    focal: float,
    width: int,
    height: int,
    c2w: Float[np.ndarray, "n 4 4"],
    frame_ids: Sequence[int] | None = None,
    extra: dict | None = None,
) -> None:
    """``transforms_train.json`` and ``transforms_val.json`` with the anchors' keys and split; ``frame_ids`` are
    the frames' ``img_id`` / ``aud_id`` (default ``0..n-1``); ``extra`` adds keys (e.g. how the focal length was
    chosen)."""
    ids = list(range(len(c2w))) if frame_ids is None else [int(i) for i in frame_ids]
    for split, rows in zip(("train", "val"), train_val_split(len(c2w)), strict=False):
        content = {
            "focal_len": float(focal),
            "cx": float(width / 2.0),
            "cy": float(height / 2.0),
            **(extra or {}),
            "frames": [{"img_id": ids[r], "aud_id": ids[r], "transform_matrix": c2w[r].tolist()} for r in rows],
        }
        write_text_atomic(directory / f"transforms_{split}.json", json.dumps(content, indent=2))


def write_landmarks(path: Path, points: Float[np.ndarray, "68 2"]) -> None:
    """An ``.lms`` file: one ``x y`` pair per line in pixel-index coordinates."""
    with atomic_path(path) as tmp:
        np.savetxt(tmp, points, "%f")


def read_rgb(path: Path, size: Tuple[int, int] | None = None) -> UInt8[np.ndarray, "h w 3"] | None:
    """An image file as RGB, resized (area filter) to ``size`` = (width, height) when given; None if unreadable."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    if size is not None and image.shape[:2] != (size[1], size[0]):
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def read_parsing_labels(path: Path) -> UInt8[np.ndarray, "h w"]:
    """Labels (indices of PARSING_CLASSES) of a parsing image: the nearest of the anchors' colours (so JPEG-like
    colour noise does not matter); the inverse of ``parsing_bgr``."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputFileError(path, "cannot be read as a parsing image")
    packed = (bgr.astype(np.int32) << np.array([16, 8, 0], dtype=np.int32)).sum(-1)
    colors, inverse = np.unique(packed, return_inverse=True)  # a few distinct colours per image, matched once
    unpacked = (colors[:, None] >> np.array([16, 8, 0])) & 0xFF
    distance = np.abs(unpacked[:, None, :] - _PALETTE_BGR.astype(np.int32)[None]).sum(-1)
    return distance.argmin(-1).astype(np.uint8)[inverse.reshape(bgr.shape[:2])]


def parsing_bgr(labels: UInt8[np.ndarray, "h w"]) -> UInt8[np.ndarray, "h w 3"]:
    """Parsing image in the anchors' colours, BGR as written by OpenCV (labels index PARSING_CLASSES)."""
    return _PALETTE_BGR[labels]


def write_wav(path: Path, audio: Float[np.ndarray, " samples"], sample_rate: int) -> None:
    """16-bit PCM mono wav."""
    import soundfile

    with atomic_path(path) as tmp:
        soundfile.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def write_image(path: Path, image: np.ndarray, order: str = "rgb", jpeg_quality: int = 95) -> None:
    """Write an RGB(A) (``order="rgb"``) or OpenCV-ordered BGR(A) (``order="bgr"``) array, atomically."""
    import cv2

    if order == "rgb" and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"OpenCV could not write {path}")


def layout_dirs(root: Path) -> Sequence[Path]:
    """Create and return the per-frame folders of the layout."""
    dirs = [root / name for name in ("ori_imgs", "parsing", "gt_imgs", "torso_imgs")]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs
