"""Reference constants of the RAD-NeRF / ER-NeRF processed dataset layout."""

from __future__ import annotations

from typing import Dict, Tuple

VIDEO_FPS = 25
"""Frame rate of the processed frames."""
AUDIO_SAMPLE_RATE = 16000
"""Sample rate of ``aud.wav``."""
NUM_LANDMARKS = 68
"""iBUG 68-point landmark layout of the ``.lms`` files."""

# Parsing colours as the anchors write them with OpenCV, i.e. BGR triplets.
PARSING_BGR: Dict[str, Tuple[int, int, int]] = {
    "background": (255, 255, 255),
    "head": (255, 0, 0),
    "neck": (0, 255, 0),
    "torso": (0, 0, 255),
}
"""Parsing palette (BGR, as stored on disk by ``cv2.imwrite``)."""

PARSING_CLASSES = ("background", "head", "neck", "torso")
"""Parsing label ids, in order: 0 background, 1 head, 2 neck, 3 torso."""

# iBUG 68 landmark index ranges.
JAW = range(0, 17)
NOSE_BOTTOM = range(31, 36)
RIGHT_EYE = range(36, 42)
LEFT_EYE = range(42, 48)
OUTER_LIPS = range(48, 60)
INNER_LIPS = range(60, 68)
