"""Generate the synthetic talking-portrait sample in the RAD-NeRF processed layout."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Tuple, cast

import cv2
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rad_nerfstudio import __version__
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE, PARSING_BGR, PARSING_CLASSES, VIDEO_FPS
from rad_nerfstudio.io.atomic import atomic_directory, atomic_path, write_text_atomic
from rad_nerfstudio.io.layout import (
    camera_to_world,
    layout_dirs,
    parsing_bgr,
    write_image,
    write_landmarks,
    write_transforms,
    write_wav,
)
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.pinhole import Pinhole
from rad_nerfstudio.sample.background import make_background
from rad_nerfstudio.sample.contact_sheet import frame_grid, layers_strip
from rad_nerfstudio.sample.face_photo import PHOTO_SOURCE
from rad_nerfstudio.sample.head_model import FaceState, Palette, landmarks_3d
from rad_nerfstudio.sample.looks import FlatLook, Look, LookName
from rad_nerfstudio.sample.motion import EULER_ORDER, Motion, random_motion
from rad_nerfstudio.sample.photo_background import BACKGROUND_SOURCE, photo_background
from rad_nerfstudio.sample.photo_look import PhotoLook
from rad_nerfstudio.sample.renderer import FrameParams, PortraitRenderer
from rad_nerfstudio.sample.speech import Speech, SpeechEngine, synthesize_speech
from rad_nerfstudio.sample.timeline import articulation_curves

FOCAL_PER_PIXEL = 1.6
"""Focal length in pixels per pixel of image size (a ~35 degree field of view)."""
REST_DISTANCE = 0.8
"""Metres from the camera to the head at ``FOCAL_PER_PIXEL`` (other focal lengths scale it)."""
MIN_FRAMES = 22
"""At least two validation frames under the 10/11 split."""
NOVEL_SPEECH_SECONDS = 6.0
"""Length of ``raw/novel_speech.wav``: other words in the same voice, never seen in training, to drive renders."""
SHEET_FRAMES = 16


@dataclass
class SampleSummary:
    """What was generated."""

    output_dir: Path
    num_frames: int
    seconds: float
    size: int
    speech_engine: str
    elapsed_s: float
    look: LookName = "photo"


@dataclass
class _WorkerState:
    renderer: PortraitRenderer
    root: Path
    background: np.ndarray
    """Decoded ``bc.jpg`` (RGB uint8), used where the frame shows background, as the anchors do."""


_STATE: _WorkerState | None = None


def _render_and_write(task: Tuple[int, FrameParams, np.ndarray]) -> Tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Render frame ``i`` and write its per-frame files. Runs in worker processes."""
    assert _STATE is not None
    i, params, lms = task
    frame = _STATE.renderer.render(params)
    root = _STATE.root
    write_image(root / "ori_imgs" / f"{i}.jpg", frame.rgb)
    write_landmarks(root / "ori_imgs" / f"{i}.lms", lms)
    parsing = parsing_bgr(frame.labels)
    write_image(root / "parsing" / f"{i}.png", parsing, order="bgr")
    gt = np.where((frame.labels == 0)[..., None], _STATE.background, frame.rgb)
    write_image(root / "gt_imgs" / f"{i}.jpg", gt)
    write_image(root / "torso_imgs" / f"{i}.png", frame.torso_rgba)
    return i, frame.rgb, parsing[..., ::-1], frame.torso_rgba


def _resolve_workers(workers: int) -> int:
    return workers if workers > 0 else max(1, min(2, os.cpu_count() or 1))


def _frame_results(tasks, workers: int) -> Iterator[Tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    if workers == 1:
        yield from map(_render_and_write, tasks)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_render_and_write, tasks, chunksize=4)


