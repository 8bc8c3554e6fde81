"""rad-process's framing of real footage: the automatic crop around the head, the crop record, rotated and
30 fps / variable-rate video, and an HD frame with the face in a corner processed as well as the pre-cropped clip."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pytest
from rich.console import Console

from rad_nerfstudio.evaluation.process_scores import rotation_errors_deg
from rad_nerfstudio.process.auto_crop import FACE_CENTRE_Y, FACE_FRACTION, choose_crop, find_crop
from rad_nerfstudio.process.crop_record import CropRecord
from rad_nerfstudio.process.face_boxes import FaceBox, FaceSearch, video_face_boxes
from rad_nerfstudio.process.pipeline import PortraitProcess, ProcessSettings
from rad_nerfstudio.process.video_frames import FrameGeometry, VideoInputError, VideoProbe, probe_video, read_frames
from rad_nerfstudio.render.paste_back import paste


def _write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 25, times=None, rotation: int = 0) -> Path:
    """An H.264 mp4 of RGB ``frames`` at ``fps``, or at ``times`` (seconds, variable rate); ``rotation``: the
    display matrix's counter-clockwise degrees (what a phone writes)."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "12", "threads": "1"}
        time_base = Fraction(1, 1000) if times is not None else Fraction(1, fps)
        stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = (round(times[k] * 1000) if times is not None else k), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _sample_frames(sample_dir: Path) -> list:
    return list(read_frames(sample_dir / "raw" / "video.mp4"))


def _unsearched() -> FaceSearch:
    raise AssertionError("faces are searched only for --crop auto")


def _box(x: float, y: float, w: float, t: float = 0.0) -> FaceBox:
    return FaceBox(t, x, y, w, w, 0.9)


# ------------------------------------------------------------------------------------------------ crop finding
def test_crop_frames_the_face_like_the_anchors_and_keeps_every_head_inside():
    still = [_box(900, 300, 200, t) for t in range(10)]
    x, y, side, side_y = find_crop(still, 1920, 1080)
    assert side == side_y == round(200 / FACE_FRACTION)
    assert abs(x + side / 2 - 1000) <= 1, "face centred across"
    assert abs(400 - y - FACE_CENTRE_Y * side) <= 1, "face a little above the centre, the torso below"

    moving = [_box(700 + 40 * t, 300, 200, t) for t in range(11)]  # drifts 400 px to the right
    x, y, side, _ = find_crop(moving, 1920, 1080)
    left_head, right_head = 700 - 0.2 * 200, 1100 + 1.2 * 200
    assert x <= left_head and x + side >= right_head, "the head never leaves the crop"
    assert side > round(200 / FACE_FRACTION), "grown to hold the whole motion"

    corner = [_box(20, 600, 160)] * 5 + [_box(5000, 5000, 10)]  # face at the bottom left; one tiny false hit
    x, y, side, _ = find_crop(corner, 1280, 720)
    assert side == 400 and x == 0 and y == 720 - 400, "shifted inside the frame, never padded"

    close_up = [_box(200, 100, 500)]
    assert find_crop(close_up, 1280, 720)[2] == 720, "no larger than the frame's short side"

    portrait = [_box(300, 500, 300)]  # a phone's 1080x1920 portrait video
    x, y, side, _ = find_crop(portrait, 1080, 1920)
    assert side == 750 and 0 <= x <= 1080 - side and y == round(650 - FACE_CENTRE_Y * 750)


