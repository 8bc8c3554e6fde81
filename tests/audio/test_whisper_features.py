"""Whisper's encoder as audio features: its log-mel front end, the weights' folder, the 50 Hz rows, the errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from rad_nerfstudio.audio import whisper_features
from rad_nerfstudio.audio.extractors import MelExtractor, make_extractor
from rad_nerfstudio.audio.whisper_features import CHUNK_SAMPLES, MODEL_ENV, whisper_log_mel, whisper_model_dir
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE


def _tone(seconds: float, hertz: float) -> torch.Tensor:
    time = torch.arange(int(seconds * AUDIO_SAMPLE_RATE)) / AUDIO_SAMPLE_RATE
    return 0.3 * torch.sin(2 * math.pi * hertz * time)


def _vowel_like(seconds: float, seed: int = 0) -> torch.Tensor:
    """A buzz at 120 Hz through two formant-like resonances that change every 0.2 s (a crude voice)."""
    generator = torch.Generator().manual_seed(seed)
    samples = int(seconds * AUDIO_SAMPLE_RATE)
    time = torch.arange(samples) / AUDIO_SAMPLE_RATE
    formants = 300 + 2000 * torch.rand(int(seconds / 0.2) + 1, 2, generator=generator)
    segment = (time / 0.2).long()
    voice = torch.stack([torch.sin(2 * math.pi * 120 * k * time) / k for k in range(1, 30)]).sum(0)
    shaping = torch.stack([torch.sin(2 * math.pi * formants[segment, j] * time) for j in range(2)]).sum(0)
    return 0.1 * voice * (1 + shaping)


def test_the_log_mel_chunks_thirty_seconds_and_puts_a_tone_in_its_mel_band():
    assert whisper_log_mel(_tone(2.0, 1000.0)).shape == (1, 80, 3000)
    assert whisper_log_mel(torch.zeros(CHUNK_SAMPLES + 16000)).shape == (2, 80, 3000)
    log_mel = whisper_log_mel(_tone(2.0, 1000.0))[0, :, 20:180]  # inside the tone, away from its edges
    loudest = int(log_mel.mean(1).argmax())
    import torchaudio.functional

    bands = torchaudio.functional.melscale_fbanks(201, 0.0, 8000.0, 80, 16000, norm="slaney", mel_scale="slaney")
    assert loudest == int(bands[25].argmax())  # bin 25 of the 400-point FFT is 1 kHz
    # Whisper's dynamic range: 8 decades below the loudest value, scaled by 1/4 and shifted by 1
    full = whisper_log_mel(_tone(2.0, 1000.0))
    assert float(full.max() - full.min()) == pytest.approx(2.0, abs=1e-5)


def test_without_the_weights_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setattr(whisper_features.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match=r"rad-nerfstudio\[speech\].*--audio-features mel"):
        whisper_model_dir()
    monkeypatch.setenv(MODEL_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match=f"{MODEL_ENV}={tmp_path} has no model.bin"):
        whisper_model_dir()


def test_the_packaged_halves_are_joined_once_into_the_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = whisper_model_dir()
    assert folder.parent == tmp_path / "rad-nerfstudio" and (folder / "config.json").is_file()
    written = (folder / "model.bin").stat().st_mtime_ns
    assert whisper_model_dir() == folder and (folder / "model.bin").stat().st_mtime_ns == written
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]  # no staging folder left behind
    monkeypatch.setenv(MODEL_ENV, str(folder))
    assert whisper_model_dir() == folder


def test_whisper_gives_two_standardised_rows_per_video_frame_that_tell_sounds_apart():
    extractor = make_extractor("whisper")
    speech = _vowel_like(3.0)
    features = extractor(speech)
    assert features.shape == (math.ceil(speech.shape[0] / 320), 512) and bool(torch.isfinite(features).all())
    torch.testing.assert_close(features.mean(0), torch.zeros(512), atol=1e-4, rtol=0)
    again = extractor(speech)
    torch.testing.assert_close(again, features)
    # the same sound twice reads alike; another sound reads differently
    other = extractor(_vowel_like(3.0, seed=1))
    same = torch.nn.functional.cosine_similarity(features[10:140], again[10:140]).mean()
    different = torch.nn.functional.cosine_similarity(features[10:140], other[10:140]).mean()
    assert float(same) > 0.99 and float(different) < 0.9


def test_mel_whisper_puts_the_spectrum_beside_whisper_row_for_row():
    speech = _vowel_like(2.0)
    both = make_extractor("mel-whisper")(speech)
    mel = MelExtractor()(speech)
    assert both.shape == (mel.shape[0], 64 + 512) and make_extractor("mel-whisper").dim == 576
    torch.testing.assert_close(both[:, :64], mel)


def test_a_long_clip_is_read_in_overlapping_windows_each_row_from_the_window_it_sits_most_inside():
    from rad_nerfstudio.audio.whisper_features import ENCODER_ROWS, stitched_rows, window_starts

    assert window_starts(CHUNK_SAMPLES) == [0]
    samples = 34 * AUDIO_SAMPLE_RATE + 123
    starts = window_starts(samples)
    assert starts[0] == 0 and starts[-1] % 320 == 0 and samples - CHUNK_SAMPLES - 320 < starts[-1] <= samples - 320
    long = window_starts(75 * AUDIO_SAMPLE_RATE)
    assert long[:3] == [0, 20 * AUDIO_SAMPLE_RATE, 40 * AUDIO_SAMPLE_RATE] and long[-1] == 45 * AUDIO_SAMPLE_RATE
    assert window_starts(50 * AUDIO_SAMPLE_RATE + 1) == [0, 20 * AUDIO_SAMPLE_RATE]  # no window read twice
    rows = math.ceil(samples / 320)
    outputs = [torch.full((ENCODER_ROWS, 1), float(index)) for index in range(len(starts))]
    stitched = stitched_rows(starts, outputs, rows)[:, 0]
    assert stitched.shape == (rows,) and stitched[0] == 0 and stitched[-1] == len(starts) - 1
    switch = int((stitched == 1).nonzero()[0])  # the second window takes over halfway between the two centres
    middle = ((starts[0] + starts[1]) / 320 + ENCODER_ROWS) / 2
    assert abs(switch - middle) <= 1
    positions = [torch.arange(ENCODER_ROWS, dtype=torch.float32)[:, None] + start // 320 for start in starts]
    torch.testing.assert_close(stitched_rows(starts, positions, rows)[:-1, 0], torch.arange(rows - 1).float())


def test_processes_joining_the_halves_at_once_all_end_with_the_same_folder(tmp_path):
    """Parallel trainings (or test workers) on a fresh machine join the halves at the same time: none fails."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop(MODEL_ENV, None)
    code = "from rad_nerfstudio.audio.whisper_features import whisper_model_dir; print(whisper_model_dir())"
    command = [sys.executable, "-c", code]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    folders = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs) and len(folders) == 1
    folder = tmp_path / "rad-nerfstudio"
    assert [path.name for path in folder.iterdir()] == [Path(folders.pop()).name]


