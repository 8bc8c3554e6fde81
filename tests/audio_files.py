"""Writers of small audio test files in every container we read (PyAV / soundfile, offline)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile


def tone(seconds: float, rate: int, freq: float = 220.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.4 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def write_with_pyav(path: Path, samples: np.ndarray, rate: int, codec: str, video: bool = False) -> Path:
    """Encode mono float samples with ``codec`` into ``path`` (container from the suffix), optionally with video."""
    with av.open(str(path), "w") as container:
        if video:
            stream_v = container.add_stream("libx264", rate=25)
            stream_v.width = stream_v.height = 32
            stream_v.pix_fmt = "yuv420p"
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame_size = 1152 if "mp3" in codec else 1024
        for start in range(0, samples.size, frame_size):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + frame_size], format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if video:
            for k in range(int(samples.size / rate * 25)):
                image = av.VideoFrame.from_ndarray(np.full((32, 32, 3), k % 255, np.uint8), format="rgb24")
                container.mux(stream_v.encode(image))
            container.mux(stream_v.encode(None))
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path