def test_the_crop_request_becomes_a_record_and_bad_requests_are_refused(tmp_path):
    video = tmp_path / "talk.mp4"
    hd = VideoProbe(1920, 1080, 5.0, 0)
    faces = [_box(900, 300, 200)]
    auto = choose_crop(video, "auto", 512, hd, lambda: FaceSearch(faces, 1), print)
    assert auto.mode == "auto" and auto.crop[2] == 500 and (auto.width, auto.height) == (500, 500), "never enlarged"
    shrunk = choose_crop(video, "auto", 256, hd, lambda: FaceSearch(faces, 1), print)
    assert (shrunk.width, shrunk.height) == (256, 256) and shrunk.scale == (256 / 500, 256 / 500)

    face = FaceSearch([_box(180, 150, 240)], 1)
    framed = choose_crop(video, "auto", 512, VideoProbe(600, 600, 5.0, 0), lambda: face, print)
    assert framed.mode == "framed" and framed.crop == (0, 0, 600, 600), "a pre-cropped portrait is kept whole"
    warnings = []
    faceless = choose_crop(video, "auto", 512, hd, lambda: FaceSearch([], 25), warnings.append)
    assert faceless.mode == "centre" and faceless.crop == (420, 0, 1080, 1080) and "a face in 0 of 25" in warnings[0]
    rare = choose_crop(video, "auto", 512, hd, lambda: FaceSearch(faces * 4, 10), warnings.append)
    assert rare.mode == "centre" and "a face in 4 of 10 frames" in warnings[1], "stray detections frame nothing"
    given = choose_crop(video, (10, 20, 300, 300), 0, hd, _unsearched, print)
    assert given.mode == "given" and given.crop == (10, 20, 300, 300) and given.width == 300
    with pytest.raises(VideoInputError, match=r"talk.mp4: crop \(1800, 0, 300, 300\) does not fit its 1920x1080"):
        choose_crop(video, (1800, 0, 300, 300), 0, hd, _unsearched, print)
    with pytest.raises(VideoInputError, match="1920x1080 region is not square"):
        choose_crop(video, None, 512, hd, _unsearched, print)
    assert choose_crop(video, None, 0, hd, _unsearched, print).crop == (0, 0, 1920, 1080)


def test_the_crop_record_maps_dataset_pixels_to_the_source_and_pastes_renders_back(tmp_path):
    record = CropRecord(1920, 1080, 0, (600, 100, 800, 800), 400, 400, "auto")
    record.write(tmp_path)
    again = CropRecord.read(tmp_path)
    assert again == record and json.loads((tmp_path / "crop.json").read_text())["scale"] == [0.5, 0.5]
    corners = np.array([[-0.5, -0.5], [399.5, 399.5], [0.0, 0.0]])
    assert np.allclose(again.to_source(corners), [[599.5, 99.5], [1399.5, 899.5], [600.5, 100.5]])
    frame = np.zeros((1080, 1920, 3), np.uint8)
    pasted = paste(record, np.full((400, 400, 3), 200, np.uint8), np.ones((400, 400), np.float32), frame)
    assert pasted[100:900, 600:1400].min() == 200 and pasted.sum() == 200 * 3 * 800 * 800 and frame.max() == 0
    (tmp_path / "crop.json").write_text("{}")
    with pytest.raises(Exception, match="crop.json: is not a crop record"):
        CropRecord.read(tmp_path)


# ---------------------------------------------------------------------------------- rotation and frame rates
def test_a_rotated_30_fps_phone_video_is_read_upright_at_25_fps_and_framed_around_the_face(sample_dir, tmp_path):
    face = cv2.resize(_sample_frames(sample_dir)[0], (120, 120), interpolation=cv2.INTER_CUBIC)
    upright = np.full((320, 180, 3), (60, 90, 40), np.uint8)  # a portrait frame: 180 wide, 320 high
    upright[:12, :12] = 255  # a marker in the top-left corner
    upright[150:270, 30:150] = face
    stored = np.rot90(upright, -1)  # the camera's landscape frame; its display matrix turns it back
    video = _write_video(tmp_path / "phone.mp4", [stored] * 36, fps=30, rotation=90)
    probe = probe_video(video)
    assert (probe.width, probe.height, probe.turns) == (180, 320, 1)
    frames = list(read_frames(video))
    assert len(frames) == 30 and frames[0].shape == (320, 180, 3), "1.2 s at 25 fps, upright"
    assert frames[0][:10, :10].min() > 200 and frames[0][-10:, -10:].max() < 150, "the marker is top left"
    search = video_face_boxes(video)
    boxes = search.boxes
    assert len(boxes) == search.frames >= 5
    record = choose_crop(video, "auto", 64, probe, lambda: search, print)
    x, y, side, _ = record.crop
    assert record.quarter_turns == 1 and (record.width, record.height) == (64, 64)
    face_box = np.median([(b.x, b.y, b.x + b.w, b.y + b.h) for b in boxes], axis=0)
    assert 30 <= face_box[0] and face_box[2] <= 150 and 150 <= face_box[1] and face_box[3] <= 270, face_box
    assert x <= face_box[0] and y <= face_box[1] and x + side >= face_box[2] and y + side >= face_box[3]


