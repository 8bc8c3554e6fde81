"""Random access to a long source video's upright frames, streamed: a small cache, a seek for each backward chunk."""

from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import numpy as np
from jaxtyping import UInt8

from rad_nerfstudio.process.video_frames import VideoInputError, quarter_turns, upright


class SourceFrames:
    """The frames of ``path`` by index (at its own frame rate). Forward runs decode sequentially; a request behind
    the decoder seeks to ``cache_frames - 1`` frames before it and decodes forwards, so a backward run (a ping-pong
    of training poses) costs one seek per chunk and never more than ``cache_frames`` frames sit in memory."""

    def __init__(self, path: Path, cache_frames: int = 32) -> None:
        import av

        self.path = Path(path)
        try:
            self._container = av.open(str(path))
        except av.FFmpegError as error:
            raise VideoInputError(path, f"cannot be opened as a video ({error})") from error
        if not self._container.streams.video:
            raise VideoInputError(path, "has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        if not rate:
            raise VideoInputError(path, "has no frame rate")
        self.fps: Fraction = Fraction(rate)
        time_base = self._stream.time_base
        duration = (
            float(self._stream.duration * time_base)
            if self._stream.duration and time_base
            else float(self._container.duration or 0) / 1e6
        )
        self.frame_count = max(1, int(self._stream.frames) or int(round(duration * float(self.fps))))
        self._start = self._stream.start_time or 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = max(2, cache_frames)
        self._frames = None  # the running decoder
        self._next = 0  # index the running decoder yields next

    def index_at(self, seconds: float) -> int:
        """The frame nearest to ``seconds`` (clamped to the video)."""
        return int(np.clip(round(seconds * float(self.fps)), 0, self.frame_count - 1))

    def _index_of(self, frame) -> int:  # noqa: ANN001 - av.VideoFrame
        if frame.pts is None:
            return self._next
        return int(round(float((frame.pts - self._start) * self._stream.time_base) * float(self.fps)))

    def _restart(self, index: int) -> None:
        """Seek to the keyframe at or before frame ``index``; decoding resumes there."""
        time_base = self._stream.time_base or Fraction(1, 90000)
        target = int(index / self.fps / time_base) + self._start
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._container.decode(self._stream)
        self._next = -1  # unknown until the first frame

    def _keep(self, index: int, image: np.ndarray) -> None:
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_frames:
            self._cache.popitem(last=False)

    def frame(self, index: int) -> UInt8[np.ndarray, "height width 3"]:
        """Upright RGB frame ``index`` (clamped to the video)."""
        import av

        index = int(np.clip(index, 0, self.frame_count - 1))
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        behind = self._frames is None or (self._next >= 0 and index < self._next)
        if behind or index > self._next + 4 * self._cache_frames:
            self._restart(max(0, index - self._cache_frames + 1))
        last = None
        try:
            assert self._frames is not None
            for decoded in self._frames:
                found = self._index_of(decoded)
                self._next = found + 1
                if found < index - self._cache_frames + 1:
                    continue  # between the keyframe and the chunk
                last = (found, upright(decoded.to_ndarray(format="rgb24"), quarter_turns(decoded)))
                self._keep(*last)
                if found >= index:
                    break
        except av.FFmpegError as error:
            raise VideoInputError(self.path, f"its video cannot be decoded near frame {index} ({error})") from error
        if index in self._cache:
            return self._cache[index]
        if last is None:  # past the end: the last frame decoded
            self.frame_count = max(1, min(self.frame_count, index))
            return self.frame(self.frame_count - 1)
        return last[1]

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "SourceFrames":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
