"""Every bad dataset input fails before training with an error naming the file and the problem."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import soundfile

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.errors import AudioInputError, DatasetError


def _set_up(dataset, **options):
    """What ns-train does first: build the data manager (dataparser, validation, caches)."""
    config = TalkingPortraitDataManagerConfig(data=dataset)
    for key, value in options.items():
        setattr(config.dataparser, key, value)
    return config.setup(device="cpu")


def _expect(dataset, path_fragment, problem, error=DatasetError, **options):
    with pytest.raises(error) as info:
        _set_up(dataset, **options)
    message = str(info.value)
    assert path_fragment in message and problem in message, message


def _edit_json(dataset, split, edit):
    path = dataset / f"transforms_{split}.json"
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))


def test_missing_dataset_folder(tmp_path):
    _expect(tmp_path / "nowhere", "nowhere", "is not a dataset folder")


def test_missing_transforms(dataset):
    (dataset / "transforms_val.json").unlink()
    _expect(dataset, "transforms_val.json", "does not exist")


def test_transforms_that_are_not_json(dataset):
    (dataset / "transforms_train.json").write_text("{ not json")
    _expect(dataset, "transforms_train.json", "is not valid JSON")


def test_transforms_without_frames(dataset):
    _edit_json(dataset, "train", lambda c: c.update(frames=[]))
    _expect(dataset, "transforms_train.json", "has no frames")


def test_transforms_with_a_broken_matrix(dataset):
    _edit_json(dataset, "val", lambda c: c["frames"][0].update(transform_matrix=[[1, 0], [0, 1]]))
    _expect(dataset, "transforms_val.json", "finite 4x4")


def test_an_img_id_without_its_image(dataset):
    (dataset / "gt_imgs" / "7.jpg").unlink()
    _expect(dataset, "gt_imgs/7.jpg", "does not exist")


def test_a_missing_torso_image(dataset):
    (dataset / "torso_imgs" / "3.png").unlink()
    _expect(dataset, "torso_imgs/3.png", "does not exist")


def test_images_of_different_sizes(dataset):
    cv2.imwrite(str(dataset / "gt_imgs" / "12.jpg"), np.zeros((80, 96, 3), np.uint8))
    _expect(dataset, "gt_imgs/12.jpg", "is 96x80 but 0.jpg is 96x96")


def test_a_corrupt_image(dataset):
    (dataset / "gt_imgs" / "5.jpg").write_bytes(b"\xff\xd8 broken")
    _expect(dataset, "gt_imgs/5.jpg", "cannot be read as an image")


def test_audio_shorter_than_the_frames_says_by_how_much(dataset):
    audio, rate = soundfile.read(dataset / "aud.wav")
    soundfile.write(dataset / "aud.wav", audio[: int(3.0 * rate)], rate)
    _expect(dataset, "aud.wav", "25 frames (1.00 s) short")


def test_audio_far_longer_than_the_frames(dataset):
    audio, rate = soundfile.read(dataset / "aud.wav")
    soundfile.write(dataset / "aud.wav", np.concatenate([audio] * 3), rate)
    _expect(dataset, "aud.wav", "far longer")


def test_missing_audio(dataset):
    (dataset / "aud.wav").unlink()
    _expect(dataset, "aud.wav", "does not exist")


def test_empty_and_unreadable_audio(dataset):
    soundfile.write(dataset / "aud.wav", np.zeros(0, np.float32), 16000)
    _expect(dataset, "aud.wav", "no audio samples", error=AudioInputError)
    (dataset / "aud.wav").write_bytes(b"RIFF....WAVE")
    _expect(dataset, "aud.wav", "cannot be read as audio", error=AudioInputError)


def test_landmarks_with_a_wrong_point_count(dataset):
    lms = np.loadtxt(dataset / "ori_imgs" / "9.lms")
    np.savetxt(dataset / "ori_imgs" / "9.lms", lms[:60], "%f")
    _expect(dataset, "ori_imgs/9.lms", "has 60 points")


def test_landmarks_that_are_not_numbers(dataset):
    (dataset / "ori_imgs" / "2.lms").write_text("a b\nc d\n")
    _expect(dataset, "ori_imgs/2.lms", "is not a table")


def test_au_csv_without_au45(dataset):
    (dataset / "au.csv").write_text("frame, AU01_r\n1, 0.0\n")
    _expect(dataset, "au.csv", "has no AU45_r column", eye_feature="au45")


def test_au45_requested_without_au_csv(dataset):
    _expect(dataset, "au.csv", "does not exist", eye_feature="au45")


def test_missing_background_plate(dataset):
    (dataset / "bc.jpg").unlink()
    _expect(dataset, "bc.jpg", "does not exist")


def test_frame_range_that_selects_nothing(dataset):
    _expect(dataset, "transforms_val.json", "has no frames with img_id in [0, 10)", frame_range=(0, 10))


def test_errors_come_before_any_image_is_cached(dataset, monkeypatch):
    import rad_nerfstudio.data.datamanager as datamanager

    def never(*args, **kwargs):
        raise AssertionError("images were cached before the dataset was validated")

    monkeypatch.setattr(datamanager, "cache_images", never)
    shutil.rmtree(dataset / "ori_imgs")
    _expect(dataset, "ori_imgs/0.lms", "does not exist")
