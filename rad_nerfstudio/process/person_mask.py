"""Person / background segmentation with MediaPipe's selfie segmentation (its model ships inside the wheel)."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
from jaxtyping import Bool, UInt8

from rad_nerfstudio.process.face_mesh import mediapipe_solutions


def person_masks(
    frames: Iterable[UInt8[np.ndarray, "h w 3"]], threshold: float = 0.5
) -> Iterator[Bool[np.ndarray, "h w"]]:
    """Whether each pixel of each RGB frame shows the person."""
    with mediapipe_solutions().selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        for frame in frames:
            confidence = segmenter.process(np.ascontiguousarray(frame)).segmentation_mask
            yield np.asarray(confidence) > threshold
