"""rad-render --paste-back: the portrait back in a 1920x1080, 30 fps source, the source untouched outside the blend."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.process.crop_record import CROP_FILE, CropRecord
from rad_nerfstudio.render.paste_back import blend_mask, paste, recorded_source_video
from rad_nerfstudio.render.schedules import ping_pong
from rad_nerfstudio.render.source_frames import SourceFrames
from rad_nerfstudio.scripts.render import RenderArgs, render_portrait
from tests.helpers import audio_clip, read_mp4_streams

BOX = (1100, 200, 300, 300)
SOURCE_FPS = 30


def _source_frame(k: int, face: np.ndarray) -> np.ndarray:
    """Source frame ``k``: a textured 1920x1080 canvas whose bar moves every frame, the face scaled into ``BOX``."""
    yy, xx = np.mgrid[0:1080, 0:1920]
    canvas = np.stack([(xx // 7) % 256, (yy // 5) % 256, ((xx + yy) // 11) % 256], -1).astype(np.uint8) // 2 + 60
    canvas[:, 40 * k % 1800 : 40 * k % 1800 + 60] = 230
    x, y, w, h = BOX
    canvas[y : y + h, x : x + w] = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC)
    return canvas


@pytest.fixture
def hd_source(trained_run, tmp_path):
    """A 30 fps 1920x1080 source video of the run's dataset (its crop.json written for the test, then removed)."""
    dataset = trained_run.parents[4] / "portrait"
    faces = [cv2.cvtColor(cv2.imread(str(dataset / "gt_imgs" / f"{k}.jpg")), cv2.COLOR_BGR2RGB) for k in range(40)]
    video = tmp_path / "source.mp4"
    with Mp4Writer(video, 1920, 1080, SOURCE_FPS) as writer:
        for k in range(int(40 / 25 * SOURCE_FPS)):
            writer.write(_source_frame(k, faces[min(int(round(k * 25 / SOURCE_FPS)), 39)]))
    record = CropRecord(1920, 1080, 0, BOX, faces[0].shape[1], faces[0].shape[0], "given")
    record.write(dataset)
    yield dataset, video, record
    (dataset / CROP_FILE).unlink()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


@pytest.mark.slow
@pytest.mark.parametrize("region", ["head", "mouth"])
def test_paste_back_keeps_the_source_outside_the_blend_at_its_size_and_rate(
    trained_run, sample_dir, hd_source, tmp_path, region
):
    dataset, video, record = hd_source
    clip = audio_clip(sample_dir, tmp_path / "speech.wav", 1.2)
    output = tmp_path / "pasted.mp4"
    args = RenderArgs(trained_run, clip, output, paste_back="on", source_video=video, paste_region=region)  # pyright: ignore[reportArgumentType]
    summary = render_portrait(args)
    assert (summary.width, summary.height) == (1920, 1080)
    streams = read_mp4_streams(output)
    frames = streams["frames"]
    assert frames.shape[1:] == (1080, 1920, 3)
    assert abs(len(frames) - 1.2 * SOURCE_FPS) <= 1, "the source's frame rate"
    assert summary.frames == len(frames) and summary.renders == 30, "the summary counts the video's frames"
    assert abs(streams["audio_seconds"] - 1.2) < 0.07
    train_ids = [int(i) for i in sorted(int(p.stem) for p in (dataset / "gt_imgs").glob("*.jpg"))][:90]
    poses = ping_pong(90, 30)
    x, y, w, h = BOX
    with SourceFrames(video) as source:
        for j in (0, 7, 20, len(frames) - 1):
            img_id = train_ids[int(poses[min(int(round(j * 25 / SOURCE_FPS)), 29)])]
            expected = source.frame(source.index_at(img_id / 25))
            outside = np.ones((1080, 1920), bool)
            outside[y : y + h, x : x + w] = False
            assert _psnr(frames[j][outside], expected[outside]) >= 40, f"frame {j}: the source outside the crop"
            if region == "mouth":  # the eyes and forehead stay the source's exactly
                top = (slice(y, y + h // 3), slice(x, x + w))
                assert _psnr(frames[j][top], expected[top]) >= 40, f"frame {j}: the source's eyes"
            inside = (slice(y + h // 2, y + 5 * h // 6), slice(x + w // 3, x + 2 * w // 3))
            assert np.abs(frames[j][inside].astype(int) - expected[inside]).mean() > 1.0, "the render is in"


def test_blend_masks_fade_to_nothing_at_the_crop_edges_and_stay_inside_their_region():
    opacity = np.zeros((96, 96), np.float32)
    opacity[10:90, 20:76] = 1.0
    face, lower = np.array([20, 10, 76, 70]), np.array([30, 50, 66, 80])
    for region in ("head", "face", "mouth"):
        mask = blend_mask(region, opacity, face, lower)  # pyright: ignore[reportArgumentType]
        assert mask.shape == (96, 96) and mask.min() >= 0 and mask.max() <= 1
        assert mask[0].max() == 0 and mask[-1].max() == 0 and mask[:, 0].max() == 0 and mask[:, -1].max() == 0
        assert mask[:, :20].max() == 0, f"{region}: nothing outside its region"
    assert blend_mask("mouth", opacity, face, lower)[:50].max() == 0, "the mouth mask leaves the eyes alone"
    assert blend_mask("head", opacity, face, lower)[50, 48] > 0.99


def test_paste_handles_a_crop_past_the_frame_edge():
    record = CropRecord(200, 100, 0, (150, -20, 80, 80), 40, 40, "given")
    frame = np.full((100, 200, 3), 10, np.uint8)
    render = np.full((40, 40, 3), 250, np.uint8)
    pasted = paste(record, render, np.ones((40, 40), np.float32), frame)
    assert pasted.shape == frame.shape and pasted[0, 199, 0] == 250 and pasted[99, 0, 0] == 10


def test_source_frames_serve_backward_runs_in_order(tmp_path):
    video = tmp_path / "count.mp4"
    with Mp4Writer(video, 64, 48, 25) as writer:
        for k in range(60):
            writer.write(np.full((48, 64, 3), 4 * k, np.uint8))
    with SourceFrames(video, cache_frames=8) as source:
        assert source.frame_count == 60 and source.fps == 25
        order = [*range(0, 40), *range(39, -1, -1), 55, 3]
        values = [int(source.frame(k)[..., 0].mean().round()) for k in order]
        assert all(abs(v - 4 * k) <= 2 for v, k in zip(values, order, strict=True))


@pytest.mark.slow
def test_paste_back_on_without_its_files_is_refused(trained_run, sample_dir, tmp_path):
    dataset = trained_run.parents[4] / "portrait"
    assert recorded_source_video(dataset) is None
    clip = audio_clip(sample_dir, tmp_path / "speech.wav", 0.4)
    with pytest.raises(InputFileError, match="crop.json"):
        render_portrait(RenderArgs(trained_run, clip, tmp_path / "x.mp4", paste_back="on"))
    with pytest.raises(ValueError, match="--pose train or frame"):
        path = tmp_path / "camera_path.json"
        path.write_text("{}")
        render_portrait(RenderArgs(trained_run, clip, tmp_path / "x.mp4", paste_back="on", pose=str(path)))
    assert not (tmp_path / "x.mp4").exists()
