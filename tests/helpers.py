"""Readers (and a clip writer) used by several tests: plain numpy / OpenCV / PyAV, not the code under test."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import soundfile


def read_transforms(root: Path, split: str) -> dict:
    return json.loads((root / f"transforms_{split}.json").read_text())


def all_frames(root: Path) -> list[dict]:
    return read_transforms(root, "train")["frames"] + read_transforms(root, "val")["frames"]


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"cannot read {path}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 and image.shape[2] == 3 else image


def audio_clip(sample_dir: Path, path: Path, seconds: float) -> Path:
    """The first ``seconds`` of the sample's speech, written to ``path``."""
    audio, rate = soundfile.read(sample_dir / "aud.wav", dtype="float32")
    soundfile.write(path, audio[: int(seconds * rate)], rate)
    return path


def read_mp4_streams(path: Path) -> dict:
    """Decoded video frames ``[n, h, w, 3]`` and the audio stream's duration in seconds (0 without one)."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = container.streams.audio
        samples = sum(frame.samples for frame in container.decode(audio=0)) if audio else 0
        rate = audio[0].rate if audio else 0
    return {"frames": np.stack(frames), "audio_seconds": samples / rate if rate else 0.0}
