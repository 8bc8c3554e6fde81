"""Does the head field read the audio at all? A few validation frames rendered twice, with the audio of the training
frame whose landmarks open the mouth widest and with that of the one where it is most closed; the mean absolute
difference inside the tight mouth box says how much the audio moves the mouth.

A run can learn a good audio code (``audio_mouth_r``) and still ignore it: ER-NeRF's region attention can saturate
shut, and then the two renders are identical (measured on the real clip: exactly 0 against 0.03-0.05 for a run that
follows the audio). ``rad-eval`` reports it as ``audio_effect`` and says so in its notes when it is below
``IGNORED_BELOW``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from jaxtyping import Float

Box = Tuple[int, int, int, int]

AUDIO_EFFECT_FRAMES = 4
"""Validation frames rendered twice (evenly spaced over the split)."""
IGNORED_BELOW = 0.005
"""Mouth-box difference (colours in [0, 1]) under which the head is said to ignore the audio (about 1 grey level)."""


def evenly_spaced(count: int, frames: int) -> List[int]:
    """At most ``frames`` distinct indices of ``range(count)``, evenly spaced from the first to the last."""
    return sorted({int(k) for k in np.linspace(0, count - 1, min(frames, count)).round()})


@torch.no_grad()
def audio_effect(
    model,  # noqa: ANN001  (a PortraitModel)
    render: Callable[[int], Float[np.ndarray, "h w 3"]],
    mouth_boxes: List[Box],
    img_ids: List[int],
    frames: int = AUDIO_EFFECT_FRAMES,
) -> Dict[str, object] | None:
    """Mean |render with the widest-open audio - render with the most-closed audio| in each validation frame's
    tight mouth box. ``render(k)``: validation frame ``k`` under ``model.render_controls``, colours in [0, 1];
    ``mouth_boxes`` and ``img_ids``: the validation frames'. None without landmarks or validation frames."""
    count = len(mouth_boxes)
    if model.mouth_shape is None or len(model.train_rows) < 2 or count == 0:
        return None
    train = model.train_rows
    opening = model.mouth_shape[train, 0]
    widest, closest = int(train[int(opening.argmax())]), int(train[int(opening.argmin())])
    picks = evenly_spaced(count, frames)
    saved = model.render_controls
    differences = []
    try:
        for k in picks:
            pair = []
            for source in (widest, closest):
                model.render_controls = replace(saved, audio_frame=source, audio_code=None)
                pair.append(np.asarray(render(k), dtype=np.float32))
            x0, y0, x1, y1 = mouth_boxes[k]
            differences.append(float(np.abs(pair[0][y0:y1, x0:x1] - pair[1][y0:y1, x0:x1]).mean()))
    finally:
        model.render_controls = saved
    difference = float(np.mean(differences))
    return {
        "mouth_difference": difference,
        "ignored": difference < IGNORED_BELOW,
        "frames": [img_ids[k] for k in picks],
        "open_audio_from_row": widest,
        "closed_audio_from_row": closest,
    }