def generate_sample(
    output_dir: Path,
    seconds: float = 15.0,
    size: int = 160,
    seed: int = 0,
    speech: SpeechEngine = "auto",
    supersample: int = 0,
    workers: int = 0,
    overwrite: bool = False,
    look: LookName = "photo",
    focal: float = FOCAL_PER_PIXEL,
    head_turn: float = 1.0,
) -> SampleSummary:
    """Write a deterministic synthetic talking portrait to ``output_dir``.

    Args:
        output_dir: dataset folder to create (it appears complete or not at all).
        seconds: duration; the frame count is ``round(seconds * 25)``.
        size: square frame size in pixels (even).
        seed: random seed of the person, the background, the motion and the speech.
        speech: speech engine; ``auto`` uses espeak-ng or festival when installed, else the built-in synthesizer.
        supersample: anti-aliasing samples per pixel side; 0 picks 2 up to 256 px and 1 above.
        workers: rendering processes; 0 uses up to two.
        overwrite: replace an existing non-empty ``output_dir``.
        look: ``photo`` (a face photograph on the head, a defocused photo behind) or ``flat`` (flat colours).
        focal: focal length in units of ``size``; the head stays as large in the frame (the camera moves away
            as the focal length grows), so only the perspective changes.
        head_turn: scale of the head's rotations (1: yaw 7, pitch 4, roll 3 degrees).
    """
    start = time.perf_counter()
    num_frames = _checked_frame_count(seconds, size, focal, head_turn)
    supersample = supersample if supersample > 0 else (2 if size <= 256 else 1)
    plan = _plan_sample(num_frames, size, seed, speech, look, focal, head_turn)
    with atomic_directory(Path(output_dir), overwrite=overwrite) as root:
        layout_dirs(root)
        write_image(root / "bc.jpg", plan.background)
        write_wav(root / "aud.wav", plan.voice.audio, AUDIO_SAMPLE_RATE)
        write_wav(root / "raw" / "novel_speech.wav", plan.novel.audio, AUDIO_SAMPLE_RATE)
        motion = plan.motion
        poses = [camera_to_world(r, t) for r, t in zip(motion.head_rotation, motion.head_translation, strict=True)]
        write_transforms(root, plan.camera.focal, size, size, np.stack(poses))
        sheet_frames, layers = _render_frames(root, plan, supersample, workers)
        _write_ground_truth(
            root / "gt", plan.voice, plan.mouth_open, plan.mouth_width, plan.motion, plan.lms3d, plan.lms2d, plan.times
        )
        _write_novel_speech_truth(root / "gt", plan.novel)
        captions = [f"#{i} m{plan.mouth_open[i]:.2f} e{plan.motion.eye_open[i]:.2f}" for i in sorted(sheet_frames)]
        write_image(
            root / "gt" / "contact_sheet.png", frame_grid([sheet_frames[i] for i in sorted(sheet_frames)], captions)
        )
        write_image(root / "gt" / "layers.png", layers)
        meta = _sample_meta(plan, seed, size, look, supersample)
        write_text_atomic(root / "gt" / "meta.json", json.dumps(meta, indent=2))
    duration = num_frames / VIDEO_FPS
    return SampleSummary(
        Path(output_dir), num_frames, duration, size, plan.voice.engine, time.perf_counter() - start, look
    )


def _checked_frame_count(seconds: float, size: int, focal: float, head_turn: float) -> int:
    """The sample's frame count, after refusing arguments it cannot be made with."""
    num_frames = int(round(seconds * VIDEO_FPS))
    if size < 64 or size % 2:
        raise ValueError(f"--size must be an even number of pixels >= 64, got {size}")
    if not 0.3 <= focal <= 10.0 or head_turn < 0:
        raise ValueError(f"--focal must be 0.3-10 (units of --size) and --head-turn >= 0, got {focal}, {head_turn}")
    if num_frames < MIN_FRAMES:
        raise ValueError(f"--seconds {seconds} gives {num_frames} frames; at least {MIN_FRAMES} are needed")
    return num_frames


