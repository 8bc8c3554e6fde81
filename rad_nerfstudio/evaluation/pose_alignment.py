"""Test-time alignment of held-out frames' head poses with the trained field frozen.

Validation frames have no training rays, so a model that refines its training poses would be scored on poses of
another quality. The usual protocol of pose-refining NeRFs: fit each held-out frame's pose correction alone (the
field, the audio and everything else frozen), then score. The mouth's rectangle is left out of the fit, so the
alignment cannot shape the lips and the lip-sync scores stay the audio's.

The same fit on the training frames (``align_training_poses``) is a block step of the training's pose refinement: the
pipeline runs it where the head's training ends (``pose_alignment_rounds``) and folds the result into the trained
corrections. ``fit_held_out_frames`` is the fit itself, for any vector per frame that the model reads (the torso's
codes too: ``evaluation.torso_alignment``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import torch
from jaxtyping import Bool, Float, Int, UInt8
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.model_components.ray_generators import RayGenerator
from rich.progress import track
from torch import Tensor

from rad_nerfstudio.data.portrait_tables import BACKGROUND_KEY, PIXEL_KEY
from rad_nerfstudio.model_components.head_pose_correction import smooth_over_consecutive_frames
from rad_nerfstudio.models.portrait_model import PortraitModel


@dataclass
class AlignmentSettings:
    """How long and on how many rays each held-out frame's pose is fitted."""

    steps: int = 100
    rays_per_frame: int = 128
    learning_rate: float = 2e-3
    seed: int = 0


def inside_rectangles(x: Int[Tensor, "n k"], y: Int[Tensor, "n k"], rects: Int[Tensor, "n 4"]) -> Bool[Tensor, "n k"]:
    """Whether each frame's pixels (columns ``x``, rows ``y``) lie in its rectangle (x0, y0, x1, y1; ends excluded)."""
    return (x >= rects[:, None, 0]) & (x < rects[:, None, 2]) & (y >= rects[:, None, 1]) & (y < rects[:, None, 3])


def _face_pixels(
    face: Int[Tensor, "n 4"], mouth: Int[Tensor, "n 4"], count: int, generator: torch.Generator
) -> tuple[Int[Tensor, "n k 2"], Float[Tensor, "n k"]]:
    """``count`` random (row, column) pixels in each frame's face rectangle, weighted 0 inside its mouth's."""
    n = face.shape[0]
    u = torch.rand(n, count, 2, generator=generator)
    x = (face[:, None, 0] + u[..., 0] * (face[:, None, 2] - face[:, None, 0])).long()
    y = (face[:, None, 1] + u[..., 1] * (face[:, None, 3] - face[:, None, 1])).long()
    return torch.stack([y, x], dim=-1), (~inside_rectangles(x, y, mouth)).float()


PixelPicker = Callable[[int, torch.Generator], Tuple[Int[Tensor, "n k 2"], Float[Tensor, "n k"]]]
"""``(count, generator)`` -> ``count`` (row, column) pixels per frame and each one's weight in the fit's error."""


def fit_held_out_frames(
    model: PortraitModel,
    cameras: Cameras,
    rows: Int[Tensor, " n"],
    images: UInt8[Tensor, "n height width 3"],
    settings: AlignmentSettings,
    install: Callable[[Tensor], None],
    size: int,
    pick_pixels: PixelPicker,
    description: str,
) -> Float[Tensor, "n size"]:
    """Fit one vector of ``size`` per frame of the model (``install`` hands the model the tensor it reads, zeros: as
    trained) to the pixels ``pick_pixels`` chooses in each frame of ``rows``, every weight frozen and rendering as in
    evaluation whatever the model's mode. A frame whose fit does not lower its error on other pixels keeps zero. The
    fitted tensor is installed (zero for frames not in ``rows``); the vectors of ``rows`` are returned, on the CPU."""
    device = model.device
    rows = rows.to(device)
    height, width = images.shape[1:3]
    fitting = torch.zeros(model.head_poses.shape[0], size, device=device, requires_grad=True)
    install(fitting)
    generator = RayGenerator(cameras.to(device))
    backdrops = None
    if not model.torso_trained:
        backdrops = torch.stack([model.torso_backdrop(int(r), height, width) for r in rows])

    def frame_errors(count: int, random: torch.Generator) -> Float[Tensor, " n"]:
        """Each frame's weighted mean squared error over ``count`` of its pixels."""
        pixels, weights = pick_pixels(count, random)
        frame = torch.arange(len(rows))[:, None].expand(-1, count)
        indices = torch.cat([frame[..., None], pixels], dim=-1).reshape(-1, 3)
        rays = generator(indices.to(device))
        assert rays.metadata is not None
        rays.metadata[PIXEL_KEY] = indices[:, 1:].to(device, torch.float32)
        k, y, x = indices[:, 0], indices[:, 1], indices[:, 2]
        if backdrops is not None:
            rays.metadata[BACKGROUND_KEY] = backdrops[k, y, x]
        target = images[k, y, x].to(device, torch.float32) / 255.0
        errors = (model.get_outputs(rays)["rgb"] - target).square().sum(-1).reshape(len(rows), count)
        w = weights.to(device)
        return (errors * w).sum(-1) / w.sum(-1).clamp_min(1.0)

    optimizer = torch.optim.Adam([fitting], lr=settings.learning_rate)
    # the rate falls linearly to zero: the random rays of the last steps cannot walk a settled fit away
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / max(settings.steps, 1))
    random = torch.Generator().manual_seed(settings.seed)
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    training = model.training  # renders as in evaluation (a training model in its torso stage keeps the head frozen)
    model.eval()
    try:
        with model.render_weights():
            for _ in track(range(settings.steps), description=description, transient=True):
                loss = frame_errors(settings.rays_per_frame, random).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
            # Adam steps at its rate however small the evidence: a frame keeps its fit only where it is better
            fitted = fitting.detach().clone()
            with torch.no_grad():
                install(fitted)
                after = frame_errors(4 * settings.rays_per_frame, torch.Generator().manual_seed(settings.seed + 1))
                install(torch.zeros_like(fitted))
                before = frame_errors(4 * settings.rays_per_frame, torch.Generator().manual_seed(settings.seed + 1))
    finally:
        model.train(training)
        for p in frozen:
            p.requires_grad_(True)
    worse = torch.zeros(fitted.shape[0], dtype=torch.bool, device=device)
    worse[rows] = after >= before
    fitted[worse] = 0.0
    install(fitted)
    return fitted[rows].cpu()


