"""Head poses refined against the pixels before the run proper (``rad-process --refine-poses N``).

Each pass trains a short head (``POSE_PASS_METHOD``, head stage only, ``POSE_PASS_HEAD_STEPS`` steps) with the joint
pose refinement on, ending in the alignment round (every training frame's pose fitted to its pixels with the field
frozen, ``evaluation.pose_alignment``), and hands its refined poses to the next pass, which starts a fresh field
from them. A field trained on poses with errors learns a head blurred by them; aligning the frames to it removes
part of the errors only (on a ``rad-sample`` clip the landmarks see a quarter of the nod). A fresh field on the
better poses is sharper, so the next alignment removes more of what is left, which a round inside one training,
its field already shaped by the first poses, does not (README, "Head poses refined against the pixels").

No pass trains on the validation frames; each pass fits their poses to their pixels on its frozen head instead
(``HELD_OUT_ALIGNMENT_STEPS``, the mouth left out), so that they share the refined training poses' frame as a
photometric tracker's poses would. Left at the landmark fit they did not: on the real clip the held-out mouths scored
1.46-1.53 px LMD as given after three passes, 1.19-1.25 on the landmark poses; fitted so, 0.80-0.89.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, cast

if TYPE_CHECKING:  # the method configs import the models: loaded when a pass runs, not with rad-process
    from nerfstudio.engine.trainer import TrainerConfig

DEFAULT_POSE_PASSES = 1
"""Pose passes ``rad-process`` runs unless told otherwise. One pass took both synthetic clips' landmark poses closer to
the truth (1.88 -> 1.14 and 0.86 -> 0.68 degrees median; three drifted on one of them). On the real clip, with the
validation frames aligned in it, er-nerf-small's held-out frames as given scored LMD 0.82-0.87 px against 1.19-1.25
and tight lips 28.0-28.1 dB against 27.0-27.3 (four seeds), PSNR 0.03-0.24 dB lower (the torso's mean code);
about five minutes on two CPU cores for a 34 s clip (README, "Pose passes before training")."""
POSE_PASS_HEAD_STEPS = 1000
"""Head steps of one pass: with the round at their end a rad-sample clip's training rotations went from 1.88 to
1.14 / 1.15 degrees (seeds 42 / 1), where the method's whole training with its round reached 1.28 (seed 42) on the
same processing."""
HELD_OUT_ALIGNMENT_STEPS = 300
"""Steps of the validation frames' pose fit in a pass: a rad-sample clip's validation frames start about 3 degrees off
the refined training poses' frame, which 100 steps turn half-way (1.4-1.6 degrees) and 300 all the way (2.8-3.1)."""
POSE_PASS_AUDIO_FEATURES = "mel"
"""The passes' audio (what ``rad-process`` computes; the mouth is masked out of the alignment anyway)."""


@dataclass
class PosePassResult:
    """One pass: where its run lies and how far its round turned the training frames."""

    run_dir: Path
    poses_dir: Path
    mean_rotation_deg: float
    held_out_rotation_deg: float
    seconds: float


def pose_pass_config(
    data: Path, poses: Path | None, output_dir: Path, name: str, seed: int, head_steps: int = POSE_PASS_HEAD_STEPS
) -> "TrainerConfig":
    """The trainer config of one pass: ``rad-nerf-small``'s, ``head_steps`` of the head stage only, refining, on
    ``poses`` (the dataset's own when None), without a viewer."""
    from copy import deepcopy

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
    from rad_nerfstudio.method_configs import rad_nerf_small
    from rad_nerfstudio.models.portrait_config import PortraitModelConfig

    config = deepcopy(rad_nerf_small.config)
    model = cast(PortraitModelConfig, config.pipeline.model)
    model.head_steps, model.lips_steps, model.train_torso = head_steps, 0, False
    model.lpips_pretrained, model.pose_alignment_rounds = False, 1
    model.camera_optimizer.mode = "SO3xR3"
    datamanager = cast(TalkingPortraitDataManagerConfig, config.pipeline.datamanager)
    parser = datamanager.dataparser
    parser.data, parser.poses, parser.audio_features = data, poses, POSE_PASS_AUDIO_FEATURES
    datamanager.data = data
    config.machine.seed = seed
    config.viewer.quit_on_train_completion = True
    config.vis = "tensorboard"
    config.output_dir, config.experiment_name, config.timestamp = output_dir, name, "run"
    return config


def run_pose_pass(
    data: Path, poses: Path | None, work_dir: Path, name: str, seed: int, head_steps: int = POSE_PASS_HEAD_STEPS
) -> PosePassResult:
    """Train one pass, fit the validation frames' poses to its head and write both as
    ``work_dir/name/poses/transforms_{train,val}.json``."""
    import time
    import warnings

    from nerfstudio.scripts.train import _set_random_seed

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager
    from rad_nerfstudio.evaluation.pose_alignment import AlignmentSettings, align_held_out_poses, mean_rotation_degrees
    from rad_nerfstudio.models.portrait_model import PortraitModel
    from rad_nerfstudio.render.refined_poses import refined_transforms, write_transforms_files

    start = time.perf_counter()
    config = pose_pass_config(data, poses, work_dir, name, seed, head_steps)
    config.save_config()
    _set_random_seed(seed)  # as ns-train seeds a run
    # nerfstudio's camera indexing warns on every frame with torch >= 2.9; it is not ours to fix.
    warnings.filterwarnings("ignore", "Using a non-tuple sequence for multidimensional indexing", UserWarning)
    trainer = config.setup(local_rank=0, world_size=1)
    trainer.setup()
    trainer.train()
    model = cast(PortraitModel, trainer.pipeline.model)
    datamanager = cast(TalkingPortraitDataManager, trainer.pipeline.datamanager)
    scale = datamanager.dataparser.config.scene_scale
    adjustment = model.pose_correction.camera_optimizer.pose_adjustment.detach()
    tangents = adjustment[datamanager.train_rows.to(adjustment.device)]
    cameras, images = datamanager.eval_dataset.cameras, datamanager.eval_images[..., :3]
    settings = AlignmentSettings(steps=HELD_OUT_ALIGNMENT_STEPS)
    out = work_dir / name / "poses"
    try:
        held_out = align_held_out_poses(model, cameras, datamanager.eval_rows, images, settings)
        img_ids = datamanager.tables.img_ids.tolist()
        write_transforms_files(refined_transforms(model, poses or data, scale, img_ids, held_out_aligned=True), out)
    finally:
        model.pose_correction.held_out = None
    return PosePassResult(
        config.get_base_dir(),
        out,
        mean_rotation_degrees(tangents),
        mean_rotation_degrees(held_out),
        time.perf_counter() - start,
    )


def refine_poses(
    data: Path,
    landmark_poses: Path,
    passes: int,
    work_dir: Path,
    seed: int = 42,
    report: Callable[[int, PosePassResult], None] | None = None,
    head_steps: int = POSE_PASS_HEAD_STEPS,
) -> List[PosePassResult]:
    """``passes`` passes, the first on ``landmark_poses``, each next one on the last one's refined poses."""
    results: List[PosePassResult] = []
    poses = landmark_poses
    for k in range(1, passes + 1):
        result = run_pose_pass(data, poses, work_dir, f"pass_{k}", seed, head_steps)
        results.append(result)
        if report is not None:
            report(k, result)
        poses = result.poses_dir
    return results
