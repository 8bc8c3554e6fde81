"""Per-frame audio windows for a dataset: imported from the anchors' ``.npy`` files or computed and cached.

``--audio-features`` choices: ``auto`` (an existing anchors' npy, else ``mel`` computed from ``aud.wav``
and cached as a new file), ``mel``, ``wav2vec2``, ``hubert`` (computed with torchaudio unless a file
exists), ``deepspeech``, ``esperanto`` (imports only), or a path to an ``.npy`` file.
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

from rad_nerfstudio.audio.windows import WINDOW, frame_windows
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE
from rad_nerfstudio.errors import DatasetError

IMPORTED_FILES: Dict[str, Tuple[str, ...]] = {
    "deepspeech": ("aud_ds.npy", "aud.npy"),
    "esperanto": ("aud_eo.npy",),
    "hubert": ("aud_hu.npy",),
}
"""Feature files written by RAD-NeRF's / ER-NeRF's preprocessing, in ``auto``'s order of preference."""
CACHE_FILES: Dict[str, str] = {"mel": "aud_mel.npy", "wav2vec2": "aud_wav2vec2.npy", "hubert": "aud_hubert.npy"}
"""Where computed features are cached inside the dataset (new files; existing files are never overwritten)."""
CHOICES = ("auto", "mel", "wav2vec2", "hubert", "deepspeech", "esperanto")
FRAME_SLACK = 1
"""Features may be one frame short (the anchors clamp the last frame's index); more is an error."""


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


def _compute(root: Path, name: str, num_frames: int, fps: float) -> AudioFeatureTable:
    from rad_nerfstudio.audio.extractors import make_extractor
    from rad_nerfstudio.audio.reading import load_audio

    wav = root / "aud.wav"
    if not wav.exists():
        raise DatasetError(wav, f"does not exist, and '{name}' audio features are computed from it")
    waveform = load_audio(wav)
    audio_frames = math.ceil(waveform.shape[0] / AUDIO_SAMPLE_RATE * fps - 1e-6)
    check_frame_coverage(wav, audio_frames, num_frames, fps)
    windows = frame_windows(make_extractor(name)(waveform), audio_frames, fps)
    cache = root / CACHE_FILES[name]
    _cache(cache, windows)
    return AudioFeatureTable(windows, name, cache if cache.exists() else wav)


def _cache(path: Path, windows: Tensor) -> None:
    from nerfstudio.utils.rich_utils import CONSOLE

    from rad_nerfstudio.io.atomic import save_npy_atomic

    if path.exists():
        return
    try:
        save_npy_atomic(path, windows.numpy())
        CONSOLE.print(f"Cached audio features in {path}")
    except OSError as err:
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
    if choice not in CHOICES:
        path = Path(choice)
        if not path.is_absolute() and not path.exists() and (root / path).exists():
            path = root / path
        if path.suffix != ".npy":
            raise DatasetError(path, f"--audio-features must be one of {', '.join(CHOICES)} or an .npy file")
        if not path.exists():
            raise DatasetError(path, "does not exist")
        return _imported(path, "npy", num_frames, fps)
    if choice == "auto":
        for name, files in IMPORTED_FILES.items():
            for filename in files:
                if (root / filename).exists():
                    return _imported(root / filename, name, num_frames, fps)
        choice = "mel"
    for filename in IMPORTED_FILES.get(choice, ()) + ((CACHE_FILES[choice],) if choice in CACHE_FILES else ()):
        if (root / filename).exists():
            return _imported(root / filename, choice, num_frames, fps)
    if choice not in CACHE_FILES:
        expected = " or ".join(IMPORTED_FILES[choice])
        raise DatasetError(root, f"has no {expected}: '{choice}' features are imported from the anchors' preprocessing")
    return _compute(root, choice, num_frames, fps)


def _imported(path: Path, extractor: str, num_frames: int, fps: float) -> AudioFeatureTable:
    windows = load_feature_windows(path, num_frames, fps)
    check_frame_coverage(path, windows.shape[0], num_frames, fps)
    return AudioFeatureTable(windows, extractor, path)
