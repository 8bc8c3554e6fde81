"""The run's length and learning-rate schedules, derived from the model's stage lengths at start-up.

Changing ``--pipeline.model.head-steps`` (or lips / torso steps) on the command line then changes where the run
ends and when the torso's learning rates start decaying; an explicit ``--max-num-iterations`` still wins.
"""

from __future__ import annotations

from nerfstudio.engine.schedulers import ExponentialDecaySchedulerConfig
from nerfstudio.engine.trainer import TrainerConfig
from nerfstudio.utils.rich_utils import CONSOLE

from rad_nerfstudio.model_components.stages import StageSchedule

TORSO_GROUP_PREFIX = "torso_"
"""Optimizer groups of the torso stage: their learning rates hold until it starts, then decay."""
RUN_LENGTH_FROM_STAGES = 0
"""``max_num_iterations`` value meaning: the stages' total."""
SCHEDULE_FROM_STAGES = 0
"""An exponential-decay scheduler's ``max_steps`` value meaning: fitted to the stages at start-up (any other value,
e.g. ``--optimizers.grids.scheduler.max-steps 5000``, is kept as given)."""


def stage_schedule(config: TrainerConfig) -> StageSchedule | None:
    """The stages of a talking-portrait run, None for other models."""
    model = config.pipeline.model
    return StageSchedule.of(model) if hasattr(model, "head_steps") and hasattr(model, "torso_steps") else None  # pyright: ignore[reportArgumentType]


def fit_schedulers_to_stages(config: TrainerConfig) -> None:
    """Every exponential-decay schedule left to the stages (``SCHEDULE_FROM_STAGES``) ends with the last stage; the
    torso groups' among them start with the torso stage."""
    stages = stage_schedule(config)
    if stages is None:
        return
    for name, group in config.optimizers.items():
        scheduler = group.get("scheduler")
        if isinstance(scheduler, ExponentialDecaySchedulerConfig) and scheduler.max_steps == SCHEDULE_FROM_STAGES:
            scheduler.max_steps = max(stages.total_steps, 1)
            if name.startswith(TORSO_GROUP_PREFIX):
                scheduler.warmup_steps = min(stages.torso_start, scheduler.max_steps - 1)


def fit_run_length_to_stages(config: TrainerConfig) -> bool:
    """``max_num_iterations`` 0 becomes the stages' total (True: it was derived; a resumed run then subtracts its
    start step, see ``steps_left``); another value is kept, with a note when it ends the run before the last stage
    does."""
    stages = stage_schedule(config)
    if stages is None:
        return False
    if config.max_num_iterations == RUN_LENGTH_FROM_STAGES:
        config.max_num_iterations = stages.total_steps
        return True
    if config.max_num_iterations < stages.total_steps:
        CONSOLE.print(
            f"Training runs {config.max_num_iterations} steps, fewer than its stages (head {stages.head_steps}, "
            f"lips {stages.lips_steps}, torso {stages.torso_length}); --max-num-iterations 0 runs them all"
        )
    return False


def steps_left(config: TrainerConfig, start_step: int) -> int:
    """Steps a run resumed at ``start_step`` has left to the stages' end."""
    stages = stage_schedule(config)
    return config.max_num_iterations if stages is None else max(stages.total_steps - start_step, 0)
