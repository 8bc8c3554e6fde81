"""Per-frame audio windows for a dataset: imported from the anchors' ``.npy`` files or computed and cached.

``--audio-features`` choices: ``auto`` (an existing anchors' npy, else ``mel`` computed from ``aud.wav``
and cached), ``mel``, ``phones`` (pocketsphinx's phone classes), ``whisper`` (Whisper base's encoder),
``mel-whisper`` (both side by side), ``wav2vec2``, ``hubert`` (computed with
torchaudio unless the anchors' file exists), ``deepspeech``, ``esperanto`` (imports only), or a path to an
``.npy`` file. ``aud.wav``, when present, is always checked against the frames, and imported features against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from rad_nerfstudio.audio.dataset_audio import (
    AUDIO_FILE,
    DatasetAudio,
    check_features_match_audio,
    check_frame_coverage,
    read_dataset_audio,
)
from rad_nerfstudio.audio.feature_cache import cache_record, read_cache, stale_reason, write_cache
from rad_nerfstudio.audio.windows import WINDOW, frame_windows
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE
from rad_nerfstudio.errors import DatasetError, OutputFileError

IMPORTED_FILES: Dict[str, Tuple[str, ...]] = {
    "deepspeech": ("aud_ds.npy", "aud.npy"),
    "esperanto": ("aud_eo.npy",),
    "hubert": ("aud_hu.npy",),
}
"""Feature files written by RAD-NeRF's / ER-NeRF's preprocessing, in ``auto``'s order of preference."""
CACHE_FILES: Dict[str, str] = {
    "mel": "aud_mel.npy",
    "phones": "aud_phones.npy",
    "whisper": "aud_whisper.npy",
    "mel-whisper": "aud_mel_whisper.npy",
    "wav2vec2": "aud_wav2vec2.npy",
    "hubert": "aud_hubert.npy",
}
"""Where computed features are cached inside the dataset, each with a ``.json`` record of its audio and extractor
(our own files: a stale one is replaced; the anchors' and user's feature files are never written)."""
CHOICES = ("auto", "mel", "phones", "whisper", "mel-whisper", "wav2vec2", "hubert", "deepspeech", "esperanto")


@dataclass(frozen=True)
class AudioFeatureTable:
    """One ``[16, C]`` window per audio frame index (the transforms' ``aud_id``)."""

    windows: Float[Tensor, "frames 16 dim"]
    extractor: str
    """Recorded so that rendering can refuse driving audio processed differently."""
    source: Path

    @property
    def dim(self) -> int:
        return int(self.windows.shape[-1])


