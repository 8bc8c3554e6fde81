"""The sample moves, speaks and blinks the way it claims, and is deterministic."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import av
import numpy as np
import soundfile
from scipy.spatial.transform import Rotation

from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE, VIDEO_FPS
from rad_nerfstudio.data.landmarks import eye_area_ratio
from rad_nerfstudio.sample.generate import generate_sample
from tests.conftest import SAMPLE_KWARGS
from tests.helpers import read_rgb


def test_mouth_opening_follows_the_speech(sample, sample_dir):
    params = np.load(sample_dir / "gt" / "params.npz")
    audio, _ = soundfile.read(sample_dir / "aud.wav")
    hop = AUDIO_SAMPLE_RATE // VIDEO_FPS
    energy = np.array(
        [np.sqrt(np.mean(audio[max(0, i * hop - hop) : i * hop + hop] ** 2)) for i in range(sample.num_frames)]
    )
    mouth = params["mouth_open"]
    speaking = energy > 0.1 * energy.max()
    assert mouth[~speaking].mean() < 0.1, "the mouth rests closed in silences"
    assert mouth[speaking].mean() > 3 * mouth[~speaking].mean()
    # the lips landmarks in the .lms files open with it
    gaps = []
    for i in range(sample.num_frames):
        lms = np.loadtxt(sample_dir / "ori_imgs" / f"{i}.lms")
        gaps.append(np.linalg.norm(lms[66] - lms[62]))
    assert np.corrcoef(gaps, mouth)[0, 1] > 0.95


def test_open_mouth_shows_its_inside_where_the_landmarks_say(sample_dir):
    import cv2

    params = np.load(sample_dir / "gt" / "params.npz")
    i = int(np.argmax(params["mouth_open"]))
    assert params["mouth_open"][i] > 0.8
    lms = np.loadtxt(sample_dir / "ori_imgs" / f"{i}.lms")
    image = read_rgb(sample_dir / "ori_imgs" / f"{i}.jpg").astype(float)
    inner = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.round(lms[60:68]).astype(np.int32)], 1)
    inner_core = cv2.erode(inner, np.ones((2, 2), np.uint8)).astype(bool)
    assert inner_core.sum() >= 4
    cheek = np.round((lms[48] + lms[4]) / 2).astype(int)  # skin between the mouth corner and the jaw
    skin = image[cheek[1] - 1 : cheek[1] + 2, cheek[0] - 1 : cheek[0] + 2].reshape(-1, 3)
    assert np.abs(image[inner_core].mean(0) - skin.mean(0)).max() > 30


def test_eyes_blink_on_schedule(sample, sample_dir):
    params = np.load(sample_dir / "gt" / "params.npz")
    assert params["blink_times"].size >= 1
    ratios = np.array(
        [eye_area_ratio(np.loadtxt(sample_dir / "ori_imgs" / f"{i}.lms"), 96, 96) for i in range(sample.num_frames)]
    )
    closed = params["eye_open"] < 0.2
    assert closed.any()
    assert ratios[closed].max() < 0.3 * np.median(ratios)
    assert np.corrcoef(ratios, params["eye_open"])[0, 1] > 0.95


def test_head_turns_a_few_degrees_smoothly_and_the_torso_follows_only_partly(sample_dir):
    params = np.load(sample_dir / "gt" / "params.npz")
    euler = params["head_euler_deg"]
    assert 0.5 < np.abs(euler).max() < 10.0
    assert np.abs(np.diff(euler, axis=0)).max() < 1.0, "smooth at 25 fps"
    head = Rotation.from_matrix(params["head_rotation"])
    torso = Rotation.from_matrix(params["torso_rotation"])
    relative = (torso.inv() * head).magnitude()
    assert np.degrees(relative).std() > 0.3, "the torso moves relative to the head"
    travel = np.linalg.norm(params["head_translation"] - params["head_translation"].mean(0), axis=1)
    assert 0.001 < travel.max() < 0.03


def test_phone_timeline_is_inside_the_audio(sample):
    phones = json.loads((sample.output_dir / "gt" / "phones.json").read_text())
    assert phones["engine"] == "formant"
    ends = [p["end"] for p in phones["phones"]]
    assert len(ends) > 5 and max(ends) <= sample.seconds
    assert all(p["start"] < p["end"] for p in phones["phones"])


def _decoded(video: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(video)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(float)
    with av.open(str(video)) as container:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    return frames, audio


def test_same_seed_same_sample_whatever_the_worker_count(sample_dir, tmp_path):
    kwargs = dict(SAMPLE_KWARGS, workers=2)
    again = generate_sample(tmp_path / "again", **kwargs).output_dir
    mismatched = []

    def walk(cmp: filecmp.dircmp) -> None:
        assert not cmp.left_only and not cmp.right_only
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        mismatched.extend(Path(cmp.left, name) for name in mismatch + errors)
        for sub in cmp.subdirs.values():
            walk(sub)

    walk(filecmp.dircmp(sample_dir, again))
    # Every dataset file is byte-identical; x264 may pick other modes in a few packets of the mp4.
    assert mismatched in ([], [sample_dir / "raw" / "video.mp4"])
    (frames_a, audio_a), (frames_b, audio_b) = (
        _decoded(sample_dir / "raw" / "video.mp4"),
        _decoded(again / "raw" / "video.mp4"),
    )
    assert frames_a.shape == frames_b.shape and np.array_equal(audio_a, audio_b)
    assert np.abs(frames_a - frames_b).mean(axis=(1, 2, 3)).max() < 1.0


def test_another_seed_gives_another_person_and_speech(sample_dir, tmp_path):
    other = generate_sample(tmp_path / "other", **dict(SAMPLE_KWARGS, seed=4)).output_dir
    a, b = read_rgb(sample_dir / "bc.jpg"), read_rgb(other / "bc.jpg")
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10
    assert (sample_dir / "aud.wav").read_bytes() != (other / "aud.wav").read_bytes()
