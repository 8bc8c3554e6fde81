"""Does the rendered mouth follow the mouth the head is told? A few validation frames rendered with the mouth's
opening set to fixed levels, measured by MediaPipe's face mesh like every render.

``rad-eval``'s ``mouth_r`` mixes two losses: the audio's prediction of the mouth (``audio_mouth_r``) and the head's
rendering of what it is told. This separates the second. Each picked frame is rendered with its mouth's opening at
``RESPONSE_LEVELS`` (standardised over the training frames, as the head reads it; the width the frame's own), and
the rendered opening's rise per level is compared with the frames' own: their measured opening per standard
deviation of their landmark opening. ``mouth_response`` 1 means the head reproduces the whole range; measured on
the real clip in ``shared/real``, 0.59 (``er-nerf-small``) and 0.83 (``rad-nerf-small``, seed 1 each), so the
render there opens and closes less than the person even when told exactly. The picture (frame, then the renders from
closed to open) shows whether a head that cannot open, or cannot close, its mouth is the cause of a low ``mouth_r``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from jaxtyping import Float, UInt8
from torch import Tensor

from rad_nerfstudio.evaluation.audio_effect import evenly_spaced
from rad_nerfstudio.evaluation.mouth_comparison import finite_or_none
from rad_nerfstudio.evaluation.mouth_pictures import CROP_HEIGHT, CROP_WIDTH, label_tile, lips_crop
from rad_nerfstudio.model_components.audio_mouth import MOUTH_DIM

Box = Tuple[int, int, int, int]

RESPONSE_LEVELS = (-1.5, -0.75, 0.0, 0.75, 1.5)
"""The mouth openings the picked frames are rendered with, in training frames' standard deviations."""
RESPONSE_FRAMES = 6
"""Validation frames rendered at every level (evenly spaced over the split)."""


@dataclass
class MouthResponse:
    """The picked frames' rendered openings at every level and their lips crops."""

    img_ids: List[int]
    levels: Tuple[float, ...]
    opening: Float[np.ndarray, "frames levels"]
    """MediaPipe's opening (lip gap / mouth width) of each render; NaN where it found no face."""
    crops: List[List[UInt8[np.ndarray, "ch cw 3"]]]
    """Per frame: the frame's own lips crop, then one per level."""

    @property
    def slope(self) -> float:
        """Rise of the mean rendered opening per level (NaN with fewer than two levels measured)."""
        return fitted_slope(np.asarray(self.levels, dtype=np.float64), _level_means(self.opening))


def fitted_slope(x: Float[np.ndarray, " n"], y: Float[np.ndarray, " n"]) -> float:
    """Least-squares slope of ``y`` on ``x`` over the finite pairs; NaN with fewer than two distinct ``x``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0:
        return float("nan")
    return float(np.polyfit(x[keep], y[keep], 1)[0])


def _level_means(opening: Float[np.ndarray, "frames levels"]) -> Float[np.ndarray, " levels"]:
    """Per level, the mean of the finite openings (NaN where there is none)."""
    finite = np.isfinite(opening)
    counts = finite.sum(0)
    return np.where(counts > 0, np.where(finite, opening, 0.0).sum(0) / np.maximum(counts, 1), np.nan)


def swept_codes(model, row: int, levels: Sequence[float]) -> Float[Tensor, "levels code"]:  # noqa: ANN001
    """The frame's audio code (the render weights': an AudioNet code beside the mouth is averaged as renders use it)
    with its mouth part set to each level's opening and the frame's own landmark width."""
    with model.render_weights():
        code = model.audio_codes(torch.tensor([row], device=model.device))[0]
    codes = code[None].repeat(len(levels), 1)
    codes[:, -MOUTH_DIM] = torch.tensor(levels, dtype=codes.dtype, device=codes.device)
    codes[:, -MOUTH_DIM + 1] = model.ridge_targets[row, 1].to(codes.dtype)
    return codes


@torch.no_grad()
def measure_mouth_response(
    model,  # noqa: ANN001  (a PortraitModel)
    render: Callable[[int], UInt8[np.ndarray, "h w 3"]],
    truth: Callable[[int], UInt8[np.ndarray, "h w 3"]],
    measure: Callable[[UInt8[np.ndarray, "h w 3"], Box], float],
    rows: Sequence[int],
    boxes: Dict[str, List[Box]],
    img_ids: List[int],
    levels: Sequence[float] = RESPONSE_LEVELS,
    frames: int = RESPONSE_FRAMES,
) -> MouthResponse | None:
    """Render ``frames`` validation frames (``render(k)`` under ``model.render_controls``) at every mouth level and
    ``measure`` each render's opening near the frame's face box; None for a head that cannot be told a mouth or no
    validation frames. ``boxes``: the validation frames' ``face`` and ``mouth`` boxes."""
    from dataclasses import replace

    if not model.reads_ridge_mouth or len(rows) == 0:  # only a ridge-mouth head's condition ends with the mouth
        return None
    picks = evenly_spaced(len(rows), frames)
    saved = model.render_controls
    opening = np.full((len(picks), len(levels)), np.nan)
    crops: List[List[np.ndarray]] = []
    try:
        for i, k in enumerate(picks):
            codes = swept_codes(model, int(rows[k]), levels)
            row_crops = [lips_crop(truth(k), boxes["mouth"][k])]
            for j in range(len(levels)):
                model.render_controls = replace(saved, audio_code=codes[j], audio_frame=None)
                image = render(k)
                opening[i, j] = measure(image, boxes["face"][k])
                row_crops.append(lips_crop(image, boxes["mouth"][k]))
            crops.append(row_crops)
    finally:
        model.render_controls = saved
    return MouthResponse([img_ids[k] for k in picks], tuple(float(v) for v in levels), opening, crops)


def response_report(
    response: MouthResponse, frames_opening: Float[np.ndarray, " n"], frames_standardised: Float[np.ndarray, " n"]
) -> Dict[str, object]:
    """``mouth_response``: the renders' rise per level over the frames' (their measured opening regressed on their
    standardised landmark opening), None where either is undefined; both slopes and the measured openings."""
    frames_slope = fitted_slope(frames_standardised, frames_opening)
    ratio = response.slope / frames_slope if np.isfinite(frames_slope) and frames_slope > 0 else float("nan")
    return {
        "mouth_response": finite_or_none(ratio),
        "render_slope": finite_or_none(response.slope),
        "frames_slope": finite_or_none(frames_slope),
        "levels": list(response.levels),
        "frames": response.img_ids,
        "opening": [[finite_or_none(v) for v in row] for row in response.opening],
    }


def response_picture(response: MouthResponse) -> UInt8[np.ndarray, "h w 3"]:
    """One row per frame: its lips (labelled with its id), then the renders from the most closed to the most open
    level (labelled with the level)."""
    rows = []
    for img_id, crops in zip(response.img_ids, response.crops, strict=True):
        tiles = [label_tile(crops[0], f"#{img_id}")]
        tiles += [label_tile(c, f"{v:+.2g} sd") for c, v in zip(crops[1:], response.levels, strict=True)]
        rows.append(np.concatenate(tiles, 1))
    if not rows:
        return np.zeros((CROP_HEIGHT, CROP_WIDTH * (len(response.levels) + 1), 3), np.uint8)
    return np.concatenate(rows, 0)
