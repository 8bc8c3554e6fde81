"""Build nerfstudio cameras and the per-frame :class:`PortraitTables` from a processed dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Tuple

import numpy as np
import torch
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.utils.rich_utils import CONSOLE

from rad_nerfstudio.audio.features import resolve_audio_features
from rad_nerfstudio.data.backgrounds import load_background
from rad_nerfstudio.data.dataset_files import PortraitDatasetFiles, read_dataset
from rad_nerfstudio.data.landmarks import (
    eye_area_ratio,
    face_rects,
    mouth_shape,
    openness_from_areas,
    read_au45,
    read_landmarks,
    smooth,
)
from rad_nerfstudio.data.mouth_region import mouth_region
from rad_nerfstudio.data.portrait_tables import FRAME_INDEX_KEY, RECT_NAMES, PortraitTables

if TYPE_CHECKING:
    from rad_nerfstudio.dataparsers.talking_portrait_dataparser import (  # pyright: ignore[reportMissingImports]
        TalkingPortraitDataParserConfig,
    )


def output_size(files: PortraitDatasetFiles, downscale: int) -> Tuple[int, int]:
    """Image width and height after downscaling (the anchors' integer division)."""
    if downscale < 1:
        raise ValueError(f"downscale_factor must be >= 1, got {downscale}")
    return files.width // downscale, files.height // downscale


def _camera_to_worlds(files: PortraitDatasetFiles, scale: float) -> torch.Tensor:
    c2w = np.stack([f.camera_to_world[:3, :4] for f in files.frames]).astype(np.float32)
    c2w[:, :, 3] *= scale
    return torch.from_numpy(c2w)


def build_portrait(config: "TalkingPortraitDataParserConfig") -> Tuple[Cameras, PortraitTables, List[Path]]:
    """Validate the dataset and return its cameras (all frames), tables and image paths, in table order."""
    files = read_dataset(config.data, config.frame_range, config.poses)
    width, height = output_size(files, config.downscale_factor)
    sx, sy = width / files.width, height / files.height
    img_ids = np.array([f.img_id for f in files.frames])

    lms = np.stack([read_landmarks(files.landmarks_path(int(i))) for i in img_ids])
    lms_scaled = (lms + 0.5) * np.array([sx, sy]) - 0.5  # pixel-index coordinates at the output size
    if config.eye_feature == "au45":
        eye = read_au45(config.data / "au.csv", img_ids)
    else:
        eye = openness_from_areas(np.array([eye_area_ratio(p, files.width, files.height) for p in lms]))
    eye = smooth(eye, config.eye_smoothing)
    rects = [face_rects(p, width, height, config.lips_min_size) for p in lms_scaled]

    audio_frames_needed = int(max(f.aud_id for f in files.frames)) + 1
    audio = resolve_audio_features(config.data, config.audio_features, audio_frames_needed, config.fps)
    audio_index = torch.tensor([min(f.aud_id, audio.windows.shape[0] - 1) for f in files.frames])

    c2w = _camera_to_worlds(files, config.scene_scale)
    rows = torch.arange(len(files.frames))
    # nerfstudio's rays pass through index + 0.5; the anchors' cx is an index
    intrinsics = np.array([files.focal * sx, files.focal * sy, (files.cx + 0.5) * sx, (files.cy + 0.5) * sy])
    region = mouth_region(lms_scaled, c2w.numpy().astype(np.float64), intrinsics)
    if region is None:
        CONSOLE.print("[yellow]The mouth landmarks do not triangulate through the cameras: audio may act anywhere")
    cameras = Cameras(
        camera_to_worlds=c2w,
        fx=float(intrinsics[0]),
        fy=float(intrinsics[1]),
        cx=float(intrinsics[2]),
        cy=float(intrinsics[3]),
        width=width,
        height=height,
        camera_type=CameraType.PERSPECTIVE,
        metadata={FRAME_INDEX_KEY: rows[:, None]},
    )
    tables = PortraitTables(
        img_ids=torch.from_numpy(img_ids),
        splits={split: torch.from_numpy(files.split_positions(split)) for split in ("train", "val")},
        audio_windows=audio.windows,
        audio_index=audio_index,
        audio_extractor=audio.extractor,
        eye=torch.from_numpy(eye.astype(np.float32)),
        eye_source=config.eye_feature,
        rects={name: torch.from_numpy(np.stack([r[name] for r in rects])) for name in RECT_NAMES},
        head_poses=c2w,
        torso_paths=[files.torso_path(int(i)) for i in img_ids],
        background=load_background(config.background, config.data, width, height),
        fps=config.fps,
        mouth_shape=torch.from_numpy(np.stack([mouth_shape(p) for p in lms]).astype(np.float32)),
        mouth_region=None if region is None else torch.from_numpy(region.astype(np.float32)),
    )
    CONSOLE.print(
        f"[bold]{config.data}[/]: {len(img_ids)} frames ({len(tables.splits['train'])} train, "
        f"{len(tables.splits['val'])} val) at {width}x{height}; audio features: {audio.extractor} "
        f"{list(audio.windows.shape)} from {audio.source.name}; eye: {config.eye_feature}"
    )
    return cameras, tables, [files.image_path(int(i)) for i in img_ids]
