"""Pictures of the mouth over time: a strip of lips crops (ground truth above render) and the opening curves."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

import cv2
import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.io.atomic import atomic_path

CROP_WIDTH, CROP_HEIGHT = 96, 64
"""Size every lips crop is resized to in the strip (the mouth is wider than tall)."""
STRIP_COLUMNS = 16
"""Crops per row of the strip; longer sequences wrap onto further rows."""
STRIP_FRAMES = 64
"""At most this many frames in the strip: every k-th frame of longer sequences."""
CROP_CONTEXT = 1.5
"""A crop spans this many times the mouth box (some chin and nose around the lips)."""


def lips_crop(image: UInt8[np.ndarray, "h w 3"], box: tuple[int, int, int, int]) -> UInt8[np.ndarray, "ch cw 3"]:
    """``CROP_CONTEXT`` times the region of ``box``, with the strip's aspect ratio, resized to ``CROP_WIDTH`` x
    ``CROP_HEIGHT`` (black outside the image)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w = CROP_CONTEXT * max(x1 - x0, (y1 - y0) * CROP_WIDTH / CROP_HEIGHT, 2) / 2
    half_h = half_w * CROP_HEIGHT / CROP_WIDTH
    # an affine warp samples outside the image as black instead of shifting the window
    scale = CROP_WIDTH / (2 * half_w)
    matrix = np.array([[scale, 0, -(cx - half_w) * scale], [0, scale, -(cy - half_h) * scale]])
    return cv2.warpAffine(image, matrix, (CROP_WIDTH, CROP_HEIGHT), flags=cv2.INTER_CUBIC)


def label_tile(tile: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``tile`` with ``text`` written in its top-left corner."""
    tile = tile.copy()
    cv2.putText(tile, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def mouth_strip(
    truth: Sequence[UInt8[np.ndarray, "ch cw 3"]], render: Sequence[UInt8[np.ndarray, "ch cw 3"]], labels: Sequence[str]
) -> UInt8[np.ndarray, "h w 3"]:
    """Rows of up to ``STRIP_COLUMNS`` frames: ground-truth crops (labelled) above the render crops."""
    columns = max(1, min(STRIP_COLUMNS, len(truth)))
    blank = np.zeros((CROP_HEIGHT, CROP_WIDTH, 3), np.uint8)
    bands = []
    for start in range(0, max(len(truth), 1), columns):
        top = [label_tile(t, s) for t, s in zip(truth[start : start + columns], labels[start:], strict=False)]
        bottom = list(render[start : start + columns])
        top += [blank] * (columns - len(top))
        bottom += [blank] * (columns - len(bottom))
        divider = np.full((6, CROP_WIDTH * columns, 3), 255, np.uint8)
        bands.append(np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1), divider]))
    return np.concatenate(bands)


def write_mouth_strip(path: Path, strip: UInt8[np.ndarray, "h w 3"]) -> None:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path} as PNG")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


def write_opening_plot(
    path: Path,
    x: Sequence[float],
    openings: Dict[str, Float[np.ndarray, " n"]],
    title: str,
    x_label: str,
    truth: Float[np.ndarray, " n"] | None = None,
) -> None:
    """Measured openings over time (left axis) and, when given, the true mouth_open parameter (right axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 4), dpi=110)
    for (name, values), color in zip(openings.items(), ("tab:blue", "tab:red", "tab:purple"), strict=False):
        axis.plot(x, values, color=color, linewidth=1.2, marker=".", markersize=3, label=name)
    axis.set_xlabel(x_label)
    axis.set_ylabel("measured opening (lip gap / mouth width)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    handles, names = axis.get_legend_handles_labels()
    if truth is not None:
        other = axis.twinx()
        other.plot(x, truth, color="tab:green", linewidth=1.0, linestyle="--", label="true mouth_open")
        other.set_ylabel("true mouth_open")
        more_handles, more_names = other.get_legend_handles_labels()
        handles, names = handles + more_handles, names + more_names
    axis.legend(handles, names, loc="upper left", fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
