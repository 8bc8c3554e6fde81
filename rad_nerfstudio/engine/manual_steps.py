"""Training steps taken by hand, as nerfstudio's trainer takes them: for tests and benchmarks that drive a portrait
model without ``ns-train`` (one home for the step, so that they time and check the same thing)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Dict, List, Tuple

import torch
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from torch import Tensor

if TYPE_CHECKING:
    from nerfstudio.models.base_model import Model, ModelConfig

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager


def build_model(config: ModelConfig, manager: TalkingPortraitDataManager, device: str = "cpu") -> Model:
    """A model from its config, set up for the data manager's training split (as nerfstudio's pipeline does)."""
    return config.setup(
        scene_box=manager.train_dataset.scene_box,
        num_train_data=len(manager.train_dataset),
        metadata=manager.train_dataset.metadata,
        device=device,
    )


def pipeline_callbacks(manager: TalkingPortraitDataManager, model: Model) -> List[TrainingCallback]:
    """The data manager's, then the model's training callbacks, merged as nerfstudio's VanillaPipeline does."""
    pipeline = SimpleNamespace(datamanager=manager, model=model)
    attributes = TrainingCallbackAttributes(None, None, pipeline, None)  # pyright: ignore[reportArgumentType]
    return manager.get_training_callbacks(attributes) + model.get_training_callbacks(attributes)


def run_callbacks(callbacks: List[TrainingCallback], step: int, where: TrainingCallbackLocation) -> None:
    """Run the callbacks that run at ``where``, as the trainer does around step ``step``."""
    for callback in callbacks:
        if where in callback.where_to_run:
            callback.run_callback_at_location(step, where)


def enter_step(manager: TalkingPortraitDataManager, model, step: int) -> None:  # noqa: ANN001
    """What the stage callbacks do before step ``step`` (the model's step and the data manager's stage), without the
    occupancy update."""
    model.step = step
    manager.follow_stage(model.stage)


def step_losses(
    manager: TalkingPortraitDataManager, model: Model, step: int
) -> Tuple[Dict[str, Tensor], Dict[str, Tensor], Dict[str, Tensor]]:
    """One training batch through the model: its outputs, the batch and the losses."""
    ray_bundle, batch = manager.next_train(step)
    outputs = model(ray_bundle)
    return outputs, batch, model.get_loss_dict(outputs, batch, model.get_metrics_dict(outputs, batch))


def backpropagate(model: Model, losses: Dict[str, Tensor], optimizer: torch.optim.Optimizer | None = None) -> None:
    """Zero the gradients, backpropagate the summed losses and take the optimizer's step (when given)."""
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    else:
        model.zero_grad(set_to_none=True)
    sum(losses.values()).backward()  # pyright: ignore[reportAttributeAccessIssue]
    if optimizer is not None:
        optimizer.step()
