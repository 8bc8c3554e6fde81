"""rad-process's steps, from a video to the RAD-NeRF / ER-NeRF processed layout that our dataparser reads.

frames -> audio features -> landmarks -> poses -> parsing -> background -> refine-poses. Working files (the face-mesh
track, the frames kept, the pose passes' runs) live in ``OUTPUT/.rad-process/``; the input video and audio are only
read. The landmark fit's poses stay in ``OUTPUT/landmark_poses/``; ``transforms_*.json`` hold the refined ones when
``--refine-poses`` asks for passes (``process.pose_passes``), else the landmark fit's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Sequence

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rad_nerfstudio.audio.features import resolve_audio_features
from rad_nerfstudio.audio.reading import load_audio
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE, VIDEO_FPS
from rad_nerfstudio.data.landmarks import read_landmarks
from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.io.atomic import save_npy_atomic, write_text_atomic
from rad_nerfstudio.io.layout import (
    camera_to_world,
    layout_dirs,
    parsing_bgr,
    read_parsing_labels,
    read_rgb,
    write_image,
    write_landmarks,
    write_transforms,
    write_wav,
)
from rad_nerfstudio.process.auto_crop import choose_crop
from rad_nerfstudio.process.crop_record import CropRecord
from rad_nerfstudio.process.face_boxes import FaceSearch, video_face_boxes
from rad_nerfstudio.process.face_parsing_net import load_face_parsing_net, network_parsing
from rad_nerfstudio.process.focal_length import PRIOR_FOCAL_PER_WIDTH
from rad_nerfstudio.process.head_pose import DEFAULT_POSE_SMOOTHNESS, fit_head_poses
from rad_nerfstudio.process.landmark_backends import BACKENDS, LandmarkBackendName
from rad_nerfstudio.process.parsing import parse_portrait
from rad_nerfstudio.process.person_mask import person_masks
from rad_nerfstudio.process.plates import PLATE_FRAMES, background_plate, on_plate, torso_layer
from rad_nerfstudio.process.pose_passes import DEFAULT_POSE_PASSES, PosePassResult, refine_poses
from rad_nerfstudio.process.steps import Step
from rad_nerfstudio.process.video_frames import FrameGeometry, VideoInputError, VideoProbe, probe_video, read_frames

MIN_FRAMES = 22
"""At least two validation frames under the 10/11 split."""
MIN_FACE_FRACTION = 0.5
"""A video whose face is missing in more frames than this is refused."""
AUDIO_SLACK_S = 0.5
"""How much shorter than the video its audio may be."""
STATE_DIR = ".rad-process"
LANDMARK_POSES_DIR = "landmark_poses"
"""The landmark fit's ``transforms_*.json``, kept beside the refined ones."""


@dataclass
class ProcessSettings:
    """What rad-process was asked to do."""

    video: Path
    output_dir: Path
    audio: Path | None = None
    geometry: FrameGeometry = FrameGeometry()
    audio_features: str = "mel"
    focal_length: float | None = None
    landmarks: LandmarkBackendName = "mediapipe"
    parsing_weights: Path | None = None
    pose_smoothness: float = DEFAULT_POSE_SMOOTHNESS
    pose_passes: int = DEFAULT_POSE_PASSES
    """Short head trainings that refine the training frames' poses against the pixels (``process.pose_passes``)."""


TRANSFORMS_FILES = ("transforms_train.json", "transforms_val.json")


def _copy_transforms(source: Path, target: Path) -> None:
    """A folder's ``transforms_*.json`` into another (created), each file written atomically."""
    target.mkdir(parents=True, exist_ok=True)
    for name in TRANSFORMS_FILES:
        write_text_atomic(target / name, (source / name).read_text())


