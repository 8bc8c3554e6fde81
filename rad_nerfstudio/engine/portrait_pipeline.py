"""nerfstudio's pipeline for the talking-portrait methods: ``ns-eval`` scores validation frames as rad-eval does, and
the head-pose refinement takes its block steps.

Training: with the pose refinement on, the pipeline (which holds both the model and the training frames) aligns every
training frame's pose with the field frozen at ``pose_alignment_rounds`` points of the head's training, the last where
it ends (before the torso stage, which keeps the poses).

Two differences from ``VanillaPipeline``'s whole-image evaluation, both only when it is called without a training step
(``ns-eval``; the trainer's periodic evaluations pass their step and are left as nerfstudio makes them):

- the renders use the weights whole-image renders use everywhere else (the EMA's when the model keeps one);
- each validation frame is scored twice: as given, and after the test-time alignment of its head pose and torso latent
  with the fields frozen (``evaluation.pose_alignment``, ``evaluation.torso_alignment``; validation frames have no
  training rays, so a run that refines its training poses would otherwise be scored on poses of another quality, and
  the body's free motion is no part of the head's). The aligned metrics carry the prefix
  ``aligned_``; ``aligned_rotation_mean_deg`` is the alignment's mean rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Type, cast

from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.pipelines.base_pipeline import VanillaPipeline, VanillaPipelineConfig
from nerfstudio.utils import writer
from nerfstudio.utils.rich_utils import CONSOLE

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager
from rad_nerfstudio.models.portrait_model import PortraitModel

ALIGNED_PREFIX = "aligned_"
TIMING_METRICS = ("num_rays_per_sec", "num_rays_per_sec_std", "fps", "fps_std")
"""nerfstudio's speed entries, kept for the renders as given only (the aligned pass renders the same frames)."""


@dataclass
class PortraitPipelineConfig(VanillaPipelineConfig):
    """nerfstudio's pipeline with rad-eval's scoring of validation frames in ``ns-eval``."""

    _target: Type = field(default_factory=lambda: PortraitPipeline)
    eval_align_steps: int = 100
    """Adam steps of each validation frame's test-time pose and torso alignments in ``ns-eval`` (0: as given only)."""


class PortraitPipeline(VanillaPipeline):
    """``VanillaPipeline`` whose ``ns-eval`` scores use the render weights and add the aligned-pose scores."""

    config: PortraitPipelineConfig

    def get_training_callbacks(
        self, training_callback_attributes: TrainingCallbackAttributes
    ) -> List[TrainingCallback]:
        callbacks = super().get_training_callbacks(training_callback_attributes)
        model = cast(PortraitModel, self.model)
        if model.pose_correction.refining and model.config.pose_alignment_rounds > 0:
            points = model.schedule.head_training_points(model.config.pose_alignment_rounds)
            where = [TrainingCallbackLocation.BEFORE_TRAIN_ITERATION]
            callbacks.append(TrainingCallback(where, self._align_training_poses, iters=points))
        return callbacks

    def _align_training_poses(self, step: int) -> None:
        """One block step of the pose refinement: every training frame's pose fitted with the field frozen."""
        from rad_nerfstudio.evaluation.pose_alignment import ROUND_SETTINGS, align_training_poses, mean_rotation_degrees

        model = cast(PortraitModel, self.model)
        datamanager = cast(TalkingPortraitDataManager, self.datamanager)
        cameras, images = datamanager.train_dataset.cameras, datamanager.train_images[..., :3]
        settings = replace(ROUND_SETTINGS, seed=step)
        fitted = align_training_poses(model, cameras, datamanager.train_rows, images, settings)
        degrees = mean_rotation_degrees(fitted)
        writer.put_scalar("pose_alignment_rotation_deg", degrees, step)
        CONSOLE.print(f"step {step}: training poses aligned to the field (mean rotation {degrees:.2f} deg)")

    def get_average_eval_image_metrics(
        self, step: int | None = None, output_path: Path | None = None, get_std: bool = False
    ) -> Dict[str, float]:
        if step is not None:  # a periodic evaluation during training
            return super().get_average_eval_image_metrics(step, output_path, get_std)
        with cast(PortraitModel, self.model).render_weights():
            metrics = super().get_average_eval_image_metrics(step, output_path, get_std)
            if self.config.eval_align_steps > 0:
                metrics.update(self._aligned_metrics(output_path, get_std))
        return metrics

    def _aligned_metrics(self, output_path: Path | None, get_std: bool) -> Dict[str, float]:
        """The validation frames' metrics after each one's pose and torso latent are aligned (dropped afterwards)."""
        from rad_nerfstudio.evaluation.held_out_alignment import aligned_held_out_frames
        from rad_nerfstudio.evaluation.pose_alignment import mean_rotation_degrees

        model = cast(PortraitModel, self.model)
        datamanager = cast(TalkingPortraitDataManager, self.datamanager)
        images = datamanager.eval_images[..., :3]  # cached by the data manager with the evaluation loader used below
        cameras, rows, steps = datamanager.eval_dataset.cameras, datamanager.eval_rows, self.config.eval_align_steps
        with aligned_held_out_frames(model, cameras, rows, images, steps) as (tangents, _):
            aligned = self.get_average_image_metrics(
                datamanager.fixed_indices_eval_dataloader,
                "eval_aligned",
                None,
                output_path,
                get_std,
            )
        scores = {f"{ALIGNED_PREFIX}{k}": v for k, v in aligned.items() if k not in TIMING_METRICS}
        scores[f"{ALIGNED_PREFIX}rotation_mean_deg"] = mean_rotation_degrees(tangents)
        return scores
