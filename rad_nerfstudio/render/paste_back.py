"""Renders put back into the user's original frames (``rad-render --paste-back``) with a feathered blend.

The render of a training pose goes over the source frame that pose came from (``crop.json`` maps the dataset's
square to the source), blended by a soft mask: ``head`` (the rendered head and torso opacity), ``face`` (the frame's
face rectangle) or ``mouth`` (its lower face: the source's own eyes and head motion stay exactly). Every mask fades
to zero at the crop's edges, so no seam shows where the square ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np
from jaxtyping import Float, Int, UInt8

from rad_nerfstudio.process.crop_record import CropRecord

if TYPE_CHECKING:
    from rad_nerfstudio.render.source_frames import SourceFrames

PasteRegion = Literal["head", "face", "mouth"]
FEATHER = 0.03
"""Blur of a mask's edge, as a fraction of the crop's side."""
EDGE = 0.06
"""Width of the fade to the source at the crop's edges, as a fraction of its side."""


def recorded_source_video(dataset: Path) -> Path | None:
    """The video ``rad-process`` made the dataset from, when it says so and the file is still there."""
    record = dataset / ".rad-process" / "steps" / "frames.json"
    try:
        video = Path(json.loads(record.read_text())["settings"]["video"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return video if video.is_file() else None


def _rect_mask(rect: Int[np.ndarray, " 4"], height: int, width: int) -> Float[np.ndarray, "h w"]:
    x0, y0, x1, y1 = (int(v) for v in rect)
    mask = np.zeros((height, width), np.float32)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 1.0
    return mask


def _edge_fade(height: int, width: int) -> Float[np.ndarray, "h w"]:
    """1 inside, falling linearly to 0 at the image's border over ``EDGE`` of its side."""
    ramp = lambda n: np.clip(np.minimum(np.arange(n), n - 1 - np.arange(n)) / (EDGE * n), 0, 1)  # noqa: E731
    return (ramp(height)[:, None] * ramp(width)[None, :]).astype(np.float32)


def blend_mask(
    region: PasteRegion,
    opacity: Float[np.ndarray, "h w"],
    face_rect: Int[np.ndarray, " 4"],
    lower_face_rect: Int[np.ndarray, " 4"],
) -> Float[np.ndarray, "h w"]:
    """Where the render replaces the source (0..1), at the render's size; rectangles in the render's pixels."""
    height, width = opacity.shape
    if region == "head":
        hard = (opacity > 0.5).astype(np.float32)
    elif region == "face":
        hard = _rect_mask(face_rect, height, width)
    else:
        hard = _rect_mask(lower_face_rect, height, width)
    sigma = FEATHER * max(height, width)
    radius = max(1, int(round(2 * sigma)))
    inside = cv2.erode(hard, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))  # the feather stays inside
    # a kernel no wider than the erosion: the soft edge never leaves the region
    soft = cv2.GaussianBlur(inside, (2 * radius + 1, 2 * radius + 1), sigma) if inside.any() else inside
    return np.clip(soft, 0, 1) * _edge_fade(height, width)


def paste(
    record: CropRecord,
    render: UInt8[np.ndarray, "h w 3"],
    mask: Float[np.ndarray, "h w"],
    frame: UInt8[np.ndarray, "H W 3"],
) -> UInt8[np.ndarray, "H W 3"]:
    """The source ``frame`` with ``render`` blended into its crop box by ``mask`` (both at the render's size)."""
    x, y, w, h = record.crop
    if frame.shape[:2] != (record.source_height, record.source_width):
        raise ValueError(
            f"a {record.source_width}x{record.source_height} source frame is expected, got "
            f"{frame.shape[1]}x{frame.shape[0]}"
        )
    interpolation = cv2.INTER_AREA if w < render.shape[1] else cv2.INTER_CUBIC
    # the crop may reach past the frame (a head near its edge): only the part inside is pasted
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    scaled = cv2.resize(render, (w, h), interpolation=interpolation)[y0 - y : y1 - y, x0 - x : x1 - x]
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)[y0 - y : y1 - y, x0 - x : x1 - x, None]
    result = frame.copy()
    under = result[y0:y1, x0:x1].astype(np.float32)
    result[y0:y1, x0:x1] = np.clip(under + alpha * (scaled.astype(np.float32) - under) + 0.5, 0, 255).astype(np.uint8)
    return result


class PastedVideo:
    """The output video of ``--paste-back``: each render blended into its pose's source frame, at the source's
    resolution and frame rate (a render is repeated or skipped where the rates differ), with the driving audio."""

    def __init__(
        self,
        path: Path,
        record: CropRecord,
        source: "SourceFrames",
        region: PasteRegion,
        render_fps: float,
        render_frames: int,
        audio: Float[np.ndarray, " samples"] | None,
    ) -> None:
        from rad_nerfstudio.io.video import Mp4Writer

        self.record, self.source, self.render_fps = record, source, render_fps
        self.region: PasteRegion = region
        self.width, self.height = record.source_width // 2 * 2, record.source_height // 2 * 2
        self.total = int(round(render_frames / render_fps * float(source.fps)))
        self.written = 0
        self.writer = Mp4Writer(path, self.width, self.height, source.fps, audio)

    def add(
        self,
        index: int,
        render: UInt8[np.ndarray, "h w 3"],
        opacity: Float[np.ndarray, "h w"],
        face_rect: Int[np.ndarray, " 4"],
        lower_face_rect: Int[np.ndarray, " 4"],
        source_seconds: float,
    ) -> None:
        """Render ``index`` (of the pose whose source frame is at ``source_seconds``): the output frames it covers
        (pasted once, written as often as the source's rate asks; none where the source is slower)."""
        fps = float(self.source.fps)
        pasted = None
        while self.written < self.total and round(self.written * self.render_fps / fps) <= index:
            if pasted is None:
                mask = blend_mask(self.region, opacity, face_rect, lower_face_rect)
                frame = self.source.frame(self.source.index_at(source_seconds))
                pasted = np.ascontiguousarray(paste(self.record, render, mask, frame)[: self.height, : self.width])
            self.writer.write(pasted)
            self.written += 1

    def __enter__(self) -> "PastedVideo":
        self.writer.__enter__()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.writer.__exit__(*exc)