def _progress(description: str) -> Progress:
    return Progress(TextColumn(f"[bold blue]{description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


class PortraitProcess:
    """The steps of one video, sharing their working files."""

    def __init__(self, settings: ProcessSettings, console: Console) -> None:
        self.settings = settings
        self.root = settings.output_dir
        self.state = self.root / STATE_DIR
        self.console = console

    def steps(self) -> List[Step]:
        s = self.settings
        video = {"video": str(s.video.resolve()), "audio": str(s.audio.resolve()) if s.audio else None}
        geometry = {"crop": s.geometry.crop, "size": s.geometry.size}
        return [
            Step("frames", self.frames, {**video, **geometry}),
            Step("audio-features", self.audio_features, {"extractor": s.audio_features}),
            Step("landmarks", self.landmarks, {"backend": s.landmarks}),
            Step("poses", self.poses, self._pose_settings()),
            Step("parsing", self.parsing, {"weights": str(s.parsing_weights) if s.parsing_weights else None}),
            Step("background", self.background),
            Step("refine-poses", self.refine_poses, {"passes": s.pose_passes}),
        ]

    # ------------------------------------------------------------------------------------------------ helpers
    def _pose_settings(self) -> dict:
        """What the poses depend on (the smoothness only when not the default, so that datasets processed before it
        could be set keep their poses)."""
        smoothness = self.settings.pose_smoothness
        extra = {} if smoothness == DEFAULT_POSE_SMOOTHNESS else {"smoothness": smoothness}
        return {"focal_length": self.settings.focal_length, **extra}

    def _frame_count(self) -> int:
        return int(json.loads((self.state / "frames.json").read_text())["frames"])

    def _kept(self) -> np.ndarray:
        return np.load(self.state / "kept.npy")

    def _frame(self, index: int) -> np.ndarray:
        image = read_rgb(self.root / "ori_imgs" / f"{index}.jpg")
        if image is None:
            raise InputFileError(self.root / "ori_imgs" / f"{index}.jpg", "cannot be read; run --force frames")
        return image

    def _frames(self, ids: Sequence[int] | np.ndarray, description: str) -> Iterator[np.ndarray]:
        with _progress(description) as progress:
            bar = progress.add_task(description, total=len(ids))
            for index in ids:
                yield self._frame(int(index))
                progress.advance(bar)

    def _labels(self, index: int) -> np.ndarray:
        return read_parsing_labels(self.root / "parsing" / f"{index}.png")

    def _crop(self, probe: VideoProbe) -> CropRecord:
        """The crop of the frames: ``--crop`` as given, or found around the head over the whole clip."""
        s = self.settings

        def find_boxes() -> FaceSearch:
            with _progress("framing") as progress:
                bar = progress.add_task("framing", total=probe.duration or None)
                return video_face_boxes(s.video, lambda time: progress.update(bar, completed=time))

        def warn(message: str) -> None:
            self.console.print(f"[yellow]{message}[/]")

        return choose_crop(s.video, s.geometry.crop, s.geometry.size, probe, find_boxes, warn)

    # -------------------------------------------------------------------------------------------------- steps
    def frames(self) -> str:
        """Frames at 25 fps as ``ori_imgs/{i}.jpg``; the speech as 16 kHz mono ``aud.wav``."""
        s = self.settings
        probe = probe_video(s.video)
        crop = self._crop(probe)
        geometry = FrameGeometry(crop.crop, crop.width if crop.width == crop.height else 0)
        layout_dirs(self.root)
        count, shape = 0, (0, 0)
        with _progress("frames") as progress:
            bar = progress.add_task("frames", total=int(round(probe.duration * VIDEO_FPS)) or None)
            for count, frame in enumerate(read_frames(s.video, geometry), start=1):
                write_image(self.root / "ori_imgs" / f"{count - 1}.jpg", frame)
                shape = frame.shape[:2]
                progress.advance(bar)
        if count < MIN_FRAMES:
            raise VideoInputError(s.video, f"gives {count} frames at 25 fps; at least {MIN_FRAMES} are needed")
        source = s.audio or s.video
        audio = load_audio(source, AUDIO_SAMPLE_RATE).numpy()
        missing = count / VIDEO_FPS - len(audio) / AUDIO_SAMPLE_RATE
        if missing > AUDIO_SLACK_S:
            video_s = count / VIDEO_FPS
            raise InputFileError(source, f"its audio is {missing:.2f} s shorter than the {video_s:.2f} s video")
        write_wav(self.root / "aud.wav", audio, AUDIO_SAMPLE_RATE)
        crop.write(self.root)
        info = {"frames": count, "height": shape[0], "width": shape[1]}
        self.state.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.state / "frames.json", json.dumps(info))
        box = ",".join(str(v) for v in crop.crop)
        seconds = len(audio) / AUDIO_SAMPLE_RATE
        return f"{count} frames of {shape[1]}x{shape[0]} from crop {box} ({crop.mode}), {seconds:.2f} s of audio"

    def audio_features(self) -> str:
        """Per-frame audio windows by the chosen extractor, cached where the dataparser looks for them."""
        table = resolve_audio_features(self.root, self.settings.audio_features, self._frame_count())
        return f"{table.extractor} {list(table.windows.shape)} in {table.source.name}"

    def landmarks(self) -> str:
        """3D face points per frame, the 68 iBUG points as ``ori_imgs/{i}.lms``; faceless frames dropped."""
        count = self._frame_count()
        track, layout = BACKENDS[self.settings.landmarks]
        mesh = track(self._frames(range(count), "landmarks"))
        found = ~np.isnan(mesh).any(axis=(1, 2))
        if found.mean() < MIN_FACE_FRACTION:
            raise VideoInputError(
                self.settings.video, f"no face found in {int((~found).sum())} of {count} frames (most of them)"
            )
        kept = np.flatnonzero(found)
        for index in kept:
            write_landmarks(self.root / "ori_imgs" / f"{index}.lms", mesh[index][list(layout.ibug68), :2])
        save_npy_atomic(self.state / "mesh.npy", mesh.astype(np.float32))
        save_npy_atomic(self.state / "kept.npy", kept)
        dropped = np.flatnonzero(~found)
        if dropped.size:
            shown = ", ".join(str(i) for i in dropped[:20]) + (" ..." if dropped.size > 20 else "")
            self.console.print(f"[yellow]no face in {dropped.size} frames, excluded: {shown}[/]")
        return f"faces in {kept.size} of {count} frames"

    def poses(self) -> str:
        """Head pose per kept frame and the focal length, as ``transforms_train.json`` / ``transforms_val.json``."""
        info = json.loads((self.state / "frames.json").read_text())
        kept = self._kept()
        mesh = np.load(self.state / "mesh.npy").astype(np.float64)[kept]
        layout = BACKENDS[self.settings.landmarks][1]
        fit = fit_head_poses(
            mesh, info["width"], info["height"], layout, self.settings.focal_length, self.settings.pose_smoothness
        )
        c2w = np.stack([camera_to_world(r, t) for r, t in zip(fit.rotation, fit.translation, strict=True)])
        choice = fit.focal_choice
        extra = {"focal_length_choice": choice.record()}
        for folder in (self.root / LANDMARK_POSES_DIR, self.root):
            write_transforms(folder, fit.focal, info["width"], info["height"], c2w, kept.tolist(), extra)
        if choice.source == "prior":
            self.console.print(
                f"[bold yellow]warning: the focal length is the prior, {PRIOR_FOCAL_PER_WIDTH:g} x the width "
                f"({choice.focal:.1f} px): {choice.reason}. Pass --focal-length PIXELS if you know it.[/]"
            )
        return f"{choice.summary(info['width'])}; reprojection {fit.reprojection_px:.2f} px RMS"

    def refine_poses(self) -> str:
        """The training frames' poses refined by ``--refine-poses`` passes, the validation frames' aligned to their
        heads, into ``transforms_*.json`` (the landmark fit's copied there with none)."""
        passes = self.settings.pose_passes
        landmark = self.root / LANDMARK_POSES_DIR
        if not all((landmark / name).is_file() for name in TRANSFORMS_FILES):  # processed before the passes existed
            _copy_transforms(self.root, landmark)
        if passes == 0:
            _copy_transforms(landmark, self.root)
            return "none asked for: the landmark fit's poses"

        def report(k: int, result: PosePassResult) -> None:
            self.console.print(
                f"[bold]pose pass {k} of {passes}[/]: it turned the training poses {result.mean_rotation_deg:.2f} deg "
                f"on average and the validation frames' {result.held_out_rotation_deg:.2f} ({result.seconds:.0f} s)"
            )

        results = refine_poses(self.root, landmark, passes, self.state / "pose_passes", report=report)
        _copy_transforms(results[-1].poses_dir, self.root)
        turns = ", ".join(f"{r.mean_rotation_deg:.2f}" for r in results)
        held_out = ", ".join(f"{r.held_out_rotation_deg:.2f}" for r in results)
        seconds = sum(r.seconds for r in results)
        return (
            f"{passes} pass{'es' if passes > 1 else ''} ({seconds:.0f} s); each one's mean turn of the training poses: "
            f"{turns} deg, of the validation frames': {held_out} deg"
        )

    def parsing(self) -> str:
        """Head / neck / torso / background labels as ``parsing/{i}.png`` (the anchors' colours): by the
        face-parsing network when its weights are given, else person segmentation cut by the landmarks."""
        kept = self._kept()
        weights = self.settings.parsing_weights
        if weights is not None:
            net = load_face_parsing_net(weights)
            labels = network_parsing(self._frames(kept, "parsing"), net)
        else:
            masks = person_masks(self._frames(kept, "parsing"))
            lms = (read_landmarks(self.root / "ori_imgs" / f"{index}.lms") for index in kept)
            labels = (parse_portrait(person, landmarks) for person, landmarks in zip(masks, lms, strict=True))
        for index, frame_labels in zip(kept, labels, strict=True):
            write_image(self.root / "parsing" / f"{index}.png", parsing_bgr(frame_labels), order="bgr")
        method = f"face-parsing network ({weights.name})" if weights else "person segmentation and landmarks"
        return f"{kept.size} parsing maps by {method}"

    def background(self) -> str:
        """Background plate ``bc.jpg``; ``gt_imgs`` on the plate; RGBA ``torso_imgs``."""
        kept = self._kept()
        voters = kept[np.unique(np.linspace(0, kept.size - 1, min(kept.size, PLATE_FRAMES)).round().astype(int))]
        plate = background_plate((self._frame(int(i)), self._labels(int(i))) for i in voters)
        write_image(self.root / "bc.jpg", plate)
        for index, frame in zip(kept, self._frames(kept, "background"), strict=True):
            labels = self._labels(int(index))
            landmarks = read_landmarks(self.root / "ori_imgs" / f"{index}.lms")
            write_image(self.root / "gt_imgs" / f"{index}.jpg", on_plate(frame, labels, plate))
            write_image(self.root / "torso_imgs" / f"{index}.png", torso_layer(frame, labels, landmarks))
        return f"plate from {voters.size} frames, {kept.size} ground-truth and torso images"