@dataclass
class _SamplePlan:
    """Everything about a sample that is decided before a frame is rendered."""

    voice: Speech
    novel: Speech
    times: np.ndarray
    mouth_open: np.ndarray
    mouth_width: np.ndarray
    motion: Motion
    camera: Pinhole
    appearance: Look
    background: np.ndarray
    """The plate as uint8 RGB."""
    lms3d: np.ndarray
    lms2d: np.ndarray
    params: List[FrameParams]


def _plan_sample(
    num_frames: int, size: int, seed: int, speech: SpeechEngine, look: LookName, focal: float, head_turn: float
) -> _SamplePlan:
    """Speech, articulation, motion, camera, look and landmarks of every frame, from the seed."""
    look_rng, motion_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    speech_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    voice = synthesize_speech(num_frames / VIDEO_FPS, speech_seed, AUDIO_SAMPLE_RATE, speech)
    novel = synthesize_speech(
        NOVEL_SPEECH_SECONDS, speech_seed + 1, AUDIO_SAMPLE_RATE, cast(SpeechEngine, voice.engine)
    )
    times = np.arange(num_frames) / VIDEO_FPS
    mouth_open, mouth_width = articulation_curves(voice.phones, times)
    motion = random_motion(motion_rng, num_frames, VIDEO_FPS, REST_DISTANCE * focal / FOCAL_PER_PIXEL, head_turn)
    camera = Pinhole(size, size, focal * size, size / 2.0, size / 2.0)
    appearance, plate = _look_and_background(look, look_rng, size)
    faces = [
        FaceState(float(o), float(w), float(e))
        for o, w, e in zip(mouth_open, mouth_width, motion.eye_open, strict=False)
    ]
    lms3d = np.stack([landmarks_3d(f) for f in faces])
    lms_cam = np.einsum("nij,nkj->nki", motion.head_rotation, lms3d) + motion.head_translation[:, None]
    params = [
        FrameParams(
            motion.head_rotation[i],
            motion.head_translation[i],
            motion.torso_rotation[i],
            motion.torso_translation[i],
            faces[i],
        )
        for i in range(num_frames)
    ]
    background = np.round(plate * 255).astype(np.uint8)
    return _SamplePlan(
        voice, novel, times, mouth_open, mouth_width, motion, camera, appearance, background, lms3d,
        camera.project(lms_cam), params,
    )  # fmt: skip


