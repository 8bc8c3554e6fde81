"""One fixed square crop around head and shoulders for a whole clip, in the anchors' framing: the face about 40 %
of the crop's width, a little above its centre, the torso below, and the head inside it in every frame.

``find_crop`` is the geometry (from face boxes); ``choose_crop`` turns rad-process's ``--crop`` / ``--size`` into
the crop record of a video (finding the face boxes when asked for ``auto``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np

from rad_nerfstudio.process.crop_record import CropMode, CropRecord
from rad_nerfstudio.process.face_boxes import FaceBox, FaceSearch
from rad_nerfstudio.process.video_frames import CropBox, VideoInputError, VideoProbe

FACE_FRACTION = 0.4
"""Face box width over the crop's side (the anchors' framing)."""
FACE_CENTRE_Y = 0.45
"""Height of the face box's centre, from the crop's top, over the crop's side."""
HEAD_GROWTH = (0.2, 0.5, 0.2, 0.1)
"""A face box grown by these fractions of its size (left, top, right, bottom) holds the whole head (hair, ears)."""
MARGIN = 0.03
"""Room kept around the head, as a fraction of the crop's side."""
PRECROPPED = 0.8
"""A square frame whose crop would cover this fraction of its side or more is taken as framed already: kept whole."""
MIN_FOUND = 0.5
"""A face must be found in at least this fraction of the frames looked at to frame the clip around it."""
SIZE_RANGE = (0.6, 1.7)
"""Face boxes whose width is outside this range times the median width are taken as false detections."""


def _robust(boxes: Sequence[FaceBox]) -> np.ndarray:
    """``[n, 4]`` (x, y, w, h) of the boxes whose size agrees with the clip's median."""
    array = np.array([(b.x, b.y, b.w, b.h) for b in boxes], dtype=np.float64)
    width = np.median(array[:, 2])
    keep = (array[:, 2] >= SIZE_RANGE[0] * width) & (array[:, 2] <= SIZE_RANGE[1] * width)
    return array[keep]


def find_crop(boxes: Sequence[FaceBox], width: int, height: int) -> CropBox:
    """The square crop ``(x, y, side, side)`` inside a ``width`` x ``height`` frame for a clip's face boxes.

    Its side makes the median face box ``FACE_FRACTION`` of it, grown where needed so that the head (the face box
    grown by ``HEAD_GROWTH``) stays inside in every frame; it is placed with the face centred across and at
    ``FACE_CENTRE_Y`` down, moved as little as possible to hold every head, then shifted to lie inside the frame
    (shrunk to the frame's short side when larger: the frame is never padded)."""
    if not boxes:
        raise ValueError("no face boxes to place a crop around")
    faces = _robust(boxes)
    left, top, right, bottom = HEAD_GROWTH
    heads = np.stack(
        [
            faces[:, 0] - left * faces[:, 2],
            faces[:, 1] - top * faces[:, 3],
            faces[:, 0] + (1 + right) * faces[:, 2],
            faces[:, 1] + (1 + bottom) * faces[:, 3],
        ],
        axis=1,
    )
    x0, y0 = heads[:, :2].min(axis=0)
    x1, y1 = heads[:, 2:].max(axis=0)
    side = max(np.median(faces[:, 2]) / FACE_FRACTION, (x1 - x0) / (1 - 2 * MARGIN), (y1 - y0) / (1 - 2 * MARGIN))
    centre_x = np.median(faces[:, 0] + faces[:, 2] / 2)
    centre_y = np.median(faces[:, 1] + faces[:, 3] / 2)
    x = centre_x - side / 2
    y = centre_y - FACE_CENTRE_Y * side
    margin = MARGIN * side
    x = float(np.clip(x, x1 + margin - side, x0 - margin))  # every head inside, moved as little as possible
    y = float(np.clip(y, y1 + margin - side, y0 - margin))
    side_px = int(min(round(side), width, height))
    x_px = int(np.clip(round(x), 0, width - side_px))
    y_px = int(np.clip(round(y), 0, height - side_px))
    return x_px, y_px, side_px, side_px


def is_precropped(crop: CropBox, width: int, height: int) -> bool:
    """A square frame (within 2 %) that the found crop covers nearly whole (``PRECROPPED``)."""
    return abs(width - height) <= 0.02 * max(width, height) and crop[2] >= PRECROPPED * min(width, height)


def centre_square(width: int, height: int) -> CropBox:
    """The largest centred square of a frame."""
    side = min(width, height)
    return (width - side) // 2, (height - side) // 2, side, side


def _output_size(crop: CropBox, size: int) -> tuple[int, int]:
    """Dataset frame size: the crop shrunk to ``size`` x ``size`` (0: kept; a smaller crop is never enlarged)."""
    w, h = crop[2], crop[3]
    if size <= 0 or (w <= size and h <= size):
        return w, h
    if w != h:
        raise ValueError(f"the {w}x{h} region is not square; give a square --crop, --crop auto or --size 0")
    return size, size


def choose_crop(
    video: Path,
    requested: CropBox | Literal["auto"] | None,
    size: int,
    probe: VideoProbe,
    find_boxes: Callable[[], FaceSearch],
    warn: Callable[[str], None],
) -> CropRecord:
    """The crop record of ``video`` for a ``--crop`` request (``auto``, ``None`` for the whole frame, or a box)
    and ``--size``; ``find_boxes`` looks for the face boxes (called only for ``auto``). A clip with a face in fewer
    than ``MIN_FOUND`` of the frames looked at keeps its centred square (the landmarks step will judge it)."""
    width, height = probe.width, probe.height
    mode: CropMode
    if requested == "auto":
        search = find_boxes()
        if len(search.boxes) < MIN_FOUND * search.frames or not search.boxes:
            found = f"a face in {len(search.boxes)} of {search.frames} frames looked at"
            warn(f"{found} while framing {video.name}; using the centred square of its frames")
            crop, mode = centre_square(width, height), "centre"
        else:
            crop, mode = find_crop(search.boxes, width, height), "auto"
            if is_precropped(crop, width, height):
                crop, mode = centre_square(width, height), "framed"
    elif requested is None:
        crop, mode = (0, 0, width, height), "none"
    else:
        crop, mode = requested, "given"
        x, y, w, h = crop
        if x + w > width or y + h > height:
            raise VideoInputError(video, f"crop {crop} does not fit its {width}x{height} (upright) frames")
    try:
        out_width, out_height = _output_size(crop, size)
    except ValueError as error:
        raise VideoInputError(video, str(error)) from error
    return CropRecord(width, height, probe.turns, crop, out_width, out_height, mode)
