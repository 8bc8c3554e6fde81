"""nerfstudio entry points of rad-nerfstudio, installed as ``rad_nerfstudio.method_configs``.

nerfstudio imports this module at every ``ns-*`` start, so the method specifications here build
configs only; audio models, LPIPS and CUDA kernels are imported when they are used.
Importing it also makes checkpoints written by nerfstudio loadable under torch's ``weights_only`` rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, Tuple, Type

import torch
from nerfstudio.configs.base_config import MachineConfig, ViewerConfig
from nerfstudio.engine.optimizers import AdamOptimizerConfig, OptimizerConfig
from nerfstudio.engine.schedulers import ExponentialDecaySchedulerConfig
from nerfstudio.engine.trainer import TrainerConfig
from nerfstudio.plugins.types import MethodSpecification

from rad_nerfstudio.checkpoint_compat import allow_numpy_scalars_in_checkpoints
from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.data.face_focused_sampler import FaceFocusedSamplerConfig
from rad_nerfstudio.data.pixel_samplers import PortraitPixelSamplerConfig
from rad_nerfstudio.engine.portrait_pipeline import PortraitPipelineConfig
from rad_nerfstudio.engine.stage_plan import RUN_LENGTH_FROM_STAGES, SCHEDULE_FROM_STAGES, TORSO_GROUP_PREFIX
from rad_nerfstudio.engine.trainer import TalkingPortraitTrainer
from rad_nerfstudio.field_components.hash_grid import HashGridConfig
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.fields.er_nerf_head_field import ErNerfHeadFieldConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.model_components.stages import StageSchedule
from rad_nerfstudio.models.er_nerf import ErNerfModelConfig
from rad_nerfstudio.models.portrait_config import PortraitModelConfig
from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig

allow_numpy_scalars_in_checkpoints()


@dataclass
class RadAdamConfig(AdamOptimizerConfig):
    """Adam with RAD-NeRF's betas (0.9, 0.99) and eps 1e-15."""

    betas: Tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-15
    fused: bool = True
    """torch's fused Adam (one kernel over every parameter; on the CPU 7x faster per step than the default over
    the hash tables' 2 M values: 13.3 -> 1.9 ms, one thread); the same update."""


@dataclass
class ErNerfAdamWConfig(OptimizerConfig):
    """AdamW with ER-NeRF's betas (0, 0.99) and no weight decay."""

    _target: Type = torch.optim.AdamW
    betas: Tuple[float, float] = (0.0, 0.99)
    weight_decay: float = 0.0
    fused: bool = True
    """torch's fused AdamW (see ``RadAdamConfig.fused``)."""


CAMERA_OPT_GROUP = "camera_opt"
"""nerfstudio's optimizer group of the camera optimizer (the head-pose corrections; used when the model refines)."""
POSE_LR = 5e-4
POSE_WARMUP_STEPS = 250
"""The pose corrections' learning rate ramps up over the first steps, while the head is still a blur."""


def _optimizers(grid_lr: float, mlp_lr: float, optimizer: OptimizerConfig) -> dict:
    """Grids and MLPs at their own learning rates, decaying to a tenth (RAD-NeRF) by the end of the stages; the
    torso's groups hold their rate until the torso stage starts and decay from there (both fitted at start-up:
    ``SCHEDULE_FROM_STAGES``)."""
    groups = {}
    for prefix in ("", TORSO_GROUP_PREFIX):
        for name, lr in (("grids", grid_lr), ("mlps", mlp_lr)):
            scheduler = ExponentialDecaySchedulerConfig(
                lr_pre_warmup=lr, lr_final=lr / 10, max_steps=SCHEDULE_FROM_STAGES
            )
            groups[prefix + name] = {"optimizer": replace(optimizer, lr=lr), "scheduler": scheduler}
    groups[CAMERA_OPT_GROUP] = {
        "optimizer": AdamOptimizerConfig(lr=POSE_LR, eps=1e-15),
        "scheduler": ExponentialDecaySchedulerConfig(
            lr_pre_warmup=1e-8, warmup_steps=POSE_WARMUP_STEPS, lr_final=POSE_LR / 10, max_steps=SCHEDULE_FROM_STAGES
        ),
    }
    return groups


