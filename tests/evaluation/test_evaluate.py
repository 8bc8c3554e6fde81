"""rad-eval on a tiny trained checkpoint: the metrics JSON, its side-by-side video, per-frame plot and mouth
pictures; offline, LMD falls back to MediaPipe's face mesh."""

from __future__ import annotations

import json
from urllib.error import URLError

import av
import cv2
import numpy as np
import pytest

from rad_nerfstudio.evaluation.landmark_distance import DetectorUnavailableError, FaceAlignmentDetector
from rad_nerfstudio.evaluation.mouth_response import RESPONSE_LEVELS
from rad_nerfstudio.evaluation.portrait_evaluation import EvalArgs, evaluate_portrait
from rad_nerfstudio.model_components.lpips_net import Lpips

pytestmark = pytest.mark.slow  # the project's commands, run end to end


def _brightness_landmarks(image, face):
    """A stand-in detector: every point at the face box's mean brightness (so darker renders move the mouth)."""
    x0, y0, x1, y1 = face
    return np.full((68, 2), float(image[y0:y1, x0:x1].mean()))


def test_rad_eval_writes_metrics_a_side_by_side_video_and_a_plot(trained_run, tmp_path):
    output = tmp_path / "eval" / "metrics.json"
    report = evaluate_portrait(
        EvalArgs(trained_run, output),
        lpips_factory=lambda: Lpips(pretrained=False),
        detector_factory=lambda: _brightness_landmarks,
    )
    saved = json.loads(output.read_text())
    assert saved == json.loads(json.dumps(report))
    for key in ("psnr", "ssim", "lips_psnr", "lips_tight_psnr", "lpips", "lmd", "render_fps", "model_mb"):
        assert isinstance(saved[key], float) and np.isfinite(saved[key]), key
    assert saved["frames"] == 10 and saved["unavailable"] == {} and saved["lmd_detector"] == "_brightness_landmarks"
    for key in ("mouth_r", "mouth_r_truth", "mouth_r_truth_ceiling", "mouth_r_audio_prediction"):
        assert saved[key] is None or -1 <= saved[key] <= 1, key  # None where a 4-step render shows no face
    assert "mouth_r_audio_prediction" in saved
    assert saved["mouth_detection_rate"]["truth"] == 1.0
    effect = saved["audio_effect"]  # measured on 4 frames; the notes warn exactly when it says the audio is ignored
    assert effect["mouth_difference"] >= 0 and len(effect["frames"]) == 4
    assert effect["ignored"] == ("audio_effect" in saved["notes"])
    per_frame_keys = ("lips_tight_psnr", "mouth_opening_truth", "mouth_opening_render", "mouth_open_true")
    for key in (*per_frame_keys, "mouth_opening_audio_prediction"):
        assert len(saved["per_frame"][key]) == 10, key
    assert 0 < saved["ssim"] <= 1 and saved["lpips"] > 0 and saved["lmd"] >= 0 and saved["lmd_centred"] >= 0
    assert len(saved["per_frame"]["lmd_centred"]) == 10
    assert len(saved["per_frame"]["psnr"]) == len(saved["per_frame"]["img_id"]) == 10
    assert saved["psnr"] == pytest.approx(np.mean(saved["per_frame"]["psnr"]))
    aligned = saved["aligned"]  # the run ends in its torso stage: poses and torso latents fitted
    assert np.isfinite(aligned["psnr"]) and len(aligned["per_frame_psnr"]) == 10
    assert aligned["rotation_mean_deg"] >= 0 and aligned["torso_latent_offset"] >= 0
    assert aligned["lmd"] is None or aligned["lmd"] >= 0  # None where a 4-step render shows no face
    assert (aligned["lmd_centred"] is None) == (aligned["lmd"] is None)

    video = tmp_path / "eval" / "metrics_side_by_side.mp4"
    assert saved["files"]["side_by_side_video"] == str(video)
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(video)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert len(frames) == 10 and frames[0].shape == (96, 3 * 96, 3)
    assert abs(samples / 16000 - 0.4) < 0.07, "the validation frames' speech"
    plot = cv2.imread(saved["files"]["per_frame_plot"])
    assert plot is not None and plot.shape[0] > 200
    assert saved["files"]["mouth_opening_plot"] == str(tmp_path / "eval" / "metrics_mouth_opening.png")
    assert cv2.imread(saved["files"]["mouth_opening_plot"]).shape[0] > 200
    strip = cv2.imread(str(tmp_path / "eval" / "metrics_mouth_strip.png"))
    assert strip is not None and strip.shape == (2 * 64 + 6, 10 * 96, 3), "10 frames: ground truth over render"
    response = saved["mouth_response"]  # the ridge-mouth head told five openings on six frames
    assert response["levels"] == list(RESPONSE_LEVELS) and len(response["frames"]) == len(response["opening"]) == 6
    assert response["mouth_response"] is None or np.isfinite(response["mouth_response"])  # a 4-step head: no face
    picture = cv2.imread(saved["files"]["mouth_response_picture"])
    assert picture is not None and picture.shape == (6 * 64, 6 * 96, 3), "each frame, then its five renders"


def test_offline_lmd_uses_the_face_mesh_and_ground_truth_as_renders_scores_the_ceiling(
    trained_run, tmp_path, monkeypatch
):
    import face_alignment.api
    import torchvision.models._api

    def offline(*args, **kwargs):
        raise URLError("no route to host")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    monkeypatch.setattr(face_alignment.api, "load_file_from_url", offline)
    with pytest.raises(DetectorUnavailableError, match="2D-FAN.*no route to host"):
        FaceAlignmentDetector()
    saved = evaluate_portrait(EvalArgs(trained_run, tmp_path / "m.json", renders_from="ground-truth"))
    assert saved["lpips"] is None and "alexnet" in saved["unavailable"]["lpips"]
    assert saved["lmd"] == 0.0 and saved["lmd_detector"] == "mediapipe-face-mesh"
    assert "2D-FAN" in saved["notes"]["lmd"] and "lmd" not in saved["unavailable"]
    assert saved["psnr"] == saved["lips_tight_psnr"] == 100.0 and saved["render_fps"] is None
    assert saved["audio_effect"] is None, "nothing rendered"
    assert "mouth_response" not in saved and "mouth_response_picture" not in saved["files"]
    assert saved["mouth_r"] >= 0.9, "the issue's acceptance: ground-truth frames as renders"
    # the sample's validation frames are its silent end: true mouth_open is constant, so r against it is undefined
    assert saved["mouth_r_truth"] is saved["mouth_r_truth_ceiling"] is None
    assert "constant: true mouth_open" in saved["notes"]["mouth_r_truth_ceiling"]
    assert (tmp_path / "m_mouth_strip.png").is_file() and (tmp_path / "m_mouth_opening.png").is_file()
