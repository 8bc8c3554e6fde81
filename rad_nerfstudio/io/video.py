"""MP4 output with the driving audio muxed in, through PyAV (no system ffmpeg needed)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Type

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.io.atomic import atomic_path


class Mp4Writer:
    """Writes H.264 video frames and an AAC audio track to an mp4, atomically.

    The audio is encoded first (it is known up front); frames are then added one at a time, so
    long videos never sit in memory. The file appears at ``path`` only when ``close`` succeeds.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: int,
        audio: Float[np.ndarray, " samples"] | None = None,
        sample_rate: int = 16000,
        crf: int = 18,
    ) -> None:
        import av  # lazy: PyAV loads FFmpeg libraries

        if width % 2 or height % 2:
            raise ValueError(f"H.264 (yuv420p) needs even frame sizes, got {width}x{height}")
        self._atomic = atomic_path(Path(path))
        self._tmp = self._atomic.__enter__()
        self._container = av.open(str(self._tmp), mode="w")
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        self._video.options = {"crf": str(crf), "preset": "medium"}
        self._video.codec_context.thread_count = 1  # deterministic output
        if audio is not None:
            self._write_audio(np.asarray(audio, dtype=np.float32), sample_rate)

    def _write_audio(self, audio: np.ndarray, sample_rate: int) -> None:
        import av

        stream = self._container.add_stream("aac", rate=sample_rate)
        stream.layout = "mono"
        samples = np.clip(audio, -1.0, 1.0)
        chunk = 1024
        for start in range(0, samples.size, chunk):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + chunk], format="flt", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = start
            self._container.mux(stream.encode(frame))
        self._container.mux(stream.encode(None))

    def write(self, rgb: UInt8[np.ndarray, "h w 3"]) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        self._container.mux(self._video.encode(frame))

    def close(self) -> None:
        self._container.mux(self._video.encode(None))
        self._container.close()
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        self._container.close()
        self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(
        self, exc_type: Type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
