"""MP4 output with the driving audio muxed in, through PyAV (no system ffmpeg needed)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Type

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.io.atomic import atomic_path, full_disk_error


def rgb_to_yuv420p(
    rgb: UInt8[np.ndarray, "h w 3"],
) -> tuple[UInt8[np.ndarray, "h w"], UInt8[np.ndarray, "h/2 w/2"], UInt8[np.ndarray, "h/2 w/2"]]:
    """BT.601 limited-range Y, U, V planes with 2x2-averaged chroma, computed deterministically."""
    h, w = rgb.shape[:2]
    r, g, b = (rgb[..., k].astype(np.float32) / 255.0 for k in range(3))
    y = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128.0 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128.0 + 112.0 * r - 93.786 * g - 18.214 * b

    def to_uint8(c: np.ndarray) -> np.ndarray:
        return np.clip(np.round(c), 0, 255).astype(np.uint8)

    def subsample(c: np.ndarray) -> np.ndarray:
        return to_uint8(c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))

    return to_uint8(y), subsample(u), subsample(v)


def _yuv420p_frame(rgb: UInt8[np.ndarray, "h w 3"]):
    import av

    frame = av.VideoFrame(rgb.shape[1], rgb.shape[0], "yuv420p")
    for plane, values in zip(frame.planes, rgb_to_yuv420p(rgb), strict=True):
        padded = np.zeros((values.shape[0], plane.line_size), dtype=np.uint8)
        padded[:, : values.shape[1]] = values
        plane.update(padded.tobytes())
    return frame


class Mp4Writer:
    """Writes H.264 video frames and an AAC audio track to an mp4, atomically.

    The decoded content is reproducible; the H.264 bytes may differ in a few packets between runs (x264's
    analysis reads uninitialised padding of FFmpeg's frame buffers at some sizes).

    Frames are added one at a time and the audio is interleaved with them, so long videos never sit in
    memory. The file appears at ``path`` only when ``close`` succeeds; until then it is a hidden ``.partial`` file
    beside it (removed on any error; a killed process leaves nothing named ``*.mp4``). A full disk raises
    :class:`~rad_nerfstudio.errors.OutputFileError`.
    """

    AUDIO_CHUNK = 1024
    """Samples per encoded audio frame (AAC's frame size)."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: int | Fraction,
        audio: Float[np.ndarray, " samples"] | None = None,
        sample_rate: int = 16000,
        crf: int = 18,
    ) -> None:
        import av  # lazy: PyAV loads FFmpeg libraries

        if width % 2 or height % 2:
            raise ValueError(f"H.264 (yuv420p) needs even frame sizes, got {width}x{height}")
        self._fps = Fraction(fps)  # a source's own rate may be fractional (30000/1001)
        self._sample_rate = sample_rate
        self._audio = None if audio is None else np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        self._audio_done = 0
        self._frames = 0
        self._path = Path(path)
        self._finished = False
        self._atomic = atomic_path(self._path, keep_suffix=False)
        self._tmp = self._atomic.__enter__()
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
        # Frames arrive as yuv420p converted by ``rgb_to_yuv420p`` (FFmpeg's threaded converter varies with machine
        # load); the stream is tagged BT.601 limited range to match that conversion.
        self._video.options = {
            "crf": str(crf),
            "preset": "medium",
            "threads": "1",
            "x264-params": "colorprim=smpte170m:transfer=smpte170m:colormatrix=smpte170m:range=tv",
        }
        self._audio_stream = None
        if self._audio is not None:
            self._audio_stream = self._container.add_stream("aac", rate=sample_rate)
            self._audio_stream.layout = "mono"
        # Open every encoder, with its time base, before the first packet is muxed (which writes the header).
        self._video.codec_context.time_base = 1 / self._fps
        self._video.codec_context.open()
        if self._audio_stream is not None:
            self._audio_stream.codec_context.time_base = Fraction(1, sample_rate)
            self._audio_stream.codec_context.open()

    def _encode_audio_until(self, end_sample: int) -> None:
        import av

        if self._audio is None or self._audio_stream is None:
            return
        end_sample = min(end_sample, self._audio.size)
        while self._audio_done < end_sample:
            start = self._audio_done
            frame = av.AudioFrame.from_ndarray(
                self._audio[None, start : start + self.AUDIO_CHUNK], format="flt", layout="mono"
            )
            frame.sample_rate = self._sample_rate
            frame.pts = start
            self._container.mux(self._audio_stream.encode(frame))
            self._audio_done = min(start + self.AUDIO_CHUNK, self._audio.size)

    def write(self, rgb: UInt8[np.ndarray, "h w 3"]) -> None:
        """Append one RGB frame (and the audio up to its end)."""
        try:
            frame = _yuv420p_frame(rgb)
            frame.pts = self._frames
            self._frames += 1
            self._container.mux(self._video.encode(frame))
            self._encode_audio_until(int(self._frames * self._sample_rate // self._fps))
        except OSError as err:
            self._fail(err)

    def close(self) -> None:
        """Flush both encoders and move the file into place."""
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None and self._audio_stream is not None:
                self._encode_audio_until(self._audio.size)
                self._container.mux(self._audio_stream.encode(None))
            self._container.close()
        except OSError as err:
            self._fail(err)
        self._finished = True
        self._atomic.__exit__(None, None, None)

    def _fail(self, err: OSError) -> None:
        """Drop the partial file; a full disk becomes a clear error."""
        self.abort()
        clear = full_disk_error(self._path, err)
        if clear is not None:
            raise clear from err
        raise err

    def abort(self) -> None:
        """Drop the partial file (idempotent)."""
        if self._finished:
            return
        self._finished = True
        try:
            self._container.close()
        except (OSError, ValueError):  # the container may be half-written; it is deleted next
            pass
        finally:
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(
        self, exc_type: Type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and not self._finished:
            self.close()
        else:
            self.abort()
