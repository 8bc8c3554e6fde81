"""Background plates: the dataset's ``bc.jpg``, a colour, or any image, as uint8 at a given size."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from jaxtyping import UInt8
from torch import Tensor

from rad_nerfstudio.errors import DatasetError, InputFileError
from rad_nerfstudio.io.layout import read_rgb

NAMED_COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "green": (0, 177, 64), "grey": (128, 128, 128)}
BACKGROUND_HELP = "dataset (bc.jpg), white, black, green, grey, a colour #rrggbb or r,g,b, or an image path"


def parse_color(choice: str) -> tuple[int, int, int] | None:
    """An RGB colour from a name, ``#rrggbb`` or ``r,g,b`` (0-255); ``None`` when ``choice`` is none of these."""
    if choice in NAMED_COLOURS:
        return NAMED_COLOURS[choice]
    if re.fullmatch(r"#[0-9a-fA-F]{6}", choice):
        return (int(choice[1:3], 16), int(choice[3:5], 16), int(choice[5:7], 16))
    parts = choice.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
        return (int(parts[0]), int(parts[1]), int(parts[2]))
    return None


def load_background(choice: str, root: Path, width: int, height: int) -> UInt8[Tensor, "height width 3"]:
    """The plate for ``choice`` (see ``BACKGROUND_HELP``; ``dataset`` reads ``root/bc.jpg``) at ``width x height``."""
    color = parse_color(choice)
    if color is not None:
        return torch.tensor(color, dtype=torch.uint8).expand(height, width, 3).clone()
    path = root / "bc.jpg" if choice == "dataset" else Path(choice)
    error = DatasetError if choice == "dataset" else InputFileError
    if not path.exists():
        raise error(path, f"does not exist (background image; the choices are {BACKGROUND_HELP})")
    image = read_rgb(path, (width, height))
    if image is None:
        raise error(path, "cannot be read as an image (background)")
    return torch.from_numpy(image)