def _render_frames(
    root: Path, plan: _SamplePlan, supersample: int, workers: int
) -> Tuple[Dict[int, np.ndarray], np.ndarray]:
    """Render every frame into ``root`` (per-frame files and ``raw/video.mp4``, with a progress bar); returns the
    contact sheet's frames and the layers strip of the middle frame."""
    global _STATE
    num_frames = len(plan.params)
    decoded_bc = cv2.cvtColor(cv2.imread(str(root / "bc.jpg")), cv2.COLOR_BGR2RGB)
    renderer = PortraitRenderer(plan.camera, plan.appearance, plan.background / 255.0, supersample)
    _STATE = _WorkerState(renderer, root, decoded_bc)
    sheet_ids = _sheet_frames(plan.mouth_open, plan.motion.eye_open)
    sheet_frames: Dict[int, np.ndarray] = {}
    layers: np.ndarray | None = None
    tasks = [(i, plan.params[i], plan.lms2d[i]) for i in range(num_frames)]
    progress = Progress(
        TextColumn("[bold blue]rendering frames"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )
    size = plan.camera.width
    audio = plan.voice.audio
    try:
        with progress, Mp4Writer(root / "raw" / "video.mp4", size, size, VIDEO_FPS, audio, AUDIO_SAMPLE_RATE) as video:
            bar = progress.add_task("frames", total=num_frames)
            for i, rgb, parsing_rgb, torso in _frame_results(tasks, _resolve_workers(workers)):
                video.write(rgb)
                if i in sheet_ids:
                    sheet_frames[i] = rgb
                if i == num_frames // 2:
                    layers = layers_strip(rgb, plan.lms2d[i], parsing_rgb, torso, plan.background)
                progress.advance(bar)
    finally:
        _STATE = None
    assert layers is not None  # the middle frame is always rendered
    return sheet_frames, layers


def _sample_meta(plan: _SamplePlan, seed: int, size: int, look: LookName, supersample: int) -> dict:
    """``gt/meta.json``: how the sample was made and its conventions."""
    num_frames = len(plan.params)
    return {
        "generator": f"rad-nerfstudio {__version__} rad-sample",
        "seed": seed,
        "size": size,
        "num_frames": num_frames,
        "seconds": num_frames / VIDEO_FPS,
        "fps": VIDEO_FPS,
        "sample_rate": AUDIO_SAMPLE_RATE,
        "speech_engine": plan.voice.engine,
        "look": look,
        **({"photo": PHOTO_SOURCE, "background": BACKGROUND_SOURCE} if look == "photo" else {}),
        "supersample": supersample,
        "focal": plan.camera.focal,
        "euler_order": f"scipy intrinsic '{EULER_ORDER}' (yaw, pitch, roll) in degrees",
        "pose_convention": "p_cam = R p_head + t (metres, OpenGL camera); transform_matrix = [R^T | -R^T t]",
        "pixel_convention": "landmarks in pixel-index coordinates: pixel (0,0) centre is (0,0)",
        "parsing_bgr": {name: list(PARSING_BGR[name]) for name in PARSING_CLASSES},
    }


def _look_and_background(look: LookName, rng: np.random.Generator, size: int) -> Tuple[Look, np.ndarray]:
    """The person's look and the background plate (RGB in [0, 1])."""
    if look == "flat":
        palette = Palette.random(rng)
        return FlatLook(palette), make_background(rng, size)
    if look == "photo":
        return PhotoLook(size), photo_background(rng, size)
    raise ValueError(f"--look must be photo or flat, got {look!r}")


def _sheet_frames(mouth_open: np.ndarray, eye_open: np.ndarray) -> set[int]:
    """Evenly spaced frames plus the widest open mouth, the most closed one while speaking, and the deepest blink."""
    n = len(mouth_open)
    speaking = np.convolve(mouth_open > 0.3, np.ones(13), mode="same") > 0
    closed = np.where(speaking, mouth_open, np.inf)
    special = {int(np.argmax(mouth_open)), int(np.argmin(eye_open)), int(np.argmin(closed))}
    even = np.linspace(0, n - 1, SHEET_FRAMES - len(special)).round().astype(int).tolist()
    return set(even) | special


def _write_ground_truth(gt_dir: Path, voice, mouth_open, mouth_width, motion, lms3d, lms2d, times) -> None:
    gt_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(gt_dir / "params.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                frame_time=times,
                mouth_open=mouth_open,
                mouth_width=mouth_width,
                eye_open=motion.eye_open,
                blink_times=motion.blink_times,
                head_euler_deg=motion.head_euler_deg,
                head_rotation=motion.head_rotation,
                head_translation=motion.head_translation,
                torso_rotation=motion.torso_rotation,
                torso_translation=motion.torso_translation,
                landmarks_3d=lms3d,
                landmarks_2d=lms2d,
            )
    phones = {"engine": voice.engine, "phones": [p.to_dict() for p in voice.phones]}
    write_text_atomic(gt_dir / "phones.json", json.dumps(phones, indent=1))


def _write_novel_speech_truth(gt_dir: Path, novel) -> None:
    """``novel_speech_params.npz``: the mouth the novel speech would drive, at the video frame rate."""
    times = np.arange(int(round(NOVEL_SPEECH_SECONDS * VIDEO_FPS))) / VIDEO_FPS
    mouth_open, mouth_width = articulation_curves(novel.phones, times)
    with atomic_path(gt_dir / "novel_speech_params.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, frame_time=times, mouth_open=mouth_open, mouth_width=mouth_width)
