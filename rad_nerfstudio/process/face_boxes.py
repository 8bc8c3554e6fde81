"""Where the face is over a whole clip, cheaply: MediaPipe's full-range face detector (its model ships in the
wheel, offline) on a few frames a second at reduced resolution.

A face that is small in a wide frame is too small for the detector's 192 px input, so a frame without a hit is
searched again in overlapping tiles, and later frames look first in a window around the last face (a tracker's
region of interest).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Tuple

import cv2
import numpy as np
from jaxtyping import UInt8

from rad_nerfstudio.process.face_mesh import mediapipe_solutions
from rad_nerfstudio.process.video_frames import probe_video, sample_frames

DETECT_FPS = 5.0
"""Frames looked at per second of video."""
DETECT_SIDE = 1280
"""Frames are shrunk to at most this many pixels on their long side before detection."""
DETECTOR_INPUT = 256
"""Each region handed to the detector is shrunk to at most this many pixels (its network sees 192)."""
MIN_SCORE = 0.6
"""Detections below this confidence are ignored."""
WINDOW = 3.0
"""The window around the last face, in face widths."""
MIN_FACE_PX = 16
"""Smaller boxes (pixels of the frame looked at) are taken as false detections, and smaller tiles are not searched."""


@dataclass(frozen=True)
class FaceBox:
    """A face in one frame, in source pixels: its box ``(x, y, w, h)`` and the detector's confidence."""

    time: float
    x: float
    y: float
    w: float
    h: float
    score: float


def _detect(detector: Any, image: UInt8[np.ndarray, "h w 3"], x0: int = 0, y0: int = 0) -> List[Tuple]:
    """``(x, y, w, h, score)`` of the faces in ``image`` (a region at ``x0, y0`` of its frame), in frame pixels."""
    height, width = image.shape[:2]
    shrink = min(1.0, DETECTOR_INPUT / max(height, width))
    if shrink < 1.0:
        image = cv2.resize(image, (round(width * shrink), round(height * shrink)), interpolation=cv2.INTER_AREA)
    found = detector.process(np.ascontiguousarray(image)).detections or []
    boxes = []
    for detection in found:
        box = detection.location_data.relative_bounding_box
        boxes.append(
            (x0 + box.xmin * width, y0 + box.ymin * height, box.width * width, box.height * height, detection.score[0])
        )
    return [b for b in boxes if b[4] >= MIN_SCORE and min(b[2], b[3]) >= MIN_FACE_PX]


def _tiles(width: int, height: int) -> Iterator[Tuple[int, int, int]]:
    """Overlapping square tiles ``(x, y, side)`` of half the short side, stepping by half a tile (none in frames too
    small to hold a face the whole-frame search missed)."""
    side = min(width, height) // 2
    if side < 10 * MIN_FACE_PX:
        return
    step = side // 2
    for y in sorted({*range(0, height - side + 1, step), height - side}):
        for x in sorted({*range(0, width - side + 1, step), width - side}):
            yield x, y, side


def find_face(detector: Any, image: UInt8[np.ndarray, "h w 3"], last: Tuple | None) -> Tuple | None:
    """The largest confident face ``(x, y, w, h, score)`` in a frame: near ``last`` first, then in the whole frame,
    then tile by tile."""
    height, width = image.shape[:2]
    if last is not None:
        side = int(WINDOW * max(last[2], last[3]))
        cx, cy = last[0] + last[2] / 2, last[1] + last[3] / 2
        x0 = int(np.clip(cx - side / 2, 0, max(0, width - side)))
        y0 = int(np.clip(cy - side / 2, 0, max(0, height - side)))
        boxes = _detect(detector, image[y0 : y0 + side, x0 : x0 + side], x0, y0)
        if boxes:
            return max(boxes, key=lambda b: b[2] * b[3])
    boxes = _detect(detector, image)
    if not boxes:
        for x, y, side in _tiles(width, height):
            boxes += _detect(detector, image[y : y + side, x : x + side], x, y)
    return max(boxes, key=lambda b: b[2] * b[3]) if boxes else None


@dataclass(frozen=True)
class FaceSearch:
    """The faces found and the number of frames looked at."""

    boxes: List[FaceBox]
    frames: int


def detect_faces(
    frames: Iterable[Tuple[float, UInt8[np.ndarray, "h w 3"]]],
    width: int,
    on_frame: Callable[[float], None] | None = None,
) -> FaceSearch:
    """The face found in each ``(time, frame)``, in the pixels of a source ``width`` pixels wide (the frames may be
    shrunk copies); ``on_frame(time)`` after each frame (progress)."""
    boxes: List[FaceBox] = []
    looked = 0
    with mediapipe_solutions().face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=0.3
    ) as detector:
        last = None
        for time, image in frames:
            looked += 1
            last = find_face(detector, image, last)
            if last is not None:
                x, y, w, h, score = last
                scale = width / image.shape[1]
                boxes.append(FaceBox(time, x * scale, y * scale, w * scale, h * scale, float(score)))
            if on_frame is not None:
                on_frame(time)
    return FaceSearch(boxes, looked)


def video_face_boxes(
    path: Path, on_frame: Callable[[float], None] | None = None, fps: float = DETECT_FPS, max_side: int = DETECT_SIDE
) -> FaceSearch:
    """The face boxes of a video (upright source pixels), looked for ``fps`` times a second."""
    width = probe_video(path).width
    return detect_faces(sample_frames(path, fps, max_side), width, on_frame)
