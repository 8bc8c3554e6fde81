"""--audio-features: every anchors' variant and shape, auto's preference, caching, and mismatches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rad_nerfstudio.dataparsers.talking_portrait_dataparser import TalkingPortraitDataParserConfig

from rad_nerfstudio.audio.features import resolve_audio_features
from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.data.portrait_tables import PORTRAIT_METADATA_KEY
from rad_nerfstudio.errors import DatasetError

N = 100  # frames of the test sample


def _features(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


ANCHOR_VARIANTS = [
    ("aud_ds.npy", (N, 16, 29), "deepspeech", 29),
    ("aud.npy", (N, 16, 29), "deepspeech", 29),
    ("aud_eo.npy", (N, 16, 44), "esperanto", 44),
    ("aud_hu.npy", (N, 16, 1024), "hubert", 1024),
    ("aud_hu.npy", (N, 2, 1024), "hubert", 1024),
    ("aud_hu.npy", (2 * N, 1024), "hubert", 1024),
]


@pytest.mark.parametrize("filename, shape, extractor, dim", ANCHOR_VARIANTS)
def test_anchor_feature_files_train_through_the_data_manager(dataset, filename, shape, extractor, dim):
    """A dataset laid out exactly like the anchors' (each feature variant) loads into a ready data manager."""
    np.save(dataset / filename, _features(shape))
    manager = TalkingPortraitDataManagerConfig(data=dataset).setup(device="cpu")
    tables = manager.train_dataset.metadata[PORTRAIT_METADATA_KEY]
    assert (tables.audio_extractor, tables.audio_dim) == (extractor, dim)
    assert tables.audio_windows.shape == (N, 16, dim)
    ray_bundle, batch = manager.next_train(0)
    assert ray_bundle.metadata["frame_idx"].shape == (4096, 1) and batch["image"].shape == (4096, 3)
    assert not (dataset / "aud_mel.npy").exists(), "imported features need no computed cache"


def test_windows_of_imported_per_frame_windows_are_kept_exactly(dataset):
    array = _features((N, 16, 29))
    np.save(dataset / "aud_ds.npy", array)
    table = resolve_audio_features(dataset, "auto", N)
    assert torch.equal(table.windows, torch.from_numpy(array))


def test_two_rows_per_frame_become_centred_windows(dataset):
    rows = np.arange(2 * N, dtype=np.float32)[:, None].repeat(3, axis=1)
    np.save(dataset / "aud_hu.npy", rows.reshape(N, 2, 3))
    windows = resolve_audio_features(dataset, "hubert", N).windows
    assert windows[10, :, 0].tolist() == list(range(12, 28))


def test_one_row_per_frame_is_upsampled_to_50_hz(dataset):
    rows = np.arange(N, dtype=np.float32)[:, None].repeat(5, axis=1)
    path = dataset / "my_features.npy"
    np.save(path, rows)
    table = resolve_audio_features(dataset, str(path), N)
    assert table.extractor == "npy" and table.windows.shape == (N, 16, 5)
    assert table.windows[10, :, 0].tolist() == [6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]


def test_auto_prefers_deepspeech_then_esperanto_then_hubert(dataset):
    np.save(dataset / "aud_hu.npy", _features((N, 16, 1024)))
    assert resolve_audio_features(dataset, "auto", N).extractor == "hubert"
    np.save(dataset / "aud_eo.npy", _features((N, 16, 44)))
    assert resolve_audio_features(dataset, "auto", N).extractor == "esperanto"
    np.save(dataset / "aud_ds.npy", _features((N, 16, 29)))
    assert resolve_audio_features(dataset, "auto", N).extractor == "deepspeech"


def test_auto_without_npy_computes_mel_once_and_caches_it(dataset):
    table = resolve_audio_features(dataset, "auto", N)
    assert table.extractor == "mel" and table.source == dataset / "aud_mel.npy"
    cached = np.load(dataset / "aud_mel.npy")
    assert cached.shape == (N, 16, 64) and np.array_equal(cached, table.windows.numpy())
    stamp = (dataset / "aud_mel.npy").stat().st_mtime_ns
    again = resolve_audio_features(dataset, "mel", N)
    assert (dataset / "aud_mel.npy").stat().st_mtime_ns == stamp, "never overwritten"
    assert torch.equal(again.windows, table.windows)