def align_held_out_poses(
    model: PortraitModel,
    cameras: Cameras,
    rows: Int[Tensor, " n"],
    images: UInt8[Tensor, "n height width 3"],
    settings: AlignmentSettings | None = None,
) -> Float[Tensor, "n 6"]:
    """Fit the pose correction of each frame in ``rows`` (its camera in ``cameras``, its image in ``images``) to the
    pixels of its face outside the mouth (``fit_held_out_frames``). The model keeps the corrections
    (``model.pose_correction.held_out``) for the renders that follow; the tangent vectors (translation, rotation) are
    returned."""
    face, mouth = model.face_rects[rows].cpu(), model.mouth_rects[rows].cpu()

    def install(tangents: Tensor) -> None:
        model.pose_correction.held_out = tangents

    def pick(count: int, random: torch.Generator) -> Tuple[Tensor, Tensor]:
        return _face_pixels(face, mouth, count, random)

    settings = settings or AlignmentSettings()
    return fit_held_out_frames(model, cameras, rows, images, settings, install, 6, pick, "Aligning held-out poses")


def mean_rotation_degrees(tangents: Float[Tensor, "n 6"]) -> float:
    """The mean rotation of pose corrections given as (translation, rotation) tangent vectors, in degrees."""
    return float(torch.rad2deg(tangents[:, 3:].norm(dim=-1)).mean())


ROUND_SETTINGS = AlignmentSettings(steps=100, rays_per_frame=64)
"""The alignment of the training frames during training: half the held-out frames' rays (its cost grows with the
number of training frames). On a rad-sample clip's final field, 32 rays and 50 steps took the training rotations' error
from 1.79 to 1.54 degrees, 64 and 100 to 1.27, 128 and 100 to 1.25."""


ROUND_SMOOTHING_FRAMES = 2.0
"""Gaussian (frames) over consecutive frames of the round's fits before they are folded in. Each frame is fitted on
its own, so unsmoothed poses follow a source's frame-to-frame jerks into renders with new audio: on the real clip
1.26 px RMS second difference of the eyes and nose, as jerky as its frames, against 0.50 with that run's corrections
smoothed so afterwards (0.48 without refinement); on a rad-sample clip the rotation error stays (1.29 and 1.30
degrees median)."""


def align_training_poses(
    model: PortraitModel,
    cameras: Cameras,
    rows: Int[Tensor, " n"],
    images: UInt8[Tensor, "n height width 3"],
    settings: AlignmentSettings = ROUND_SETTINGS,
    smoothing_frames: float = ROUND_SMOOTHING_FRAMES,
) -> Float[Tensor, "n 6"]:
    """Fit every training frame's pose to its pixels with the field frozen (as in evaluation, on the render weights),
    smooth the fits over consecutive frames and fold them into the trained corrections (``HeadPoseCorrection.absorb``);
    returns the folded tangents."""
    try:
        fitted = align_held_out_poses(model, cameras, rows, images, settings)
    finally:
        model.pose_correction.held_out = None
    fitted = smooth_over_consecutive_frames(rows, fitted, smoothing_frames)
    model.pose_correction.absorb(rows, fitted)
    return fitted
