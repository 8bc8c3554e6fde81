"""rad-eval-mouth: a video's mouth opening against a reference track (rad-sample's npz or another video)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.evaluation.mouth_reference import score_mouth_video
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.scripts.evaluate_mouth import EvalMouthArgs, main
from tests.mouth_faces import portrait_frames

GAPS = np.round(8 - 8 * np.cos(np.linspace(0, 3 * np.pi, 20)))
"""Lip gaps over 20 frames: open and close one and a half times."""


def _write_video(path, frames):
    with Mp4Writer(path, frames.shape[2], frames.shape[1], 25) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def _write_params(path, mouth_open):
    np.savez(
        path, frame_time=np.arange(len(mouth_open)) / 25, mouth_open=mouth_open, mouth_width=np.ones(len(mouth_open))
    )
    return path


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    """A 20-frame, 192 px video of the astronaut opening and closing her mouth."""
    return _write_video(tmp_path_factory.mktemp("mouth") / "talking.mp4", portrait_frames(GAPS, 192))


def test_a_video_of_known_openings_scores_high_against_its_parameters(talking, tmp_path):
    reference = _write_params(tmp_path / "params.npz", GAPS / 16)
    output = tmp_path / "eval" / "novel_mouth.json"
    report = score_mouth_video(talking, reference, output)
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    assert report["r"] >= 0.9 and report["r_best_lag"] >= report["r"] and report["detection_rate"] == 1.0
    assert report["frames"] == {"video": 20, "reference": 20, "compared": 20} and report["length_note"] is None
    assert len(report["per_frame"]["opening"]) == 20 and report["per_frame"]["reference"][1] == pytest.approx(
        GAPS[1] / 16
    )
    plot = cv2.imread(str(tmp_path / "eval" / "novel_mouth_mouth_opening.png"))
    assert plot is not None and plot.shape[0] > 200


def test_a_reference_video_is_measured_too_and_a_one_frame_length_mismatch_is_reported(talking, tmp_path):
    reference = _write_video(tmp_path / "reference.mp4", portrait_frames(np.append(GAPS, 0), 192))
    report = score_mouth_video(talking, reference, tmp_path / "m.json")
    assert report["r"] >= 0.9 and report["reference_detection_rate"] == 1.0
    assert report["frames"] == {"video": 20, "reference": 21, "compared": 20}
    assert "1 frame(s)" in str(report["length_note"]) and "shorter" in str(report["length_note"])


def test_a_frozen_mouth_is_reported_not_a_crash(tmp_path):
    frozen = _write_video(tmp_path / "frozen.mp4", np.repeat(portrait_frames(GAPS[:1], 192), 20, axis=0))
    report = score_mouth_video(frozen, _write_params(tmp_path / "p.npz", GAPS / 16), tmp_path / "m.json")
    assert report["detection_rate"] == 1.0
    assert report["r"] is None or report["r"] < 0.5
    assert (tmp_path / "m_mouth_opening.png").is_file()


def test_unusable_inputs_name_the_file(talking, tmp_path, capsys):
    with pytest.raises(InputFileError, match="missing.npz: does not exist"):
        score_mouth_video(talking, tmp_path / "missing.npz", tmp_path / "m.json")
    np.savez(tmp_path / "other.npz", eye_open=np.ones(3))
    with pytest.raises(InputFileError, match="other.npz: has no 1-D mouth_open"):
        score_mouth_video(talking, tmp_path / "other.npz", tmp_path / "m.json")
    (tmp_path / "broken.npz").write_text("not a zip")
    with pytest.raises(InputFileError, match="broken.npz: cannot be read"):
        score_mouth_video(talking, tmp_path / "broken.npz", tmp_path / "m.json")
    with pytest.raises(SystemExit) as exit_info:
        main(EvalMouthArgs(tmp_path / "nothing.mp4", tmp_path / "other.npz", tmp_path / "m.json"))
    assert exit_info.value.code == 2 and "nothing.mp4: does not exist" in capsys.readouterr().out


def test_the_photo_sample_video_follows_its_true_mouth_opening(tmp_path):
    """The issue's acceptance on rad-sample's photo look: the clip's own frames score r >= 0.9."""
    from rad_nerfstudio.sample.generate import generate_sample

    sample = generate_sample(
        tmp_path / "portrait", seconds=4.0, size=256, seed=3, speech="formant", workers=1, look="photo"
    )
    root = sample.output_dir
    report = score_mouth_video(root / "raw" / "video.mp4", root / "gt" / "params.npz", tmp_path / "m.json")
    assert report["detection_rate"] == 1.0 and report["frames"]["compared"] == 100
    assert report["r"] >= 0.9