def test_mel_features_follow_the_speech(dataset):
    """Louder frames (speech) and silent frames get clearly different mel windows."""
    import soundfile

    audio, _ = soundfile.read(dataset / "aud.wav")
    energy = np.array([np.abs(audio[i * 640 : (i + 1) * 640]).mean() for i in range(N)])
    centre = resolve_audio_features(dataset, "mel", N).windows[:, 8].mean(-1).numpy()
    assert np.corrcoef(np.log(energy + 1e-4), centre)[0, 1] > 0.8


def test_phone_features_are_phone_fractions_and_find_the_speech(dataset):
    """pocketsphinx's phone classes: each 20 ms row splits 1 between the 40 classes, speech where the sound is."""
    import soundfile

    table = resolve_audio_features(dataset, "phones", N)
    assert table.extractor == "phones" and table.dim == 40 and (dataset / "aud_phones.npy").is_file()
    audio, _ = soundfile.read(dataset / "aud.wav", dtype="float32")
    from rad_nerfstudio.audio.extractors import make_extractor

    rows = make_extractor("phones")(torch.from_numpy(audio))
    assert rows.shape == (-(-len(audio) // 320), 40)
    assert torch.allclose(rows.sum(-1), torch.ones(len(rows)))
    energy = np.array([np.abs(audio[i * 320 : (i + 1) * 320]).mean() for i in range(len(rows))])
    assert np.corrcoef(1 - rows[:, 0].numpy(), np.log(energy + 1e-4))[0, 1] > 0.8  # column 0 is silence


def test_the_extractor_is_recorded_on_the_dataparser_outputs(dataset):
    outputs = TalkingPortraitDataParserConfig(data=dataset, audio_features="mel").setup().get_dataparser_outputs()
    tables = outputs.metadata[PORTRAIT_METADATA_KEY]
    assert (tables.audio_extractor, tables.audio_dim) == ("mel", 64)


@pytest.mark.parametrize(
    "filename, array, choice, problem",
    [
        ("aud_ds.npy", np.full((N, 16, 29), np.nan, np.float32), "auto", "NaN or infinite"),
        ("aud_ds.npy", np.zeros((N, 16), np.int64), "auto", "argmax labels"),
        ("aud_ds.npy", np.zeros((N, 8, 29), np.float32), "auto", "has shape [100, 8, 29]"),
        ("aud_ds.npy", np.zeros((N - 10, 16, 29), np.float32), "auto", "10 frames (0.40 s) short"),
        ("aud_ds.npy", np.zeros((N + 200, 16, 29), np.float32), "auto", "far longer"),
        ("aud_hu.npy", np.zeros((3 * N, 1024), np.float32), "hubert", "neither one per video frame"),
    ],
)
def test_bad_feature_files_are_refused_with_the_file_and_the_problem(dataset, filename, array, choice, problem):
    np.save(dataset / filename, array)
    with pytest.raises(DatasetError) as info:
        resolve_audio_features(dataset, choice, N)
    assert str(dataset / filename) in str(info.value) and problem in str(info.value), str(info.value)


def test_one_frame_short_is_clamped_like_the_anchors(dataset):
    np.save(dataset / "aud_ds.npy", _features((N - 1, 16, 29)))
    tables = TalkingPortraitDataParserConfig(data=dataset).setup().get_dataparser_outputs().metadata["portrait"]
    assert int(tables.audio_index.max()) == N - 2


def test_missing_imports_and_unreadable_files_are_refused(dataset):
    with pytest.raises(DatasetError, match="has no aud_ds.npy or aud.npy"):
        resolve_audio_features(dataset, "deepspeech", N)
    with pytest.raises(DatasetError, match="does not exist"):
        resolve_audio_features(dataset, "elsewhere/feat.npy", N)
    (dataset / "aud_eo.npy").write_bytes(b"not numpy")
    with pytest.raises(DatasetError, match="cannot be read as a numpy array"):
        resolve_audio_features(dataset, "esperanto", N)