def test_the_torch_encoder_at_full_depth_is_ctranslate2s_encoder():
    """The same weights run by CTranslate2 itself give the same output (the torch run can stop at any block)."""
    import ctranslate2
    import numpy as np

    from rad_nerfstudio.audio.whisper_features import WhisperEncoder

    log_mel = whisper_log_mel(_vowel_like(4.0))[0]
    full = WhisperEncoder(blocks=6)
    ours = full.encode(log_mel)
    model = ctranslate2.models.Whisper(str(whisper_model_dir()), device="cpu", compute_type="float32")
    theirs = torch.from_numpy(np.array(model.encode(ctranslate2.StorageView.from_array(log_mel[None].numpy()))))[0]
    assert ours.shape == theirs.shape == (1500, 512)
    torch.testing.assert_close(ours, theirs, atol=2e-3, rtol=1e-3)


def test_the_features_are_the_third_blocks_output_and_the_depth_is_checked():
    from rad_nerfstudio.audio.extractors import WhisperExtractor
    from rad_nerfstudio.audio.whisper_features import WHISPER_BLOCKS, WhisperEncoder

    assert WHISPER_BLOCKS == 3 and "block 3 of 6" in WhisperExtractor().settings["output"]
    log_mel = whisper_log_mel(_vowel_like(2.0))[0]
    third, fourth = WhisperEncoder().encode(log_mel), WhisperEncoder(blocks=4).encode(log_mel)
    assert third.shape == (1500, 512) and not torch.allclose(third, fourth)
    for blocks in (0, 7):
        with pytest.raises(ValueError, match="blocks must be 1 to 6"):
            WhisperEncoder(blocks=blocks)


def test_the_offset_readings_are_put_back_on_the_clips_grid_and_averaged():
    """Each reading sees the clip delayed by its offset; its rows are shifted back before the mean."""
    from rad_nerfstudio.audio.whisper_features import WINDOW_OFFSETS, offset_averaged

    hop, lengths_read = 320, []

    def rows_and_positions(signal: torch.Tensor) -> torch.Tensor:
        """A stand-in encoder: each 20 ms row's mean sample beside the row's place in what it read."""
        lengths_read.append(signal.shape[0])
        padded = torch.nn.functional.pad(signal, (0, -signal.shape[0] % hop))
        means = padded.reshape(-1, hop).mean(1)
        return torch.stack([means, torch.arange(means.shape[0], dtype=torch.float32)], -1)

    clip = torch.randn(AUDIO_SAMPLE_RATE + 100, generator=torch.Generator().manual_seed(0))
    averaged = offset_averaged(rows_and_positions, clip)
    assert lengths_read == [clip.shape[0] + round(offset * AUDIO_SAMPLE_RATE) for offset in WINDOW_OFFSETS]
    alone = rows_and_positions(clip)
    assert WINDOW_OFFSETS[0] == 0.0 and len(WINDOW_OFFSETS) > 1
    assert averaged.shape == alone.shape == (math.ceil(clip.shape[0] / hop), 2)
    torch.testing.assert_close(averaged[:, 0], alone[:, 0])  # every reading's rows are the clip's own
    mean_delay_rows = sum(WINDOW_OFFSETS) / len(WINDOW_OFFSETS) * 50
    torch.testing.assert_close(averaged[:, 1], alone[:, 1] + mean_delay_rows)  # read at several places
    torch.testing.assert_close(offset_averaged(rows_and_positions, clip, offsets=(0.0,)), alone)
    readings_before = len(lengths_read)
    with pytest.raises(ValueError, match="multiples of 20 ms"):
        offset_averaged(rows_and_positions, clip, offsets=(0.0, 0.01))
    assert len(lengths_read) == readings_before  # refused before any reading


def test_whisper_features_recorded_with_their_offsets_so_older_caches_are_recomputed():
    from rad_nerfstudio.audio.extractors import WhisperExtractor
    from rad_nerfstudio.audio.whisper_features import WINDOW_OFFSETS

    assert list(WINDOW_OFFSETS) in WhisperExtractor().settings.values()
