"""rad-process's parts on synthetic inputs with known answers: frame-rate conversion, head-pose fitting,
parsing geometry, plates, resumable steps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console
from scipy.spatial.transform import Rotation

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.evaluation.process_scores import rotation_errors_deg
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.process.face_parsing_net import FaceParsingNet, load_face_parsing_net, network_parsing
from rad_nerfstudio.process.head_pose import OPENCV_TO_OPENGL, fit_head_poses
from rad_nerfstudio.process.landmark_backends import IBUG_LAYOUT, MESH_LAYOUT, track_fan_landmarks
from rad_nerfstudio.process.parsing import HEAD, NECK, TORSO, parse_portrait
from rad_nerfstudio.process.plates import background_plate, on_plate, torso_layer
from rad_nerfstudio.process.steps import Step, StepRunner
from rad_nerfstudio.process.video_frames import FrameGeometry, VideoInputError, parse_crop, read_frames


def _numbered_video(path: Path, fps: int, frames: int, size: int = 64) -> Path:
    """Frame k is flat grey 4k (so a decoded frame tells which source frame it was)."""
    with Mp4Writer(path, size, size, fps) as video:
        for k in range(frames):
            video.write(np.full((size, size, 3), 4 * k, np.uint8))
    return path


@pytest.mark.parametrize("fps", [25, 30, 20])
def test_frames_come_out_at_25_fps_nearest_in_time(tmp_path, fps):
    video = _numbered_video(tmp_path / "v.mp4", fps, 2 * fps)  # two seconds
    frames = list(read_frames(video))
    assert abs(len(frames) - 50) <= 1
    for tick, frame in enumerate(frames):
        source = round(float(frame.mean()) / 4)
        assert abs(source / fps - tick / 25) <= 0.5 / 25 + 1 / fps, (tick, source)


def test_crop_and_resize(tmp_path):
    video = _numbered_video(tmp_path / "v.mp4", 25, 25, size=64)
    frames = list(read_frames(video, FrameGeometry(parse_crop("8,4,40,40"), 32)))
    assert len(frames) == 25 and frames[0].shape == (32, 32, 3)
    with pytest.raises(VideoInputError, match="does not fit"):
        next(read_frames(video, FrameGeometry((40, 0, 40, 40), 0)))
    with pytest.raises(ValueError, match="x,y,w,h"):
        parse_crop("1,2,3")
    with pytest.raises(VideoInputError, match="does not exist"):
        next(read_frames(tmp_path / "missing.mp4"))


def _synthetic_track(yaw_deg: float, focal: float, size: int = 256, frames: int = 120):
    """A rigid 3D point cloud shaped like a face (head frame: x right, y up, z out of the face), seen by a camera
    0.8 m away under known poses; returned as MediaPipe-like tracks (pixels, relative depth in pixels)."""
    g = np.random.default_rng(0)
    angle = g.uniform(-1.2, 1.2, 468)
    height = g.uniform(-0.09, 0.07, 468)
    radius = 0.075 + 0.01 * g.standard_normal(468)
    shape = np.stack([radius * np.sin(angle), height, radius * np.cos(angle) + 0.02], axis=1)
    shape[[33, 263]] = [[-0.045, 0.03, 0.07], [0.045, 0.03, 0.07]]  # the mesh's outer eye corners, 9 cm apart
    shape[4] = [0.0, -0.01, 0.115]  # and its nose tip
    time = np.linspace(0, 2 * math.pi, frames)
    euler = np.stack([yaw_deg * np.sin(time), 0.5 * yaw_deg * np.sin(2 * time + 1), 0.3 * yaw_deg * np.cos(time)], 1)
    rotations = Rotation.from_euler("YXZ", euler, degrees=True).as_matrix()  # head -> OpenGL camera
    translation = np.array([0.01, -0.02, -0.8])
    camera = np.einsum("nij,vj->nvi", rotations, shape) + translation  # OpenGL camera coordinates
    cv = camera @ OPENCV_TO_OPENGL  # OpenCV: x right, y down, z forward
    pixels = focal * cv[..., :2] / cv[..., 2:] + size / 2.0
    depth = (cv[..., 2] - cv[..., 2].mean(1, keepdims=True)) * focal / cv[..., 2].mean(1, keepdims=True)
    return np.concatenate([pixels, depth[..., None]], -1), rotations, translation


def test_head_pose_fit_recovers_known_rotations_and_puts_the_camera_in_front_of_the_face():
    track, rotations, translation = _synthetic_track(yaw_deg=12.0, focal=400.0)
    fit = fit_head_poses(track, 256, 256, focal=400.0)
    errors = rotation_errors_deg(rotations, fit.rotation)
    assert np.median(errors) < 1.0 and errors.max() < 1.5, errors  # exact without smoothing; this is its bias
    assert fit.reprojection_px < 0.5 and fit.focal == 400.0
    distance = np.linalg.norm(fit.translation, axis=1)
    assert np.allclose(distance, np.linalg.norm(translation), rtol=0.25), "the metric scale comes from the eye prior"
    camera_in_head = np.einsum("nji,nj->ni", fit.rotation, -fit.translation)  # -R^T t: camera centre, head frame
    assert np.all(camera_in_head[:, 2] > 0.5), "the camera looks at the face from the front (+z of the head)"


def test_head_pose_fit_searches_the_focal_length_and_still_gets_rotations():
    track, rotations, _ = _synthetic_track(yaw_deg=15.0, focal=400.0)
    fit = fit_head_poses(track, 256, 256)
    assert fit.focal_choice.source == "estimated" and abs(fit.focal / 400.0 - 1) < 0.15, fit.focal_choice
    assert np.median(rotation_errors_deg(rotations, fit.rotation)) < 1.0


def _portrait_landmarks() -> np.ndarray:
    """68 points of a frontal face centred at (50, 40) in a 100 x 120 image (only the jaw, brows, lips matter)."""
    points = np.zeros((68, 2))
    jaw_angle = np.linspace(math.pi, 0, 17)
    points[:17] = np.stack([50 + 20 * np.cos(jaw_angle), 40 + 25 * np.sin(jaw_angle)], 1)  # chin at (50, 65)
    points[17:27] = np.stack([np.linspace(33, 67, 10), np.full(10, 25.0)], 1)
    points[27:48] = [50, 38]
    points[48:60] = np.stack([np.linspace(42, 58, 12), np.full(12, 55.0)], 1)
    points[60:68] = [50, 55]
    return points


def _person() -> np.ndarray:
    """Head (rows 10-65), a 24 px neck (to row 85), shoulders below."""
    person = np.zeros((120, 100), bool)
    person[10:66, 25:75] = True
    person[66:85, 38:62] = True
    person[85:120, 5:95] = True
    return person


def test_parsing_cuts_the_person_at_the_jaw_and_takes_the_narrow_part_under_the_chin_as_neck():
    person = _person()
    labels = parse_portrait(person, _portrait_landmarks())
    assert labels[30, 50] == HEAD and labels[12, 30] == HEAD and labels[67, 50] == HEAD, "down to under the chin"
    assert labels[60, 27] == HEAD, "beside the jaw, above the chin's row: the side of the head"
    assert labels[75, 50] == NECK and labels[75, 39] == NECK and labels[72, 50] == NECK
    assert labels[90, 50] == TORSO and labels[100, 10] == TORSO, "where the person widens: shoulders"
    assert labels[5, 50] == 0 and labels[75, 30] == 0
    assert (labels > 0).sum() == person.sum()


def test_background_plate_ignores_the_person_and_torso_layer_fills_under_the_chin():
    g = np.random.default_rng(1)
    plate = g.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    samples = []
    for shift in range(0, 40, 5):  # the person moves, so every background pixel is seen sometimes
        person = np.zeros((120, 100), bool)
        person[10:120, 10 + shift : 50 + shift] = True
        frame = plate.copy()
        frame[person] = (200, 30, 30)
        samples.append((frame, person.astype(np.uint8)))
    estimate = background_plate(samples, margin=1)
    seen = np.ones(plate.shape[:2], bool)
    seen[:, 44:51] = False  # behind the person in every frame (and its margin): in-painted
    assert np.abs(estimate.astype(int) - plate)[seen].max() == 0
    assert estimate[~seen].std() > 0, "never-seen pixels are in-painted from their surroundings"
    frame, labels = samples[0]
    composite = on_plate(frame, labels, np.zeros_like(plate))
    assert (composite[~labels.astype(bool)] == 0).all() and (composite[labels.astype(bool)] == frame[labels > 0]).all()

    landmarks = _portrait_landmarks()
    labels = parse_portrait(_person(), landmarks)
    frame = np.full((120, 100, 3), 100, np.uint8)
    layer = torso_layer(frame, labels, landmarks)
    assert layer.shape == (120, 100, 4)
    assert layer[100, 50, 3] == 255 and layer[75, 50, 3] == 255, "torso and neck opaque"
    assert layer[30, 50, 3] == 0 and layer[50, 50, 3] == 0, "the face transparent"
    assert layer[62, 50, 3] == 255 and layer[62, 50, 0] == 70, "just above the neck, behind the chin: filled, darker"


def test_steps_are_skipped_when_done_and_redone_when_forced_with_everything_after(tmp_path):
    calls = []

    def step(name):
        return Step(name, lambda: calls.append(name) or f"{name} ok", {"setting": 1})

    names = ["a", "b", "c"]
    console = Console(file=open(tmp_path / "log.txt", "w"))
    StepRunner(tmp_path, [step(n) for n in names], [], console).run()
    assert calls == names
    runner = StepRunner(tmp_path, [step(n) for n in names], [], console)
    runner.run()
    assert calls == names and [row[1] for row in runner.rows] == ["skipped (done)"] * 3
    StepRunner(tmp_path, [step(n) for n in names], ["b"], console).run()
    assert calls == names + ["b", "c"]
    changed = [step("a"), Step("b", lambda: calls.append("b2") or "", {"setting": 2}), step("c")]
    StepRunner(tmp_path, changed, [], console).run()
    assert calls[-2:] == ["b2", "c"], "a changed setting redoes the step and the ones after it"
    assert json.loads((tmp_path / "b.json").read_text())["settings"] == {"setting": 2}
    with pytest.raises(ValueError, match="unknown steps"):
        StepRunner(tmp_path, [step(n) for n in names], ["z"], console)


class _FakeFan:
    """Stands in for face-alignment's 3D-FAN: two faces in frame 0 (the larger must win), none in frame 1; its
    depth grows towards the camera (the backend must flip it)."""

    def __init__(self, face: np.ndarray) -> None:
        self.face = face

    def get_landmarks_from_image(self, frame):
        if frame.mean() > 100:
            return None
        small = self.face.copy()
        small[:, :2] = small[:, :2] * 0.2
        return [small, self.face]


def test_face_alignment_backend_picks_the_largest_face_marks_misses_and_orients_depth():
    face = np.zeros((68, 3))
    face[:, :2] = np.random.default_rng(0).uniform(10, 60, (68, 2))
    face[30, 2], face[[36, 45], 2] = 5.0, -5.0  # nose tip "deeper" than the eye corners: FAN's sign, flipped
    frames = [np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 200, np.uint8)]
    track = track_fan_landmarks(frames, fan=_FakeFan(face))
    assert track.shape == (2, 68, 3) and np.isnan(track[1]).all()
    np.testing.assert_allclose(track[0, :, :2], face[:, :2])
    assert track[0, 30, 2] == -5.0 and track[0, 36, 2] == 5.0, "depth now grows away from the camera"
    assert IBUG_LAYOUT.ibug68 == tuple(range(68)) and len(MESH_LAYOUT.ibug68) == 68
    assert max(MESH_LAYOUT.ibug68) < 468


def test_rotation_errors_ignore_the_head_frame_convention_and_measure_the_rest():
    truth = Rotation.from_euler("YXZ", np.random.default_rng(2).uniform(-10, 10, (20, 3)), degrees=True).as_matrix()
    frame = Rotation.from_euler("xyz", [30, -20, 5], degrees=True).as_matrix()
    np.testing.assert_allclose(rotation_errors_deg(truth, truth @ frame), 0.0, atol=1e-5)
    wobble = Rotation.from_rotvec(np.radians(1.0) * np.array([[0, 1, 0], [0, -1, 0]] * 10)).as_matrix()
    errors = rotation_errors_deg(truth, wobble @ truth @ frame)  # 1 degree off, alternating, in the camera
    np.testing.assert_allclose(errors, 1.0, atol=0.05)


def test_face_parsing_net_loads_the_checkpoint_layout_and_maps_classes_to_our_labels(tmp_path):
    net = FaceParsingNet()
    keys = set(net.state_dict())
    for key in (  # names of the face-parsing checkpoint (79999_iter.pth)
        "cp.resnet.conv1.weight",
        "cp.resnet.layer3.0.downsample.0.weight",
        "cp.arm16.conv.conv.weight",
        "cp.arm32.bn_atten.running_var",
        "cp.conv_avg.bn.weight",
        "ffm.convblk.conv.weight",
        "ffm.conv2.weight",
        "conv_out.conv_out.weight",
        "conv_out16.conv.bn.bias",
    ):
        assert key in keys, key
    assert not any(key.startswith("cp.resnet.fc") for key in keys), "no classifier of the trunk"
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "weights.pth")
    loaded = load_face_parsing_net(tmp_path / "weights.pth")
    frame = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    with torch.no_grad():
        assert loaded(torch.zeros(1, 3, 64, 64)).shape == (1, 19, 64, 64)
    labels = next(network_parsing([frame], loaded))
    assert labels.shape == (40, 30) and set(np.unique(labels)) <= {0, 1, 2, 3}

    def planted(images):  # class 17 (hair) on the top half, 14 (neck) then 16 (cloth) below, 0 at the right edge
        logits = torch.zeros(images.shape[0], 19, *images.shape[2:])
        h, w = images.shape[2:]
        logits[:, 17, : h // 2] = 1
        logits[:, 14, h // 2 : 3 * h // 4] = 1
        logits[:, 16, 3 * h // 4 :] = 1
        logits[:, 0, :, w - w // 4 :] = 2
        return logits

    labels = next(network_parsing([np.zeros((40, 40, 3), np.uint8)], planted))
    assert labels[5, 5] == HEAD and labels[25, 5] == NECK and labels[35, 5] == TORSO and labels[5, 38] == 0

    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(InputFileError, match="other.pth: is not a face-parsing BiSeNet state dict"):
        load_face_parsing_net(tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match="junk.pth: cannot be read"):
        load_face_parsing_net(tmp_path / "junk.pth")


def _jitter_deg(rotations: np.ndarray) -> float:
    """Median angle of the second difference of consecutive rotations (frame-to-frame shake), in degrees."""
    steps = np.einsum("nji,njk->nik", rotations[:-1], rotations[1:])  # R_t^T R_{t+1}
    angles = Rotation.from_matrix(steps).as_rotvec()
    return float(np.degrees(np.median(np.linalg.norm(np.diff(angles, axis=0), axis=1))))


def test_smoother_poses_shake_less_on_noisy_landmarks_and_stay_near_the_truth():
    track, rotations, _ = _synthetic_track(yaw_deg=12.0, focal=400.0)
    noisy = track + np.random.default_rng(1).normal(0.0, 1.0, track.shape)  # 1 px of detector noise
    loose = fit_head_poses(noisy, 256, 256, focal=400.0, smoothness=0.0)
    steady = fit_head_poses(noisy, 256, 256, focal=400.0, smoothness=100.0)
    assert _jitter_deg(steady.rotation) < 0.5 * _jitter_deg(loose.rotation)
    assert np.median(rotation_errors_deg(rotations, steady.rotation)) < 1.5


def test_rad_process_records_the_pose_smoothness_only_when_it_is_not_the_default(tmp_path):
    from rad_nerfstudio.process.head_pose import DEFAULT_POSE_SMOOTHNESS
    from rad_nerfstudio.process.pipeline import PortraitProcess, ProcessSettings
    from rad_nerfstudio.scripts.process import ProcessArgs, process_video

    def pose_settings(smoothness: float) -> dict:
        settings = ProcessSettings(tmp_path / "in.mp4", tmp_path / "out", pose_smoothness=smoothness)
        steps = PortraitProcess(settings, Console()).steps()
        return next(step.settings for step in steps if step.name == "poses")

    assert ProcessArgs(video=tmp_path / "in.mp4", output_dir=tmp_path / "out").smooth_poses == DEFAULT_POSE_SMOOTHNESS
    assert pose_settings(DEFAULT_POSE_SMOOTHNESS) == {"focal_length": None}  # older datasets keep their poses
    assert pose_settings(10.0) == {"focal_length": None, "smoothness": 10.0}  # a new value refits them
    with pytest.raises(ValueError, match="smooth-poses"):
        process_video(ProcessArgs(video=tmp_path / "in.mp4", output_dir=tmp_path / "out", smooth_poses=-1.0))
