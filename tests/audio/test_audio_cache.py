"""Audio-feature caches cannot go stale: a replaced, shortened or resampled aud.wav next to an old cache, an old
cache without a record, changed extractor settings, imported features of other audio, a full disk."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
import soundfile
import torch
from rad_nerfstudio.dataparsers.talking_portrait_dataparser import TalkingPortraitDataParserConfig

from rad_nerfstudio.audio.features import resolve_audio_features
from rad_nerfstudio.errors import DatasetError, InputFileError
from tests.audio_files import tone, write_wav

N = 100  # frames of the test sample (4 s at 25 fps)


def _speech(dataset) -> tuple[np.ndarray, int]:
    audio, rate = soundfile.read(dataset / "aud.wav", dtype="float32")
    return audio, rate


def _record(dataset) -> dict:
    return json.loads((dataset / "aud_mel.npy.json").read_text())


def test_the_cache_records_the_audio_and_the_extractor_and_is_reused_while_they_hold(dataset, capsys):
    first = resolve_audio_features(dataset, "auto", N)
    record = _record(dataset)
    assert record["audio"]["size"] == (dataset / "aud.wav").stat().st_size and len(record["audio"]["sha256"]) == 64
    assert record["extractor"]["name"] == "mel" and record["extractor"]["settings"]["n_mels"] == 64
    stamp = (dataset / "aud_mel.npy").stat().st_mtime_ns
    os.utime(dataset / "aud.wav", ns=(1, 1))  # a copied dataset: new time, same content
    capsys.readouterr()
    again = resolve_audio_features(dataset, "mel", N)
    assert "Recomputing" not in capsys.readouterr().out
    assert (dataset / "aud_mel.npy").stat().st_mtime_ns == stamp, "a valid cache is not rewritten"
    assert torch.equal(again.windows, first.windows) and again.source == dataset / "aud_mel.npy"


def test_an_aud_wav_replaced_by_a_third_as_long_one_is_refused_despite_the_cache(dataset):
    """The measured case of the issue: the cached features of the old audio used to train without a word."""
    config = TalkingPortraitDataParserConfig(data=dataset)
    config.setup().get_dataparser_outputs()
    audio, rate = _speech(dataset)
    write_wav(dataset / "aud.wav", audio[: len(audio) // 3], rate)
    with pytest.raises(DatasetError) as info:
        config.setup().get_dataparser_outputs()
    assert str(dataset / "aud.wav") in str(info.value) and "frames" in str(info.value) and "short" in str(info.value)


def test_a_shorter_aud_wav_within_the_slack_recomputes_the_cache_with_a_message(dataset, capsys):
    first = resolve_audio_features(dataset, "auto", N)
    audio, rate = _speech(dataset)
    write_wav(dataset / "aud.wav", audio[: len(audio) - rate // 50], rate)  # 20 ms (half a frame) shorter
    capsys.readouterr()
    again = resolve_audio_features(dataset, "auto", N)
    out = " ".join(capsys.readouterr().out.split())
    assert "Recomputing the 'mel' audio features" in out and "aud.wav changed" in out, out
    assert _record(dataset)["audio"]["size"] == (dataset / "aud.wav").stat().st_size
    assert not torch.equal(again.windows, first.windows)


def test_a_resampled_aud_wav_next_to_an_old_cache_is_recomputed(dataset, capsys):
    import torchaudio.functional

    first = resolve_audio_features(dataset, "auto", N)
    audio, rate = _speech(dataset)
    resampled = torchaudio.functional.resample(torch.from_numpy(audio), rate, 44100).numpy()
    write_wav(dataset / "aud.wav", resampled, 44100)
    capsys.readouterr()
    again = resolve_audio_features(dataset, "auto", N)
    out = " ".join(capsys.readouterr().out.split())
    assert "Recomputing" in out and "44100 Hz" in out, out
    assert again.windows.shape == first.windows.shape
    assert _record(dataset)["audio"]["sha256"] != "" and not torch.equal(again.windows, first.windows)


def test_other_audio_of_the_same_length_recomputes_the_cache(dataset, tmp_path):
    resolve_audio_features(dataset, "auto", N)
    write_wav(dataset / "aud.wav", tone(4.0, 16000, freq=440.0), 16000)
    again = resolve_audio_features(dataset, "auto", N).windows
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    write_wav(fresh_dir / "aud.wav", tone(4.0, 16000, freq=440.0), 16000)
    assert torch.equal(again, resolve_audio_features(fresh_dir, "mel", N).windows), "as if computed from scratch"


def test_an_old_cache_without_a_record_is_recomputed_and_replaced(dataset, capsys):
    np.save(dataset / "aud_mel.npy", np.zeros((N, 16, 64), np.float32))  # what an older version left
    table = resolve_audio_features(dataset, "auto", N)
    assert "has no record of the audio" in capsys.readouterr().out
    assert float(table.windows.abs().max()) > 0 and (dataset / "aud_mel.npy.json").is_file()
    assert np.array_equal(np.load(dataset / "aud_mel.npy"), table.windows.numpy())
    assert sorted(p.name for p in dataset.glob(".*")) == [], "no temporary files left"


def test_changed_extractor_settings_or_a_broken_record_make_the_cache_stale(dataset, capsys):
    resolve_audio_features(dataset, "auto", N)
    record = _record(dataset)
    record["extractor"]["settings"]["n_mels"] = 80
    (dataset / "aud_mel.npy.json").write_text(json.dumps(record))
    capsys.readouterr()
    resolve_audio_features(dataset, "auto", N)
    assert "other extractor settings" in capsys.readouterr().out
    (dataset / "aud_mel.npy.json").write_text("{not json")
    resolve_audio_features(dataset, "auto", N)
    assert "cannot be read" in capsys.readouterr().out
    assert _record(dataset)["extractor"]["settings"]["n_mels"] == 64


@pytest.mark.parametrize("feature_frames, wav_seconds", [(N, 5.2), (N + 30, 4.0)])
def test_imported_features_of_other_audio_are_refused_naming_both_files(dataset, feature_frames, wav_seconds):
    features = np.random.default_rng(0).normal(size=(feature_frames, 16, 29)).astype(np.float32)
    np.save(dataset / "aud_ds.npy", features)
    write_wav(dataset / "aud.wav", tone(wav_seconds, 16000), 16000)
    before = (dataset / "aud_ds.npy").read_bytes()
    with pytest.raises(DatasetError) as info:
        resolve_audio_features(dataset, "auto", N)
    message = str(info.value)
    assert str(dataset / "aud_ds.npy") in message and str(dataset / "aud.wav") in message, message
    assert "not computed from this audio" in message
    assert (dataset / "aud_ds.npy").read_bytes() == before, "the user's file is never touched"


def test_an_unreadable_aud_wav_is_refused_even_when_the_features_are_imported(dataset):
    np.save(dataset / "aud_ds.npy", np.zeros((N, 16, 29), np.float32))
    (dataset / "aud.wav").write_bytes(b"RIFF but not really a wave file")
    with pytest.raises(InputFileError, match="aud.wav: cannot be read as audio"):
        resolve_audio_features(dataset, "auto", N)


def test_a_full_disk_while_caching_leaves_no_partial_cache(dataset, monkeypatch, capsys):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", no_space)
    table = resolve_audio_features(dataset, "auto", N)
    assert table.windows.shape == (N, 16, 64) and table.source == dataset / "aud.wav"
    out = " ".join(capsys.readouterr().out.split())
    assert "Could not cache audio features" in out and "No space left on device" in out, out
    assert not list(dataset.glob("aud_mel*")) and not list(dataset.glob(".*")), "nothing partial is left"
