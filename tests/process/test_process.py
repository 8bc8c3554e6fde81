"""rad-process end to end on the raw clip of the sample, scored against the sample's ground truth; resuming;
bad inputs. Uses the offline backend (MediaPipe, installed by the test setup)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile
import torch

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.errors import AudioInputError, InputFileError
from rad_nerfstudio.evaluation.process_scores import score_processed
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig
from rad_nerfstudio.scripts.process import ProcessArgs, process_video
from tests.model_steps import TINY_GRID, build_model, train_step

BIN = Path(sys.executable).parent


def test_rad_process_recovers_the_sample_poses_landmarks_and_parsing(processed, sample_dir):
    root = processed["root"]
    for name in ("aud.wav", "bc.jpg", "transforms_train.json", "transforms_val.json", "aud_mel.npy"):
        assert (root / name).is_file(), name
    assert "rad-process" in processed["stdout"] and "faces in 100 of 100 frames" in processed["stdout"]
    result = score_processed(root, sample_dir)
    print(json.dumps(result, indent=1))
    assert result["frames"] == 100
    assert result["rotation_median_deg"] <= 2.0, result
    assert result["landmark_mean_px"] <= 1.5, result  # 96 px frames
    assert result["parsing_iou"]["background"] >= 0.93 and result["parsing_iou"]["head"] >= 0.85, result
    assert result["parsing_iou"]["torso"] >= 0.88 and result["parsing_iou"]["neck"] >= 0.45, result
    assert result["plate_mean_abs"] < 12, result
    audio, rate = soundfile.read(root / "aud.wav")
    assert rate == 16000 and abs(len(audio) / rate - 4.0) < 0.05
    torso = cv2.imread(str(root / "torso_imgs" / "0.png"), cv2.IMREAD_UNCHANGED)
    assert torso.shape == (96, 96, 4) and 0 < (torso[..., 3] > 0).mean() < 0.9


def test_the_dataparser_trains_on_the_processed_dataset(processed):
    config = TalkingPortraitDataManagerConfig(data=processed["root"])
    config.pixel_sampler.num_rays_per_batch = 128
    manager = config.setup(device="cpu")
    model = build_model(
        RadNerfModelConfig(
            head=RadHeadFieldConfig(spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32),
            torso=TorsoFieldConfig(grid=TINY_GRID, hidden_dim=32),
            occupancy=OccupancyGridConfig(resolution=16, candidates=48),
            head_steps=2,
            lpips_pretrained=False,
        ),
        manager,
    )
    for step in range(3):
        outputs, losses = train_step(manager, model, step)
        assert all(torch.isfinite(v) for v in losses.values())
    assert float(outputs["accumulation"].max()) > 0, "rays reach the head: the cameras look at the scene box"


@pytest.mark.slow
def test_a_second_run_skips_finished_steps_and_force_redoes_one_and_the_rest(processed, tmp_path):
    root = Path(shutil.copytree(processed["root"], tmp_path / "dataset"))
    command = [str(BIN / "rad-process"), "--video", str(processed["video"]), "--output-dir", str(root)]
    command += ["--refine-poses", "0"]  # as the fixture processed it
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("done before, skipped") == 7, again.stdout[-2000:]
    forced = subprocess.run([*command, "--force", "parsing"], capture_output=True, text=True, timeout=600)
    assert forced.returncode == 0, forced.stdout[-2000:]
    records = {
        name: json.loads((root / ".rad-process" / "steps" / f"{name}.json").read_text())
        for name in ("poses", "parsing")
    }
    assert forced.stdout.count("done before, skipped") == 4, forced.stdout[-2000:]  # parsing and after redone
    assert records["parsing"]["summary"] == "100 parsing maps by person segmentation and landmarks"


def _video(path: Path, frames: int, audio_seconds: float | None) -> Path:
    """A 64 px noise video (no face) with ``audio_seconds`` of silence, or no audio stream."""
    audio = None if audio_seconds is None else np.zeros(int(audio_seconds * 16000), np.float32)
    g = np.random.default_rng(0)
    with Mp4Writer(path, 64, 64, 25, audio) as video:
        for _ in range(frames):
            video.write(g.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return path


@pytest.mark.slow
def test_bad_inputs_are_refused_naming_the_file(tmp_path):
    silent = _video(tmp_path / "silent.mp4", 30, None)
    with pytest.raises(InputFileError, match=r"none.pth: does not exist \(--parsing-weights\)"):
        process_video(ProcessArgs(silent, tmp_path / "z", parsing_weights=tmp_path / "none.pth"))
    assert not (tmp_path / "z").exists(), "refused before anything is written"
    with pytest.raises(AudioInputError, match="has no audio stream"):
        process_video(ProcessArgs(silent, tmp_path / "a"))
    short = _video(tmp_path / "short.mp4", 10, 0.4)
    with pytest.raises(InputFileError, match="10 frames at 25 fps; at least 22"):
        process_video(ProcessArgs(short, tmp_path / "b"))
    faceless = _video(tmp_path / "noise.mp4", 30, 1.2)
    with pytest.raises(InputFileError, match=r"noise.mp4: no face found in 30 of 30 frames"):
        process_video(ProcessArgs(faceless, tmp_path / "c"))
    soundfile.write(tmp_path / "brief.wav", np.zeros(8000, np.float32), 16000)
    with pytest.raises(InputFileError, match=r"brief.wav: its audio is 0.70 s shorter"):
        process_video(ProcessArgs(faceless, tmp_path / "d", audio=tmp_path / "brief.wav"))
    result = subprocess.run(
        [str(BIN / "rad-process"), "--video", str(tmp_path / "missing.mp4"), "--output-dir", str(tmp_path / "e")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "missing.mp4: does not exist" in result.stdout
