"""A driving audio for rendering: per-frame feature windows made the way the model's training features were,
plus the waveform to mux into the video."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Float
from torch import Tensor

from rad_nerfstudio.audio.features import load_feature_windows
from rad_nerfstudio.audio.reading import load_audio
from rad_nerfstudio.audio.windows import frame_windows
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE
from rad_nerfstudio.errors import AudioInputError, DatasetError


@dataclass(frozen=True)
class DrivingAudio:
    """``windows[i]`` drives video frame ``i``; ``waveform`` (16 kHz mono) is muxed when present."""

    windows: Float[Tensor, "frames 16 dim"]
    waveform: Float[np.ndarray, " samples"] | None
    source: Path

    @property
    def num_frames(self) -> int:
        return int(self.windows.shape[0])


def load_driving_audio(
    path: Path, extractor: str, audio_dim: int, fps: float, audio_track: Path | None = None
) -> DrivingAudio:
    """Features of ``path`` (any audio / video file with sound, or a feature ``.npy``) for a model trained on
    ``extractor`` features of ``audio_dim`` channels.

    Features are computed with the same extractor as at training time; a model trained on imported features
    (DeepSpeech, esperanto, a custom .npy) needs the driving audio's features as an ``.npy`` of the same kind,
    with ``audio_track`` giving the sound to mux.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise AudioInputError(path, "does not exist")
        try:
            rows = np.load(path, mmap_mode="r").shape[0]
            windows = load_feature_windows(path, math.ceil(rows / 2), fps)
        except (DatasetError, ValueError, OSError) as err:
            raise AudioInputError(path, str(getattr(err, "problem", err))) from err
        waveform = None if audio_track is None else load_audio(audio_track).numpy()
    else:
        waveform_tensor = load_audio(path)
        windows = _compute_windows(path, waveform_tensor, extractor, fps)
        waveform = (load_audio(audio_track) if audio_track is not None else waveform_tensor).numpy()
    if windows.shape[-1] != audio_dim:
        raise AudioInputError(
            path,
            f"gives {windows.shape[-1]}-channel audio features, but the model was trained on '{extractor}' features "
            f"with {audio_dim} channels: drive it with features made the same way",
        )
    if windows.shape[0] == 0:
        raise AudioInputError(path, "is shorter than one video frame")
    return DrivingAudio(windows, waveform, path)


def _compute_windows(path: Path, waveform: Tensor, extractor: str, fps: float) -> Tensor:
    from rad_nerfstudio.audio.extractors import EXTRACTORS, make_extractor

    if extractor not in EXTRACTORS:
        raise AudioInputError(
            path,
            f"cannot drive this model directly: it was trained on '{extractor}' features imported from the dataset, "
            f"which rad-nerfstudio cannot compute (it computes {', '.join(sorted(EXTRACTORS))}). Pass this audio's "
            "features as an .npy with --audio, and the audio itself with --audio-track",
        )
    frames = math.ceil(waveform.shape[0] / AUDIO_SAMPLE_RATE * fps - 1e-6)
    features = make_extractor(extractor)(waveform)
    if features.shape[0] < 1 or frames < 1:
        raise AudioInputError(path, f"is too short ({waveform.shape[0] / AUDIO_SAMPLE_RATE:.3f} s) to drive a frame")
    return frame_windows(features, frames, fps)
