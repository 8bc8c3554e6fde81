"""A dataset's ``aud.wav`` checked against its frames, and audio features checked against both.

Whenever ``aud.wav`` is present it is read and must cover the frames, whether the features are computed from it,
read from a cache or imported; imported features must then be as long as it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from jaxtyping import Float
from torch import Tensor

from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE
from rad_nerfstudio.errors import DatasetError

AUDIO_FILE = "aud.wav"
FRAME_SLACK = 1
"""Features may be one frame short (the anchors clamp the last frame's index); more is an error."""
FEATURE_AUDIO_SLACK = 0.01
"""Imported features may differ from ``aud.wav`` by this fraction of its frames (at least 2 frames)."""


@dataclass(frozen=True)
class DatasetAudio:
    """A dataset's speech, read and checked."""

    path: Path
    waveform: Float[Tensor, " samples"]
    """Mono at ``AUDIO_SAMPLE_RATE`` (resampled when the file has another rate)."""
    file_rate: int
    """The file's own sample rate."""
    frames: int
    """Video frames the audio covers."""


def check_frame_coverage(path: Path, available: int, required: int, fps: float) -> None:
    """Audio (features or samples, in frames) must cover every frame, and not be far longer."""
    if available < required - FRAME_SLACK:
        short = required - available
        raise DatasetError(
            path,
            f"covers {available} frames but the dataset has {required}: {short} frames ({short / fps:.2f} s) short",
        )
    if available > required + max(2 * fps, 0.1 * required):
        raise DatasetError(
            path,
            f"covers {available / fps:.2f} s but the frames last {required / fps:.2f} s: far longer; "
            "is it this video's audio?",
        )


def read_dataset_audio(root: Path, num_frames: int, fps: float) -> DatasetAudio | None:
    """``root/aud.wav`` read and checked against the frames (readable, not empty, covering them); None if absent.

    Raises:
        AudioInputError: unreadable or empty audio. DatasetError: audio that does not cover the frames.
    """
    import soundfile

    from rad_nerfstudio.audio.reading import load_audio
    from rad_nerfstudio.errors import AudioInputError

    path = Path(root) / AUDIO_FILE
    if not path.exists():
        return None
    waveform = load_audio(path)  # AudioInputError naming the file when unreadable or empty
    try:
        file_rate = int(soundfile.info(str(path)).samplerate)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise AudioInputError(path, f"cannot be read as audio ({err})") from err
    frames = math.ceil(waveform.shape[0] / AUDIO_SAMPLE_RATE * fps - 1e-6)
    check_frame_coverage(path, frames, num_frames, fps)
    return DatasetAudio(path, waveform, file_rate, frames)


def check_features_match_audio(features: Path, feature_frames: int, audio: DatasetAudio, fps: float) -> None:
    """Imported features must be as long as the audio beside them (else they belong to another recording)."""
    slack = max(2, math.ceil(FEATURE_AUDIO_SLACK * audio.frames))
    if abs(feature_frames - audio.frames) > slack:
        raise DatasetError(
            features,
            f"covers {feature_frames} frames ({feature_frames / fps:.2f} s) but {audio.path} lasts {audio.frames} "
            f"frames ({audio.frames / fps:.2f} s): the features were not computed from this audio; recompute them, "
            f"or remove the feature file to use features computed from {audio.path.name}",
        )
