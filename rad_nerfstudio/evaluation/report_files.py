"""Files people look at after an evaluation: a side-by-side video frame and a per-frame metrics plot."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

import numpy as np
import torch
from jaxtyping import UInt8
from nerfstudio.utils import colormaps

from rad_nerfstudio.io.atomic import atomic_path

ERROR_GAIN = 4.0
"""Absolute colour errors are multiplied by this before colouring (an error of 0.25 saturates)."""


def side_by_side(truth: UInt8[np.ndarray, "h w 3"], render: UInt8[np.ndarray, "h w 3"]) -> UInt8[np.ndarray, "h w3 3"]:
    """Ground truth | render | colour-mapped absolute error, side by side."""
    error = np.abs(render.astype(np.float32) - truth.astype(np.float32)).mean(-1, keepdims=True) / 255.0
    options = colormaps.ColormapOptions(colormap="inferno")
    heat = colormaps.apply_colormap(torch.from_numpy(np.clip(error * ERROR_GAIN, 0, 1)), options).numpy()
    return np.concatenate([truth, render, (heat * 255).round().astype(np.uint8)], axis=1)


def write_per_frame_plot(path: Path, frame_ids: Sequence[int], series: Dict[str, Sequence[float]], title: str) -> None:
    """A PNG line plot of each series over the frames, with its mean as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4), dpi=110)
    for (name, values), color in zip(series.items(), ("tab:blue", "tab:red", "tab:green", "tab:purple"), strict=False):
        axis.plot(frame_ids, values, color=color, linewidth=1.2, label=f"{name} (mean {np.mean(values):.2f})")
        axis.axhline(float(np.mean(values)), color=color, linestyle="--", linewidth=0.8)
    axis.set_xlabel("frame (img_id)")
    axis.set_ylabel("dB")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