def load_feature_windows(path: Path, num_frames: int, fps: float = 25.0) -> Float[Tensor, "frames 16 dim"]:
    """Windows from an ``.npy`` of any of the anchors' shapes.

    Accepted: ``[N, 16, C]`` per-frame windows (DeepSpeech ``[N,16,29]``, esperanto ``[N,16,44]``, HuBERT
    ``[N,16,1024]``); ``[N, 2, C]`` two 50 Hz rows per frame; ``[T, C]`` rows at 50 Hz (``T ~ 2N``) or one per
    frame (``T ~ N``).
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DatasetError(path, f"cannot be read as a numpy array ({err})") from err
    if not np.issubdtype(array.dtype, np.floating):
        hint = " (argmax labels? supply the [N, 16, C] logits)" if array.ndim == 2 and array.shape[1] == WINDOW else ""
        raise DatasetError(path, f"holds {array.dtype} values, expected float features{hint}")
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        raise DatasetError(
            path, f"contains NaN or infinite values ({len(bad)} entries, first at index {bad[0].tolist()})"
        )
    features = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if array.ndim == 3 and array.shape[1] == WINDOW:
        return features
    if array.ndim == 3 and array.shape[1] == 2:
        rows = features.reshape(-1, features.shape[-1])
        return frame_windows(rows, math.ceil(rows.shape[0] / 2), fps)
    if array.ndim == 2 and num_frames > 0:
        rows = array.shape[0]
        if abs(rows - 2 * num_frames) <= max(4, 0.02 * num_frames):
            return frame_windows(features, math.ceil(rows / 2), fps)
        if abs(rows - num_frames) <= max(2, 0.01 * num_frames):
            return frame_windows(features.repeat_interleave(2, dim=0), rows, fps)
        raise DatasetError(
            path, f"has {rows} rows: neither one per video frame ({num_frames}) nor two ({2 * num_frames})"
        )
    raise DatasetError(path, f"has shape {list(array.shape)}; expected [N, 16, C], [N, 2, C] or [T, C] audio features")


def _compute(root: Path, name: str, audio: DatasetAudio | None, fps: float) -> AudioFeatureTable:
    """Features of ``aud.wav`` by extractor ``name``, from the dataset's cache when it is still valid."""
    from nerfstudio.utils.rich_utils import CONSOLE

    from rad_nerfstudio.audio.extractors import make_extractor

    if audio is None:
        raise DatasetError(root / AUDIO_FILE, f"does not exist, and '{name}' audio features are computed from it")
    extractor = make_extractor(name)
    cache = root / CACHE_FILES[name]
    record = cache_record(audio.path, name, {**extractor.settings, "fps": fps, "window_edges": "repeated"})
    if cache.exists():
        reason = stale_reason(cache, record)
        cached = read_cache(cache) if reason is None else None
        if reason is None and cached is not None and cached.shape[0] == audio.frames:
            return AudioFeatureTable(torch.from_numpy(cached), name, cache)
        reason = reason or f"{cache.name} cannot be read or does not match {audio.path.name}"
        CONSOLE.print(f"[yellow]Recomputing the '{name}' audio features: {reason}.")
    if audio.file_rate != AUDIO_SAMPLE_RATE:
        CONSOLE.print(f"{audio.path} is at {audio.file_rate} Hz: resampled to {AUDIO_SAMPLE_RATE} Hz for its features")
    windows = frame_windows(extractor(audio.waveform), audio.frames, fps)
    _cache(cache, windows, record)
    return AudioFeatureTable(windows, name, cache if cache.exists() else audio.path)


def _cache(path: Path, windows: Tensor, record: dict) -> None:
    from nerfstudio.utils.rich_utils import CONSOLE

    try:
        write_cache(path, windows.numpy(), record)
        CONSOLE.print(f"Cached audio features in {path}")
    except (OSError, OutputFileError) as err:
        CONSOLE.print(f"[yellow]Could not cache audio features in {path} ({err}); they will be recomputed next time.")


def resolve_audio_features(root: Path, choice: str, num_frames: int, fps: float = 25.0) -> AudioFeatureTable:
    """Per-frame audio windows of a dataset according to ``--audio-features``.

    Args:
        root: dataset folder.
        choice: one of ``CHOICES`` or a path to an ``.npy`` file.
        num_frames: number of audio frame indices the dataset uses (``max(aud_id) + 1``).
        fps: video frame rate.
    """
    root = Path(root)
    audio = read_dataset_audio(root, num_frames, fps)
    if choice not in CHOICES:
        path = Path(choice)
        if not path.is_absolute() and not path.exists() and (root / path).exists():
            path = root / path
        if path.suffix != ".npy":
            raise DatasetError(path, f"--audio-features must be one of {', '.join(CHOICES)} or an .npy file")
        if not path.exists():
            raise DatasetError(path, "does not exist")
        return _imported(path, "npy", num_frames, fps, audio)
    if choice == "auto":
        for name, files in IMPORTED_FILES.items():
            for filename in files:
                if (root / filename).exists():
                    return _imported(root / filename, name, num_frames, fps, audio)
        choice = "mel"
    for filename in IMPORTED_FILES.get(choice, ()):
        if (root / filename).exists():
            return _imported(root / filename, choice, num_frames, fps, audio)
    if choice not in CACHE_FILES:
        expected = " or ".join(IMPORTED_FILES[choice])
        raise DatasetError(root, f"has no {expected}: '{choice}' features are imported from the anchors' preprocessing")
    return _compute(root, choice, audio, fps)


def _imported(path: Path, extractor: str, num_frames: int, fps: float, audio: DatasetAudio | None) -> AudioFeatureTable:
    """A feature file the user (or the anchors' preprocessing) wrote: only read, and checked against the audio."""
    windows = load_feature_windows(path, num_frames, fps)
    check_frame_coverage(path, windows.shape[0], num_frames, fps)
    if audio is not None:
        check_features_match_audio(path, windows.shape[0], audio, fps)
    return AudioFeatureTable(windows, extractor, path)
