"""rad-sample's command line, its errors, and the atomic output helpers."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from rad_nerfstudio.io.atomic import atomic_directory, atomic_path
from rad_nerfstudio.io.video import Mp4Writer, rgb_to_yuv420p
from rad_nerfstudio.sample.generate import generate_sample


def _rad_sample(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rad_nerfstudio.scripts.sample", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_writes_a_sample_and_says_where(tmp_path):
    out = tmp_path / "cli"
    result = _rad_sample(str(out), "--seconds", "1", "--size", "64", "--seed", "5", "--speech", "formant")
    assert result.returncode == 0, result.stderr
    assert "contact_sheet.png" in result.stdout
    assert len(list((out / "ori_imgs").glob("*.jpg"))) == 25


def test_cli_help_documents_every_option():
    result = _rad_sample("--help")
    assert result.returncode == 0
    for option in ("--seconds", "--size", "--seed", "--speech", "--overwrite", "rad-sample [-h] [OPTIONS] OUTPUT_DIR"):
        assert option in result.stdout


def test_cli_refuses_an_odd_size_and_a_non_empty_folder(tmp_path):
    odd = _rad_sample(str(tmp_path / "odd"), "--size", "97", "--speech", "formant")
    assert odd.returncode == 2 and "even" in odd.stdout
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("user data")
    refused = _rad_sample(str(existing), "--seconds", "1", "--size", "64", "--speech", "formant")
    assert refused.returncode == 2 and "--overwrite" in refused.stdout
    assert (existing / "keep.txt").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"], "no partial output left"


def test_failed_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    import rad_nerfstudio.sample.generate as generate

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(generate, "write_landmarks", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_sample(tmp_path / "never", seconds=1.0, size=64, speech="formant", workers=1)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_the_folder_only_when_complete(tmp_path):
    out = tmp_path / "s"
    generate_sample(out, seconds=1.0, size=64, seed=1, speech="formant", workers=1)
    first = (out / "aud.wav").read_bytes()
    generate_sample(out, seconds=1.0, size=64, seed=2, speech="formant", workers=1, overwrite=True)
    assert (out / "aud.wav").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_atomic_path_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600), "ordinary permissions, not mkstemp's"


def test_atomic_directory_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError):
        with atomic_directory(tmp_path / "f"):
            pass


def test_mp4_writer_muxes_audio_of_the_right_length(tmp_path):
    audio = (0.3 * np.sin(np.arange(16000 * 3) / 16000 * 2 * np.pi * 300)).astype(np.float32)
    with Mp4Writer(tmp_path / "v.mp4", 64, 48, 25, audio, 16000) as writer:
        for k in range(75):
            writer.write(np.full((48, 64, 3), (200, 120, k * 3), dtype=np.uint8))
    with av.open(str(tmp_path / "v.mp4")) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        assert len(frames) == 75
        for k in (0, 40, 74):  # colours survive the YUV round trip (decoder reads the BT.601 tags)
            assert np.abs(frames[k].reshape(-1, 3).mean(0) - (200, 120, k * 3)).max() < 3
        stream = container.streams.audio[0]
        assert abs(float(stream.duration * stream.time_base) - 3.0) < 0.1
    with pytest.raises(ValueError, match="even"):
        Mp4Writer(tmp_path / "odd.mp4", 63, 48, 25)
    with Mp4Writer(tmp_path / "h98.mp4", 66, 98, 25) as writer:  # even sizes that are not multiples of 4
        writer.write(np.full((98, 66, 3), (10, 200, 90), dtype=np.uint8))
    with av.open(str(tmp_path / "h98.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert frame.shape == (98, 66, 3) and np.abs(frame.reshape(-1, 3).mean(0) - (10, 200, 90)).max() < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h98.mp4", "v.mp4"]


def test_rgb_to_yuv420p_matches_bt601_limited_range():
    """Our own colour conversion (FFmpeg's threaded one made the mp4 bytes depend on machine load)."""
    colors = {
        (255, 255, 255): (235, 128, 128),
        (0, 0, 0): (16, 128, 128),
        (255, 0, 0): (81, 90, 240),
        (0, 255, 0): (145, 54, 34),
        (0, 0, 255): (41, 240, 110),
    }
    for rgb, (y, u, v) in colors.items():
        planes = rgb_to_yuv420p(np.full((6, 10, 3), rgb, dtype=np.uint8))
        assert [p.shape for p in planes] == [(6, 10), (3, 5), (3, 5)]
        assert np.all(planes[0] == y) and np.all(planes[1] == u) and np.all(planes[2] == v), rgb
    half = rgb_to_yuv420p(np.array([[[255, 0, 0], [0, 0, 255]], [[255, 0, 0], [0, 0, 255]]], dtype=np.uint8))
    assert half[1][0, 0] == round((90 + 240) / 2)  # U of a 2x2 block is the mean of its pixels