def test_variable_frame_rate_video_is_resampled_to_25_fps_by_timestamps(tmp_path):
    gaps = np.tile([0.021, 0.047, 0.033], 20)  # an irregular camera clock, about 30 fps
    times = np.concatenate([[0.0], np.cumsum(gaps)])[:50]
    frames = [np.full((32, 32, 3), 4 * k, np.uint8) for k in range(len(times))]
    video = _write_video(tmp_path / "vfr.mp4", frames, fps=30, times=times)
    out = list(read_frames(video))
    assert abs(len(out) - round((times[-1] + 0.033) * 25)) <= 1
    for tick, frame in enumerate(out):
        source = round(float(frame.mean()) / 4)
        nearest = int(np.argmin(np.abs(times - tick / 25)))
        assert abs(times[source] - times[nearest]) <= 0.021, (tick, source, nearest)


# ------------------------------------------------------------------------------------ an HD frame, end to end
FRAMES = 60
"""Frames of the sample used end to end (the pose fit's time grows with them)."""


def _poses_and_landmarks(video: Path, output: Path, audio: Path, geometry: FrameGeometry, focal: float):
    """frames, landmarks and poses of ``video``; the focal length (in the sample's pixels) is given, scaled by
    the crop, so that only the framing differs between runs."""
    process = PortraitProcess(ProcessSettings(video, output, audio, geometry), Console(quiet=True))
    process.frames()
    process.landmarks()
    process.settings.focal_length = focal * CropRecord.read(output).scale[0]
    process.poses()
    frames = [f for s in ("train", "val") for f in json.loads((output / f"transforms_{s}.json").read_text())["frames"]]
    ids = [f["img_id"] for f in frames]
    rotations = np.transpose(np.array([f["transform_matrix"] for f in frames])[:, :3, :3], (0, 2, 1))
    landmarks = np.stack([np.loadtxt(output / "ori_imgs" / f"{i}.lms") for i in ids])
    return ids, rotations, landmarks


def test_an_hd_clip_with_the_face_in_a_corner_is_processed_as_well_as_the_precropped_clip(sample_dir, tmp_path):
    truth = np.load(sample_dir / "gt" / "params.npz")
    focal = json.loads((sample_dir / "transforms_train.json").read_text())["focal_len"]
    paste_x, paste_y, zoom = 24, 720 - 192 - 16, 2  # the 96 px clip, twice as large, in the bottom-left corner
    small, big = _sample_frames(sample_dir)[:FRAMES], []
    for frame in small:
        canvas = np.full((720, 1280, 3), (70, 110, 150), np.uint8)
        canvas[paste_y : paste_y + 192, paste_x : paste_x + 192] = cv2.resize(
            frame, (192, 192), interpolation=cv2.INTER_CUBIC
        )
        big.append(canvas)
    audio = sample_dir / "aud.wav"
    auto = tmp_path / "auto"
    ids, rotations, landmarks = _poses_and_landmarks(
        _write_video(tmp_path / "hd.mp4", big), auto, audio, FrameGeometry("auto", 128), focal * zoom
    )
    base_ids, base_rotations, base_landmarks = _poses_and_landmarks(
        _write_video(tmp_path / "precropped.mp4", small), tmp_path / "pre", audio, FrameGeometry(None, 0), focal
    )
    record = CropRecord.read(auto)
    assert record.mode == "auto" and (record.source_width, record.source_height) == (1280, 720)
    x, y, side, _ = record.crop
    assert abs(x + side / 2 - (paste_x + 96)) <= 8 and 150 <= side <= 220, "framed around the pasted clip"
    assert (record.width, record.height) == (128, 128) and len(ids) == len(base_ids) == FRAMES
    errors = rotation_errors_deg(truth["head_rotation"][ids], rotations)
    base_errors = rotation_errors_deg(truth["head_rotation"][base_ids], base_rotations)
    in_clip = (record.to_source(landmarks) - [paste_x, paste_y] + 0.5) / zoom - 0.5  # back to the 96 px clip
    landmark_error = np.linalg.norm(in_clip - truth["landmarks_2d"][ids], axis=-1).mean()
    base_landmark_error = np.linalg.norm(base_landmarks - truth["landmarks_2d"][base_ids], axis=-1).mean()
    print(
        f"rotation median {np.median(errors):.2f} vs {np.median(base_errors):.2f} deg pre-cropped; "
        f"landmarks {landmark_error:.2f} vs {base_landmark_error:.2f} px"
    )
    assert np.median(errors) <= max(1.5, np.median(base_errors) + 0.3)
    assert landmark_error <= base_landmark_error + 0.3