def portrait_trainer_config(
    method_name: str,
    model: PortraitModelConfig,
    sampler: PortraitPixelSamplerConfig,
    steps_per_eval_image: int,
    learning_rates: Tuple[float, float] = (5e-3, 5e-4),
    optimizer: OptimizerConfig | None = None,
    audio_features: str = "auto",
) -> TrainerConfig:
    """A talking-portrait trainer (rad-nerf or er-nerf model): ``learning_rates`` are (hash grids, MLPs) and
    ``optimizer`` their optimizer, RAD-NeRF's by default; ``audio_features`` the dataparser's default."""
    max_steps = StageSchedule.of(model).total_steps
    datamanager = TalkingPortraitDataManagerConfig(
        pixel_sampler=sampler,
        eval_num_rays_per_batch=sampler.num_rays_per_batch,
    )
    datamanager.dataparser.audio_features = audio_features
    return TrainerConfig(
        _target=TalkingPortraitTrainer,
        method_name=method_name,
        max_num_iterations=RUN_LENGTH_FROM_STAGES,  # the stages' total, at start-up (see engine.stage_plan)
        steps_per_eval_batch=steps_per_eval_image,
        steps_per_eval_image=steps_per_eval_image,
        steps_per_eval_all_images=10**9,
        steps_per_save=max(500, max_steps // 10),
        mixed_precision=False,
        machine=MachineConfig(device_type="cuda" if torch.cuda.is_available() else "cpu"),
        pipeline=PortraitPipelineConfig(
            datamanager=datamanager,
            model=model,
        ),
        optimizers=_optimizers(*learning_rates, optimizer or RadAdamConfig()),
        viewer=ViewerConfig(num_rays_per_chunk=1 << 14),
        vis="viewer",
    )


SMALL_GRID = HashGridConfig(
    num_levels=8, features_per_level=2, log2_hashmap_size=14, base_resolution=16, finest_resolution=512
)
SMALL_AUDIO_GRID = HashGridConfig(
    num_levels=4, features_per_level=2, log2_hashmap_size=14, base_resolution=4, finest_resolution=32
)
"""A coarse, dense (unhashed) grid of the audio coordinate: smooth in the audio, so it cannot act as a per-frame
lookup table (with RAD-NeRF's fine hashed levels a short run memorises frames instead of learning the mouth)."""


def _small_run() -> Dict[str, Any]:
    """Model settings both CPU-sized variants share: small torso and occupancy grids, 2500 head + 500 lips steps,
    the audio confined to the mouth region, the head's opacity supervised by the parsing (measured in the issue
    notes: without them the mouth never opens and floaters and see-through features appear) and the audio read as the
    mouth's shape by a ridge regression fitted on the landmarks (on real speech it generalises where AudioNet, trained
    on half a minute of one voice, memorises: README, "What makes the mouth follow the audio"). With
    ``--pipeline.model.audio-encoder audio-net`` the AudioNet code is taught the landmarks' mouth shape instead."""
    return dict(
        audio_encoder="ridge-mouth",
        audio_in_mouth_region=True,
        head_mask_loss_mult=0.1,
        audio_mouth_loss_mult=0.1,
        torso=TorsoFieldConfig(grid=SMALL_GRID),
        # 48 candidates: the 16 samples of a ray reach 0.67 units (17 cm) past the first occupied cell, not 0.34; with
        # 96, the face that a 2.2 x width lens sees sits beyond the first 16 candidates of the box's entry while every
        # cell is still occupied, the head learns a fog there and never recovers (the issue notes: face PSNR after
        # 800 head steps 22.1 -> 30.2 dB on the held-out obama look; 32 samples instead: 30.6 dB at 1.7 x the step)
        occupancy=OccupancyGridConfig(resolution=64, candidates=48, update_fraction=0.25),
        head_steps=2500,
        lips_steps=500,
        ambient_loss_ramp_steps=1000,
        # a 128 x 128 frame in one chunk: half the head field's calls per frame (whose fixed cost dominates at a
        # sample or two per ray): 65-71 -> 51 ms per frame on the real clip (benchmarks/train_render_speed.py)
        eval_num_rays_per_chunk=1 << 14,
    )


SMALL_AUDIO_FEATURES = "mel-whisper"
"""The CPU methods' audio: the log-mel spectrum beside Whisper base's encoder (the ``speech`` extra). The ridge
regression of the mouth predicts held-out mouths better from the pair than from the spectrum alone (blocked
cross-validation, r: real clip 0.56 -> 0.61, obama look 0.85 -> 0.91, astronaut look 0.85 -> 0.91); in trained
runs the looks' rendered mouths follow the true opening far better (obama 0.81-0.84 -> 0.88-0.89, astronaut 0.65 ->
0.75-0.77) and the real clip's stays within its runs' spread (README, "What makes the mouth follow the audio").
``--pipeline.datamanager.dataparser.audio-features mel`` needs no weights."""


SMALL_HEAD_LATENT_DIM = 0
"""The CPU methods' head has no per-frame colour code (the anchors' 4 numbers per frame, kept by the paper-sized
methods). A training frame's code can paint its own mouth (dark, open, teeth) in colour, which the mouth's shape the
head reads then need not explain, and a held-out frame reads a zero code: without it the real clip's tight lips PSNR
rose 25.9 / 25.8 -> 27.2 / 27.3 dB (1.3-1.5 dB in four seeds) and the rendered mouth follows the held-out speech
before its closing smile at r 0.81 over four seeds, 0.77 over two before (README, "One colour for every frame")."""


SMALL_CODE_PLANES = True
"""The CPU methods' head fields read planes over each spatial axis and each of the mouth's two numbers, 3 cells along
the number (``field_components.code_planes``). Without them a head fits its own training mouths at r 0.72-0.92
(real clip, astronaut look), on the astronaut look with half their spread (slope 0.52), and that subtle mouth
follows its truth at 0.671 / 0.789 (seeds 42 / 1); with them 0.826 / 0.841, and the real clip's held-out mouth
0.805 / 0.762 against 0.783 / 0.740 (README, "Three cells along the number"). With 8 cells the real clip lost
(0.697 / 0.742)."""


SMALL_ER_TORSO_POSE = "raw"
"""er-nerf-small's torso reads the raw head pose (RAD-NeRF's way), not ER-NeRF's adaptive pose encoding: on the real
clip (one pose pass, seeds 42 / 1) its held-out frames as given scored 30.38 / 30.64 dB against 29.50 / 29.52, the
error below the face falling to rad-nerf-small's (README, "The torso's pose input")."""


SMALL_ER_PHOTOMETRIC_LOSS = "l1"
"""er-nerf-small's photometric loss in every stage. Under the MSE a closed mouth's seam, which moves a pixel or so
between frames, is learnt as their mean: a soft band that MediaPipe reads as parted lips (0.07 open on the real clip's
training frames whose lips touch at 0.01). The L1 learns their median, a thin line (0.03): on the real clip the held-out
mouth follows the frames at r 0.759 / 0.712 / 0.786 / 0.757 against 0.574 / 0.731 / 0.746 / 0.684 (seeds 42 / 1 / 7 /
3) and the landmarks sit closer on every dataset (LMD -0.06 to -0.12 px); what it costs: the looks' mouths open less
far and follow their true opening less (astronaut 0.639 / 0.761, obama 0.828 / 0.804). The L1 in the lips stage only
was no better than the MSE over four seeds (README, "The lips' seam: an L1 loss")."""


def _small_sampler() -> PortraitPixelSamplerConfig:
    """1024 rays per batch, 60 % of them in the face rectangle and 15 % in the mouth's tight rectangle."""
    return PortraitPixelSamplerConfig(
        kind="face-focused",
        num_rays_per_batch=1024,
        face_focused=FaceFocusedSamplerConfig(face_fraction=0.6, mouth_fraction=0.15),
    )


rad_nerf = MethodSpecification(
    config=portrait_trainer_config(
        "rad-nerf",
        RadNerfModelConfig(head_steps=150000, lips_steps=50000),
        PortraitPixelSamplerConfig(num_rays_per_batch=16384),
        2000,
    ),
    description="RAD-NeRF talking portrait: audio-spatial head, pseudo-3D torso (paper sizes; GPU)",
)

rad_nerf_small = MethodSpecification(
    config=portrait_trainer_config(
        "rad-nerf-small",
        RadNerfModelConfig(
            head=RadHeadFieldConfig(
                spatial_grid=replace(SMALL_GRID, log2_hashmap_size=16),
                audio_grid=SMALL_AUDIO_GRID,
                code_to_density=True,
                latent_dim=SMALL_HEAD_LATENT_DIM,
                code_planes=SMALL_CODE_PLANES,
            ),
            **_small_run(),
        ),
        _small_sampler(),
        1000,
        # the 3D hash grid learns slowly in a short run: at 4x the 1e-2 / 1e-3 of er-nerf-small its head fits the
        # photo sample's training frames 2.9 dB better after 800 steps (19.8 -> 22.7 dB inside the head parsing)
        learning_rates=(4e-2, 4e-3),
        audio_features=SMALL_AUDIO_FEATURES,
    ),
    description="RAD-NeRF sized to learn the bundled sample on a CPU in minutes",
)

er_nerf = MethodSpecification(
    config=portrait_trainer_config(
        "er-nerf",
        ErNerfModelConfig(head_steps=100000, lips_steps=25000),
        PortraitPixelSamplerConfig(num_rays_per_batch=16384),
        2000,
        learning_rates=(1e-2, 1e-3),
        optimizer=ErNerfAdamWConfig(),
    ),
    description="ER-NeRF talking portrait: tri-plane hash head, region attention, adaptive pose torso (GPU)",
)

er_nerf_small = MethodSpecification(
    config=portrait_trainer_config(
        "er-nerf-small",
        # ER-NeRF's tri-plane grids are already small (3 x 12 x 2^14 entries); four times the head and lips steps of
        # rad-nerf-small. On the real clip, four seeds against 5000 + 1000 (README, "Four times rad-nerf-small's
        # schedule"): mouth r 0.66 against 0.54 (mean; better in three pairs), aligned PSNR 32.4 against 31.6 dB and
        # LMD 0.97 against 1.00 px, teeth where the frames show them; the looks +0.6 to +1.0 dB, but the astronaut's
        # sync against its true opening lower (0.72 over four seeds against 0.76 over two)
        ErNerfModelConfig(
            head=ErNerfHeadFieldConfig(latent_dim=SMALL_HEAD_LATENT_DIM, code_planes=SMALL_CODE_PLANES),
            torso_pose_encoding=SMALL_ER_TORSO_POSE,
            photometric_loss=SMALL_ER_PHOTOMETRIC_LOSS,
            **{**_small_run(), "head_steps": 10000, "lips_steps": 2000},
        ),
        _small_sampler(),
        1000,
        learning_rates=(1e-2, 1e-3),
        optimizer=ErNerfAdamWConfig(),
        audio_features=SMALL_AUDIO_FEATURES,
    ),
    description="ER-NeRF sized to learn the bundled sample on a CPU in minutes",
)
