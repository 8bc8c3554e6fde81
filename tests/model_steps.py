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


def small_rad_config(**overrides):
    """A small rad-nerf model config: tiny grids, 10 head steps, 2 lips steps, then the torso (``overrides`` win)."""
    from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
    from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
    from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
    from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig

    settings = dict(
        head=RadHeadFieldConfig(spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32),
        torso=TorsoFieldConfig(grid=TINY_GRID, hidden_dim=32),
        occupancy=OccupancyGridConfig(resolution=16, candidates=48),
        head_steps=10,
        lips_steps=2,
        lpips_pretrained=False,
    )
    settings.update(overrides)
    return RadNerfModelConfig(**settings)  # pyright: ignore[reportArgumentType]


def sample_manager(dataset, rays_per_batch: int = 256):
    """The talking-portrait data manager on ``dataset`` with ``rays_per_batch`` training rays."""
    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig

    config = TalkingPortraitDataManagerConfig(data=dataset)
    config.pixel_sampler.num_rays_per_batch = rays_per_batch
    return config.setup(device="cpu")
