"""Audio reading, extractors and per-frame windows."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch

from rad_nerfstudio.audio.extractors import MelExtractor, PretrainedExtractor, make_extractor
from rad_nerfstudio.audio.reading import load_audio
from rad_nerfstudio.audio.windows import frame_windows
from rad_nerfstudio.errors import AudioInputError
from tests.audio_files import tone, write_wav, write_with_pyav


@pytest.mark.parametrize(
    "name, codec, rate",
    [("a.wav", None, 44100), ("a.flac", None, 22050), ("a.mp3", "libmp3lame", 44100), ("a.m4a", "aac", 48000)],
)
def test_every_audio_container_reads_as_16k_mono(tmp_path, name, codec, rate):
    samples = tone(2.0, rate)
    path = tmp_path / name
    if codec is None:
        write_wav(path, np.stack([samples, samples], axis=1), rate)  # stereo in, mono out
    else:
        write_with_pyav(path, samples, rate, codec)
    waveform = load_audio(path)
    assert waveform.dtype == torch.float32 and waveform.ndim == 1
    assert abs(waveform.shape[0] - 32000) <= 1200  # mp3/aac add encoder delay
    spectrum = torch.fft.rfft(waveform[4000:20000]).abs()
    assert abs(int(spectrum.argmax()) * 16000 / 16000 - 220) <= 2, "the tone survives at 220 Hz"


def test_the_audio_track_of_a_video_is_read(tmp_path):
    path = write_with_pyav(tmp_path / "talk.mp4", tone(1.0, 16000), 16000, "aac", video=True)
    assert abs(load_audio(path).shape[0] - 16000) < 1100


def test_bad_audio_files_name_the_file_and_the_problem(tmp_path):
    cases = {
        tmp_path / "missing.wav": "does not exist",
        write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000): "no audio samples",
        tmp_path / "notes.txt": "unknown audio extension",
        tmp_path / "broken.wav": "cannot be read",
        tmp_path / "broken.mp3": "cannot be opened",
        write_wav(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2], np.float32), 16000, "FLOAT"): "NaN",
    }
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    (tmp_path / "broken.mp3").write_bytes(b"\x00\x01garbage" * 10)
    silent_video = tmp_path / "silent.mp4"
    import av

    with av.open(str(silent_video), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    cases[silent_video] = "has no audio stream"
    for path, problem in cases.items():
        with pytest.raises(AudioInputError) as info:
            load_audio(path)
        assert str(path) in str(info.value) and problem in str(info.value), str(info.value)


def test_mel_features_run_at_50_hz_and_are_standardised():
    extractor = make_extractor("mel")
    assert isinstance(extractor, MelExtractor) and extractor.name == "mel"
    noise = np.random.default_rng(0).normal(0, 0.05, 48000).astype(np.float32)
    waveform = torch.from_numpy(tone(3.0, 16000) + noise)  # broadband, like speech
    features = extractor(waveform)
    assert features.shape == (151, extractor.dim)
    assert torch.allclose(features.mean(0), torch.zeros(extractor.dim), atol=1e-4)
    loud = extractor(waveform * 10)  # recording gain does not matter
    assert torch.allclose(loud, features, atol=0.01)


def _tiny_wav2vec2(out_dim: int | None, embed_dim: int):
    from torchaudio.models import wav2vec2_model

    return wav2vec2_model(
        extractor_mode="group_norm",
        extractor_conv_layer_config=None,
        extractor_conv_bias=False,
        encoder_embed_dim=embed_dim,
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4,
        encoder_num_layers=1,
        encoder_num_heads=4,
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=False,
        encoder_layer_drop=0.0,
        aux_num_out=out_dim,
    ).eval()


@pytest.mark.parametrize("name, dim", [("wav2vec2", 29), ("hubert", 1024)])
def test_pretrained_extractors_give_their_dimension_at_50_hz(name, dim):
    """The code path with random weights of the same architecture family (the real weights need a download)."""
    model = _tiny_wav2vec2(29 if name == "wav2vec2" else None, 1024 if name == "hubert" else 64)
    features = PretrainedExtractor(name, model=model)(torch.from_numpy(tone(2.0, 16000)))
    assert features.shape[1] == dim and abs(features.shape[0] - 100) <= 1


def test_pretrained_extractor_offline_says_what_to_download(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    extractor = PretrainedExtractor("wav2vec2")
    with pytest.raises(RuntimeError) as info:
        extractor(torch.zeros(16000))
    message = str(info.value)
    assert "download.pytorch.org/torchaudio/models/" in message and torch.hub.get_dir() in message
    assert "--audio-features mel" in message


def test_windows_are_centred_on_each_frame_and_repeat_the_edge_rows_beyond_the_ends():
    features = torch.arange(1, 41, dtype=torch.float32)[:, None].repeat(1, 3)  # 40 rows at 50 Hz = 20 frames
    windows = frame_windows(features, num_frames=20)
    assert windows.shape == (20, 16, 3)
    assert torch.equal(windows[0, :8], torch.ones(8, 3))  # rows -8..-1 do not exist: the first row again
    assert torch.equal(windows[0, 8:, 0], torch.arange(1, 9, dtype=torch.float32))
    assert torch.equal(windows[10, :, 0], torch.arange(13, 29, dtype=torch.float32))  # rows 12..27
    assert torch.equal(windows[19, :10, 0], torch.arange(31, 41, dtype=torch.float32))  # rows 30..39
    assert torch.equal(windows[19, 10:], torch.full((6, 3), 40.0))  # rows 40..45 are past the end: the last row
