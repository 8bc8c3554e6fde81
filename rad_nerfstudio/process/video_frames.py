"""Frames of a video at the dataset's 25 fps (PyAV), optionally cropped and resized to a square portrait."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Tuple

import cv2
import numpy as np
from jaxtyping import UInt8

from rad_nerfstudio.constants import VIDEO_FPS
from rad_nerfstudio.errors import InputFileError


class VideoInputError(InputFileError):
    """A video cannot be used."""


@dataclass(frozen=True)
class FrameGeometry:
    """Crop rectangle ``(x, y, w, h)`` in source pixels (None: whole frame), then resize to ``size`` (0: keep)."""

    crop: Tuple[int, int, int, int] | None = None
    size: int = 0

    def apply(self, frame: UInt8[np.ndarray, "h w 3"]) -> UInt8[np.ndarray, "s t 3"]:
        if self.crop is not None:
            x, y, w, h = self.crop
            frame = frame[y : y + h, x : x + w]
        if self.size and frame.shape[:2] != (self.size, self.size):
            interpolation = cv2.INTER_AREA if frame.shape[0] > self.size else cv2.INTER_CUBIC
            frame = cv2.resize(frame, (self.size, self.size), interpolation=interpolation)
        return np.ascontiguousarray(frame)


def parse_crop(text: str) -> Tuple[int, int, int, int] | None:
    """``none`` or ``x,y,w,h`` (pixels)."""
    if text.strip().lower() == "none":
        return None
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--crop must be 'none' or x,y,w,h in pixels, got {text!r}")
    x, y, w, h = (int(p) for p in parts)
    if w <= 0 or h <= 0:
        raise ValueError(f"--crop needs a positive width and height, got {text!r}")
    return x, y, w, h


def probe_video(path: Path) -> Tuple[int, int, float]:
    """Width, height and duration (seconds) of a video's first video stream."""
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
            return stream.codec_context.width, stream.codec_context.height, duration
    except av.FFmpegError as error:
        raise VideoInputError(path, f"cannot be opened as a video ({error})") from error


def read_frames(path: Path, geometry: FrameGeometry = FrameGeometry()) -> Iterator[UInt8[np.ndarray, "h w 3"]]:
    """RGB frames at 25 fps: for each 1/25 s tick, the latest source frame shown by then (repeats or drops
    frames of other rates, as a player would)."""
    import av

    width, height, _ = probe_video(path)
    if geometry.crop is not None:
        x, y, w, h = geometry.crop
        if x + w > width or y + h > height:
            raise VideoInputError(path, f"crop {geometry.crop} does not fit its {width}x{height} frames")
    tick, previous, time = 0, None, 0.0
    half = 0.5 / VIDEO_FPS
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                time = float(frame.time) if frame.time is not None else tick / VIDEO_FPS
                current = geometry.apply(frame.to_ndarray(format="rgb24"))
                while tick / VIDEO_FPS < time - half:  # ticks nearer the previous frame
                    yield current if previous is None else previous
                    tick += 1
                previous = current
    except av.FFmpegError as error:
        raise VideoInputError(path, f"its video stream cannot be decoded at frame {tick} ({error})") from error
    while previous is not None and tick / VIDEO_FPS < time + half - 1e-9:  # the last frame's own ticks
        yield previous
        tick += 1
