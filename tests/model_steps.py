"""Driving a portrait model through training steps by hand, as nerfstudio's trainer would."""

from __future__ import annotations

from types import SimpleNamespace

from nerfstudio.engine.callbacks import TrainingCallbackAttributes

from rad_nerfstudio.field_components.hash_grid import HashGridConfig

TINY_GRID = HashGridConfig(
    num_levels=4, features_per_level=2, log2_hashmap_size=10, base_resolution=8, finest_resolution=64
)


def training_callbacks(manager, model):
    pipeline = SimpleNamespace(datamanager=manager)
    return model.get_training_callbacks(TrainingCallbackAttributes(None, None, pipeline, None))  # type: ignore


def train_step(manager, model, step):
    """Set the step (the stage, and the data manager's lips flag), run one batch, backpropagate its losses."""
    for callback in training_callbacks(manager, model)[:1]:
        callback.run_callback_at_location(step, callback.where_to_run[0])
    ray_bundle, batch = manager.next_train(step)
    outputs = model(ray_bundle)
    losses = model.get_loss_dict(outputs, batch, model.get_metrics_dict(outputs, batch))
    model.zero_grad(set_to_none=True)
    sum(losses.values()).backward()
    return outputs, losses


def build_model(config, manager):
    """A model from its config, set up for the data manager's training split (as nerfstudio's pipeline does)."""
    return config.setup(
        scene_box=manager.train_dataset.scene_box,
        num_train_data=len(manager.train_dataset),
        metadata=manager.train_dataset.metadata,
    )
