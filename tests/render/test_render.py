"""rad-render end to end on CPU from a tiny trained checkpoint: frames, audio, every source, bad inputs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile
from rad_nerfstudio.dataparsers.talking_portrait_dataparser import (  # pyright: ignore[reportMissingImports]
    TalkingPortraitDataParserConfig,
)

from rad_nerfstudio.errors import AudioInputError, InputFileError
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.render.driving_audio import load_driving_audio
from rad_nerfstudio.scripts.render import RenderArgs, render_portrait
from tests.helpers import audio_clip, read_mp4_streams

pytestmark = pytest.mark.slow  # the project's commands, run end to end

BIN = Path(sys.executable).parent


def test_rad_render_writes_one_frame_per_25th_of_a_second_with_the_driving_audio(trained_run, sample_dir, tmp_path):
    clip = audio_clip(sample_dir, tmp_path / "speech.wav", 1.2)
    output = tmp_path / "out" / "portrait.mp4"
    command = [str(BIN / "rad-render"), "--load-config", str(trained_run), "--audio", str(clip)]
    command += ["--output-path", str(output), "--resolution-scale", "0.5"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "fps" in result.stdout and str(output) in result.stdout.replace("\n", "")
    streams = read_mp4_streams(output)
    assert abs(len(streams["frames"]) - 1.2 * 25) <= 1
    assert streams["frames"].shape[1:] == (48, 48, 3)
    assert abs(streams["audio_seconds"] - 1.2) < 0.07
    assert streams["frames"].std() > 5, "a picture, not a blank"


def _camera_path(trained_run: Path, path: Path) -> Path:
    """A viewer-style camera path: the first training camera panned slightly sideways."""
    data = trained_run.parents[4] / "portrait"
    cameras = TalkingPortraitDataParserConfig(data=data).setup().get_dataparser_outputs("train").cameras
    size = 48
    fov = math.degrees(2 * math.atan(float(cameras.height[0]) / 2 / float(cameras.fy[0])))
    keyframes = []
    for shift in (-0.05, 0.0, 0.05):
        c2w = np.eye(4)
        c2w[:3] = cameras.camera_to_worlds[0].numpy()
        c2w[:3, 3] += shift * c2w[:3, 0]
        keyframes.append({"camera_to_world": c2w.reshape(-1).tolist(), "fov": fov, "aspect": 1.0})
    path.write_text(json.dumps({"render_height": size, "render_width": size, "camera_path": keyframes}))
    return path


@pytest.mark.parametrize(
    "pose, eye, background, torso",
    [
        ("frame", "0.2", "white", False),
        ("train", "blink", "#204060", True),
        ("path", "train", "image", True),
    ],
)
def test_every_pose_eye_and_background_source(trained_run, sample_dir, tmp_path, pose, eye, background, torso):
    clip = audio_clip(sample_dir, tmp_path / "speech.flac", 0.4)
    if pose == "path":
        pose = str(_camera_path(trained_run, tmp_path / "path.json"))
    if background == "image":
        background = str(sample_dir / "gt" / "contact_sheet.png")
    output = tmp_path / "clip.mp4"
    args = RenderArgs(trained_run, clip, output, pose=pose, eye=eye, background=background, torso=torso)
    args.resolution_scale = 0.5
    summary = render_portrait(args)
    assert summary.frames == 10 and summary.output_path == output
    frames = read_mp4_streams(output)["frames"]
    assert len(frames) == 10
    if background == "white" and not torso:
        corner = frames[:, :4, :4].reshape(-1, 3).astype(float)
        assert corner.min() > 225, "the (barely trained, faintly dense) head over a white background"
    if background == "#204060":
        # The plate shows through the (barely trained) torso and head in proportion to their transparency, so
        # against the dataset's plate the corner moves towards the new colour: along (new - dataset plate).
        args.background, args.output_path = "dataset", tmp_path / "dataset_plate.mp4"
        render_portrait(args)
        corner = (slice(None), slice(0, 3), slice(0, 3))
        recolored = read_mp4_streams(args.output_path)["frames"][corner]
        moved = (frames[corner].astype(float) - recolored).reshape(-1, 3).mean(0)
        plate = cv2.cvtColor(cv2.imread(str(trained_run.parents[4] / "portrait" / "bc.jpg")), cv2.COLOR_BGR2RGB)
        towards = np.array([32.0, 64.0, 96.0]) - plate[:6, :6].reshape(-1, 3).mean(0)
        assert np.linalg.norm(moved) > 5, moved
        assert moved @ towards / (np.linalg.norm(moved) * np.linalg.norm(towards)) > 0.9, (moved, towards)


def test_a_feature_npy_drives_with_a_separate_audio_track(trained_run, sample_dir, tmp_path):
    from rad_nerfstudio.audio.features import CACHE_FILES
    from rad_nerfstudio.method_configs import SMALL_AUDIO_FEATURES

    features = np.load(trained_run.parents[4] / "portrait" / CACHE_FILES[SMALL_AUDIO_FEATURES])[:12]
    np.save(tmp_path / "features.npy", features)
    clip = audio_clip(sample_dir, tmp_path / "speech.wav", 12 / 25)
    args = RenderArgs(trained_run, tmp_path / "features.npy", tmp_path / "n.mp4", audio_track=clip)
    args.resolution_scale = 0.5
    assert render_portrait(args).frames == 12
    assert abs(read_mp4_streams(tmp_path / "n.mp4")["audio_seconds"] - 0.48) < 0.07


def _silent_video(path: Path) -> Path:
    with Mp4Writer(path, 16, 16, 25) as writer:
        for _ in range(5):
            writer.write(np.zeros((16, 16, 3), np.uint8))
    return path


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda d: d / "missing.wav", "does not exist"),
        (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", "unknown extension '.txt'"),
        (lambda d: _silent_video(d / "silent.mp4"), "has no audio stream"),
        (lambda d: soundfile.write(d / "empty.wav", np.zeros(0, np.float32), 16000) or d / "empty.wav", "no audio"),
        (lambda d: np.save(d / "ds.npy", np.zeros((8, 16, 29), np.float32)) or d / "ds.npy", "29-channel"),
        (lambda d: np.save(d / "nan.npy", np.full((8, 16, 64), np.nan, np.float32)) or d / "nan.npy", "NaN"),
    ],
)
def test_bad_driving_audio_is_refused_naming_the_file(trained_run, tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(AudioInputError) as info:
        render_portrait(RenderArgs(trained_run, path, tmp_path / "never.mp4"))
    assert str(path) in str(info.value) and problem in str(info.value)
    assert not (tmp_path / "never.mp4").exists()


def test_features_imported_at_training_time_cannot_be_computed_from_a_wav(sample_dir):
    with pytest.raises(AudioInputError, match="trained on 'deepspeech' features.*as an .npy"):
        load_driving_audio(sample_dir / "aud.wav", "deepspeech", 29, 25.0)


def test_the_cli_fails_with_status_2_and_the_reason(trained_run, tmp_path):
    command = [str(BIN / "rad-render"), "--load-config", str(trained_run), "--audio", str(tmp_path / "nope.mp3")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "nope.mp3" in result.stdout and "does not exist" in result.stdout


def test_an_unknown_pose_source_is_refused_before_loading(trained_run, sample_dir, tmp_path):
    with pytest.raises(InputFileError, match="is not a pose source"):
        render_portrait(RenderArgs(trained_run, sample_dir / "aud.wav", tmp_path / "x.mp4", pose="orbit"))
    with pytest.raises(ValueError, match="--eye 'wide'"):
        render_portrait(RenderArgs(trained_run, sample_dir / "aud.wav", tmp_path / "x.mp4", eye="wide"))
