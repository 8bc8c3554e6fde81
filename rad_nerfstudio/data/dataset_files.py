"""Read and validate a RAD-NeRF / ER-NeRF processed dataset folder (DESIGN section 4), before any training.

Every problem raises a :class:`DatasetError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.errors import DatasetError

SPLITS = ("train", "val")


@dataclass(frozen=True)
class PortraitFrame:
    """One frame listed in a transforms file."""

    img_id: int
    aud_id: int
    camera_to_world: Float[np.ndarray, "4 4"]
    """OpenGL camera-to-world in the head frame (metres), as written by the anchors."""
    split: str


@dataclass(frozen=True)
class PortraitDatasetFiles:
    """The validated content of a processed dataset folder."""

    root: Path
    focal: float
    cx: float
    cy: float
    width: int
    height: int
    frames: List[PortraitFrame]
    """Train frames, then val frames, each in file order."""

    def image_path(self, img_id: int) -> Path:
        return self.root / "gt_imgs" / f"{img_id}.jpg"

    def torso_path(self, img_id: int) -> Path:
        return self.root / "torso_imgs" / f"{img_id}.png"

    def landmarks_path(self, img_id: int) -> Path:
        return self.root / "ori_imgs" / f"{img_id}.lms"

    def split_positions(self, split: str) -> np.ndarray:
        """Positions in ``frames`` of one split."""
        return np.array([k for k, f in enumerate(self.frames) if f.split == split], dtype=np.int64)


def _load_json(path: Path) -> dict:
    if not path.exists():
        raise DatasetError(path, "does not exist (the anchors' process.py writes transforms_train/val.json)")
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(path, f"is not valid JSON ({err})") from err
    if not isinstance(content, dict):
        raise DatasetError(path, "must hold a JSON object with focal_len, cx, cy and frames")
    return content


def _parse_frames(path: Path, content: dict, split: str) -> List[PortraitFrame]:
    frames = content.get("frames")
    if not isinstance(frames, list) or not frames:
        raise DatasetError(path, "has no frames")
    parsed = []
    for k, frame in enumerate(frames):
        if not isinstance(frame, dict) or "img_id" not in frame or "transform_matrix" not in frame:
            raise DatasetError(path, f"frame {k} needs img_id and transform_matrix")
        matrix = np.asarray(frame["transform_matrix"], dtype=np.float64)
        if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
            raise DatasetError(path, f"frame {k} (img_id {frame['img_id']}): transform_matrix must be a finite 4x4")
        img_id = int(frame["img_id"])
        parsed.append(PortraitFrame(img_id, int(frame.get("aud_id", img_id)), matrix, split))
    return parsed


def _image_size(path: Path) -> Tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as err:
        raise DatasetError(path, f"cannot be read as an image ({err})") from err


def _check_files(root: Path, frames: List[PortraitFrame], folder: str, suffix: str, what: str) -> List[Path]:
    paths = [root / folder / f"{f.img_id}{suffix}" for f in frames]
    missing = [p for p in paths if not p.exists()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DatasetError(missing[0], f"does not exist ({what} of a frame listed in the transforms){more}")
    return paths


def read_dataset(
    root: Path, frame_range: Tuple[int, int] | None = None, poses: Path | None = None
) -> PortraitDatasetFiles:
    """Validate ``root`` and read its cameras and frame list.

    Args:
        root: the dataset folder.
        frame_range: keep only frames with ``start <= img_id < end``.
        poses: a folder whose ``transforms_train.json`` / ``transforms_val.json`` replace the dataset's (the images
            and everything else still come from ``root``).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "is not a dataset folder (it does not exist or is a file)")
    transforms = root if poses is None else Path(poses)
    if not transforms.is_dir():
        raise DatasetError(transforms, "is not a folder of transforms_train.json / transforms_val.json")
    contents = {split: _load_json(transforms / f"transforms_{split}.json") for split in SPLITS}
    intrinsics = []
    for split, content in contents.items():
        path = transforms / f"transforms_{split}.json"
        missing_keys = [key for key in ("focal_len", "cx", "cy") if key not in content]
        if missing_keys:
            raise DatasetError(path, f"lacks {', '.join(missing_keys)}")
        intrinsics.append((float(content["focal_len"]), float(content["cx"]), float(content["cy"])))
    if intrinsics[0] != intrinsics[1]:
        raise DatasetError(
            transforms / "transforms_val.json", f"intrinsics {intrinsics[1]} differ from train's {intrinsics[0]}"
        )
    frames = [
        f for split in SPLITS for f in _parse_frames(transforms / f"transforms_{split}.json", contents[split], split)
    ]
    if frame_range is not None:
        start, end = frame_range
        frames = [f for f in frames if start <= f.img_id < end]
        for split in SPLITS:
            if not any(f.split == split for f in frames):
                raise DatasetError(
                    transforms / f"transforms_{split}.json", f"has no frames with img_id in [{start}, {end})"
                )

    images = _check_files(root, frames, "gt_imgs", ".jpg", "image")
    torsos = _check_files(root, frames, "torso_imgs", ".png", "torso image")
    _check_files(root, frames, "ori_imgs", ".lms", "landmarks")
    size = _image_size(images[0])
    for path in images[1:] + torsos:
        other = _image_size(path)
        if other != size:
            raise DatasetError(path, f"is {other[0]}x{other[1]} but {images[0].name} is {size[0]}x{size[1]}")
    focal, cx, cy = intrinsics[0]
    return PortraitDatasetFiles(root, focal, cx, cy, size[0], size[1], frames)
