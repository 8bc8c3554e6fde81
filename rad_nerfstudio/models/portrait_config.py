"""The settings every talking-portrait model shares (RAD-NeRF's and ER-NeRF's configs add their head field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Literal

from nerfstudio.cameras.camera_optimizers import CameraOptimizerConfig
from nerfstudio.models.base_model import ModelConfig

from rad_nerfstudio.config_loading import FilledOnLoad
from rad_nerfstudio.field_components.grid_presets import GridPreset
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.model_components.losses import PhotometricLoss

MouthConditioning = Literal["none", "with-code", "alone"]
AudioEncoderKind = Literal["audio-net", "ridge-mouth"]


@dataclass
class PortraitModelConfig(FilledOnLoad, ModelConfig):
    """What every talking-portrait method sets: the torso, occupancy, audio, stages, losses and pose refinement.
    A method's config adds its head field's sizes (``head``) and its ``_target``."""

    torso: TorsoFieldConfig = field(default_factory=TorsoFieldConfig)
    """Torso field sizes."""
    occupancy: OccupancyGridConfig = field(default_factory=OccupancyGridConfig)
    """Max occupancy grid and sampling."""
    audio_encoder: AudioEncoderKind = "audio-net"
    """What turns the audio into the head's condition. 'audio-net': AudioNet and AudioAttNet, trained with the head
    (the anchors). 'ridge-mouth': a ridge regression from the log-mel context of each frame to its mouth's opening
    and width, fitted in closed form on the training frames' landmarks when the model is built; the head reads
    those two numbers, the frame's own landmarks in training and the regression's prediction elsewhere
    (``field_components.ridge_mouth_encoder``; needs the dataset's landmarks). With ``mouth_conditioning``
    'with-code' the head reads an AudioNet code beside those two numbers."""
    ridge_mouth_full_spread: bool = True
    """With 'ridge-mouth': scale the regression's predictions so that they spread as far as the landmarks' mouth
    shapes on its cross-validation's held-out blocks (a ridge prediction is shrunk towards the mean, and the head then
    opens its mouth about half as far as the person; ``field_components.ridge_mouth_encoder``)."""
    ridge_mouth_within_training_range: bool = True
    """With 'ridge-mouth': clamp each prediction to the range of the training frames' own mouths (the head, never
    shown a mouth outside it, extrapolates: a mouth told to be more closed than any it saw may open)."""
    audio_code_dim: int = 64
    """Audio code from AudioNet."""
    audio_attention: bool = True
    """Attend over the 8 neighbouring audio windows (AudioAttNet)."""
    photometric_loss: PhotometricLoss = "mse"
    """Photometric loss of the head stage (and of the other stages unless set below)."""
    lips_photometric_loss: PhotometricLoss | None = None
    """Photometric loss of the lips stage (None: photometric_loss). The study's best: l1, then smooth_l1 here."""
    torso_photometric_loss: PhotometricLoss | None = None
    """Photometric loss of the torso stage (None: photometric_loss)."""
    grid_preset: GridPreset = "config"
    """Hash-grid sizes: as configured per encoder, or 'study' (2 features per level, 2^16 entries everywhere)."""
    loss_beta: float = 1.0
    """SmoothL1 beta / Huber delta."""
    entropy_loss_mult: float = 1e-4
    """Entropy of the head's accumulated opacity (head stages)."""
    ambient_loss_mult: float = 0.1
    """Weight of the head field's ``ambient`` map outside the face rectangle (head stages): where the audio acts
    there (RAD-NeRF: the audio coordinate's L1; ER-NeRF: the mean audio attention)."""
    ambient_loss_ramp_steps: int = 2000
    """Steps over which the ambient loss ramps up from 0."""
    head_steps: int = 150000
    """Steps of the head stage."""
    lips_steps: int = 0
    """Steps of the lips fine-tuning stage (LPIPS on lips patches every other batch, see the data manager)."""
    lips_lpips_mult: float = 0.01
    """Weight of the LPIPS loss on lips patches."""
    lpips_pretrained: bool = True
    """LPIPS on torchvision's ImageNet AlexNet (downloaded once); False: a random trunk, for tests only."""
    train_torso: bool = True
    """Train the torso after the head stages."""
    torso_steps: int = 0
    """Steps of the torso stage (0: a third of the head steps, at least 500). The run's length
    (``--max-num-iterations``, 0 by default: the stages' total) and the learning-rate schedules follow the stages."""
    near_plane: float = 0.05
    """Nearest sample distance (scene units)."""
    ema_decay: float = 0.95
    """Decay of the exponential moving average of the weights used for rendering (0: render the live weights)."""
    audio_in_mouth_region: bool = False
    """The audio acts only inside a box around the mouth and chin (the dataset's landmarks triangulated in the head's
    frame; a soft edge): elsewhere the field sees a zero audio code, so the audio cannot carry pose or per-frame
    appearance. False: anywhere (the anchors)."""
    head_mask_loss_mult: float = 0.0
    """Binary cross-entropy between the head's accumulated opacity and the frame's head parsing (head stages; needs
    the dataset's parsing images): no see-through eyes or mouth, no floaters beside the head. 0: off (the anchors)."""
    train_until_opaque: bool = True
    """Training rays use only their samples in front of the point where they turn opaque (transmittance below 1e-4,
    found without gradients a few samples at a time), where the fused kernels serve: the samples behind, about 70 %
    of a face ray's once the skin has formed, change its colour by less than 1e-4 and take as little part in the
    gradients, but cost as much as the others (renders stop there too). The torso stage, whose head takes no
    gradient, evaluates every sample. False: every marched sample in training."""
    jitter_samples: bool = False
    """Shift each training ray's samples by a random fraction of the marching step (no fixed-depth aliasing)."""
    distortion_loss_mult: float = 0.0
    """Weight of mip-NeRF 360's distortion loss on the head's samples (head stages): each ray's weight in one thin
    interval instead of a fog spread in front of the face, which blurs the head across views. 0: off (the anchors)."""
    audio_mouth_loss_mult: float = 0.0
    """Weight of the loss that teaches the audio code each frame's mouth opening and width (from its landmarks) through
    a linear readout (head and lips stages): the encoder learns what the mouth does, not which frame it is. 0: off
    (the anchors)."""
    mouth_conditioning: MouthConditioning = "none"
    """What the head field reads of the audio: 'none', the audio code (the anchors); 'with-code', the mouth's opening
    and width beside the code; 'alone', the mouth's opening and width instead of the code. The mouth is each frame's
    own (from its landmarks) in training and the audio readout's prediction from the code everywhere else
    (validation, renders with a new audio, the viewer): the field learns the mouth's look from a signal that explains
    it exactly, and the audio only has to predict two numbers. Needs ``audio_mouth_loss_mult`` > 0 (it trains the
    readout), except with ``audio_encoder`` 'ridge-mouth', where the regression predicts the mouth."""
    audio_mouth_log_every: int = 500
    """Steps between two reports of the audio code's mouth r on the validation frames (``audio_mouth_r``, a ridge
    readout fitted on the training frames; no render needed). 0: never during training."""
    camera_optimizer: CameraOptimizerConfig = field(default_factory=lambda: CameraOptimizerConfig(mode="off"))
    """Per-frame head-pose corrections refined against the pixels with the head field (mode SO3xR3; head and lips
    stages, the torso stage and every render of a dataset frame use them; ``model_components.head_pose_correction``):
    sharper heads from landmark poses. off: the poses as given."""
    pose_smoothness_mult: float = 1.0
    """Weight of the smoothness in time of the pose corrections (summed squared steps between consecutive frames)."""
    pose_alignment_rounds: int = 1
    """With the pose refinement on: times during the head's training (evenly spaced through the head and lips stages,
    the last where they end) at which every training frame's pose is fitted to its pixels with the field frozen and
    folded into its trained correction (``PortraitPipeline``, ``evaluation.pose_alignment``), a block step that the
    joint refinement, a few rays per frame per step, does not make. 0: the joint refinement alone."""
    # what runs before these fields did
    older_runs_values: ClassVar[Dict[str, Any]] = {"torso_pose": "refined", "train_until_opaque": False}

    torso_pose: Literal["given", "refined"] = "given"
    """With the pose refinement on, the head pose that conditions the torso: each frame's as given (the body moves with
    the frame, not with the head's correction: better on a real recording) or the refined one (better on a synthetic
    clip whose body partly follows the true head pose; README, "Head poses refined against the pixels")."""
