"""Frames of a video at the dataset's 25 fps (PyAV), upright, optionally cropped and resized to a square portrait.

Frames are streamed (decoded, turned upright, cropped and resized one at a time), so long 4K clips never sit in
memory. "Upright" applies the rotation of the stream's display matrix (phones record portrait video as rotated
landscape); every pixel coordinate here is in the upright frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, NamedTuple, Tuple

import cv2
import numpy as np
from jaxtyping import UInt8

from rad_nerfstudio.constants import VIDEO_FPS
from rad_nerfstudio.errors import InputFileError


class VideoInputError(InputFileError):
    """A video cannot be used."""


CropBox = Tuple[int, int, int, int]
"""``(x, y, w, h)`` in upright source pixels."""


@dataclass(frozen=True)
class FrameGeometry:
    """Crop rectangle ``(x, y, w, h)`` in upright source pixels (None: whole frame; ``"auto"``: found around the
    head by ``rad_nerfstudio.process.auto_crop`` before reading), then resize to ``size`` (0: keep)."""

    crop: CropBox | Literal["auto"] | None = None
    size: int = 0

    def apply(self, frame: UInt8[np.ndarray, "h w 3"]) -> UInt8[np.ndarray, "s t 3"]:
        if self.crop == "auto":
            raise ValueError("an automatic crop must be found (rad_nerfstudio.process.auto_crop) before reading")
        if self.crop is not None:
            x, y, w, h = self.crop
            frame = frame[y : y + h, x : x + w]
        if self.size and frame.shape[:2] != (self.size, self.size):
            interpolation = cv2.INTER_AREA if frame.shape[0] > self.size else cv2.INTER_CUBIC
            frame = cv2.resize(frame, (self.size, self.size), interpolation=interpolation)
        return np.ascontiguousarray(frame)


def parse_crop(text: str) -> CropBox | Literal["auto"] | None:
    """``auto``, ``none`` or ``x,y,w,h`` (pixels)."""
    if text.strip().lower() in ("none", "auto"):
        return "auto" if text.strip().lower() == "auto" else None
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--crop must be 'auto', 'none' or x,y,w,h in pixels, got {text!r}")
    x, y, w, h = (int(p) for p in parts)
    if w <= 0 or h <= 0:
        raise ValueError(f"--crop needs a positive width and height, got {text!r}")
    return x, y, w, h


def quarter_turns(frame) -> int:  # noqa: ANN001 - av.VideoFrame, imported lazily
    """Counter-clockwise quarter turns that make a decoded frame upright (its display matrix; PyAV >= 13)."""
    return int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) % 4


def upright(image: np.ndarray, turns: int) -> np.ndarray:
    """``image`` turned ``turns`` quarter turns counter-clockwise."""
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class VideoProbe(NamedTuple):
    """A video's first video stream: upright size, duration and the quarter turns that make it upright."""

    width: int
    height: int
    duration: float
    turns: int


def probe_video(path: Path) -> VideoProbe:
    """Upright width, height, duration (seconds) and quarter turns of a video's first video stream."""
    import av

    if not path.is_file():
        raise VideoInputError(path, "does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoInputError(path, "has no video stream")
            stream = container.streams.video[0]
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            if not duration and container.duration:
                duration = container.duration / 1e6
            width, height = stream.codec_context.width, stream.codec_context.height
            first = next(container.decode(stream), None)
            turns = 0 if first is None else quarter_turns(first)
            if turns % 2:
                width, height = height, width
            return VideoProbe(width, height, duration, turns)
    except av.FFmpegError as error:
        raise VideoInputError(path, f"cannot be opened as a video ({error})") from error


def sample_frames(path: Path, fps: float, max_side: int) -> Iterator[Tuple[float, UInt8[np.ndarray, "h w 3"]]]:
    """``(time, upright RGB frame)`` about ``fps`` times a second, shrunk (never enlarged) to at most ``max_side``
    pixels on the long side: a cheap look at a whole clip. Frames in between are decoded but not converted."""
    import av

    next_time = -1.0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                time = float(frame.time) if frame.time is not None else next_time + 1.0 / fps
                if time < next_time:
                    continue
                next_time = time + 1.0 / fps - 1e-6
                shrink = min(1.0, max_side / max(frame.width, frame.height))
                width, height = max(2, round(frame.width * shrink)), max(2, round(frame.height * shrink))
                image = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
                yield time, upright(image, quarter_turns(frame))
    except av.FFmpegError as error:
        raise VideoInputError(path, f"its video stream cannot be decoded near {next_time:.2f} s ({error})") from error


def read_frames(path: Path, geometry: FrameGeometry = FrameGeometry()) -> Iterator[UInt8[np.ndarray, "h w 3"]]:
    """Upright RGB frames at 25 fps: for each 1/25 s tick, the source frame nearest in time by its timestamp
    (repeats or drops frames of other or variable rates, as a player would)."""
    import av

    width, height, _, _ = probe_video(path)
    if geometry.crop == "auto":
        raise ValueError("an automatic crop must be found (rad_nerfstudio.process.auto_crop) before reading")
    if geometry.crop is not None:
        x, y, w, h = geometry.crop
        if x + w > width or y + h > height:
            raise VideoInputError(path, f"crop {geometry.crop} does not fit its {width}x{height} frames")
    tick, previous, time = 0, None, 0.0
    half = 0.5 / VIDEO_FPS
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                previous_time = time
                time = float(frame.time) if frame.time is not None else tick / VIDEO_FPS
                current = geometry.apply(upright(frame.to_ndarray(format="rgb24"), quarter_turns(frame)))
                boundary = time - half if previous is None else (previous_time + time) / 2
                while tick / VIDEO_FPS < boundary - 1e-9:  # ticks nearer the previous frame (or before the first)
                    yield current if previous is None else previous
                    tick += 1
                previous = current
    except av.FFmpegError as error:
        raise VideoInputError(path, f"its video stream cannot be decoded at frame {tick} ({error})") from error
    while previous is not None and tick / VIDEO_FPS < time + half - 1e-9:  # the last frame's own ticks
        yield previous
        tick += 1
