"""``crop.json``: where a dataset's frames came from in the source video, so that a render can be pasted back
into the original frame (``render.paste_back``).

A dataset pixel ``(u, v)`` (pixel-index coordinates, pixel (0, 0)'s centre is 0, 0) is the upright source point
``x = crop_x + (u + 0.5) / scale_x - 0.5``, ``y = crop_y + (v + 0.5) / scale_y - 0.5``. "Upright" is the source
frame after the rotation of its display matrix (``quarter_turns`` counter-clockwise quarter turns).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Tuple

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.io.atomic import write_text_atomic

CROP_FILE = "crop.json"
CropMode = Literal["auto", "framed", "centre", "given", "none"]
"""How the crop was chosen: ``auto`` (around the head), ``framed`` (the video was framed already: its centred
square), ``centre`` (no face found: the centred square), ``given`` (``--crop``), ``none`` (the whole frame)."""


@dataclass(frozen=True)
class CropRecord:
    """The crop of the source frames and the size the dataset's frames were resized to."""

    source_width: int
    """Upright source frame width (pixels)."""
    source_height: int
    quarter_turns: int
    """Counter-clockwise quarter turns applied to the decoded frames (the display matrix)."""
    crop: Tuple[int, int, int, int]
    """``x, y, w, h`` in upright source pixels."""
    width: int
    """Dataset frame width (pixels)."""
    height: int
    mode: CropMode

    @property
    def scale(self) -> Tuple[float, float]:
        """Dataset pixels per source pixel, along x and y."""
        return self.width / self.crop[2], self.height / self.crop[3]

    def to_source(self, points: Float[np.ndarray, "*n 2"]) -> Float[np.ndarray, "*n 2"]:
        """Dataset pixel coordinates to upright source pixel coordinates."""
        scale = np.array(self.scale)
        return np.asarray(self.crop[:2], dtype=np.float64) + (np.asarray(points) + 0.5) / scale - 0.5

    def write(self, root: Path) -> None:
        write_text_atomic(root / CROP_FILE, json.dumps({**asdict(self), "scale": list(self.scale)}, indent=2))

    @classmethod
    def read(cls, root: Path) -> "CropRecord":
        path = root / CROP_FILE
        if not path.is_file():
            raise InputFileError(path, "does not exist (rad-process writes it with the frames)")
        try:
            data = json.loads(path.read_text())
            data.pop("scale", None)
            data["crop"] = tuple(int(v) for v in data["crop"])
            return cls(**data)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise InputFileError(path, f"is not a crop record ({type(error).__name__}: {error})") from error
