"""Read speech from audio or video files as 16 kHz mono (soundfile or PyAV, never ``torchaudio.load``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE
from rad_nerfstudio.errors import AudioInputError

SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg")
PYAV_SUFFIXES = (".mp3", ".m4a", ".aac", ".mp4", ".mov", ".mkv", ".webm")
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES + PYAV_SUFFIXES


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise AudioInputError(path, f"cannot be read as audio ({err})") from err
    return data.mean(axis=1), int(rate)


def _read_pyav(path: Path, sample_rate: int) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise AudioInputError(path, f"cannot be opened as a media file ({err})") from err
    with container:
        if not container.streams.audio:
            raise AudioInputError(path, "has no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as err:
            raise AudioInputError(path, f"its audio stream cannot be decoded ({err})") from err
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), sample_rate


def load_audio(path: Path | str, sample_rate: int = AUDIO_SAMPLE_RATE) -> Float[Tensor, " samples"]:
    """Mono float32 waveform of an audio or video file, resampled to ``sample_rate``.

    Raises:
        AudioInputError: missing file, unknown extension, no audio stream, undecodable, empty or non-finite audio.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(path, "does not exist")
    suffix = path.suffix.lower()
    if suffix in SOUNDFILE_SUFFIXES:
        samples, rate = _read_soundfile(path)
    elif suffix in PYAV_SUFFIXES:
        samples, rate = _read_pyav(path, sample_rate)
    else:
        raise AudioInputError(path, f"unknown audio extension '{suffix}' (supported: {', '.join(AUDIO_SUFFIXES)})")
    if samples.size == 0:
        raise AudioInputError(path, "contains no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioInputError(path, "contains NaN or infinite samples")
    waveform = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if rate != sample_rate:
        import torchaudio.functional

        waveform = torchaudio.functional.resample(waveform, rate, sample_rate)
    return waveform
