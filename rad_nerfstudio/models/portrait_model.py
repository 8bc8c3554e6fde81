"""The neutral base of the talking-portrait models: an audio-conditioned head over a pseudo-3D torso over the
background. RAD-NeRF's and ER-NeRF's models are its siblings; they differ only in their head field (and what the
torso reads of the head pose).

Every ray carries ``metadata["frame_idx"]`` (its row in the per-frame tables, held here as buffers) and
``metadata["pixel"]`` (row, column in the training image). Training runs in stages (head, then torso with
the head frozen), with an optional lips fine-tuning stage between them; each stage's losses follow RAD-NeRF.
The data manager follows the stages and feeds its sampler the per-ray errors through its own training callbacks.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import ContextManager, Dict, Iterator, List, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.scene_box import OrientedBox
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.models.base_model import Model
from nerfstudio.utils import colormaps, writer
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor
from torch.nn import Parameter

from rad_nerfstudio.cuda.kernels import kernels_for  # pyright: ignore[reportMissingImports]
from rad_nerfstudio.data.backdrops import torso_backdrop
from rad_nerfstudio.data.portrait_tables import (
    BACKGROUND_KEY,
    FRAME_INDEX_KEY,
    HEAD_MASK_KEY,
    HEAD_POSE_KEY,
    LIPS_PATCH_KEY,
    PIXEL_KEY,
    PORTRAIT_METADATA_KEY,
    TORSO_POSE_KEY,
    PortraitTables,
)
from rad_nerfstudio.evaluation.image_metrics import psnr, ssim
from rad_nerfstudio.evaluation.mouth_shape import pearson_r
from rad_nerfstudio.field_components.audio_encoder import AudioEncoder, smooth_codes
from rad_nerfstudio.field_components.code_planes import CodePlanes
from rad_nerfstudio.field_components.grid_presets import preset_grid
from rad_nerfstudio.field_components.hash_grid import HashGrid
from rad_nerfstudio.field_components.occupancy import MaxOccupancyGrid
from rad_nerfstudio.field_components.region_gate import BoxGate
from rad_nerfstudio.field_components.ridge_mouth_encoder import CodeBesideRidgeMouth, RidgeMouthEncoder
from rad_nerfstudio.fields.conditioned_radiance import ConditionedRadianceField
from rad_nerfstudio.fields.torso_field import PoseEncoder, TorsoField
from rad_nerfstudio.model_components.audio_mouth import (
    MOUTH_DIM,
    AudioMouthReadout,
    ridge_readout,
    standardised_mouth,
)
from rad_nerfstudio.model_components.compositing import over, render_samples
from rad_nerfstudio.model_components.early_stop_compositing import (
    OPAQUE,
    composite_until_opaque,
    samples_until_opaque,
)
from rad_nerfstudio.model_components.ema import ParameterEMA
from rad_nerfstudio.model_components.head_pose_correction import HeadPoseCorrection, compose, correct_rays
from rad_nerfstudio.model_components.image_rays import image_rays
from rad_nerfstudio.model_components.losses import (
    PhotometricLoss,
    entropy_loss,
    marched_distortion_loss,
    masked_mean,
    photometric_errors,
)
from rad_nerfstudio.model_components.lpips_net import Lpips
from rad_nerfstudio.model_components.model_size import parameter_megabytes
from rad_nerfstudio.model_components.stages import Stage, StageSchedule
from rad_nerfstudio.models.portrait_config import PortraitModelConfig
from rad_nerfstudio.render.controls import RenderControls
from rad_nerfstudio.viewer.portrait_controls import PortraitViewerControls

SMOOTHING_HISTORY = 16
"""Frames before a scrubbed audio frame whose codes its test-time smoothing runs over (beta^16 is negligible)."""


class PortraitModel(Model):
    """Head field over a torso field over the background, conditioned on audio; subclasses build the head field and
    say what the torso reads of the head pose (``make_head_field``, ``make_pose_encoder``) and may add head losses
    (``head_losses``)."""

    config: PortraitModelConfig
    audio_windows: Tensor
    audio_index: Tensor
    eye: Tensor
    head_poses: Tensor
    face_rects: Tensor
    mouth_rects: Tensor
    background: Tensor
    train_rows: Tensor
    val_rows: Tensor
    mouth_shape: Tensor | None
    ridge_targets: Tensor
    trained_steps: Tensor

    def populate_modules(self) -> None:
        super().populate_modules()
        tables: PortraitTables = self.kwargs["metadata"][PORTRAIT_METADATA_KEY]
        self.register_buffer("audio_windows", tables.audio_windows.float())
        self.register_buffer("audio_index", tables.audio_index.long())
        self.register_buffer("eye", tables.eye.float())
        self.register_buffer("head_poses", tables.head_poses.reshape(tables.num_frames, 12).float())
        self.register_buffer("face_rects", tables.rects["face"].long())
        self.register_buffer("mouth_rects", tables.rects["mouth"].long(), persistent=False)
        self.register_buffer("background", tables.background.clone())
        self.register_buffer("train_rows", tables.splits["train"].long())
        self.register_buffer("val_rows", tables.splits["val"].long(), persistent=False)
        mouth = tables.mouth_shape
        self.register_buffer("mouth_shape", None if mouth is None else mouth.float(), persistent=False)
        self.torso_paths = list(tables.torso_paths)
        self.schedule = StageSchedule.of(self.config)
        if self.reads_ridge_mouth and mouth is not None:  # what the head reads in training (derived, not saved)
            self.register_buffer("ridge_targets", standardised_mouth(mouth.float(), self.train_rows), persistent=False)
        self.audio_encoder = self._make_audio_encoder(tables)
        self.mouth_readout = (
            AudioMouthReadout(self.config.audio_code_dim, mouth.float(), self.train_rows)
            if self.config.audio_mouth_loss_mult > 0 and mouth is not None and not self.reads_ridge_mouth
            else None
        )
        if self.config.mouth_conditioning != "none" and self.mouth_readout is None and not self.reads_ridge_mouth:
            raise ValueError(
                "--pipeline.model.mouth-conditioning needs --pipeline.model.audio-mouth-loss-mult > 0 and the "
                "dataset's landmarks (the readout that predicts the mouth from the audio)"
            )
        torso_config = replace(self.config.torso, grid=preset_grid(self.config.grid_preset, self.config.torso.grid))
        self.head = self.make_head_field(tables.num_frames)
        self.torso = TorsoField(torso_config, tables.num_frames, self.make_pose_encoder())
        self.torso.mark_trained(self.train_rows)
        self.pose_correction = HeadPoseCorrection(
            self.config.camera_optimizer, tables.num_frames, self.config.pose_smoothness_mult
        )
        self.occupancy = MaxOccupancyGrid(self.config.occupancy, self.scene_box.aabb)
        region = tables.mouth_region if self.config.audio_in_mouth_region else None
        self.audio_gate = BoxGate(None if region is None else self._normalise(region))
        self.register_buffer("trained_steps", torch.zeros((), dtype=torch.long))  # saved: the stage survives loading
        # the pose corrections are per-frame facts, not weights to average: renders and exports use them as trained
        ema_exclude = ("pose_correction.",)
        self.ema = ParameterEMA(self, self.config.ema_decay, ema_exclude) if self.config.ema_decay > 0 else None
        self.viewer_frame = int(tables.splits["train"][0])
        self._occupancy_generator = torch.Generator().manual_seed(0)
        self._lpips: Lpips | None = None  # a plain attribute: LPIPS is neither trained nor saved
        self.render_controls = RenderControls()
        """Conditions of renders of dataset cameras (rad-render sets them; the defaults render the dataset)."""
        plate_height, plate_width = tables.background.shape[:2]
        self.viewer_controls = PortraitViewerControls(tables.eye, self.viewer_frame, (plate_height, plate_width))
        self._active_controls: RenderControls | None = None
        """The controls of the whole-image render under way (``get_outputs_for_camera``), else None."""
        self.mouth_from_landmarks = False
        """Whether renders of dataset frames read each frame's own landmark mouth, as training does
        (``landmark_mouth``)."""
        self.last_ray_errors: Float[Tensor, " rays"] | None = None
        """Per-ray photometric errors of the last training batch (the data manager feeds them to its sampler)."""
        CONSOLE.print(f"{type(self).__name__}: {parameter_megabytes(self):.1f} MB of parameters")

    @property
    def reads_ridge_mouth(self) -> bool:
        """Whether the audio code is the ridge regression's mouth shape (``audio_encoder`` 'ridge-mouth')."""
        return self.config.audio_encoder == "ridge-mouth"

    def _make_audio_encoder(self, tables: PortraitTables) -> AudioEncoder | RidgeMouthEncoder | CodeBesideRidgeMouth:
        """AudioNet + attention, or the ridge regression of the mouth fitted now on the training frames (alone, or
        beside an AudioNet code with ``mouth_conditioning`` 'with-code')."""
        if not self.reads_ridge_mouth:
            return AudioEncoder(tables.audio_dim, self.config.audio_code_dim, self.config.audio_attention)
        if self.mouth_shape is None:
            raise ValueError(
                "--pipeline.model.audio-encoder ridge-mouth (the CPU methods' default) needs the dataset's landmarks "
                "(ori_imgs/*.lms; rad-process writes them); without them use --pipeline.model.audio-encoder audio-net"
            )
        if self.config.mouth_conditioning == "alone":
            raise ValueError(
                "--pipeline.model.audio-encoder ridge-mouth already conditions the head on the mouth alone; "
                "use --pipeline.model.mouth-conditioning none (the mouth alone) or with-code (beside an AudioNet code)"
            )
        order = self.train_rows[self.audio_index[self.train_rows].argsort()]  # blocks in time for its validation
        ridge = RidgeMouthEncoder(tables.audio_dim, self.mouth_shape.shape[-1])
        ridge.fit(
            self.audio_windows, self.audio_index[order], self.ridge_targets[order],
            full_spread=self.config.ridge_mouth_full_spread,
            within_training_range=self.config.ridge_mouth_within_training_range,
        )  # fmt: skip
        CONSOLE.print(
            f"Mouth from the audio (ridge regression): strength {float(ridge.strength):g}, cross-validated r "
            f"{ridge.cross_validated_r:.2f} on the training frames, predictions' spread x "
            f"{', '.join(f'{gain:.2f}' for gain in ridge.spread_gain.tolist())} (opening, width)"
        )
        if not self.ridge_mouth_beside_code:
            return ridge
        audio_net = AudioEncoder(tables.audio_dim, self.config.audio_code_dim, self.config.audio_attention)
        return CodeBesideRidgeMouth(audio_net, ridge)

    @property
    def ridge_mouth_beside_code(self) -> bool:
        """Whether the head reads an AudioNet code beside the ridge regression's mouth (ridge-mouth, 'with-code')."""
        return self.reads_ridge_mouth and self.config.mouth_conditioning == "with-code"

    @property
    def field_code_dim(self) -> int:
        """Size of the audio condition the head field reads: the code, and the mouth shape when conditioned on it."""
        if self.reads_ridge_mouth:
            return MOUTH_DIM + (self.config.audio_code_dim if self.ridge_mouth_beside_code else 0)
        mode, code = self.config.mouth_conditioning, self.config.audio_code_dim
        return MOUTH_DIM if mode == "alone" else code + (MOUTH_DIM if mode == "with-code" else 0)

    def make_head_field(self, num_frames: int) -> ConditionedRadianceField:
        """The method's head field, reading ``field_code_dim`` audio channels, with ``num_frames`` latent codes."""
        raise NotImplementedError

    def make_pose_encoder(self) -> PoseEncoder | None:
        """What the torso's deformation reads of the head pose (None: the raw 3x4 pose)."""
        raise NotImplementedError

    def head_losses(self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The method's own regularisers of the head field in the head stages (none by default)."""
        return {}

    # ----------------------------------------------------------------------------------------- training plumbing
    @property
    def step(self) -> int:
        return int(self.trained_steps)

    @step.setter
    def step(self, value: int) -> None:
        self.trained_steps.fill_(value)

    @property
    def stage(self) -> Stage:
        return self.schedule.stage_at(self.step)

    @property
    def stage_photometric_loss(self) -> PhotometricLoss:
        """The photometric loss of the current stage."""
        per_stage: Dict[Stage, PhotometricLoss | None] = {
            "lips": self.config.lips_photometric_loss,
            "torso": self.config.torso_photometric_loss,
        }
        return per_stage.get(self.stage) or self.config.photometric_loss

    @property
    def torso_trained(self) -> bool:
        """Whether the torso field has been trained (else renders use each frame's torso image)."""
        return self.stage == "torso"

    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        """Hash grids and MLPs apart (different learning rates); the torso's own pair starts with its stage."""

        def split(module: torch.nn.Module) -> Tuple[List[Parameter], List[Parameter]]:
            grids = [p for m in module.modules() if isinstance(m, (HashGrid, CodePlanes)) for p in m.parameters()]
            ids = {id(p) for p in grids}
            return grids, [p for p in module.parameters() if id(p) not in ids]

        torso_grids, torso_mlps = split(self.torso)
        apart = {id(p) for p in self.torso.parameters()} | {id(p) for p in self.pose_correction.parameters()}
        grids, mlps = split(self)
        groups = {
            "grids": [p for p in grids if id(p) not in apart],
            "mlps": [p for p in mlps if id(p) not in apart],
            "torso_grids": torso_grids,
            "torso_mlps": torso_mlps,
        }
        if self.pose_correction.refining:
            self.pose_correction.camera_optimizer.get_param_groups(groups)
        return groups

    def get_training_callbacks(
        self, training_callback_attributes: TrainingCallbackAttributes
    ) -> List[TrainingCallback]:
        if self.config.lips_steps > 0:
            self.lips_lpips()  # fail now, before training, if its weights cannot be had

        def set_step(step: int) -> None:
            self.step = step

        def update_occupancy(step: int) -> None:
            if self.schedule.stage_at(step) != "torso" and step % self.config.occupancy.update_every == 0:
                self.occupancy.update(self._density_under_random_condition, self._occupancy_generator)

        def update_ema(step: int) -> None:
            if self.ema is not None:
                self.ema.update()

        def report_audio_mouth(step: int) -> None:
            every = self.config.audio_mouth_log_every
            if every > 0 and step % every == 0 and step > 0 and self.schedule.stage_at(step) != "torso":
                r = self.audio_mouth_r()
                if r is not None:
                    writer.put_scalar("audio_mouth_r_val", r, step)
                    CONSOLE.print(f"step {step}: audio code -> mouth opening r on the validation frames {r:.3f}")

        where = [TrainingCallbackLocation.BEFORE_TRAIN_ITERATION]
        return [
            TrainingCallback(where, set_step),
            TrainingCallback(where, update_occupancy),
            TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], update_ema),
            TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], report_audio_mouth),
        ]

    def lips_lpips(self) -> Lpips:
        """The LPIPS network of the lips stage (built on first use)."""
        if self._lpips is None:
            self._lpips = Lpips(pretrained=self.config.lpips_pretrained)
        return self._lpips

    def _normalise(self, positions: Tensor) -> Tensor:
        aabb = self.scene_box.aabb.to(positions.device)
        return (positions - aabb[0]) / (aabb[1] - aabb[0])

    @torch.no_grad()
    def _density_under_random_condition(self, positions: Float[Tensor, "n 3"]) -> Float[Tensor, " n"]:
        pick = torch.randint(len(self.train_rows), (1,), generator=self._occupancy_generator)
        row = self.train_rows[pick.to(self.train_rows.device)]
        normalised = self._normalise(positions.to(self.device))
        code = self.field_condition(self.audio_codes(row), row).expand(positions.shape[0], -1)
        code = code * self.audio_gate(normalised)
        eye = self.eye[row][:, None].expand(positions.shape[0], 1)
        return self.head.density(normalised, code, eye)

    # ----------------------------------------------------------------------------------------------- rendering
    def audio_codes(self, rows: Int[Tensor, " n"]) -> Float[Tensor, "n code"]:
        """Audio code of each frame (computed once per distinct frame)."""
        unique, inverse = rows.unique(return_inverse=True)
        return self.audio_encoder.encode_track(self.audio_windows, self.audio_index[unique])[inverse]

    @torch.no_grad()
    def audio_mouth_prediction(self) -> Float[Tensor, " val"] | None:
        """The validation frames' mouth opening as the audio code tells it: a ridge readout from code to the
        landmarks' opening fitted on the training frames (``model_components.audio_mouth``); None without landmarks
        or with fewer than 3 training or validation frames."""
        if self.mouth_shape is None or len(self.val_rows) < 3 or len(self.train_rows) < 3:
            return None
        train, held_out = self.audio_codes(self.train_rows), self.audio_codes(self.val_rows)
        return ridge_readout(train, self.mouth_shape[self.train_rows, 0], held_out)

    def audio_mouth_r(self, predicted: Float[Tensor, " val"] | None = None) -> float | None:
        """How well the audio code predicts the landmarks' mouth opening on the validation frames: r of
        ``audio_mouth_prediction`` (``predicted`` when already computed) against their landmarks; None where it is
        undefined."""
        predicted = self.audio_mouth_prediction() if predicted is None else predicted
        if predicted is None or self.mouth_shape is None:
            return None
        return pearson_r(predicted.cpu().numpy(), self.mouth_shape[self.val_rows, 0].double().cpu().numpy())

    def field_condition(self, codes: Float[Tensor, "n code"], rows: Int[Tensor, " n"] | None) -> Float[Tensor, "n c"]:
        """What the head field reads of the audio (``mouth_conditioning``): the codes, and / or the mouth shape: the
        frames' own (``rows``, standardised) in training and under ``landmark_mouth``, else the readout's prediction
        (also for codes that are not the frames' own: ``rows`` None). A ridge-mouth code is the predicted mouth."""
        taught_now = rows is not None and (self.training or self.mouth_from_landmarks)
        if self.reads_ridge_mouth:
            if not taught_now:
                return codes
            taught = self.ridge_targets[rows].to(codes.dtype)
            return torch.cat([codes[:, :-MOUTH_DIM], taught], -1) if self.ridge_mouth_beside_code else taught
        if self.config.mouth_conditioning == "none" or self.mouth_readout is None:
            return codes
        if taught_now:
            mouth = self.mouth_readout.targets[rows].to(codes.dtype)
        else:
            mouth = self.mouth_readout(codes)
        return mouth if self.config.mouth_conditioning == "alone" else torch.cat([codes, mouth], dim=-1)

    @property
    def reads_mouth(self) -> bool:
        """Whether the head field reads the mouth's shape (ridge-mouth, or ``mouth_conditioning`` with a readout)."""
        return self.reads_ridge_mouth or (self.config.mouth_conditioning != "none" and self.mouth_readout is not None)

    @contextmanager
    def landmark_mouth(self) -> Iterator[None]:
        """Renders of dataset frames read each frame's own landmark mouth, as training does, not the audio's
        prediction (teacher forcing): what the head renders given a perfect prediction. Only for heads that read the
        mouth's shape (``reads_mouth``)."""
        if not self.reads_mouth:
            raise ValueError(
                "this model's head reads an audio code, not the mouth's shape, so it cannot be given the landmarks' "
                "mouth (train with --pipeline.model.audio-encoder ridge-mouth or --pipeline.model.mouth-conditioning)"
            )
        self.mouth_from_landmarks = True
        try:
            yield
        finally:
            self.mouth_from_landmarks = False

    def smoothed_audio_code(self, frame: int, beta: float) -> Float[Tensor, " code"]:
        """A frame's audio code after test-time momentum over the codes of the frames before it."""
        history = torch.arange(max(0, frame - SMOOTHING_HISTORY), frame + 1, device=self.device)
        return smooth_codes(self.audio_codes(history), beta)[-1]

    def _ray_conditions(self, rows: Tensor, controls: RenderControls) -> Tuple[Tensor, Tensor, Tensor]:
        """Audio code, the head field's audio condition (``field_condition``) and eye value of every ray: its
        frame's, unless the controls say otherwise."""
        n = rows.shape[0]
        if controls.audio_code is not None:
            codes = controls.audio_code.to(self.device).expand(n, -1)
            condition = self.field_condition(codes, None)
        elif controls.audio_frame is not None:
            code = self.smoothed_audio_code(controls.audio_frame, controls.audio_smoothing)[None]
            codes, condition = code.expand(n, -1), self.field_condition(code, None).expand(n, -1)
        else:
            codes = self.audio_codes(rows)
            condition = self.field_condition(codes, rows)
        eye = self.eye[rows] if controls.eye is None else torch.full((n,), controls.eye, device=self.device)
        return codes, condition, eye[:, None]

    def _render_head(
        self, origins: Tensor, directions: Tensor, codes: Tensor, eye: Tensor, rows: Tensor, poses: Tensor
    ) -> Dict[str, Tensor]:
        samples = self.occupancy.march(origins, directions, self.config.near_plane)
        t_starts, t_ends, valid = samples.t_starts[..., 0], samples.t_ends[..., 0], samples.valid
        if self.training and self.config.jitter_samples:
            shift = (torch.rand(t_starts.shape[0], 1, device=t_starts.device) - 0.5) * (t_ends - t_starts)
            t_starts, t_ends = t_starts + shift, t_ends + shift

        def positions_and_condition(ray_id: Tensor, sample_id: Tensor) -> Tuple[Tensor, Tensor]:
            """Normalised positions [n, 3] of the given samples and the audio condition [n, code] there."""
            t_mid = (t_starts[ray_id, sample_id] + t_ends[ray_id, sample_id]) / 2
            positions = self._normalise(origins[ray_id] + t_mid[:, None] * directions[ray_id])
            return positions, codes[ray_id] * self.audio_gate(positions)

        def fields(ray_id: Tensor, sample_id: Tensor) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
            """The head field at the given samples: density [n], rgb [n, 3], maps [n]."""
            positions, condition = positions_and_condition(ray_id, sample_id)
            rotations = poses.reshape(-1, 3, 4)[:, :, :3].reshape(-1, 9)[ray_id] if self.head.pose_dim else None
            out = self.head(positions, directions[ray_id], condition, eye[ray_id], rows[ray_id], rotations)
            return out["density"][:, 0], out["rgb"], {key: out[key].abs().sum(-1) for key in self.head.map_keys}

        def density_at(ray_id: Tensor, sample_id: Tensor) -> Tensor:
            positions, condition = positions_and_condition(ray_id, sample_id)
            return self.head.density(positions, condition, eye[ray_id])

        if not self.training and not torch.is_grad_enabled():  # renders: stop each ray once it is opaque
            keys = self.head.map_keys
            rendered = composite_until_opaque(valid, t_starts, t_ends, fields, keys, valid_first=samples.valid_first)
            if rendered is not None:
                return rendered
        elif self.training and torch.is_grad_enabled() and self._trains_until_opaque(valid.device):
            valid = valid & samples_until_opaque(valid, t_starts, t_ends, density_at)  # what is behind takes no part
        ray_id, sample_id = valid.nonzero(as_tuple=True)
        n_rays, k = valid.shape
        density = torch.zeros(n_rays, k, device=valid.device)
        rgb = torch.zeros(n_rays, k, 3, device=valid.device)
        maps = {key: torch.zeros(n_rays, k, device=valid.device) for key in self.head.map_keys}
        if ray_id.numel():
            sample_density, sample_rgb, sample_maps = fields(ray_id, sample_id)
            density = density.index_put((ray_id, sample_id), sample_density)
            rgb = rgb.index_put((ray_id, sample_id), sample_rgb)
            maps = {key: m.index_put((ray_id, sample_id), sample_maps[key]) for key, m in maps.items()}
        rendered = render_samples(density, rgb, t_starts, t_ends, valid)
        weights = rendered.pop("weights")
        rendered.update({key: (weights * m).sum(-1, keepdim=True) for key, m in maps.items()})
        if self.training and self.config.distortion_loss_mult > 0:
            rendered["distortion"] = marched_distortion_loss(weights, t_starts, t_ends)
        return rendered

    def _trains_until_opaque(self, device: torch.device) -> bool:
        """Whether training rays stop at their opaque point: where asked and the fused kernels serve (on the torch
        path the density pass that finds the point costs more than the samples behind it: ``er-nerf-small`` 43.6 ->
        44.8 ms an iteration, ``benchmarks/training_step_speed.py``)."""
        return self.config.train_until_opaque and kernels_for(device) is not None

    @staticmethod
    def _plate(plate: Tensor, pixels: Tensor) -> Tensor:
        """Background plate colour at pixels (nearest)."""
        h, w = plate.shape[:2]
        r = pixels[:, 0].round().long().clamp(0, h - 1)
        c = pixels[:, 1].round().long().clamp(0, w - 1)
        return plate[r, c].float() / 255.0

    def get_outputs(self, ray_bundle: RayBundle) -> Dict[str, Tensor]:
        metadata = ray_bundle.metadata or {}
        if FRAME_INDEX_KEY in metadata:
            rows = metadata[FRAME_INDEX_KEY][..., 0].long()
        else:
            rows = torch.full(ray_bundle.shape, self.viewer_frame, dtype=torch.long, device=self.device)
        pixels = metadata[PIXEL_KEY].float()
        controls = self._active_controls or RenderControls()
        stage = self.stage
        origins, directions = ray_bundle.origins, ray_bundle.directions
        # the torso stage trains with the head frozen; outside training (test-time pose alignment) gradients flow
        with torch.set_grad_enabled(torch.is_grad_enabled() and not (self.training and stage == "torso")):
            # the head follows each frame's refined pose, the torso the pose ``config.torso_pose`` says
            if TORSO_POSE_KEY in metadata:  # a whole-image render: its rays already follow the refined pose
                poses, torso_poses = metadata[HEAD_POSE_KEY], metadata[TORSO_POSE_KEY]
            elif self.pose_correction.active:  # rays of dataset frames: their frames' refined poses
                correction = self.pose_correction(rows)
                origins, directions = correct_rays(correction, origins, directions)
                poses = compose(correction, self.head_poses[rows].reshape(-1, 3, 4)).reshape(-1, 12)
                torso_poses = self._torso_pose(self.head_poses[rows], poses)
            else:
                poses = torso_poses = self.head_poses[rows]
            codes, condition, eye = self._ray_conditions(rows, controls)
            head = self._render_head(origins, directions, condition, eye, rows, poses)
        plate_image = self.background if controls.background is None else controls.background.to(self.device)
        plate = self._plate(plate_image, pixels)
        outputs: Dict[str, Tensor] = {
            "accumulation": head["accumulation"],
            "depth": head["depth"],
            **{key: head[key] for key in self.head.map_keys},
            "head_rgb": over(head["rgb"], head["accumulation"], plate),
        }
        if "distortion" in head:
            outputs["distortion"] = head["distortion"]
        if self.training and self.mouth_readout is not None and stage != "torso":
            outputs["audio_mouth"] = self.mouth_readout(codes)
        if not controls.torso:
            behind = plate
        elif stage == "torso":
            h, w = plate_image.shape[:2]
            uv = torch.stack([(pixels[:, 1] + 0.5) / w, (pixels[:, 0] + 0.5) / h], dim=-1) * 2 - 1
            torso = self._torso_behind_head(uv, torso_poses, rows, head["accumulation"])
            behind = over(torso["rgb"] * torso["alpha"], torso["alpha"], plate)
            outputs["torso_alpha"] = torso["alpha"]
        else:
            behind = metadata[BACKGROUND_KEY] if BACKGROUND_KEY in metadata else plate
        if not self.training:
            outputs["torso_rgb"] = behind  # torso over background (the frame's torso image until the torso is trained)
        # rgb first: nerfstudio's viewer opens on the first output
        return {"rgb": over(head["rgb"], head["accumulation"], behind), **outputs}

    def _torso_pose(self, given: Tensor, refined: Tensor) -> Tensor:
        """The head pose that conditions the torso (``config.torso_pose``): the frame's as given or the refined one."""
        return given if self.config.torso_pose == "given" else refined

    def _torso_behind_head(
        self, uv: Float[Tensor, "n 2"], poses: Tensor, rows: Tensor, head_alpha: Float[Tensor, "n 1"]
    ) -> Dict[str, Tensor]:
        """The torso field's rgb and alpha; in renders on the fused kernels (as the head's early stop), only where
        the head lets light through (elsewhere alpha 1, rgb 0: the pixel changes by less than ``OPAQUE``). In renders
        of one frame the field gets its pose and frame once."""
        if self.training or torch.is_grad_enabled():
            return self.torso(uv, poses, rows)
        whole_image = self._active_controls is not None  # get_outputs_for_camera: every ray has the frame's pose
        if whole_image or (rows.numel() and bool((rows == rows[0]).all()) and bool((poses == poses[:1]).all())):
            poses, rows = poses[:1], rows[:1]
        if kernels_for(uv.device) is None:
            return self.torso(uv, poses, rows)
        seen = (head_alpha[:, 0] < 1.0 - OPAQUE).nonzero()[:, 0]
        n = uv.shape[0]
        out = {"rgb": torch.zeros(n, 3, device=uv.device), "alpha": torch.ones(n, 1, device=uv.device)}
        if seen.numel():
            one_frame = rows.shape[0] == 1
            torso = self.torso(uv[seen], poses if one_frame else poses[seen], rows if one_frame else rows[seen])
            out["rgb"][seen], out["alpha"][seen] = torso["rgb"], torso["alpha"]
        return out

    def get_metrics_dict(self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]) -> Dict[str, Tensor]:
        image = batch["image"].to(self.device)
        return {
            "psnr": -10.0 * torch.log10(torch.mean((outputs["rgb"] - image) ** 2)),
            "stage_torso": torch.tensor(float(self.stage == "torso")),
            **self.pose_correction.metrics(),
        }

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> Dict[str, Tensor]:
        image = batch["image"].to(self.device)
        errors = photometric_errors(self.stage_photometric_loss, outputs["rgb"], image, self.config.loss_beta)
        losses = {"rgb_loss": errors.mean()}
        if self.training:
            self.last_ray_errors = errors.detach()
        if self.stage != "torso":
            losses["entropy_loss"] = self.config.entropy_loss_mult * entropy_loss(outputs["accumulation"])
            losses["ambient_loss"] = (
                self.config.ambient_loss_mult
                * self.ambient_ramp
                * masked_mean(outputs["ambient"][:, 0], ~self.in_face_rect(batch))
            )
            if HEAD_MASK_KEY in batch and self.config.head_mask_loss_mult > 0:
                opacity = outputs["accumulation"][:, 0].clamp(1e-4, 1 - 1e-4)
                target = batch[HEAD_MASK_KEY].to(self.device)
                losses["head_mask_loss"] = self.config.head_mask_loss_mult * F.binary_cross_entropy(opacity, target)
        if self.stage != "torso":
            losses.update(self.pose_correction.losses(self.train_rows))
            losses.update(self.head_losses(outputs, batch))
        if "distortion" in outputs and self.stage != "torso":
            losses["distortion_loss"] = self.config.distortion_loss_mult * outputs["distortion"]
        if "audio_mouth" in outputs and self.mouth_readout is not None:
            rows = batch[FRAME_INDEX_KEY].to(self.device).long()
            audio_mouth = self.mouth_readout.loss(outputs["audio_mouth"], rows)
            losses["audio_mouth_loss"] = self.config.audio_mouth_loss_mult * audio_mouth
        if LIPS_PATCH_KEY in batch:
            side = int(batch[LIPS_PATCH_KEY])
            patch = outputs["rgb"].reshape(1, side, side, 3)
            target = image.reshape(1, side, side, 3)
            losses["lips_lpips_loss"] = self.config.lips_lpips_mult * self.lips_lpips()(patch, target).mean()
        return losses

    @property
    def ambient_ramp(self) -> float:
        """Weight of the ambient losses now: 0 at step 0, 1 after ``ambient_loss_ramp_steps``."""
        return min(1.0, self.step / max(1, self.config.ambient_loss_ramp_steps))

    def in_face_rect(self, batch: Dict[str, Tensor]) -> Bool[Tensor, " n"]:
        """Whether each ray of a training batch falls inside its frame's face rectangle."""
        indices = batch["indices"].to(self.device)
        rect = self.face_rects[batch[FRAME_INDEX_KEY].to(self.device).long()]
        y, x = indices[:, 1], indices[:, 2]
        return (x >= rect[:, 0]) & (x < rect[:, 2]) & (y >= rect[:, 1]) & (y < rect[:, 3])

    # ------------------------------------------------------------------------------------------ whole images
    def torso_backdrop(self, row: int, height: int, width: int, plate: Tensor | None = None) -> Float[Tensor, "h w 3"]:
        """The frame's torso image over the background plate (what the head is rendered over in head stages)."""
        plate_image = (self.background if plate is None else plate).cpu().numpy()
        backdrop = torso_backdrop(self.torso_paths[row], plate_image)
        if backdrop.shape[:2] != (height, width):
            backdrop = cv2.resize(backdrop, (width, height), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(backdrop.astype(np.float32) / 255.0).to(self.device)

    def pixel_grid(self, height: int, width: int) -> Float[Tensor, "h w 2"]:
        """Training-image (row, column) of every pixel of a ``height x width`` render."""
        h, w = self.background.shape[:2]
        rows = (torch.arange(height, device=self.device) + 0.5) * (h / height) - 0.5
        cols = (torch.arange(width, device=self.device) + 0.5) * (w / width) - 0.5
        return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1)

    @torch.no_grad()
    def get_outputs_for_camera(self, camera: Cameras, obb_box: OrientedBox | None = None) -> Dict[str, Tensor]:
        """A whole image. Dataset cameras (with a frame) follow ``render_controls`` (defaults: the frame's own
        conditions); viewer cameras follow the viewer's controls, at the viewer frame."""
        if obb_box is None:
            rays = image_rays(camera)
        else:  # the viewer's crop box: nerfstudio's generator clips the rays to it
            rays = camera.generate_rays(camera_indices=0, keep_shape=True, obb_box=obb_box)
        height, width = rays.shape
        metadata = dict(rays.metadata or {})
        if FRAME_INDEX_KEY in metadata:
            controls = self.render_controls
        else:
            controls = self.viewer_controls.controls
            metadata[FRAME_INDEX_KEY] = torch.full((height, width, 1), self.viewer_frame, device=self.device)
        row = int(metadata[FRAME_INDEX_KEY][0, 0, 0])
        metadata[PIXEL_KEY] = self.pixel_grid(height, width)
        given = pose = camera.camera_to_worlds[0].reshape(1, 3, 4).to(self.device)
        if FRAME_INDEX_KEY in (camera.metadata or {}) and controls.refined_pose and self.pose_correction.active:
            correction = self.pose_correction(torch.tensor([row], device=self.device))
            pose = compose(correction, given)
            origins, directions = correct_rays(
                correction.expand(height * width, 3, 4), rays.origins.reshape(-1, 3), rays.directions.reshape(-1, 3)
            )
            rays.origins, rays.directions = origins.reshape(height, width, 3), directions.reshape(height, width, 3)
        metadata[HEAD_POSE_KEY] = pose.reshape(1, 1, 12).expand(height, width, 12)
        metadata[TORSO_POSE_KEY] = self._torso_pose(given, pose).reshape(1, 1, 12).expand(height, width, 12)
        if not self.torso_trained and controls.torso:
            metadata[BACKGROUND_KEY] = self.torso_backdrop(row, height, width, controls.background)
        rays.metadata = metadata
        self._active_controls = controls
        try:
            with self.render_weights():
                return self.get_outputs_for_camera_ray_bundle(rays)
        finally:
            self._active_controls = None

    def render_weights(self) -> ContextManager:
        """The weights whole-image renders use: the EMA's when kept, else the live ones."""
        return self.ema.averaged() if self.ema is not None else nullcontext()

    @torch.no_grad()
    def encode_audio(self, windows: Float[Tensor, "frames 16 dim"], beta: float = 0.0) -> Float[Tensor, "frames code"]:
        """Audio codes of a whole (driving) track, one per frame, with test-time smoothing ``beta``."""
        windows = windows.to(self.device)
        centres = torch.arange(windows.shape[0], device=self.device)
        with self.render_weights():
            codes = [self.audio_encoder.encode_track(windows, chunk) for chunk in centres.split(256)]
        return smooth_codes(torch.cat(codes), beta)

    def get_image_metrics_and_images(
        self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]
    ) -> Tuple[Dict[str, float], Dict[str, Tensor]]:
        image = batch["image"].to(self.device)[..., :3]
        rgb = outputs["rgb"].clamp(0, 1)
        metrics = {"psnr": psnr(rgb, image), "ssim": ssim(rgb, image)}
        images = {
            "img": torch.cat([image, rgb], dim=1),
            "accumulation": colormaps.apply_colormap(outputs["accumulation"]),
            "depth": colormaps.apply_depth_colormap(outputs["depth"], accumulation=outputs["accumulation"]),
        }
        return metrics, images
