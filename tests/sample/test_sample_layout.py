"""The sample is complete, in the anchors' layout, and self-consistent."""

from __future__ import annotations

import json

import av
import numpy as np
import soundfile

from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE, PARSING_BGR, VIDEO_FPS
from rad_nerfstudio.pinhole import Pinhole, world_to_camera
from tests.helpers import all_frames, read_rgb, read_transforms

PALETTE = {tuple(v) for v in PARSING_BGR.values()}


def test_every_file_of_the_layout_exists(sample, sample_dir):
    n = sample.num_frames
    assert n == 100
    for i in range(n):
        for rel in (
            f"ori_imgs/{i}.jpg",
            f"ori_imgs/{i}.lms",
            f"parsing/{i}.png",
            f"gt_imgs/{i}.jpg",
            f"torso_imgs/{i}.png",
        ):
            assert (sample_dir / rel).is_file(), rel
    for rel in (
        "bc.jpg",
        "aud.wav",
        "transforms_train.json",
        "transforms_val.json",
        "raw/video.mp4",
        "raw/novel_speech.wav",
        "gt/params.npz",
        "gt/phones.json",
        "gt/meta.json",
        "gt/contact_sheet.png",
        "gt/layers.png",
    ):
        assert (sample_dir / rel).is_file(), rel
    assert not list(sample_dir.parent.glob(".*partial")), "temporary folder left behind"


def test_transforms_use_the_anchors_keys_and_split(sample_dir):
    train, val = read_transforms(sample_dir, "train"), read_transforms(sample_dir, "val")
    for content in (train, val):
        assert set(content) == {"focal_len", "cx", "cy", "frames"}
        assert content["cx"] == 48.0 and content["cy"] == 48.0
        for frame in content["frames"]:
            assert set(frame) == {"img_id", "aud_id", "transform_matrix"}
            assert frame["img_id"] == frame["aud_id"]
            matrix = np.asarray(frame["transform_matrix"])
            assert matrix.shape == (4, 4)
            np.testing.assert_allclose(matrix[3], [0, 0, 0, 1])
            np.testing.assert_allclose(matrix[:3, :3] @ matrix[:3, :3].T, np.eye(3), atol=1e-9)
            # the camera sits 0.7-0.9 m from the head centre (anchors: metres, about 0.75 m)
            assert 0.7 < np.linalg.norm(matrix[:3, 3]) < 0.9
    assert [f["img_id"] for f in train["frames"]] == list(range(90))  # int(100 * 10 / 11)
    assert [f["img_id"] for f in val["frames"]] == list(range(90, 100))


def test_audio_length_matches_frame_count(sample, sample_dir):
    audio, rate = soundfile.read(sample_dir / "aud.wav")
    assert rate == AUDIO_SAMPLE_RATE and audio.ndim == 1
    assert audio.size == sample.num_frames * AUDIO_SAMPLE_RATE // VIDEO_FPS
    assert np.abs(audio).max() > 0.1, "the audio is silent"


def test_gt_landmarks_project_onto_the_lms_points(sample_dir):
    params = np.load(sample_dir / "gt" / "params.npz")
    meta = json.loads((sample_dir / "gt" / "meta.json").read_text())
    content = read_transforms(sample_dir, "train")
    size = meta["size"]
    camera = Pinhole(size, size, content["focal_len"], content["cx"], content["cy"])
    errors = []
    for frame in all_frames(sample_dir):
        i = frame["img_id"]
        lms = np.loadtxt(sample_dir / "ori_imgs" / f"{i}.lms")
        assert lms.shape == (68, 2)
        projected = camera.project(world_to_camera(params["landmarks_3d"][i], np.asarray(frame["transform_matrix"])))
        errors.append(np.linalg.norm(projected - lms, axis=1).max())
    assert max(errors) < 1.0


def test_parsing_uses_only_the_anchors_palette(sample, sample_dir):
    seen = set()
    for i in range(0, sample.num_frames, 7):
        parsing = read_rgb(sample_dir / "parsing" / f"{i}.png")[..., ::-1]  # back to BGR as stored
        colors = {tuple(c) for c in np.unique(parsing.reshape(-1, 3), axis=0)}
        assert colors <= PALETTE, colors - PALETTE
        seen |= colors
    assert seen == PALETTE, "every class (head, neck, torso, background) appears"


def test_face_landmarks_fall_on_head_pixels_and_the_head_is_blue_in_rgb(sample_dir):
    parsing_rgb = read_rgb(sample_dir / "parsing" / "10.png")
    lms = np.loadtxt(sample_dir / "ori_imgs" / "10.lms")
    inner_face = np.round(lms[17:68]).astype(int)
    colors = parsing_rgb[inner_face[:, 1], inner_face[:, 0]]
    assert np.all(colors == [0, 0, 255]), "seen as RGB, the head is blue"


def test_torso_layer_is_rgba_and_covers_neck_and_torso(sample_dir):
    torso = read_rgb(sample_dir / "torso_imgs" / "20.png")
    parsing = read_rgb(sample_dir / "parsing" / "20.png")
    assert torso.shape[2] == 4
    alpha = torso[..., 3]
    assert set(np.unique(alpha)) <= {0, 255}
    body = np.all(parsing == [0, 255, 0], axis=-1) | np.all(parsing == [255, 0, 0], axis=-1)
    assert np.mean(alpha[body] == 255) > 0.98
    assert np.all(torso[alpha == 0][:, :3] == 0)
    head = np.all(parsing == [0, 0, 255], axis=-1)
    assert np.any(head & (alpha == 255)), "the neck continues under the head (in-painted region)"


def test_gt_images_show_the_background_plate_where_parsing_says_background(sample_dir):
    bc = read_rgb(sample_dir / "bc.jpg").astype(int)
    gt = read_rgb(sample_dir / "gt_imgs" / "30.jpg").astype(int)
    parsing = read_rgb(sample_dir / "parsing" / "30.png")
    background = np.all(parsing == [255, 255, 255], axis=-1)
    assert np.mean(np.abs(gt[background] - bc[background])) < 4.0  # JPEG noise only
    assert np.mean(np.abs(gt[~background] - bc[~background])) > 20.0


def test_raw_video_has_every_frame_and_the_audio(sample, sample_dir):
    with av.open(str(sample_dir / "raw" / "video.mp4")) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert (video.width, video.height) == (96, 96)
        assert audio.sample_rate == AUDIO_SAMPLE_RATE
        frames = sum(1 for _ in container.decode(video=0))
        assert frames == sample.num_frames
        assert abs(float(audio.duration * audio.time_base) - sample.seconds) < 0.1


def test_the_novel_speech_is_six_seconds_of_other_words(sample_dir):
    novel, rate = soundfile.read(sample_dir / "raw" / "novel_speech.wav", dtype="float32")
    training, _ = soundfile.read(sample_dir / "aud.wav", dtype="float32")
    assert rate == 16000 and abs(len(novel) / rate - 6.0) < 0.05
    assert np.sqrt(np.mean(novel**2)) > 0.01, "speech, not silence"
    n = min(len(novel), len(training))
    assert not np.allclose(novel[:n], training[:n], atol=1e-3), "not the training audio"
